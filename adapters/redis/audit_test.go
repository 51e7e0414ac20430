package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
)

// auditSome appends n entries a second apart and returns them.
func auditSome(t *testing.T, s *Store, clock *manualClock, n int) []bot.AuditEntry {
	t.Helper()
	ctx := ctxT(t)
	var out []bot.AuditEntry
	for i := range n {
		e := bot.AuditEntry{At: clock.Now(), Actor: bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Ann"},
			Action: bot.AuditIncidentDeclare, IncidentID: "INC-1", Detail: fmt.Sprintf("entry %d", i+1)}
		must(t, s.Audit(ctx, e))
		out = append(out, e)
		clock.Add(time.Second)
	}
	return out
}

func TestAuditChainVerifies(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	entries := auditSome(t, f.store, f.clock, 5)

	c, err := f.store.VerifyAudit(ctx)
	must(t, err)
	if c.Broken != nil || c.Entries != 5 || !c.First.Equal(entries[0].At) || c.Anchor != "" {
		t.Fatalf("VerifyAudit = %+v (broken %+v)", c, c.Broken)
	}
	// Each entry names its predecessor's hash.
	var prev string
	must(t, f.store.walkAudit(ctx, f.store.auditKey(), "-", "+", func(r AuditRecord, err error) error {
		must(t, err)
		if r.PrevHash != prev || r.Hash != bot.AuditHash(r.AuditEntry, prev) {
			t.Errorf("entry %s: prev %q hash %q, want prev %q", r.ID, r.PrevHash, r.Hash, prev)
		}
		prev = r.Hash
		return nil
	}))
}

// rewriteChain rebuilds the chain's stream with the same ids, letting edit
// change (or drop, returning false) each entry's fields: what someone with
// write access to Redis could do.
func rewriteChain(t *testing.T, f fixture, edit func(i int, values map[string]any) bool) {
	t.Helper()
	ctx := ctxT(t)
	key := f.store.auditKey()
	msgs, err := f.client.XRange(ctx, key, "-", "+").Result()
	must(t, err)
	must(t, f.client.Del(ctx, key).Err())
	for i, m := range msgs {
		if !edit(i+1, m.Values) {
			continue
		}
		must(t, f.client.XAdd(ctx, &goredis.XAddArgs{Stream: key, ID: m.ID, Values: m.Values}).Err())
	}
}

func TestAuditVerifyNamesTheFirstBrokenEntry(t *testing.T) {
	sealer := crypto.MustNewSealer(testKey)
	tests := []struct {
		name       string
		edit       func(i int, v map[string]any) bool
		wantIndex  int
		wantReason string
	}{
		{"content altered and sealed again with the key", func(i int, v map[string]any) bool {
			if i == 3 {
				var e bot.AuditEntry
				must(t, (&Store{sealer: sealer}).open([]byte(v["e"].(string)), &e))
				e.Detail = "nothing to see here"
				raw, err := (&Store{sealer: sealer}).seal(e)
				must(t, err)
				v["e"] = string(raw)
			}
			return true
		}, 3, "does not match its hash"},
		{"sealed bytes replaced", func(i int, v map[string]any) bool {
			if i == 2 {
				v["e"] = "not a sealed record"
			}
			return true
		}, 2, "does not open"},
		{"an entry removed", func(i int, v map[string]any) bool { return i != 4 }, 4, "does not follow the entry before it"},
		{"the oldest entries removed", func(i int, v map[string]any) bool { return i > 2 }, 1, "does not follow the chain's anchor"},
		{"hash and content rewritten together", func(i int, v map[string]any) bool {
			if i == 2 {
				v["h"] = strings.Repeat("0", 64)
			}
			return true
		}, 2, "does not match its hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given a whole chain
			ctx := ctxT(t)
			f := newFixture(t)
			entries := auditSome(t, f.store, f.clock, 5)
			// when someone edits Redis
			rewriteChain(t, f, tt.edit)
			c, err := f.store.VerifyAudit(ctx)
			must(t, err)
			// then verify names the first entry that no longer fits
			if c.Broken == nil {
				t.Fatalf("VerifyAudit found the chain whole: %+v", c)
			}
			if c.Broken.Index != tt.wantIndex || !strings.Contains(c.Broken.Reason, tt.wantReason) {
				t.Errorf("broken at %d (%s), want %d (%s)", c.Broken.Index, c.Broken.Reason, tt.wantIndex, tt.wantReason)
			}
			if c.Broken.Action != "" && (c.Broken.Action != string(bot.AuditIncidentDeclare) || c.Broken.At.IsZero()) {
				t.Errorf("broken entry not named: %+v", c.Broken)
			}
			_ = entries
		})
	}
}

