package redis

import (
	"errors"
	"sync"
	"testing"

	"github.com/heraldops/herald/bot"
)

// UpdateDeliveryFrom writes without reading when nobody wrote since; when
// someone did, it reads again and applies the change to the newer record,
// so no write is lost and the counts stay right.
func TestUpdateDeliveryFromDetectsWritesSinceTheRead(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	must(t, s.SaveDeliveries(ctx, []bot.Delivery{newDelivery("B-1-1", "dana", "+4915100000001", f.clock.Now())}))
	read, err := s.Delivery(ctx, "B-1-1", "dana")
	must(t, err)
	if read.StoreRev == "" {
		t.Fatal("Delivery gave no StoreRev")
	}

	// someone else moves it on after our read
	_, err = s.UpdateDelivery(ctx, "B-1-1", "dana", func(x *bot.Delivery) error {
		x.State = bot.DeliverySending
		x.Attempts = append(x.Attempts, bot.Attempt{Channel: x.Channel, State: bot.DeliverySending})
		return nil
	})
	must(t, err)

	// when: we update from our stale copy
	calls := 0
	got, err := s.UpdateDeliveryFrom(ctx, read, func(x *bot.Delivery) error {
		calls++
		x.Name = "Dana W."
		return nil
	})
	must(t, err)

	// then: applied to the newer record, after one retry
	if calls != 2 || got.State != bot.DeliverySending || len(got.Attempts) != 1 || got.Name != "Dana W." {
		t.Errorf("after %d calls: %+v", calls, got)
	}
	if len(read.Attempts) != 0 || read.Name != "Dana Weber" {
		t.Errorf("the caller's copy changed: %+v", read)
	}
	assertCounts(t, s, "B-1-1", bot.Counts{bot.DeliverySending: 1})

	// A fresh copy goes through at once, and its result is fresh again.
	calls = 0
	got, err = s.UpdateDeliveryFrom(ctx, got, func(x *bot.Delivery) error { calls++; x.State = bot.DeliveryQueued; return nil })
	must(t, err)
	if calls != 1 || got.State != bot.DeliveryQueued {
		t.Errorf("fresh copy: %d calls, state %s", calls, got.State)
	}
	again, err := s.Delivery(ctx, "B-1-1", "dana")
	must(t, err)
	if again.StoreRev != got.StoreRev {
		t.Error("the returned StoreRev is not the stored record's")
	}
	assertCounts(t, s, "B-1-1", bot.Counts{bot.DeliveryQueued: 1})

	if _, err := s.UpdateDelivery(ctx, "B-1-1", "nobody", func(*bot.Delivery) error { return nil }); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("missing delivery: %v, want ErrNotFound", err)
	}
}

// Many concurrent writers on one delivery: every increment lands once.
func TestConcurrentDeliveryUpdatesLoseNothing(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	must(t, s.SaveDeliveries(ctx, []bot.Delivery{newDelivery("B-1-1", "dana", "+4915100000001", f.clock.Now())}))
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := s.Delivery(ctx, "B-1-1", "dana")
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.UpdateDeliveryFrom(ctx, d, func(x *bot.Delivery) error {
				x.Attempts = append(x.Attempts, bot.Attempt{Channel: x.Channel, State: bot.DeliveryFailed})
				return nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	d, err := s.Delivery(ctx, "B-1-1", "dana")
	must(t, err)
	if len(d.Attempts) != 20 {
		t.Errorf("%d attempts recorded, want 20", len(d.Attempts))
	}
}

func TestIndexSIDAndUpdateDoBoth(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	must(t, s.SaveDeliveries(ctx, []bot.Delivery{newDelivery("B-1-1", "dana", "+4915100000001", f.clock.Now())}))
	for i, stale := range []bool{false, true} {
		d, err := s.Delivery(ctx, "B-1-1", "dana")
		must(t, err)
		if stale {
			_, err := s.UpdateDelivery(ctx, "B-1-1", "dana", func(x *bot.Delivery) error { x.Name = "someone else wrote"; return nil })
			must(t, err)
		}
		sid := []string{"SMfresh", "SMstale"}[i]
		got, err := s.IndexSIDAndUpdate(ctx, sid, d, func(x *bot.Delivery) error {
			x.Attempts = append(x.Attempts, bot.Attempt{Channel: x.Channel, SID: sid, State: bot.DeliveryQueued})
			x.State = bot.DeliveryQueued
			return nil
		})
		must(t, err)
		if got.Attempts[len(got.Attempts)-1].SID != sid || (stale && got.Name != "someone else wrote") {
			t.Errorf("stale %v: %+v", stale, got)
		}
		bySID, err := s.DeliveryBySID(ctx, sid)
		must(t, err)
		if bySID.RecipientID != "dana" {
			t.Errorf("stale %v: SID %s finds %+v", stale, sid, bySID)
		}
	}
}
