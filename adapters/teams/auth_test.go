package teams_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infracloudio/msbotbuilder-go/connector/auth"
	"github.com/infracloudio/msbotbuilder-go/core"
	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/heraldops/herald/adapters/teams"
	"github.com/heraldops/herald/internal/fakes/botframework"
)

func activityFor(serviceURL string) schema.Activity {
	return schema.Activity{Type: schema.Message, ChannelID: "msteams", ServiceURL: serviceURL, Conversation: schema.ConversationAccount{ID: "a:1"}}
}

func TestValidatorChecks(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	v := &teams.Validator{AppID: fake.AppID, MetadataURL: fake.MetadataURL()}
	ctx := context.Background()
	const surl = "https://smba.trafficmanager.net/emea/"

	cases := []struct {
		name   string
		header string
		act    schema.Activity
		ok     bool
	}{
		{"valid", "Bearer " + fake.Token(surl), activityFor(surl), true},
		{"service URL without trailing slash", "Bearer " + fake.Token(surl), activityFor("https://smba.trafficmanager.net/emea"), true},
		{"empty header", "", activityFor(surl), false},
		{"token without Bearer", fake.Token(surl), activityFor(surl), false},
		{"foreign key", "Bearer " + fake.Token(surl, botframework.SignedByStranger()), activityFor(surl), false},
		{"wrong audience", "Bearer " + fake.Token(surl, botframework.WithAudience("other-bot")), activityFor(surl), false},
		{"wrong issuer", "Bearer " + fake.Token(surl, botframework.WithIssuer("https://login.microsoftonline.com/x/v2.0")), activityFor(surl), false},
		{"expired", "Bearer " + fake.Token(surl, botframework.Expired()), activityFor(surl), false},
		{"serviceurl claim for another host", "Bearer " + fake.Token("https://attacker.example/"), activityFor(surl), false},
		{"channel the key is not endorsed for", "Bearer " + fake.Token(surl), func() schema.Activity {
			a := activityFor(surl)
			a.ChannelID = "webchat"
			return a
		}(), false},
		{"alg none", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.", activityFor(surl), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.AuthenticateRequest(ctx, tc.act, tc.header, nil, "")
			if tc.ok && err != nil {
				t.Fatalf("refused a valid token: %v", err)
			}
			if !tc.ok && !errors.Is(err, teams.ErrUnauthorized) {
				t.Fatalf("err = %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestValidatorWithoutAppIDRefusesEverything(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	v := &teams.Validator{MetadataURL: fake.MetadataURL()}
	if _, err := v.Verify(context.Background(), "Bearer "+fake.Token("https://x/")); !errors.Is(err, teams.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}

// TestValidatorCachesKeys: the metadata and keys are fetched once for many
// concurrent requests (the library fetched them per request and never
// closed the bodies), and again only after Refresh.
func TestValidatorCachesKeys(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	var offset atomic.Int64
	v := &teams.Validator{AppID: fake.AppID, MetadataURL: fake.MetadataURL(), Refresh: 30 * time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }}
	tok := "Bearer " + fake.Token("https://s/") // valid for an hour

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if meta, jwks := fake.MetadataRequests(); meta != 1 || jwks != 1 {
		t.Fatalf("fetched metadata %d and keys %d times for 50 requests, want 1 and 1", meta, jwks)
	}
	offset.Store(int64(31 * time.Minute))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if meta, jwks := fake.MetadataRequests(); meta != 2 || jwks != 2 {
		t.Fatalf("after Refresh passed: metadata %d, keys %d fetches, want 2 and 2", meta, jwks)
	}
}

// TestValidatorKeepsKeysWhenRefreshFails: a metadata outage after keys were
// cached does not lock Teams out.
func TestValidatorKeepsKeysWhenRefreshFails(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	var down atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "outage", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, fake.MetadataURL(), http.StatusFound)
	}))
	t.Cleanup(proxy.Close)
	var clock atomic.Int64
	v := &teams.Validator{AppID: fake.AppID, MetadataURL: proxy.URL, Refresh: time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }}
	tok := "Bearer " + fake.Token("https://s/")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	clock.Store(int64(2 * time.Minute))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("refused after a failed refresh: %v", err)
	}
}

// TestValidatorWithoutKeysSaysUnavailable: when no key was ever fetched and
// the metadata cannot be had, the answer is "try later" (503), not 401.
func TestValidatorWithoutKeysSaysUnavailable(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	v := &teams.Validator{AppID: fake.AppID, MetadataURL: dead.URL + "/v1/.well-known/openidconfiguration"}
	_, err := v.Verify(context.Background(), "Bearer "+fake.Token("https://s/"))
	if !errors.Is(err, teams.ErrKeysUnavailable) {
		t.Fatalf("err = %v, want ErrKeysUnavailable", err)
	}
}

// TestValidatorPlugsIntoTheLibrary: the library's adapter accepts our
// validator through its exported TokenValidator field.
func TestValidatorPlugsIntoTheLibrary(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	adapter := core.BotFrameworkAdapter{
		AdapterSetting: core.AdapterSetting{AppID: fake.AppID, CredentialProvider: auth.SimpleCredentialProvider{AppID: fake.AppID}},
		TokenValidator: &teams.Validator{AppID: fake.AppID, MetadataURL: fake.MetadataURL()},
	}
	body := botframework.Fixture("channel_message_mention.json")
	for _, tc := range []struct {
		token string
		ok    bool
	}{
		{fake.Token(fixtureService), true},
		{fake.Token(fixtureService, botframework.SignedByStranger()), false},
	} {
		req := httptest.NewRequest(http.MethodPost, "/teams/messages", bytesReader(body))
		req.Header.Set("Authorization", "Bearer "+tc.token)
		act, err := adapter.ParseRequest(context.Background(), req)
		if (err == nil) != tc.ok {
			t.Fatalf("ParseRequest err = %v, want ok=%v", err, tc.ok)
		}
		if tc.ok && act.Text != "<at>Chat SDK Demo</at> Hey" {
			t.Fatalf("parsed text %q", act.Text)
		}
	}
}
