package redis

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
)

func TestOutboxKeepsOrderOnceAndSurvivesAnotherReplica(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	th := bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0INCIDENTS", RootID: "1700000000.000100"}
	for i := range 30 {
		item := bot.OutboxItem{ID: fmt.Sprintf("reply:SM%02d", i), Thread: th, Kind: "reply",
			Message: bot.Message{Quote: fmt.Sprintf("reply %02d from +4915100000001", i)}, At: f.clock.Now()}
		must(t, f.store.OutboxAppend(ctx, item))
		must(t, f.store.OutboxAppend(ctx, item)) // a re-delivery is kept once
	}
	// Another replica (its own store on the same Redis) sees the same outbox.
	other := New(f.client, f.prefix, f.store.sealer, f.clock)
	threads, err := other.OutboxThreads(ctx)
	must(t, err)
	if len(threads) != 1 || threads[0] != th {
		t.Fatalf("threads = %+v, want [%+v]", threads, th)
	}
	front, err := other.OutboxPeek(ctx, th, 20)
	must(t, err)
	if len(front) != 20 || front[0].ID != "reply:SM00" || front[19].ID != "reply:SM19" {
		t.Fatalf("peek = %d items from %s, want 20 from reply:SM00", len(front), front[0].ID)
	}
	must(t, other.OutboxDrop(ctx, th, 20))
	rest, err := f.store.OutboxPeek(ctx, th, 100)
	must(t, err)
	if len(rest) != 10 || rest[0].ID != "reply:SM20" {
		t.Fatalf("after dropping 20: %d items from %v", len(rest), rest)
	}
	must(t, f.store.OutboxDrop(ctx, th, 10))
	if threads, _ := f.store.OutboxThreads(ctx); len(threads) != 0 {
		t.Fatalf("an empty outbox is still listed: %+v", threads)
	}
	// Bodies are personal data: nothing readable is left in Redis.
	keys, err := f.client.Keys(ctx, f.prefix+"*").Result()
	must(t, err)
	for _, k := range keys {
		if v, err := f.client.Dump(ctx, k).Result(); err == nil && strings.Contains(v, "+4915100000001") {
			t.Errorf("key %s holds a phone number in clear text", k)
		}
	}
}

func TestLeaseIsHeldByOneAtATime(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	holders := 0
	releases := []func(){}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, ok, err := f.store.TryLock(ctx, "poster:thread", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				holders++
				releases = append(releases, release)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if holders != 1 {
		t.Fatalf("%d goroutines hold the lease, want 1", holders)
	}
	releases[0]()
	if _, ok, _ := f.store.TryLock(ctx, "poster:thread", time.Minute); !ok {
		t.Fatal("the lease was not free after release")
	}
}

func TestKVRoundTripAndExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	must(t, f.store.Put(ctx, "approval-code:4821", "INC-42-B3", 0))
	if v, err := f.store.Get(ctx, "approval-code:4821"); err != nil || v != "INC-42-B3" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	must(t, f.store.Delete(ctx, "approval-code:4821"))
	if _, err := f.store.Get(ctx, "approval-code:4821"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("after Delete: err = %v, want ErrNotFound", err)
	}
	must(t, f.store.Put(ctx, "short", "lived", 50*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := f.store.Get(ctx, "short"); errors.Is(err, bot.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a value with a 50ms ttl did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
