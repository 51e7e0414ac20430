package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// The queue is one Redis Stream per topic with one consumer group. A job
// stays in the group's pending list from Claim until Ack; Reclaim hands the
// jobs of a consumer that went quiet (crashed, killed) to another. Payloads
// are sealed like every record. Acked entries are deleted so the stream only
// holds work not yet done.

// consumerGroup is the one group every replica reads a topic with.
const consumerGroup = "herald"

// payloadField holds a job's sealed payload in its stream entry.
const payloadField = "p"

// enqueueChunk bounds one pipeline's size when enqueuing many jobs.
const enqueueChunk = 10_000

// ensureGroup creates the topic's stream and consumer group once per
// process. The group starts at the beginning of the stream, so jobs
// enqueued before any worker ever ran are not skipped.
func (s *Store) ensureGroup(ctx context.Context, topic string) error {
	if _, ok := s.groups.Load(topic); ok {
		return nil
	}
	err := s.rdb.XGroupCreateMkStream(ctx, s.streamKey(topic), consumerGroup, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("creating consumer group for %s: %w", topic, err)
	}
	s.groups.Store(topic, struct{}{})
	return nil
}

// withGroup runs op, and if Redis lost the group (a restart without
// persistence, a flush) recreates it and runs op once more.
func (s *Store) withGroup(ctx context.Context, topic string, op func() error) error {
	if err := s.ensureGroup(ctx, topic); err != nil {
		return err
	}
	err := op()
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		s.groups.Delete(topic)
		if err := s.ensureGroup(ctx, topic); err != nil {
			return err
		}
		err = op()
	}
	return err
}

// Enqueue adds one job per payload, pipelined.
func (s *Store) Enqueue(ctx context.Context, topic string, payloads ...[]byte) error {
	if len(payloads) == 0 {
		return nil
	}
	if err := s.ensureGroup(ctx, topic); err != nil {
		return err
	}
	stream := s.streamKey(topic)
	for start := 0; start < len(payloads); start += enqueueChunk {
		chunk := payloads[start:min(start+enqueueChunk, len(payloads))]
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, pl := range chunk {
				p.XAdd(ctx, &goredis.XAddArgs{Stream: stream, Values: []any{payloadField, s.sealer.Seal(pl)}})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("enqueuing %d jobs on %s: %w", len(payloads), topic, err)
		}
	}
	return nil
}

// Claim hands out up to max new jobs to consumer, waiting up to block for
// one to arrive (block <= 0: do not wait). Every replica must use its own
// consumer name. A blocked Claim returns when block ends even if ctx is
// cancelled sooner, so keep block short (seconds).
func (s *Store) Claim(ctx context.Context, topic, consumer string, max int, block time.Duration) ([]bot.Job, error) {
	if max <= 0 {
		return nil, nil
	}
	// Deferred jobs that came due join the stream first; block no longer
	// than until the next one is due.
	if next, err := s.promote(ctx, topic); err != nil {
		return nil, err
	} else if next >= 0 && next < block {
		block = next
		if block < time.Millisecond {
			block = time.Millisecond
		}
	}
	args := &goredis.XReadGroupArgs{
		Group:    consumerGroup,
		Consumer: consumer,
		Streams:  []string{s.streamKey(topic), ">"},
		Count:    int64(max),
		Block:    -1, // go-redis: no BLOCK argument; Redis reads BLOCK 0 as "forever"
	}
	if block > 0 {
		args.Block = (block + time.Millisecond - 1).Truncate(time.Millisecond)
	}
	var streams []goredis.XStream
	err := s.withGroup(ctx, topic, func() error {
		var err error
		streams, err = s.rdb.XReadGroup(ctx, args).Result()
		return err
	})
	if errors.Is(err, goredis.Nil) {
		return nil, nil // nothing arrived in time
	}
	if err != nil {
		return nil, fmt.Errorf("claiming jobs from %s: %w", topic, err)
	}
	var msgs []goredis.XMessage
	for _, st := range streams {
		msgs = append(msgs, st.Messages...)
	}
	counts := make(map[string]int64, len(msgs))
	for _, m := range msgs {
		counts[m.ID] = 1 // new entries: first delivery
	}
	return s.jobs(ctx, topic, msgs, counts)
}

// reclaimRounds bounds one Reclaim's walk of the pending list: each round
// looks at up to 10×max entries (XAUTOCLAIM's own limit).
const reclaimRounds = 10

