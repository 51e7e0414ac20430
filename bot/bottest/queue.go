package bottest

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/heraldops/herald/bot"
)

type memJob struct {
	id         string
	payload    []byte
	owner      string
	claimedAt  time.Time
	deliveries int64
	due        time.Time // held back until then (Defer)
}

type memQueue struct {
	seq     int
	waiting []*memJob
	later   []*memJob // deferred, not yet due
	pending map[string]*memJob
	notify  chan struct{}
}

func (s *Store) queue(topic string) *memQueue {
	q, ok := s.queues[topic]
	if !ok {
		q = &memQueue{pending: map[string]*memJob{}, notify: make(chan struct{})}
		s.queues[topic] = q
	}
	return q
}

func (s *Store) Enqueue(_ context.Context, topic string, payloads ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(topic)
	for _, p := range payloads {
		q.seq++
		q.waiting = append(q.waiting, &memJob{id: strconv.Itoa(q.seq), payload: append([]byte(nil), p...)})
	}
	close(q.notify)
	q.notify = make(chan struct{})
	return nil
}

func (s *Store) Claim(ctx context.Context, topic, consumer string, max int, block time.Duration) ([]bot.Job, error) {
	deadline := time.NewTimer(block)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		q := s.queue(topic)
		q.promoteLocked(s.Clock.Now())
		if len(q.waiting) > 0 {
			n := min(max, len(q.waiting))
			var out []bot.Job
			for _, j := range q.waiting[:n] {
				j.owner, j.claimedAt, j.deliveries = consumer, s.Clock.Now(), j.deliveries+1
				q.pending[j.id] = j
				out = append(out, bot.Job{ID: j.id, Topic: topic, Payload: j.payload, Deliveries: j.deliveries})
			}
			q.waiting = q.waiting[n:]
			s.mu.Unlock()
			return out, nil
		}
		wait := q.notify
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, nil
		case <-wait:
		}
	}
}

func (s *Store) Reclaim(_ context.Context, topic, consumer string, minIdle time.Duration, max int) ([]bot.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(topic)
	now := s.Clock.Now()
	ids := make([]string, 0, len(q.pending))
	for id := range q.pending {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { a, _ := strconv.Atoi(ids[i]); b, _ := strconv.Atoi(ids[j]); return a < b })
	var out []bot.Job
	for _, id := range ids {
		j := q.pending[id]
		if len(out) == max || now.Sub(j.claimedAt) < minIdle {
			continue
		}
		j.owner, j.claimedAt, j.deliveries = consumer, now, j.deliveries+1
		out = append(out, bot.Job{ID: j.id, Topic: topic, Payload: j.payload, Deliveries: j.deliveries})
	}
	return out, nil
}

func (s *Store) Ack(_ context.Context, topic string, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(topic)
	for _, id := range ids {
		delete(q.pending, id)
	}
	return nil
}

// Pending counts a topic's jobs not yet acked (waiting or claimed).
func (s *Store) Pending(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(topic)
	return len(q.waiting) + len(q.pending) + len(q.later)
}

// ---- rate limiter ----

// Reserve and Pause are bot.LocalLimiter's, on the store's clock.
func (s *Store) Reserve(ctx context.Context, key string, rate float64, burst int) (time.Duration, error) {
	return s.limiter.Reserve(ctx, key, rate, burst)
}

func (s *Store) Pause(ctx context.Context, key string, d time.Duration) error {
	return s.limiter.Pause(ctx, key, d)
}

func (s *Store) Slow(ctx context.Context, key string) error { return s.limiter.Slow(ctx, key) }

func (s *Store) ReserveN(ctx context.Context, key string, rate float64, burst, n int) (time.Duration, error) {
	return s.limiter.ReserveN(ctx, key, rate, burst, n)
}

// Defer holds jobs back until the store's clock has passed `after`
// (bot.Deferrer); Claim hands them out once due.
func (s *Store) Defer(_ context.Context, topic string, after time.Duration, payloads ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(topic)
	due := s.Clock.Now().Add(after)
	for _, p := range payloads {
		q.seq++
		q.later = append(q.later, &memJob{id: strconv.Itoa(q.seq), payload: append([]byte(nil), p...), due: due})
	}
	return nil
}

// Deferred counts a topic's jobs held back by Defer and not yet due.
func (s *Store) Deferred(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue(topic).later)
}

// promoteLocked moves the jobs that are due to the waiting list.
func (q *memQueue) promoteLocked(now time.Time) {
	kept := q.later[:0]
	for _, j := range q.later {
		if j.due.After(now) {
			kept = append(kept, j)
			continue
		}
		q.waiting = append(q.waiting, j)
	}
	q.later = kept
}
