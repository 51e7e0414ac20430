package redis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/ratelimit"
)

// The scripts mirror gcra.go line by line. They read the clock with Redis
// TIME, so replicas whose own clocks disagree still share one timeline.
// ARGV's last element overrides TIME in tests (empty otherwise).

const luaNow = `
local now
if ARGV[#ARGV] ~= '' then
  now = tonumber(ARGV[#ARGV])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`

// luaKeep is bucketTTL; a slowed bucket is also kept until its rate has
// climbed back (recovered, µs since the epoch).
const luaKeep = `
local function keep(tat, pause, now, recovered)
  local horizon = tat
  if pause > horizon then horizon = pause end
  if recovered and recovered > horizon then horizon = recovered end
  redis.call('PEXPIRE', KEYS[1], math.floor((horizon - now + 999) / 1000) + 1000)
end
`

// luaFactor is ratelimit's aimdFactor: the share of the configured rate a
// bucket runs at, from the fields f and ft (µs) the last Slow wrote, and
// when it is back to 1. RECOVER is the recovery per µs.
const luaFactor = `
local function factor(f, ft, now)
  if not f then return 1, nil end
  local cur = f + (now - ft) * RECOVER
  if cur > 1 then cur = 1 end
  return cur, ft + (1 - f) / RECOVER
end
`

var luaRecover = fmt.Sprintf("local RECOVER = %g\n", ratelimit.RecoverPerSecond/1e6)

var reserveScript = goredis.NewScript(luaNow + luaRecover + luaKeep + luaFactor + `
-- KEYS[1]: bucket hash {tat, pause, f, ft}; ARGV[1]: interval, µs; ARGV[2]: burst;
-- ARGV[3]: tokens taken at once (n reservations in a row, in one call)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'f', 'ft')
local tat = tonumber(v[1]) or 0
local pause = tonumber(v[2]) or 0
local share, recovered = factor(tonumber(v[3]), tonumber(v[4]), now)
if share < 1 then interval = math.floor(interval / share + 0.5) end
if tat < now then tat = now end
if pause > now then
  local resume = pause + (burst - 1) * interval
  if tat < resume then tat = resume end
end
tat = tat + n * interval
local wait = tat - burst * interval - now
if wait < 0 then wait = 0 end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat))
keep(tat, pause, now, recovered)
return wait
`)

var pauseScript = goredis.NewScript(luaNow + luaRecover + luaKeep + luaFactor + `
-- KEYS[1]: bucket hash {tat, pause}; ARGV[1]: pause, µs
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause')
local tat = tonumber(v[1]) or 0
local pause = tonumber(v[2]) or 0
local resume = now + tonumber(ARGV[1])
if resume > pause then
  pause = resume
  redis.call('HSET', KEYS[1], 'pause', string.format('%.0f', pause))
  local v2 = redis.call('HMGET', KEYS[1], 'f', 'ft')
  local _, recovered = factor(tonumber(v2[1]), tonumber(v2[2]), now)
  keep(tat, pause, now, recovered)
end
return 0
`)

// slowScript is ratelimit's aimdSlow.
var slowScript = goredis.NewScript(luaNow + luaRecover + luaKeep + luaFactor + fmt.Sprintf(`
-- KEYS[1]: bucket hash {tat, pause, f, ft}
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'f', 'ft')
local f, ft = tonumber(v[3]), tonumber(v[4])
if ft and now - ft < %d then return 0 end
local share = factor(f, ft or now, now)
share = share * %g
if share < %g then share = %g end
redis.call('HSET', KEYS[1], 'f', string.format('%%.6f', share), 'ft', string.format('%%.0f', now))
local _, recovered = factor(share, now, now)
keep(tonumber(v[1]) or 0, tonumber(v[2]) or 0, now, recovered)
return 1
`, ratelimit.SlowCooldown.Microseconds(), ratelimit.SlowFactor, ratelimit.SlowFloor, ratelimit.SlowFloor))

// Reserve takes one token from bucket key, refilled at rate per second and
// holding at most burst, and returns how long to wait before using it.
func (s *Store) Reserve(ctx context.Context, key string, rate float64, burst int) (time.Duration, error) {
	return s.ReserveN(ctx, key, rate, burst, 1)
}

var _ bot.BatchReserver = (*Store)(nil)

// ReserveN takes n tokens at once, as n Reserves in a row would, in one
// round trip, and returns how long to wait before using the last.
func (s *Store) ReserveN(ctx context.Context, key string, rate float64, burst, n int) (time.Duration, error) {
	if !(rate > 0) || math.IsInf(rate, 0) || burst < 1 || n < 1 {
		return 0, fmt.Errorf("rate limit %s: want rate > 0, burst >= 1 and n >= 1, got %v, %d and %d", key, rate, burst, n)
	}
	interval := max(int64(math.Round(1e6/rate)), 1)
	wait, err := reserveScript.Run(ctx, s.rdb, []string{s.rateKey(key)}, interval, burst, n, s.testNow()).Int64()
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// Pause stops bucket key from handing out tokens for d (the provider said
// 429 / Retry-After); afterwards it resumes at its steady rate.
func (s *Store) Pause(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := pauseScript.Run(ctx, s.rdb, []string{s.rateKey(key)}, d.Microseconds(), s.testNow()).Err(); err != nil {
		return fmt.Errorf("pausing rate limit %s: %w", key, err)
	}
	return nil
}

// Slow halves bucket key's rate after a refusal that named no wait, and lets
// it climb back gradually (bot.RateAdapter); all replicas share the result.
func (s *Store) Slow(ctx context.Context, key string) error {
	if err := slowScript.Run(ctx, s.rdb, []string{s.rateKey(key)}, s.testNow()).Err(); err != nil {
		return fmt.Errorf("slowing rate limit %s: %w", key, err)
	}
	return nil
}

func (s *Store) testNow() string {
	if s.rateNow == nil {
		return ""
	}
	return strconv.FormatInt(s.rateNow(), 10)
}
