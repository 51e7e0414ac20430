package relay

import (
	"context"
	"testing"
	"time"
)

func TestWindowHalvesOnRefusalAndWidensOnSuccess(t *testing.T) {
	ctx := context.Background()
	w := newWindow()
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for range 32 {
		if err := w.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// 32 in flight, the provider refuses: half of them.
	w.release(t0, false, true)
	if w.limit != 16 {
		t.Fatalf("limit after a refusal with 32 in flight = %v, want 16", w.limit)
	}
	// More refusals of the same burst count once.
	w.release(t0.Add(windowCooldown/2), false, true)
	if w.limit != 16 {
		t.Fatalf("limit after a second refusal within the cooldown = %v, want 16", w.limit)
	}
	for range 30 {
		w.release(t0, true, false)
	}
	if w.inFlight != 0 || w.limit <= 16 || w.limit > 18 {
		t.Errorf("after 30 successes: limit %v in flight %d, want a little above 16", w.limit, w.inFlight)
	}
	// A full window blocks until a slot frees up.
	w.limit = 1
	if err := w.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.acquire(short); err == nil {
		t.Fatal("a second acquire on a window of 1 went through")
	}
	done := make(chan error, 1)
	go func() { done <- w.acquire(ctx) }()
	w.release(t0, true, false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
