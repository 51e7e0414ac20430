package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// A consumer's lease is a key that lives ttl after its last renewal; the
// renewal also XCLAIMs the consumer's in-flight jobs to itself with JUSTID,
// which resets their idle time without counting a delivery, so Reclaim's
// idle rule only ever catches the jobs of consumers that stopped renewing.

var _ bot.Leases = (*Store)(nil)

func (s *Store) leaseKey(consumer string) string { return s.prefix + "alive:" + consumer }

// Renew marks consumer alive for ttl and refreshes its jobs ids of topic.
func (s *Store) Renew(ctx context.Context, topic, consumer string, ttl time.Duration, ids []string) error {
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, s.leaseKey(consumer), "1", ttl)
		if len(ids) > 0 {
			p.XClaimJustID(ctx, &goredis.XClaimArgs{
				Stream: s.streamKey(topic), Group: consumerGroup, Consumer: consumer, MinIdle: 0, Messages: ids,
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("renewing the lease of %s and %d jobs of %s: %w", consumer, len(ids), topic, err)
	}
	return nil
}

// Alive reports whether consumer's lease is current.
func (s *Store) Alive(ctx context.Context, consumer string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.leaseKey(consumer)).Result()
	if err != nil {
		return false, fmt.Errorf("reading the lease of %s: %w", consumer, err)
	}
	return n == 1, nil
}
