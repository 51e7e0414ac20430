package redis

// The rate limiter is GCRA (the generic cell rate algorithm), a token bucket
// stored as one number: the theoretical arrival time (TAT) of the next
// token. A bucket refilled every `interval` and holding `burst` tokens hands
// out a token at `now` if it was due by now + (burst-1)·interval; a token
// taken early is paid for by pushing TAT one interval further.
//
// These functions are the reference: the Lua scripts in ratelimit.go do the
// same arithmetic inside Redis, and a test checks both agree step by step.
// Times are integer microseconds, which float64 (Lua's numbers) holds
// exactly for the next few centuries.

// bucket is one token bucket's stored state.
type bucket struct {
	TAT   int64 // when the bucket next becomes "empty-free", µs since the epoch; 0: full
	Pause int64 // no token is due before this, µs since the epoch; 0: none
}

// gcraReserve takes one token at now and returns the new state and how long
// (µs) the caller must wait before using the token. Tokens are always
// granted, possibly in the future: the caller sleeps, the way
// golang.org/x/time/rate's Reserve works.
//
// After a pause the bucket resumes at its steady rate, with no burst: a
// provider that just said "too many requests" should not get a burst.
func gcraReserve(b bucket, now, interval, burst int64) (bucket, int64) {
	tat := max(b.TAT, now)
	if b.Pause > now {
		tat = max(tat, b.Pause+(burst-1)*interval)
	}
	tat += interval
	wait := max(tat-burst*interval-now, 0)
	b.TAT = tat
	return b, wait
}

// gcraPause keeps the bucket from handing out tokens before now+d. A
// shorter pause never cuts a longer one short.
func gcraPause(b bucket, now, d int64) bucket {
	b.Pause = max(b.Pause, now+d)
	return b
}

// bucketTTL is how long (ms) a bucket must be kept: until both its TAT and
// its pause are in the past it is not simply full, plus a second of slack.
// A bucket that expires is full, which is what it would be anyway.
func bucketTTL(b bucket, now int64) int64 {
	horizon := max(b.TAT, b.Pause)
	return (horizon-now+999)/1000 + 1000
}
