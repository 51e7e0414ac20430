package redis

import "github.com/heraldops/herald/bot/ratelimit"

// The rate limiter is GCRA (the generic cell rate algorithm), a token bucket
// stored as one number: the theoretical arrival time (TAT) of the next
// token. A bucket refilled every `interval` and holding `burst` tokens hands
// out a token at `now` if it was due by now + (burst-1)·interval; a token
// taken early is paid for by pushing TAT one interval further.
//
// The reference is bot/ratelimit's Take and PauseFor: the Lua scripts in
// ratelimit.go do the same arithmetic inside Redis, and a test checks both
// agree step by step.
// Times are integer microseconds, which float64 (Lua's numbers) holds
// exactly for the next few centuries.

// bucket is one token bucket's stored state, in microseconds since the
// epoch: the GCRA of bot/ratelimit, whose Take and PauseFor the scripts
// mirror.
type bucket = ratelimit.Bucket

// bucketTTL is how long (ms) a bucket must be kept: until both its TAT and
// its pause are in the past it is not simply full, plus a second of slack.
// A bucket that expires is full, which is what it would be anyway.
func bucketTTL(b bucket, now int64) int64 {
	horizon := max(b.TAT, b.Pause)
	return (horizon-now+999)/1000 + 1000
}
