package ratelimit

// GCRA (the generic cell rate algorithm) is a token bucket stored as one
// number: the theoretical arrival time (TAT) of the next token. A bucket
// refilled every interval and holding burst tokens hands out a token at now
// if it was due by now + (burst-1)·interval; a token taken early is paid
// for by pushing TAT one interval further.
//
// These pure functions are herald's one statement of the algorithm: the
// LocalLimiter runs them in nanoseconds, and the Redis limiter's Lua
// scripts (adapters/redis) do the same arithmetic in microseconds, checked
// against them step by step by the Redis suite. Times are plain integers in
// one unit of the caller's choosing, so the clock is always injected.

// Bucket is one token bucket's state.
type Bucket struct {
	TAT   int64 // when the bucket is next "empty-free"; 0: full
	Pause int64 // no token is due before this; 0: none
}

// Take takes n tokens at now and returns the new state and how long the
// caller must wait before using the last one. Tokens are always granted,
// possibly in the future: the caller waits, the way
// golang.org/x/time/rate's Reserve works.
//
// After a pause the bucket resumes at its steady rate, with no burst: a
// provider that just said "too many requests" should not get a burst.
func Take(b Bucket, now, interval, burst, n int64) (Bucket, int64) {
	tat := max(b.TAT, now)
	if b.Pause > now {
		tat = max(tat, b.Pause+(burst-1)*interval)
	}
	tat += n * interval
	b.TAT = tat
	return b, max(tat-burst*interval-now, 0)
}

// PauseFor keeps the bucket from handing out tokens before now+d. A shorter
// pause never cuts a longer one short.
func PauseFor(b Bucket, now, d int64) Bucket {
	b.Pause = max(b.Pause, now+d)
	return b
}

// Full reports whether the bucket is as good as new at now (it may be
// dropped).
func Full(b Bucket, now int64) bool { return b.TAT <= now && b.Pause <= now }
