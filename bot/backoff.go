package bot

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff spaces out retries exponentially with full jitter: the n-th retry
// waits a random time in [0, min(Max, Base·2^n)). Full jitter keeps many
// workers that failed together (a 503 burst) from retrying together.
type Backoff struct {
	Base time.Duration // default 500ms
	Max  time.Duration // default 30s
	// Rand returns a number in [0, 1); tests pin it. Default math/rand/v2.
	Rand func() float64
}

// Delay is how long to wait before retry number n (0 for the first retry).
func (b Backoff) Delay(n int) time.Duration {
	base, ceiling := b.Base, b.Max
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if ceiling <= 0 {
		ceiling = 30 * time.Second
	}
	limit := ceiling
	// Shift only while it cannot overflow and stays under the ceiling.
	if n < 40 {
		if d := base << uint(n); d > 0 && d < ceiling {
			limit = d
		}
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return time.Duration(r() * float64(limit))
}

// Sleep waits d or until ctx ends, whichever comes first, and returns
// ctx's error if it ended (also when d <= 0, so a loop that waits between
// tries notices cancellation even when it need not wait). Every pacing and
// retry wait in herald goes through it.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
