package bottest

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

var _ bot.KV = (*Store)(nil)

type kvEntry struct {
	value   string
	expires time.Time
}

// Put stores a value until ttl passes on the store's clock (0: forever).
func (s *Store) Put(_ context.Context, key, value string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv == nil {
		s.kv = map[string]kvEntry{}
	}
	e := kvEntry{value: value}
	if ttl > 0 {
		e.expires = s.Clock.Now().Add(ttl)
	}
	s.kv[key] = e
	return nil
}

// Get returns a stored value or bot.ErrNotFound.
func (s *Store) Get(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.kv[key]
	if !ok || (!e.expires.IsZero() && !s.Clock.Now().Before(e.expires)) {
		return "", fmt.Errorf("key %s: %w", key, bot.ErrNotFound)
	}
	return e.value, nil
}

// Delete removes a value.
func (s *Store) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kv, key)
	return nil
}