// Reclaim takes over up to max jobs other consumers have held for at least
// minIdle without acking (XAUTOCLAIM). It resumes its walk of the pending
// list where the previous call stopped, so jobs deep in a long list are
// reached too. Job.Deliveries says how often each job has been handed out.
func (s *Store) Reclaim(ctx context.Context, topic, consumer string, minIdle time.Duration, max int) ([]bot.Job, error) {
	if max <= 0 {
		return nil, nil
	}
	stream := s.streamKey(topic)
	start := "0-0"
	if c, ok := s.cursors.Load(topic); ok {
		start = c.(string)
	}
	var msgs []goredis.XMessage
	wrapped := false
	err := s.withGroup(ctx, topic, func() error {
		for round := 0; round < reclaimRounds && len(msgs) < max; round++ {
			got, next, err := s.rdb.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
				Stream: stream, Group: consumerGroup, Consumer: consumer,
				MinIdle: minIdle, Start: start, Count: int64(max - len(msgs)),
			}).Result()
			if err != nil {
				return err
			}
			msgs = append(msgs, got...)
			if next == "0-0" {
				// End of the pending list: start over next time, and this
				// time too unless we began at the start already.
				if start == "0-0" || wrapped {
					start = next
					break
				}
				wrapped = true
			}
			start = next
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reclaiming jobs from %s: %w", topic, err)
	}
	s.cursors.Store(topic, start)
	if len(msgs) == 0 {
		return nil, nil
	}

	// XAUTOCLAIM counted this hand-out; read the counts back.
	cmds := make([]*goredis.XPendingExtCmd, len(msgs))
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, m := range msgs {
			cmds[i] = p.XPendingExt(ctx, &goredis.XPendingExtArgs{
				Stream: stream, Group: consumerGroup, Start: m.ID, End: m.ID, Count: 1, Consumer: consumer,
			})
		}
		return nil
	})
	counts := make(map[string]int64, len(msgs))
	for i, m := range msgs {
		counts[m.ID] = 2 // reclaimed: handed out at least twice
		if pend, err := cmds[i].Result(); err == nil && len(pend) == 1 && pend[0].RetryCount > 1 {
			counts[m.ID] = pend[0].RetryCount
		}
	}
	return s.jobs(ctx, topic, msgs, counts)
}

// jobs opens claimed entries. An entry that cannot be opened (written under
// another data key, corrupted) would fail forever, so it is moved to the
// topic's dead-letter stream instead of being handed out.
func (s *Store) jobs(ctx context.Context, topic string, msgs []goredis.XMessage, counts map[string]int64) ([]bot.Job, error) {
	jobs := make([]bot.Job, 0, len(msgs))
	var dead []string
	for _, m := range msgs {
		raw, ok := m.Values[payloadField].(string)
		if !ok {
			dead = append(dead, m.ID) // deleted from the stream while pending
			continue
		}
		payload, err := s.sealer.Open([]byte(raw))
		if err != nil {
			if derr := s.rdb.XAdd(ctx, &goredis.XAddArgs{
				Stream: s.streamKey(topic) + ":dead",
				Values: []any{payloadField, raw, "id", m.ID, "error", err.Error()},
			}).Err(); derr != nil {
				return nil, fmt.Errorf("dead-lettering job %s of %s: %w", m.ID, topic, derr)
			}
			dead = append(dead, m.ID)
			continue
		}
		jobs = append(jobs, bot.Job{ID: m.ID, Topic: topic, Payload: payload, Deliveries: counts[m.ID]})
	}
	if len(dead) > 0 {
		if err := s.Ack(ctx, topic, dead...); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// Ack marks jobs done and deletes them from the stream.
func (s *Store) Ack(ctx context.Context, topic string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	stream := s.streamKey(topic)
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAck(ctx, stream, consumerGroup, ids...)
		p.XDel(ctx, stream, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("acking %d jobs of %s: %w", len(ids), topic, err)
	}
	return nil
}

// QueueDepth reports a topic's jobs not yet acked: waiting for a first
// claim plus claimed and pending (for metrics and readiness).
func (s *Store) QueueDepth(ctx context.Context, topic string) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.streamKey(topic)).Result()
	if err != nil {
		return 0, fmt.Errorf("measuring queue %s: %w", topic, err)
	}
	return n, nil
}
