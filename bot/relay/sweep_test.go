package relay_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
)

var errRedisBlip = errors.New("redis: connection reset by peer")

// flakyQueue fails the enqueues numbered in failOn (1: the first), then
// passes everything on.
type flakyQueue struct {
	bot.Queue
	mu     sync.Mutex
	calls  int
	failOn map[int]bool
}

func (q *flakyQueue) Enqueue(ctx context.Context, topic string, payloads ...[]byte) error {
	q.mu.Lock()
	q.calls++
	fail := q.failOn[q.calls]
	q.mu.Unlock()
	if fail {
		return errRedisBlip
	}
	return q.Queue.Enqueue(ctx, topic, payloads...)
}

// flakyDeliveries fails the first SaveDeliveries.
type flakyDeliveries struct {
	bot.BroadcastStore
	mu     sync.Mutex
	failed bool
}

func (s *flakyDeliveries) SaveDeliveries(ctx context.Context, ds []bot.Delivery) error {
	s.mu.Lock()
	fail := !s.failed
	s.failed = true
	s.mu.Unlock()
	if fail {
		return errRedisBlip
	}
	return s.BroadcastStore.SaveDeliveries(ctx, ds)
}

// itOpsPhones are the distinct phones of the it-ops audience: dana (listed
// twice), omar, lea, kim.
var itOpsPhones = []string{phDana, phOmar, phLea, phKim}

// replica is a second herald process on the same stores.
func (f *relayFixture) replica() *relay.Relay {
	r := f.relay
	return &relay.Relay{
		Planner: r.Planner, Incidents: r.Incidents, Broadcasts: r.Broadcasts, Phones: r.Phones, Queue: r.Queue,
		Limiter: r.Limiter, Messenger: r.Messenger, Chat: r.Chat, Audit: r.Audit, Dedup: r.Dedup, Clock: r.Clock,
		Settings: r.Settings, OnError: r.OnError,
	}
}

func (f *relayFixture) sweep(r *relay.Relay) int {
	f.t.Helper()
	n, err := r.Sweep(f.ctx)
	if err != nil {
		f.t.Fatalf("Sweep: %v", err)
	}
	return n
}