// Two replicas appending at once never fork the chain: every entry goes in,
// and each names the one before it.
func TestAuditAppendsFromReplicasKeepOneChain(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	replicas := []*Store{f.store, New(f.client, f.prefix, crypto.MustNewSealer(testKey), f.clock)}
	const each = 40
	var wg sync.WaitGroup
	for r, s := range replicas {
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each / 4 {
					if err := s.Audit(context.Background(), bot.AuditEntry{Actor: bot.SystemActor, Action: bot.AuditConfigReload,
						IncidentID: "INC-1", Detail: fmt.Sprintf("replica %d goroutine %d entry %d", r, g, i)}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	c, err := f.store.VerifyAudit(ctx)
	must(t, err)
	if c.Broken != nil || c.Entries != each*len(replicas) {
		t.Fatalf("VerifyAudit = %+v, broken %+v; want %d entries whole", c, c.Broken, each*len(replicas))
	}
	if tr, err := f.store.AuditTrail(ctx, "INC-1"); err != nil || len(tr) != each*len(replicas) {
		t.Fatalf("AuditTrail has %d entries, %v", len(tr), err)
	}
}

// Retention drops expired entries from the head, and the chain stays
// verifiable from the oldest kept one through the anchor; run on a moved
// clock, not by waiting.
func TestAuditRetentionKeepsTheChainVerifiable(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t, WithAuditRetention(10*24*time.Hour))
	old := auditSome(t, f.store, f.clock, 3)
	f.clock.Add(5 * 24 * time.Hour)
	kept := auditSome(t, f.store, f.clock, 2)
	c, err := f.store.VerifyAudit(ctx)
	must(t, err)
	if c.Broken != nil || c.Entries != 5 || c.Anchor != "" {
		t.Fatalf("before expiry: %+v", c)
	}

	// when the first three are past retention and a new entry is written
	f.clock.Add(6 * 24 * time.Hour)
	kept = append(kept, auditSome(t, f.store, f.clock, 1)...)

	// then they are gone, from the chain and from the incident's trail
	c, err = f.store.VerifyAudit(ctx)
	must(t, err)
	if c.Broken != nil || c.Entries != len(kept) || !c.First.Equal(kept[0].At) || c.Anchor == "" {
		t.Fatalf("after expiry: %+v (broken %+v); want %d entries from %s", c, c.Broken, len(kept), kept[0].At)
	}
	if tr, err := f.store.AuditTrail(ctx, "INC-1"); err != nil || len(tr) != len(kept) || tr[0].Detail != kept[0].Detail {
		t.Fatalf("AuditTrail after expiry = %+v, %v", tr, err)
	}
	// the anchor is the hash of the last dropped entry
	var prev string
	for _, e := range old {
		prev = bot.AuditHash(e, prev)
	}
	if c.Anchor != prev {
		t.Errorf("anchor %q, want the hash of the last dropped entry %q", c.Anchor, prev)
	}
	// and losing the anchor is noticed
	must(t, f.client.Del(ctx, f.store.auditAnchorKey()).Err())
	c, err = f.store.VerifyAudit(ctx)
	must(t, err)
	if c.Broken == nil || c.Broken.Index != 1 || !strings.Contains(c.Broken.Reason, "anchor") {
		t.Fatalf("without its anchor: %+v", c.Broken)
	}
}
