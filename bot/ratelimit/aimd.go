package ratelimit

import "time"

// The additive-increase, multiplicative-decrease constants of
// bot.RateAdapter, shared by LocalLimiter and the Redis limiter (whose Lua
// mirrors aimdFactor). A refusal halves the rate; the rate then climbs back
// by a tenth of the configured rate per second, so from half to full in 5 s:
// quick enough not to leave capacity idle, slow enough that a provider
// refusing again is heard before the rate overshoots by much.
const (
	SlowFactor       = 0.5
	SlowFloor        = 1.0 / 64
	RecoverPerSecond = 0.1
	SlowCooldown     = 500 * time.Millisecond
)

// aimdFactor is the share of the configured rate a bucket runs at, given
// the factor f set at `at` by the last decrease (zero at: never slowed).
func aimdFactor(f float64, at, now time.Time) float64 {
	if at.IsZero() {
		return 1
	}
	return min(1, f+RecoverPerSecond*max(now.Sub(at), 0).Seconds())
}

// aimdSlow is the factor after a refusal at now, and whether it changed
// (false within SlowCooldown of the last decrease).
func aimdSlow(f float64, at, now time.Time) (float64, bool) {
	if !at.IsZero() && now.Sub(at) < SlowCooldown {
		return f, false
	}
	return max(SlowFloor, aimdFactor(f, at, now)*SlowFactor), true
}