func (f *relayFixture) resumes() []bot.AuditEntry {
	f.t.Helper()
	trail, err := f.store.AuditTrail(f.ctx, f.incident.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []bot.AuditEntry
	for _, e := range trail {
		if e.Action == "broadcast.resume" {
			out = append(out, e)
		}
	}
	return out
}

// assertEveryoneToldOnce drains the queue and checks what stakeholders and
// the thread see: one message per phone, the broadcast done, one progress
// message saying so.
func (f *relayFixture) assertEveryoneToldOnce(id string, phones []string) {
	f.t.Helper()
	if errs := f.drain(); len(errs) > 0 {
		f.t.Fatal(errs)
	}
	for _, ph := range phones {
		if got := f.msgr.sendsTo(ph); len(got) != 1 {
			f.t.Errorf("%s got %d messages, want 1", bot.MaskPhone(ph), len(got))
		}
	}
	if got := f.broadcast(id); got.State != bot.BroadcastDone {
		f.t.Errorf("broadcast %s is %s, want done", id, got.State)
	}
	if posts := f.chat.Thread(f.incident.Thread); len(posts) != 1 {
		f.t.Errorf("thread has %d posts, want the one progress message", len(posts))
	}
	if c := f.counts(id); relay.Unsettled(c) != 0 {
		f.t.Errorf("counts = %v, want nothing left pending", c)
	}
}

func TestSweepRestartsAnApprovedBroadcastWhoseStartFailed(t *testing.T) {
	cases := []struct {
		name string
		fail func(f *relayFixture)
	}{
		{"queueing failed", func(f *relayFixture) {
			f.relay.Queue = &flakyQueue{Queue: f.store, failOn: map[int]bool{1: true}}
		}},
		{"saving deliveries failed", func(f *relayFixture) {
			f.relay.Broadcasts = &flakyDeliveries{BroadcastStore: f.store}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// given: an approved update whose start failed once
			f := newRelayFixture(t, true)
			tc.fail(f)
			b := f.approved("INC-7-B1", []string{"it-ops"}, false)
			if err := f.relay.Start(f.ctx, b); !errors.Is(err, errRedisBlip) {
				t.Fatalf("Start = %v, want the Redis error", err)
			}
			if got := f.broadcast(b.ID); got.State != bot.BroadcastApproved {
				t.Fatalf("after the failed start the broadcast is %s, want approved (handed back)", got.State)
			}

			// when: swept within the grace period, then after it
			early := f.sweep(f.relay)
			f.clock.Advance(31 * time.Second)
			late := f.sweep(f.relay)
			again := f.sweep(f.relay)

			// then
			if early != 0 || late != 1 || again != 0 {
				t.Errorf("sweeps restarted %d, %d, %d broadcasts; want 0 (within grace), 1, 0", early, late, again)
			}
			if n := f.store.Pending(f.relay.Topic()); n != len(itOpsPhones) {
				t.Errorf("queued jobs = %d, want %d", n, len(itOpsPhones))
			}
			f.assertEveryoneToldOnce(b.ID, itOpsPhones)
			if rs := f.resumes(); len(rs) != 1 || !strings.Contains(rs[0].Detail, b.ID) || rs[0].Actor != bot.SystemActor {
				t.Errorf("broadcast.resume audit entries = %+v, want one naming %s", rs, b.ID)
			}
		})
	}
}

func TestSweepResumesABroadcastLeftSendingByACrash(t *testing.T) {
	cases := []struct {
		name  string
		crash func(f *relayFixture, b bot.Broadcast)
	}{
		{"claimed, then died before planning", func(f *relayFixture, b bot.Broadcast) {
			_, err := f.store.UpdateBroadcast(f.ctx, b.ID, func(x *bot.Broadcast) error {
				x.State, x.StartedAt = bot.BroadcastSending, f.clock.Now()
				return nil
			})
			if err != nil {
				f.t.Fatal(err)
			}
		}},
		{"half the jobs queued, some already sent", func(f *relayFixture, b bot.Broadcast) {
			f.relay.Settings.Batch = 2
			f.relay.Queue = &flakyQueue{Queue: f.store, failOn: map[int]bool{2: true}}
			if err := f.relay.Start(f.ctx, b); !errors.Is(err, errRedisBlip) {
				f.t.Fatalf("Start = %v, want the Redis error", err)
			}
			if errs := f.drain(); len(errs) > 0 { // the first two go out
				f.t.Fatal(errs)
			}
			if n := f.msgr.total(); n != 2 {
				f.t.Fatalf("before the crash %d messages went out, want 2", n)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// given
			f := newRelayFixture(t, true)
			b := f.approved("INC-7-B1", []string{"it-ops"}, false)
			tc.crash(f, b)
			if got := f.broadcast(b.ID); got.State != bot.BroadcastSending || !got.QueuedAt.IsZero() {
				t.Fatalf("after the crash: %s, queued at %v; want sending, never fully queued", got.State, got.QueuedAt)
			}

			// when
			early := f.sweep(f.relay)
			f.clock.Advance(2*time.Minute + time.Second)
			late := f.sweep(f.relay)
			f.clock.Advance(5 * time.Minute) // past the resume key: only QueuedAt keeps it from a second resume
			again := f.sweep(f.relay)

			// then
			if early != 0 || late != 1 || again != 0 {
				t.Errorf("sweeps resumed %d, %d, %d broadcasts; want 0 (within grace), 1, 0", early, late, again)
			}
			if got := f.broadcast(b.ID); got.Total != len(itOpsPhones) || got.QueuedAt.IsZero() {
				t.Errorf("resumed broadcast: total %d, queued at %v; want %d and set", got.Total, got.QueuedAt, len(itOpsPhones))
			}
			f.assertEveryoneToldOnce(b.ID, itOpsPhones)
			if rs := f.resumes(); len(rs) != 1 || !strings.Contains(rs[0].Detail, b.ID) {
				t.Errorf("broadcast.resume audit entries = %+v, want one naming %s", rs, b.ID)
			}
		})
	}
}

func TestSweepLeavesFinishedStartsAlone(t *testing.T) {
	f := newRelayFixture(t, true)
	b := f.approved("INC-7-B1", []string{"it-ops"}, false)
	f.start(b)
	queued := f.store.Pending(f.relay.Topic())

	// A broadcast still sending (its jobs wait in the queue) long after it
	// started is slow, not stuck.
	f.clock.Advance(10 * time.Minute)
	if n := f.sweep(f.relay); n != 0 {
		t.Errorf("Sweep resumed %d broadcasts, want 0", n)
	}
	if n := f.store.Pending(f.relay.Topic()); n != queued {
		t.Errorf("queued jobs went from %d to %d", queued, n)
	}
	f.assertEveryoneToldOnce(b.ID, itOpsPhones)
	f.clock.Advance(10 * time.Minute)
	if n := f.sweep(f.relay); n != 0 {
		t.Errorf("Sweep after the end resumed %d broadcasts, want 0", n)
	}
	if rs := f.resumes(); len(rs) != 0 {
		t.Errorf("broadcast.resume audit entries = %+v, want none", rs)
	}
}

func TestConcurrentSweepsStartEachBroadcastOnce(t *testing.T) {
	// given: one approved broadcast whose start failed, one left sending
	f := newRelayFixture(t, true)
	f.relay.Queue = &flakyQueue{Queue: f.store, failOn: map[int]bool{1: true}}
	failed := f.approved("INC-7-B1", []string{"it-ops"}, false)
	if err := f.relay.Start(f.ctx, failed); err == nil {
		t.Fatal("Start did not fail")
	}
	crashed := f.approved("INC-7-B2", []string{"executives"}, false)
	if _, err := f.store.UpdateBroadcast(f.ctx, crashed.ID, func(x *bot.Broadcast) error {
		x.State, x.StartedAt = bot.BroadcastSending, f.clock.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(3 * time.Minute)
	replicas := []*relay.Relay{f.relay, f.replica(), f.replica(), f.replica()}

	// when: every replica sweeps at the same moment
	var wg sync.WaitGroup
	got := make([]int, len(replicas))
	errs := make([]error, len(replicas))
	ready := make(chan struct{})
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			got[i], errs[i] = r.Sweep(f.ctx)
		}()
	}
	close(ready)
	wg.Wait()

	// then
	total := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: %v", i, errs[i])
		}
		total += got[i]
	}
	if total != 2 {
		t.Errorf("replicas started %v broadcasts again, want 2 in all", got)
	}
	if n := f.store.Pending(f.relay.Topic()); n != len(itOpsPhones)+1 {
		t.Errorf("queued jobs = %d, want %d (it-ops once, dana for executives once)", n, len(itOpsPhones)+1)
	}
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := f.msgr.sendsTo(phDana); len(got) != 2 {
		t.Errorf("dana got %d messages, want 2 (one per broadcast)", len(got))
	}
	for _, ph := range []string{phOmar, phLea, phKim} {
		if got := f.msgr.sendsTo(ph); len(got) != 1 {
			t.Errorf("%s got %d messages, want 1", bot.MaskPhone(ph), len(got))
		}
	}
	if rs := f.resumes(); len(rs) != 2 {
		t.Errorf("broadcast.resume audit entries = %d, want 2", len(rs))
	}
}

