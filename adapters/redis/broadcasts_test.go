package redis

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
)

func newBroadcast(id, incident string, state bot.BroadcastState, at time.Time) bot.Broadcast {
	return bot.Broadcast{
		ID: id,
		Draft: bot.Draft{
			IncidentID: incident, Audiences: []string{"executives", "it-ops"}, Template: "investigating",
			Fields: map[string]string{"next_update": "14:30 UTC"},
		},
		State:       state,
		RequestedBy: bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Rita"},
		RequestedAt: at.UTC(),
		ExpiresAt:   at.Add(30 * time.Minute).UTC(),
		Total:       2,
	}
}

func TestBroadcastsRoundTripAndIndexes(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now()

	b1 := newBroadcast("B-1-1", "INC-1", bot.BroadcastSending, now)
	b2 := newBroadcast("B-1-2", "INC-1", bot.BroadcastPendingApproval, now.Add(time.Minute))
	b3 := newBroadcast("B-2-1", "INC-2", bot.BroadcastPendingApproval, now.Add(-time.Minute))
	for _, b := range []bot.Broadcast{b2, b1, b3} {
		must(t, s.SaveBroadcast(ctx, b))
	}

	got, err := s.Broadcast(ctx, "B-1-2")
	must(t, err)
	if got.Draft.Fields["next_update"] != "14:30 UTC" || got.State != bot.BroadcastPendingApproval || !got.RequestedAt.Equal(b2.RequestedAt) || got.Draft.Audiences[1] != "it-ops" {
		t.Fatalf("Broadcast(B-1-2) = %+v", got)
	}

	of, err := s.BroadcastsOf(ctx, "INC-1")
	must(t, err)
	if ids := broadcastIDs(of); ids != "B-1-1,B-1-2" {
		t.Fatalf("BroadcastsOf(INC-1) = %s, want oldest first", ids)
	}
	pending, err := s.PendingApprovals(ctx)
	must(t, err)
	if ids := broadcastIDs(pending); ids != "B-2-1,B-1-2" {
		t.Fatalf("PendingApprovals = %s", ids)
	}

	// when one is approved, it leaves the pending list
	_, err = s.UpdateBroadcast(ctx, "B-1-2", func(b *bot.Broadcast) error {
		b.State = bot.BroadcastApproved
		b.DecidedBy = bot.Actor{Platform: bot.PlatformSlack, ID: "U0LEAD1"}
		return nil
	})
	must(t, err)
	pending, err = s.PendingApprovals(ctx)
	must(t, err)
	if ids := broadcastIDs(pending); ids != "B-2-1" {
		t.Fatalf("PendingApprovals after approval = %s", ids)
	}
	got, err = s.Broadcast(ctx, "B-1-2")
	must(t, err)
	if got.State != bot.BroadcastApproved || got.DecidedBy.ID != "U0LEAD1" {
		t.Fatalf("after update: %+v", got)
	}

	if _, err := s.Broadcast(ctx, "B-9-9"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("missing broadcast: %v", err)
	}
	if _, err := s.UpdateBroadcast(ctx, "B-9-9", func(*bot.Broadcast) error { return nil }); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("updating a missing broadcast: %v", err)
	}
}

func TestUpdateBroadcastErrorWritesNothing(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	must(t, f.store.SaveBroadcast(ctx, newBroadcast("B-1-1", "INC-1", bot.BroadcastPendingApproval, f.clock.Now())))

	refuse := errors.New("requester cannot approve their own broadcast")
	_, err := f.store.UpdateBroadcast(ctx, "B-1-1", func(b *bot.Broadcast) error {
		b.State = bot.BroadcastApproved
		return refuse
	})
	if err != refuse {
		t.Fatalf("err = %v, want fn's error as it is", err)
	}
	got, err := f.store.Broadcast(ctx, "B-1-1")
	must(t, err)
	if got.State != bot.BroadcastPendingApproval {
		t.Fatalf("state = %s after a refused update", got.State)
	}
}

