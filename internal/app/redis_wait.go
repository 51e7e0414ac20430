package app

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	redisadapter "github.com/heraldops/herald/adapters/redis"
)

// How serve waits for Redis at start: the first retry after redisWaitFirst,
// doubling up to redisWaitMost; each try bounded by redisTryTimeout.
const (
	redisWaitFirst  = time.Second
	redisWaitMost   = 15 * time.Second
	redisTryTimeout = 5 * time.Second
)

// waitForRedis blocks until Redis answers at rawURL, logging every failed
// try with the (redacted) address, the mode and the error. A pod that
// starts before its Redis (a fresh install, a Redis being failed over) then
// says what it waits for and carries on by itself, instead of exiting and
// crash-looping with the reason buried in earlier restarts. A malformed URL
// is returned at once: it never heals. It returns nil when Redis answers
// and ctx.Err() when ctx ends first.
func waitForRedis(ctx context.Context, rawURL string, log zerolog.Logger, first, most time.Duration) error {
	target, err := redisadapter.ParseURL(rawURL)
	if err != nil {
		return err
	}
	// go-redis's own complaints (a Sentinel that does not answer) go to the
	// structured log, not as raw lines beside ours.
	routeRedisLogs(log)
	wait := first
	for try := 1; ; try++ {
		tctx, cancel := context.WithTimeout(ctx, redisTryTimeout)
		c := target.NewClient()
		err := c.Ping(tctx).Err()
		_ = c.Close()
		cancel()
		if err == nil {
			if try > 1 {
				log.Info().Str("redis", redisadapter.Redact(rawURL)).Int("tries", try).Msg("Redis answers; starting")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn().Err(err).Str("redis", redisadapter.Redact(rawURL)).Str("mode", string(target.Mode)).
			Int("try", try).Dur("retry_in", wait).Msg("waiting for Redis: not reachable yet; herald starts once it answers")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}
