package redis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldops/herald/bot/ratelimit"
)

// aimdSteps: at (µs from the start) either a Slow or a Reserve at 100/s
// (10 ms apart). LocalLimiter and the Lua scripts must give the same waits.
var aimdSteps = []struct {
	at   int64
	slow bool
}{
	{0, false}, {0, true}, {0, false}, {0, false}, // halved: 20 ms apart
	{100_000, true}, {150_000, true}, // the second is within the cooldown: once
	{200_000, false}, {200_000, false},
	{1_000_000, true}, {1_000_000, false}, {1_000_000, false},
	{3_000_000, false}, {3_000_000, false},
	{20_000_000, false}, {20_000_000, false}, // recovered: 10 ms apart again
}

func TestSlowedRateMatchesLocalLimiterAndRecovers(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	base := time.Now().UnixMicro()
	var now atomic.Int64
	f.store.rateNow = now.Load
	clock := newClock()
	start := clock.Now()
	local := ratelimit.NewLocalLimiter(clock)
	var lastWait time.Duration
	for i, st := range aimdSteps {
		now.Store(base + st.at)
		clock.Add(start.Add(time.Duration(st.at) * time.Microsecond).Sub(clock.Now()))
		if st.slow {
			must(t, f.store.Slow(ctx, "k"))
			must(t, local.Slow(context.Background(), "k"))
			continue
		}
		got, err := f.store.Reserve(ctx, "k", 100, 1)
		must(t, err)
		want, err := local.Reserve(context.Background(), "k", 100, 1)
		must(t, err)
		if d := got - want; d > time.Millisecond || d < -time.Millisecond {
			t.Fatalf("step %d: Redis wait %v, LocalLimiter %v", i, got, want)
		}
		if i == 3 && got-lastWait != 20*time.Millisecond {
			t.Errorf("after one Slow tokens come %v apart, want 20ms (half the rate)", got-lastWait)
		}
		lastWait = got
	}
	if lastWait != 10*time.Millisecond {
		t.Errorf("after recovery the wait is %v, want 10ms (the full rate)", lastWait)
	}
	// A slowed bucket is kept until it has recovered, not only until its TAT.
	must(t, f.store.Slow(ctx, "fresh"))
	if ttl := f.client.PTTL(ctx, f.store.rateKey("fresh")).Val(); ttl < 5*time.Second {
		t.Errorf("slowed bucket TTL %v, want at least the 5 s it takes to recover", ttl)
	}
}

func TestDeferredJobsComeUpWhenDue(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	q := f.store
	must(t, q.Enqueue(ctx, "relay", []byte("now")))
	must(t, q.Defer(ctx, "relay", 300*time.Millisecond, []byte("later")))

	jobs, err := q.Claim(ctx, "relay", "w1", 10, 0)
	must(t, err)
	if len(jobs) != 1 || string(jobs[0].Payload) != "now" {
		t.Fatalf("first claim = %+v, want only the job not deferred", jobs)
	}
	// Another replica, which did not defer it, blocks in Claim: it still gets
	// the job when due (it looks every promoteEvery; the block is cut short).
	other := New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)
	began := time.Now()
	var got []string
	for time.Since(began) < 3*time.Second && len(got) == 0 {
		jobs, err := other.Claim(ctx, "relay", "w2", 10, 2*time.Second)
		must(t, err)
		for _, j := range jobs {
			got = append(got, string(j.Payload))
		}
	}
	if len(got) != 1 || got[0] != "later" {
		t.Fatalf("claimed %v, want the deferred job", got)
	}
	if waited := time.Since(began); waited > 2*time.Second {
		t.Errorf("the deferred job came up after %v", waited)
	}
	if n := f.client.ZCard(ctx, q.deferredKey("relay")).Val(); n != 0 {
		t.Errorf("%d jobs left in the deferred set", n)
	}
}

// ReserveN(n) is n Reserves in a row, in one call, in Redis and in the
// LocalLimiter alike.
func TestReserveNIsNReservesInARow(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	base := time.Now().UnixMicro()
	var now atomic.Int64
	now.Store(base)
	f.store.rateNow = now.Load
	clock := newClock()
	one, many := ratelimit.NewLocalLimiter(clock), ratelimit.NewLocalLimiter(clock)
	for round := range 3 {
		var want time.Duration
		for range 3 {
			w, err := f.store.Reserve(ctx, "one", 10, 2)
			must(t, err)
			lw, err := one.Reserve(context.Background(), "k", 10, 2)
			must(t, err)
			if lw != w {
				t.Fatalf("round %d: LocalLimiter %v, Redis %v", round, lw, w)
			}
			want = w
		}
		got, err := f.store.ReserveN(ctx, "many", 10, 2, 3)
		must(t, err)
		lgot, err := many.ReserveN(context.Background(), "k", 10, 2, 3)
		must(t, err)
		if got != want || lgot != want {
			t.Fatalf("round %d: ReserveN waits %v (Redis) / %v (local), three Reserves %v", round, got, lgot, want)
		}
	}
}
