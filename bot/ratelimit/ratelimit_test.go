package ratelimit_test

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/ratelimit"
)

// limiterStep is one call on a LocalLimiter, `at` after the start.
type limiterStep struct {
	at       time.Duration
	pause    time.Duration // > 0: Pause for this long instead of Reserve
	wantWait time.Duration // for Reserve
}

func TestLocalLimiter(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []limiterStep
	}{
		{
			name: "burst 2: two now, the third a second after the first",
			rate: 1, burst: 2,
			steps: []limiterStep{{wantWait: 0}, {wantWait: 0}, {wantWait: time.Second}},
		},
		{
			name: "tokens refill with time, up to burst and no further",
			rate: 10, burst: 2,
			steps: []limiterStep{
				{at: 0, wantWait: 0},
				{at: 0, wantWait: 0},
				{at: 0, wantWait: 100 * time.Millisecond},
				{at: 10 * time.Second, wantWait: 0},
				{at: 10 * time.Second, wantWait: 0},
				{at: 10 * time.Second, wantWait: 100 * time.Millisecond},
			},
		},
		{
			name: "a pause holds every token, burst or not",
			rate: 1, burst: 5,
			steps: []limiterStep{
				{pause: 3 * time.Second},
				{wantWait: 3 * time.Second},
			},
		},
		{
			name: "after a pause the steady rate resumes without a burst",
			rate: 10, burst: 5,
			steps: []limiterStep{
				{at: 0, pause: 2 * time.Second},
				{at: 0, wantWait: 2 * time.Second},
				{at: 0, wantWait: 2*time.Second + 100*time.Millisecond},
				{at: time.Second, pause: 500 * time.Millisecond}, // shorter: does not cut the first short
				{at: time.Second, wantWait: 1200 * time.Millisecond},
				{at: 5 * time.Second, wantWait: 0}, // long after: full again
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given
			start := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
			clock := bottest.NewClock(start)
			l := ratelimit.NewLocalLimiter(clock)
			ctx := context.Background()
			for i, s := range tt.steps {
				clock.Advance(start.Add(s.at).Sub(clock.Now()))
				// when
				if s.pause > 0 {
					if err := l.Pause(ctx, "k", s.pause); err != nil {
						t.Fatal(err)
					}
					continue
				}
				wait, err := l.Reserve(ctx, "k", tt.rate, tt.burst)
				// then
				if err != nil {
					t.Fatal(err)
				}
				if wait != s.wantWait {
					t.Fatalf("step %d at +%v: wait %v, want %v", i, s.at, wait, s.wantWait)
				}
			}
		})
	}
}

func TestLocalLimiterKeepsBucketsApart(t *testing.T) {
	l := ratelimit.NewLocalLimiter(bottest.NewClock(time.Now()))
	ctx := context.Background()
	_ = l.Pause(ctx, "chat:C1", time.Minute)
	if wait, _ := l.Reserve(ctx, "chat:C2", 1, 1); wait != 0 {
		t.Fatalf("pausing one bucket delayed another by %v", wait)
	}
}

// Full buckets are swept from memory now and then; a sweep must not lose the
// state of a busy one.
func TestLocalLimiterSweepKeepsBusyBuckets(t *testing.T) {
	clock := bottest.NewClock(time.Now())
	l := ratelimit.NewLocalLimiter(clock)
	ctx := context.Background()
	_, _ = l.Reserve(ctx, "busy", 1, 1) // next token in 1 s
	for i := range 5000 {               // short-lived keys, full again a µs later: several sweeps
		_, _ = l.Reserve(ctx, "once-"+strconv.Itoa(i), 1e6, 1)
		clock.Advance(time.Microsecond)
	}
	if wait, _ := l.Reserve(ctx, "busy", 1, 1); wait != time.Second-5*time.Millisecond {
		t.Fatalf("busy bucket after sweeps: wait %v, want 995ms", wait)
	}
}

func TestLocalLimiterRejectsNonsense(t *testing.T) {
	l := ratelimit.NewLocalLimiter(nil)
	for _, c := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {1, 0}, {math.NaN(), 1}, {math.Inf(1), 1}} {
		if _, err := l.Reserve(context.Background(), "k", c.rate, c.burst); err == nil {
			t.Errorf("Reserve(rate %v, burst %d): no error", c.rate, c.burst)
		}
	}
}
