package redis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
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

// luaKeep is bucketTTL.
const luaKeep = `
local function keep(tat, pause, now)
  local horizon = tat
  if pause > horizon then horizon = pause end
  redis.call('PEXPIRE', KEYS[1], math.floor((horizon - now + 999) / 1000) + 1000)
end
`

var reserveScript = goredis.NewScript(luaNow + luaKeep + `
-- KEYS[1]: bucket hash {tat, pause}; ARGV[1]: interval, µs; ARGV[2]: burst
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause')
local tat = tonumber(v[1]) or 0
local pause = tonumber(v[2]) or 0
if tat < now then tat = now end
if pause > now then
  local resume = pause + (burst - 1) * interval
  if tat < resume then tat = resume end
end
tat = tat + interval
local wait = tat - burst * interval - now
if wait < 0 then wait = 0 end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat))
keep(tat, pause, now)
return wait
`)

var pauseScript = goredis.NewScript(luaNow + luaKeep + `
-- KEYS[1]: bucket hash {tat, pause}; ARGV[1]: pause, µs
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause')
local tat = tonumber(v[1]) or 0
local pause = tonumber(v[2]) or 0
local resume = now + tonumber(ARGV[1])
if resume > pause then
  pause = resume
  redis.call('HSET', KEYS[1], 'pause', string.format('%.0f', pause))
  keep(tat, pause, now)
end
return 0
`)

// Reserve takes one token from bucket key, refilled at rate per second and
// holding at most burst, and returns how long to wait before using it.
func (s *Store) Reserve(ctx context.Context, key string, rate float64, burst int) (time.Duration, error) {
	if !(rate > 0) || math.IsInf(rate, 0) || burst < 1 {
		return 0, fmt.Errorf("rate limit %s: want rate > 0 and burst >= 1, got %v and %d", key, rate, burst)
	}
	interval := max(int64(math.Round(1e6/rate)), 1)
	wait, err := reserveScript.Run(ctx, s.rdb, []string{s.rateKey(key)}, interval, burst, s.testNow()).Int64()
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

func (s *Store) testNow() string {
	if s.rateNow == nil {
		return ""
	}
	return strconv.FormatInt(s.rateNow(), 10)
}
