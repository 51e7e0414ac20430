package bottest

import (
	"context"
	"slices"
	"time"

	"github.com/heraldops/herald/bot"
)

var (
	_ bot.OutboxStore = (*Store)(nil)
	_ bot.Locker      = (*Store)(nil)
)

// OutboxAppend adds an item unless its ID is already waiting in that outbox.
func (s *Store) OutboxAppend(_ context.Context, item bot.OutboxItem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outbox == nil {
		s.outbox = map[bot.ThreadRef][][]byte{}
	}
	for _, raw := range s.outbox[item.Thread] {
		if dec[bot.OutboxItem](raw).ID == item.ID {
			return nil
		}
	}
	s.outbox[item.Thread] = append(s.outbox[item.Thread], enc(item))
	return nil
}

// OutboxPeek returns up to max items from the front.
func (s *Store) OutboxPeek(_ context.Context, th bot.ThreadRef, max int) ([]bot.OutboxItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bot.OutboxItem
	for i, raw := range s.outbox[th] {
		if i == max {
			break
		}
		out = append(out, dec[bot.OutboxItem](raw))
	}
	return out, nil
}

// OutboxDrop removes the first n items.
func (s *Store) OutboxDrop(_ context.Context, th bot.ThreadRef, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.outbox[th]
	n = min(n, len(items))
	if n == len(items) {
		delete(s.outbox, th)
		return nil
	}
	s.outbox[th] = items[n:]
	return nil
}

// OutboxThreads lists threads with waiting items, in a stable order.
func (s *Store) OutboxThreads(context.Context) ([]bot.ThreadRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bot.ThreadRef
	for th := range s.outbox {
		out = append(out, th)
	}
	slices.SortFunc(out, func(a, b bot.ThreadRef) int {
		if a.Channel+a.RootID < b.Channel+b.RootID {
			return -1
		}
		return 1
	})
	return out, nil
}

// TryLock takes a lease on key until ttl passes on the store's clock.
func (s *Store) TryLock(_ context.Context, key string, ttl time.Duration) (func(), bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks == nil {
		s.locks = map[string]time.Time{}
	}
	now := s.Clock.Now()
	if until, held := s.locks[key]; held && now.Before(until) {
		return func() {}, false, nil
	}
	s.locks[key] = now.Add(ttl)
	return func() {
		s.mu.Lock()
		delete(s.locks, key)
		s.mu.Unlock()
	}, true, nil
}