func TestSweepRespectsAnOptOutSinceTheFailedStart(t *testing.T) {
	// given: the failed start saved kim's delivery as pending; then kim
	// texted STOP
	f := newRelayFixture(t, true)
	f.relay.Queue = &flakyQueue{Queue: f.store, failOn: map[int]bool{1: true}}
	b := f.approved("INC-7-B1", []string{"it-ops"}, false)
	if err := f.relay.Start(f.ctx, b); err == nil {
		t.Fatal("Start did not fail")
	}
	if d := f.delivery(b.ID, "kim"); d.State != bot.DeliveryPending {
		t.Fatalf("kim's delivery after the failed start = %s, want pending", d.State)
	}
	if err := f.store.SetOptOut(f.ctx, phKim, true); err != nil {
		t.Fatal(err)
	}

	// when
	f.clock.Advance(time.Minute)
	if n := f.sweep(f.relay); n != 1 {
		t.Fatalf("Sweep restarted %d broadcasts, want 1", n)
	}

	// then: kim is not messaged, and the broadcast still ends
	f.assertEveryoneToldOnce(b.ID, []string{phDana, phOmar, phLea})
	if got := f.msgr.sendsTo(phKim); len(got) != 0 {
		t.Errorf("kim, who opted out, got %d messages", len(got))
	}
	if d := f.delivery(b.ID, "kim"); d.State != bot.DeliveryOptedOut {
		t.Errorf("kim's delivery = %s, want opted_out", d.State)
	}
	if got := f.broadcast(b.ID); got.Total != 3 || got.OptedOut != 1 {
		t.Errorf("broadcast total %d opted out %d, want 3 and 1", got.Total, got.OptedOut)
	}
}

func TestSweepReportsAStoreThatCannotList(t *testing.T) {
	f := newRelayFixture(t, true)
	f.relay.Broadcasts = brokenLister{f.store}
	if n, err := f.relay.Sweep(f.ctx); n != 0 || !errors.Is(err, errRedisBlip) {
		t.Errorf("Sweep = %d, %v; want 0 and the store's error", n, err)
	}
}

type brokenLister struct{ bot.BroadcastStore }

func (brokenLister) BroadcastsInState(context.Context, bot.BroadcastState) ([]bot.Broadcast, error) {
	return nil, errRedisBlip
}
