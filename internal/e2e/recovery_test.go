package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
)

// Issue 12: a replica that died while its attempts were "sending" leaves
// them to the others at once, not after the send timeout: its lease has
// lapsed, so nobody is in those provider calls any more. Every recipient
// still gets exactly one message.
func TestDeadConsumersSendingJobsAreTakenOverWithoutWaitingOutTheSendTimeout(t *testing.T) {
	const n = 20
	w := newWorld(t, smsRecipients(n))
	// A send timeout of a minute: the old rule would leave the dead
	// replica's deliveries alone for 62 s.
	settings := relay.Settings{SMSPerSecond: -1, SendTimeout: time.Minute}
	dead := w.engine("dead", settings, 10)
	b := w.broadcast(dead, "B-1-1", false)
	if err := dead.relay.Start(w.ctx, b); err != nil {
		t.Fatal(err)
	}

	// given: "dead" claimed every job, marked half of them sending (as a
	// worker does right before the POST), renewed its lease once and died.
	jobs, err := dead.store.Claim(w.ctx, dead.relay.Topic(), "dead", n, 0)
	if err != nil || len(jobs) != n {
		t.Fatalf("claimed %d jobs (%v)", len(jobs), err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dead.store.Renew(w.ctx, dead.relay.Topic(), "dead", 300*time.Millisecond, nil))
	for _, r := range w.dir.Recipients()[:n/2] {
		_, err := dead.store.UpdateDelivery(w.ctx, b.ID, r.ID, func(x *bot.Delivery) error {
			x.State = bot.DeliverySending
			x.Attempts = append(x.Attempts, bot.Attempt{Channel: x.Channel, State: bot.DeliverySending, At: time.Now(), By: "dead"})
			return nil
		})
		must(err)
	}

	// when: a live replica runs with the default reclaim rules for a queue
	// with leases (5 s idle, looked for every second)
	live := w.engine("live", settings, 10)
	live.run(w.ctx, relay.WorkerConfig{Concurrency: 8, Block: 50 * time.Millisecond})
	defer live.shutdown()
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	c, err := live.relay.Wait(ctx, b.ID, 50*time.Millisecond, nil)

	// then: well before the 62 s the send timeout would have cost
	if err != nil {
		t.Fatalf("not settled within 30 s: %v (counts %v)", err, c)
	}
	if c[bot.DeliveryQueued] != n {
		t.Errorf("counts = %v, want %d queued", c, n)
	}
	perPhone := map[string]int{}
	for _, m := range w.fake.Messages() {
		perPhone[m.To]++
	}
	for _, r := range w.dir.Recipients() {
		if perPhone[r.Phone] != 1 {
			t.Errorf("%s got %d messages, want 1", r.ID, perPhone[r.Phone])
		}
	}
}
