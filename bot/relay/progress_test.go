package relay_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
)

// countsWatch records every Counts the relay reads: each one is a progress
// refresh, so a test can tell that the background loop looked at a
// broadcast (and then looked again) without sleeping.
type countsWatch struct {
	bot.BroadcastStore
	mu   sync.Mutex
	seen []bot.Counts
}

func (w *countsWatch) Counts(ctx context.Context, id string) (bot.Counts, error) {
	c, err := w.BroadcastStore.Counts(ctx, id)
	w.mu.Lock()
	w.seen = append(w.seen, c)
	w.mu.Unlock()
	return c, err
}

// refreshes counts the refreshes that saw cond hold.
func (w *countsWatch) refreshes(cond func(bot.Counts) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.seen {
		if cond(c) {
			n++
		}
	}
	return n
}

// TestThrottledReceiptReachesTheSummaryUnderRun: under Run, a receipt that
// arrives within ProgressEvery of the previous edit is not lost: the
// broadcast stays marked until the edit is due, then the summary shows it.
// (The last receipts of a broadcast used to be dropped for good, leaving the
// summary behind.)
func TestThrottledReceiptReachesTheSummaryUnderRun(t *testing.T) {
	f := newRelayFixture(t, true)
	watch := &countsWatch{BroadcastStore: f.store}
	f.relay.Broadcasts = watch
	f.relay.Settings.ProgressEvery = 100 * time.Millisecond
	b := f.approved("B-7-1", []string{"executives"}, false)
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	sid := f.delivery(b.ID, "dana").Attempts[0].SID

	ctx, stop := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.relay.Run(ctx, relay.WorkerConfig{Consumer: "w1", Concurrency: 1, Block: 10 * time.Millisecond})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	poll := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; progress:\n%s", what, f.progress(b.ID).Latest().PlainText())
			}
		}
	}
	// Run is on once it has worked a job: a duplicate of dana's, which
	// finds her delivery already with the provider and does nothing.
	if err := f.store.Enqueue(f.ctx, f.relay.Topic(), []byte(`{"b":"B-7-1","r":"dana"}`)); err != nil {
		t.Fatal(err)
	}
	poll("Run to take a job", func() bool { return f.store.Pending(f.relay.Topic()) == 0 })

	// given: delivered is shown, at a time the clock then stands still at
	f.clock.Advance(f.relay.Settings.ProgressEvery)
	if err := f.relay.HandleStatus(f.ctx, bot.StatusUpdate{SID: sid, Status: bot.DeliveryDelivered}); err != nil {
		t.Fatal(err)
	}
	poll("delivered", func() bool { return strings.Contains(f.progress(b.ID).Latest().PlainText(), "Delivered: 1") })

	// when: the read receipt comes within the same interval, the loop finds
	// the edit not due yet, and still looks again at its next tick
	if err := f.relay.HandleStatus(f.ctx, bot.StatusUpdate{SID: sid, Status: bot.DeliveryRead}); err != nil {
		t.Fatal(err)
	}
	read := func(c bot.Counts) bool { return c[bot.DeliveryRead] == 1 }
	poll("the loop to look at the read receipt twice (it is forgotten after one throttled look)",
		func() bool { return watch.refreshes(read) >= 2 })
	if strings.Contains(f.progress(b.ID).Latest().PlainText(), "Read: 1") {
		t.Fatal("the read receipt was shown within the throttle interval")
	}

	// then: once the interval is over, the summary shows it, with nothing
	// else arriving to trigger an edit
	f.clock.Advance(f.relay.Settings.ProgressEvery)
	poll("the read receipt in the summary", func() bool {
		m := f.progress(b.ID).Latest()
		return strings.Contains(m.PlainText(), "Read: 1") && strings.Contains(m.Context, "(0 delivered, 1 read)")
	})
}
