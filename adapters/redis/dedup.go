package redis

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FirstTime returns true exactly once per key within ttl, across replicas
// (SET NX PX). The key is stored as its keyed hash, so a caller's key that
// happens to hold a phone number does not put it in Redis.
func (s *Store) FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("de-duplicating: ttl must be positive")
	}
	first, err := s.rdb.SetNX(ctx, s.dedupKey(key), 1, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return false, fmt.Errorf("de-duplicating %s: %w", key, err)
	}
	return first, nil
}