// Twenty approvers click at once: exactly one approval wins, everyone else
// learns it lost, and the broadcast is approved once.
func TestConcurrentApprovalExactlyOneWins(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	must(t, f.store.SaveBroadcast(ctx, newBroadcast("B-7-1", "INC-7", bot.BroadcastPendingApproval, f.clock.Now())))
	// two replicas, each with its own connections
	replicas := []*Store{f.store, New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)}

	var wins, conflicts atomic.Int32
	var winner atomic.Value
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			<-start
			approver := fmt.Sprintf("U0LEAD%d", i)
			_, err := replicas[i%2].UpdateBroadcast(ctx, "B-7-1", func(b *bot.Broadcast) error {
				if b.State != bot.BroadcastPendingApproval {
					return bot.ErrConflict
				}
				b.State = bot.BroadcastApproved
				b.DecidedBy = bot.Actor{ID: approver}
				return nil
			})
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(approver)
			case errors.Is(err, bot.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("approver %s: %v", approver, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 19 {
		t.Fatalf("wins = %d, conflicts = %d; want 1 and 19", wins.Load(), conflicts.Load())
	}
	got, err := f.store.Broadcast(ctx, "B-7-1")
	must(t, err)
	if got.State != bot.BroadcastApproved || got.DecidedBy.ID != winner.Load().(string) {
		t.Fatalf("stored %s by %s, winner was %s", got.State, got.DecidedBy.ID, winner.Load())
	}
}

func newDelivery(bid, rid, phone string, at time.Time) bot.Delivery {
	return bot.Delivery{
		BroadcastID: bid, IncidentID: "INC-1", RecipientID: rid, Name: "Dana Weber",
		Phone: phone, Channel: bot.ChannelWhatsApp, Locale: "de", State: bot.DeliveryPending, UpdatedAt: at.UTC(),
	}
}

func TestDeliveriesCountsAndSIDs(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now()

	ds := []bot.Delivery{
		newDelivery("B-1-1", "dana", "+4915100000001", now),
		newDelivery("B-1-1", "omar", "+14155550101", now),
		newDelivery("B-1-1", "lee", "+447700900123", now),
	}
	ds[2].State = bot.DeliveryOptedOut
	must(t, s.SaveDeliveries(ctx, ds))
	assertCounts(t, s, "B-1-1", bot.Counts{bot.DeliveryPending: 2, bot.DeliveryOptedOut: 1})

	// Saving the same plan again (a relay restarted half-way) changes nothing.
	_, err := s.UpdateDelivery(ctx, "B-1-1", "dana", func(d *bot.Delivery) error {
		d.State = bot.DeliverySending
		return nil
	})
	must(t, err)
	must(t, s.SaveDeliveries(ctx, ds))
	assertCounts(t, s, "B-1-1", bot.Counts{bot.DeliveryPending: 1, bot.DeliverySending: 1, bot.DeliveryOptedOut: 1})
	if d, _ := s.Delivery(ctx, "B-1-1", "dana"); d.State != bot.DeliverySending {
		t.Fatalf("re-saving the plan reset dana to %s", d.State)
	}

	// The provider accepts; its status callback finds the delivery by SID.
	_, err = s.UpdateDelivery(ctx, "B-1-1", "dana", func(d *bot.Delivery) error {
		d.State = bot.DeliveryQueued
		d.Attempts = append(d.Attempts, bot.Attempt{Channel: bot.ChannelWhatsApp, SID: "SM0123456789abcdef0123456789abcdef", State: bot.DeliveryQueued, At: now.UTC()})
		return nil
	})
	must(t, err)
	must(t, s.IndexSID(ctx, "SM0123456789abcdef0123456789abcdef", "B-1-1", "dana"))
	got, err := s.DeliveryBySID(ctx, "SM0123456789abcdef0123456789abcdef")
	must(t, err)
	if got.RecipientID != "dana" || got.Phone != "+4915100000001" || got.State != bot.DeliveryQueued || len(got.Attempts) != 1 || got.Locale != "de" {
		t.Fatalf("DeliveryBySID = %+v", got)
	}
	assertCounts(t, s, "B-1-1", bot.Counts{bot.DeliveryPending: 1, bot.DeliveryQueued: 1, bot.DeliveryOptedOut: 1})

	// An update that fails writes nothing and moves no count.
	stale := errors.New("state would move backwards")
	_, err = s.UpdateDelivery(ctx, "B-1-1", "dana", func(d *bot.Delivery) error {
		d.State = bot.DeliveryPending
		return stale
	})
	if err != stale {
		t.Fatalf("err = %v, want fn's error", err)
	}
	assertCounts(t, s, "B-1-1", bot.Counts{bot.DeliveryPending: 1, bot.DeliveryQueued: 1, bot.DeliveryOptedOut: 1})

	if _, err := s.DeliveryBySID(ctx, "SMunknown"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("unknown SID: %v", err)
	}
	if _, err := s.Delivery(ctx, "B-1-1", "nobody"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("unknown delivery: %v", err)
	}
	if _, err := s.UpdateDelivery(ctx, "B-1-1", "nobody", func(*bot.Delivery) error { return nil }); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("updating unknown delivery: %v", err)
	}
}

// Workers and status callbacks move many deliveries at once, several on the
// same delivery: the counts must still add up to the deliveries' states.
func TestUpdateDeliveryCountsStayConsistentUnderConcurrency(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	replicas := []*Store{f.store, New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)}
	const n = 40
	var ds []bot.Delivery
	for i := range n {
		ds = append(ds, newDelivery("B-3-1", fmt.Sprintf("r%02d", i), fmt.Sprintf("+49151000%05d", i), f.clock.Now()))
	}
	must(t, f.store.SaveDeliveries(ctx, ds))

	// Every delivery goes pending -> sending -> queued -> sent -> delivered,
	// with four goroutines racing to make each step (like a worker and
	// repeated status callbacks); a step is only taken from its own state.
	steps := []bot.DeliveryState{bot.DeliverySending, bot.DeliveryQueued, bot.DeliverySent, bot.DeliveryDelivered}
	var wg sync.WaitGroup
	for i := range n {
		rid := fmt.Sprintf("r%02d", i)
		for g := range 4 {
			wg.Go(func() {
				for _, next := range steps {
					_, err := replicas[(i+g)%2].UpdateDelivery(ctx, "B-3-1", rid, func(d *bot.Delivery) error {
						if d.State.Rank() >= next.Rank() {
							return nil // someone else took this step; write the same state back
						}
						d.State = next
						return nil
					})
					if err != nil {
						t.Errorf("%s -> %s: %v", rid, next, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	assertCounts(t, f.store, "B-3-1", bot.Counts{bot.DeliveryDelivered: n})
}

func assertCounts(t *testing.T, s *Store, bid string, want bot.Counts) {
	t.Helper()
	got, err := s.Counts(ctxT(t), bid)
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts of %s = %v, want %v", bid, got, want)
	}
}

func broadcastIDs(bs []bot.Broadcast) string {
	s := ""
	for i, b := range bs {
		if i > 0 {
			s += ","
		}
		s += b.ID
	}
	return s
}
