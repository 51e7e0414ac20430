package e2e

import (
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// Issue 12: with 20% of creates answered 429 / 20429 and 5% 503 at random,
// every recipient gets the update exactly once, none fails, and herald
// makes fewer than two create attempts per message.
func TestRandomTemporaryRefusalsLoseNobody(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 recipients through Redis and HTTP")
	}
	const n = 1000
	w := newWorld(t, smsRecipients(n))
	w.fake.FailRandomly(
		twilioapi.RandomFault{Share: 0.20, Fault: twilioapi.ErrTooManyRequests},
		twilioapi.RandomFault{Share: 0.05, Fault: twilioapi.ErrServiceUnavailable},
	)
	settings := relay.Settings{SMSPerSecond: -1, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	e := w.engine("replica", settings, 40)
	b := w.broadcast(e, "B-1-1", false)
	if err := e.relay.Start(w.ctx, b); err != nil {
		t.Fatal(err)
	}
	e.run(w.ctx, relay.WorkerConfig{Concurrency: 16, Block: 50 * time.Millisecond})
	defer e.shutdown()

	c := w.waitSettled(e, b.ID, 60*time.Second)

	if c[bot.DeliveryQueued] != n || relay.FailedCount(c) != 0 {
		t.Errorf("counts = %v, want all %d queued, none failed", c, n)
	}
	perPhone := map[string]int{}
	for _, m := range w.fake.Messages() {
		perPhone[m.To]++
	}
	for _, r := range w.dir.Recipients() {
		if perPhone[r.Phone] != 1 {
			t.Fatalf("%s got %d messages, want exactly 1", r.ID, perPhone[r.Phone])
		}
	}
	_, posts := w.counter.read()
	if posts >= 2*n {
		t.Errorf("%d create attempts for %d messages, want under 2x", posts, n)
	}
	t.Logf("%d create attempts for %d messages; requests by status %v", posts, n, w.fake.RequestCounts())
}
