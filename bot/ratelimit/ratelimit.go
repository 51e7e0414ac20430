package ratelimit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/heraldops/herald/bot"
)

// LocalLimiter is a RateLimiter kept in this process's memory, for one
// replica, for adapters given no shared limiter, and for tests. Several
// replicas must share the Redis one instead, or together they exceed the
// provider's rate.
//
// It is GCRA (the generic cell rate algorithm) with the semantics of the
// Redis limiter (adapters/redis/gcra.go, which documents its Lua scripts): a
// bucket refilled every 1/rate and holding burst tokens grants every
// request, possibly in the future, and says how long to wait; a pause holds
// every token back until it ends, after which the bucket resumes at its
// steady rate without a burst, since a provider that just said "too many
// requests" should not get one.
type LocalLimiter struct {
	clock bot.Clock

	mu       sync.Mutex
	buckets  map[string]localBucket
	reserves int // since the last sweep
}

type localBucket struct {
	Bucket           // GCRA state, in nanoseconds since the epoch
	slow   float64   // share of the rate set by the last Slow (see aimdFactor)
	slowAt time.Time // when; zero: never slowed
}

// sweepEvery is how many reservations pass between sweeps of buckets that
// are full again; a full bucket is the same as an absent one, so dropping
// them keeps per-phone or per-channel keys from piling up in memory.
const sweepEvery = 1024

// NewLocalLimiter returns an empty limiter reading clock (the system clock
// if nil).
func NewLocalLimiter(clock bot.Clock) *LocalLimiter {
	if clock == nil {
		clock = bot.SystemClock{}
	}
	return &LocalLimiter{clock: clock, buckets: map[string]localBucket{}}
}

var (
	_ bot.RateLimiter   = (*LocalLimiter)(nil)
	_ bot.RateAdapter   = (*LocalLimiter)(nil)
	_ bot.BatchReserver = (*LocalLimiter)(nil)
)

// Reserve takes one token from bucket key, refilled at rate per second and
// holding at most burst, and returns how long to wait before using it.
func (l *LocalLimiter) Reserve(ctx context.Context, key string, rate float64, burst int) (time.Duration, error) {
	return l.ReserveN(ctx, key, rate, burst, 1)
}

// ReserveN takes n tokens at once, as n Reserves in a row would, and
// returns how long to wait before using the last (bot.BatchReserver).
func (l *LocalLimiter) ReserveN(_ context.Context, key string, rate float64, burst, n int) (time.Duration, error) {
	if !(rate > 0) || math.IsInf(rate, 0) || burst < 1 || n < 1 {
		return 0, fmt.Errorf("rate limit %s: want rate > 0, burst >= 1 and n >= 1, got %v, %d and %d", key, rate, burst, n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.sweep(now)
	b := l.buckets[key]
	rate *= aimdFactor(b.slow, b.slowAt, now)
	interval := max(time.Duration(float64(time.Second)/rate), 1)
	var wait int64
	b.Bucket, wait = Take(b.Bucket, now.UnixNano(), int64(interval), int64(burst), int64(n))
	l.buckets[key] = b
	return time.Duration(wait), nil
}

// Pause stops bucket key from handing out tokens for d. A shorter pause
// never cuts a longer one short.
func (l *LocalLimiter) Pause(_ context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	b.Bucket = PauseFor(b.Bucket, l.clock.Now().UnixNano(), int64(d))
	l.buckets[key] = b
	return nil
}

// Slow lowers bucket key's rate after a refusal (see bot.RateAdapter).
func (l *LocalLimiter) Slow(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	b := l.buckets[key]
	if f, ok := aimdSlow(b.slow, b.slowAt, now); ok {
		b.slow, b.slowAt = f, now
		l.buckets[key] = b
	}
	return nil
}

// sweep drops the buckets that are full again, every sweepEvery calls.
// Callers hold l.mu.
func (l *LocalLimiter) sweep(now time.Time) {
	if l.reserves++; l.reserves < sweepEvery {
		return
	}
	l.reserves = 0
	for key, b := range l.buckets {
		if Full(b.Bucket, now.UnixNano()) && aimdFactor(b.slow, b.slowAt, now) == 1 {
			delete(l.buckets, key)
		}
	}
}
