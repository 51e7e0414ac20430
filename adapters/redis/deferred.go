package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// Deferred jobs wait in a sorted set beside their topic's stream, scored by
// the time they come due on Redis's clock (µs), and move into the stream
// when due. The move is XADD first, then ZREM, never in one script: the two
// keys may live in different Cluster slots. A crash between the two leaves
// the job in both places, which only means it is handled twice (handlers
// are idempotent); the reverse order could lose it. While one replica
// moves a batch, the batch's scores are pushed a lease into the future so
// another replica does not move it too.

var _ bot.Deferrer = (*Store)(nil)

func (s *Store) deferredKey(topic string) string { return s.streamKey(topic) + ":later" }

// promoteLease is how long a batch being moved is hidden from other
// replicas; a replica that dies mid-move leaves it due again after that.
const promoteLease = 10 * time.Second

// promoteBatch bounds one move; promoteEvery spaces the looks per topic and
// process, so an idle set costs one round trip per interval, not per Claim.
const (
	promoteBatch = 256
	promoteEvery = 100 * time.Millisecond
)

var deferScript = goredis.NewScript(luaNow + `
-- KEYS[1]: deferred set; ARGV[1]: delay, µs; ARGV[2..n-1]: sealed payloads
local due = now + tonumber(ARGV[1])
for i = 2, #ARGV - 1 do
  redis.call('ZADD', KEYS[1], string.format('%.0f', due), ARGV[i])
end
return 0
`)

var promoteScript = goredis.NewScript(luaNow + `
-- KEYS[1]: deferred set; ARGV[1]: most to move; ARGV[2]: lease, µs
-- Returns the µs until the next job left comes due (-1: none), then the
-- payloads due now, leased.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now), 'LIMIT', 0, tonumber(ARGV[1]))
local leased = string.format('%.0f', now + tonumber(ARGV[2]))
for _, m in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', leased, m)
end
local nxt = -1
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then
  nxt = tonumber(first[2]) - now
  if nxt < 0 then nxt = 0 end
end
table.insert(due, 1, string.format('%.0f', nxt))
return due
`)

// Defer holds jobs back for `after` (bot.Deferrer), measured on Redis's
// clock so replicas whose clocks disagree still agree on when.
func (s *Store) Defer(ctx context.Context, topic string, after time.Duration, payloads ...[]byte) error {
	if len(payloads) == 0 {
		return nil
	}
	args := make([]any, 0, len(payloads)+2)
	args = append(args, max(after, 0).Microseconds())
	for _, p := range payloads {
		args = append(args, s.sealer.Seal(p))
	}
	args = append(args, s.testNow())
	if err := deferScript.Run(ctx, s.rdb, []string{s.deferredKey(topic)}, args...).Err(); err != nil {
		return fmt.Errorf("deferring %d jobs of %s by %s: %w", len(payloads), topic, after, err)
	}
	// Look for it when it is due, not a whole interval later.
	s.promoteBy(topic, time.Now().Add(after))
	return nil
}

// promoteTimes is, per topic, when to look next and when the earliest
// deferred job this process knows of comes due (zero: none known).
type promoteTimes struct{ look, due time.Time }

// promoteBy makes the next look happen no later than at, and notes that a
// job is due then.
func (s *Store) promoteBy(topic string, at time.Time) {
	s.promoteMu.Lock()
	defer s.promoteMu.Unlock()
	if s.promoteAt == nil {
		s.promoteAt = map[string]promoteTimes{}
	}
	t := s.promoteAt[topic]
	if t.look.IsZero() || at.Before(t.look) {
		t.look = at
	}
	if t.due.IsZero() || at.Before(t.due) {
		t.due = at
	}
	s.promoteAt[topic] = t
}

// promoteDue reports whether it is time to look, and otherwise how long
// until a known deferred job is due (-1: none known).
func (s *Store) promoteDue(topic string, now time.Time) (bool, time.Duration) {
	s.promoteMu.Lock()
	defer s.promoteMu.Unlock()
	if s.promoteAt == nil {
		s.promoteAt = map[string]promoteTimes{}
	}
	t := s.promoteAt[topic]
	if now.Before(t.look) {
		if t.due.IsZero() {
			return false, -1
		}
		return false, max(t.due.Sub(now), 0)
	}
	s.promoteAt[topic] = promoteTimes{look: now.Add(promoteEvery)}
	return true, 0
}

// promote moves the topic's deferred jobs that are due into its stream, at
// most every promoteEvery, and returns how long until the next one is due
// as far as it knows (-1: none known), so Claim need not block past it.
func (s *Store) promote(ctx context.Context, topic string) (time.Duration, error) {
	now := time.Now()
	if look, next := s.promoteDue(topic, now); !look {
		return next, nil
	}
	key := s.deferredKey(topic)
	res, err := promoteScript.Run(ctx, s.rdb, []string{key}, promoteBatch, promoteLease.Microseconds(), s.testNow()).StringSlice()
	if err != nil {
		return -1, fmt.Errorf("looking for deferred jobs of %s: %w", topic, err)
	}
	next := time.Duration(-1)
	if len(res) > 0 {
		if us, err := strconv.ParseInt(res[0], 10, 64); err == nil && us >= 0 {
			next = time.Duration(us) * time.Microsecond
			s.promoteBy(topic, now.Add(max(next, time.Millisecond)))
		}
		res = res[1:]
	}
	if len(res) == 0 {
		return next, nil
	}
	stream := s.streamKey(topic)
	if _, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, sealed := range res {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: stream, Values: []any{payloadField, sealed}})
		}
		return nil
	}); err != nil {
		return -1, fmt.Errorf("moving %d deferred jobs of %s to the queue: %w", len(res), topic, err)
	}
	members := make([]any, len(res))
	for i, m := range res {
		members[i] = m
	}
	if err := s.rdb.ZRem(ctx, key, members...).Err(); err != nil {
		// Moved but still in the set: they come up once more after the
		// lease; handlers are idempotent.
		return -1, fmt.Errorf("removing %d moved jobs of %s: %w", len(res), topic, err)
	}
	if len(res) == promoteBatch {
		s.promoteBy(topic, now) // more may be due
	}
	return 0, nil
}
