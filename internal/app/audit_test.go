package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisadapter "github.com/heraldops/herald/adapters/redis"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/redistest"
)

// exampleConfig is the contract's example config, which every one-shot
// command loads as it is.
var exampleConfig = filepath.Join("..", "config", "testdata", "example.yaml")

var cliKey = []byte(strings.Repeat("k", crypto.KeySize))

// cliRedis starts a Redis, points the one-shot commands' environment at it
// and returns a store on the keys they use.
func cliRedis(t *testing.T) (*redisadapter.Store, goredis.UniversalClient) {
	t.Helper()
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	t.Setenv("HERALD_DATA_KEY", base64.StdEncoding.EncodeToString(cliKey))
	c := srv.Client(t)
	return redisadapter.New(c, "", crypto.MustNewSealer(cliKey), nil), c
}

func TestAuditVerifyThroughTheCLI(t *testing.T) {
	ctx := context.Background()
	store, client := cliRedis(t)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, a := range []bot.AuditAction{bot.AuditIncidentDeclare, bot.AuditBroadcastRequest, bot.AuditBroadcastApprove} {
		if err := store.Audit(ctx, bot.AuditEntry{At: at.Add(time.Duration(i) * time.Minute), Actor: bot.Actor{ID: "U0RESP1"}, Action: a, IncidentID: "INC-1"}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if code := AuditVerify(ctx, VerifyOptions{ConfigPath: exampleConfig, Out: &out}); code != 0 || !strings.Contains(out.String(), "ok: 3 entries, chain whole from 2026-03-01T09:00:00Z") {
		t.Fatalf("verify of a whole chain: exit %d, %q", code, out.String())
	}

	// The second entry's sealed bytes are swapped for the third's: each
	// still opens, but the chain no longer fits.
	key := "herald:audit:{log}"
	msgs, err := client.XRange(ctx, key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	msgs[1].Values["e"] = msgs[2].Values["e"]
	client.Del(ctx, key)
	for _, m := range msgs {
		client.XAdd(ctx, &goredis.XAddArgs{Stream: key, ID: m.ID, Values: m.Values})
	}
	out.Reset()
	code := AuditVerify(ctx, VerifyOptions{ConfigPath: exampleConfig, Out: &out})
	if want := "broken: entry 2, broadcast.approve at 2026-03-01T09:02:00Z"; code != 1 || !strings.Contains(out.String(), want) {
		t.Fatalf("verify of a tampered chain: exit %d, %q; want 1 and %q", code, out.String(), want)
	}
}
