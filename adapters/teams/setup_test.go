package teams_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldops/herald/adapters/teams"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/internal/fakes/botframework"
)

func TestConfigNamesEverythingMissing(t *testing.T) {
	err := teams.Config{}.Validate()
	for _, want := range []string{"TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "conversation references", "deduper"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
}

func TestNewHandlerAndReadiness(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	store := bottest.NewStore(nil)
	cfg := teams.Config{AppID: fake.AppID, AppPassword: fake.AppPassword, TokenURL: fake.TokenURL(),
		OpenIDMetadataURL: fake.MetadataURL(), KV: store, Dedup: store, Limiter: store}
	chat := teams.NewChat(cfg)
	h, err := teams.NewHandler(cfg, chat, newHarness(t).svc, testDirectory(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Ready(context.Background()); err != nil {
		t.Fatalf("not ready with the keys reachable: %v", err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h.Validator = &teams.Validator{AppID: fake.AppID, MetadataURL: dead.URL}
	if err := h.Ready(context.Background()); !errors.Is(err, teams.ErrKeysUnavailable) {
		t.Fatalf("ready without keys: %v", err)
	}
	if got := teams.DefaultTokenURL("t-1"); got != "https://login.microsoftonline.com/t-1/oauth2/v2.0/token" {
		t.Fatalf("DefaultTokenURL = %s", got)
	}
	if got := teams.DefaultTokenURL(""); got != "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token" {
		t.Fatalf("multi-tenant DefaultTokenURL = %s", got)
	}
}
