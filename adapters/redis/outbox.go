package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

var (
	_ bot.OutboxStore = (*Store)(nil)
	_ bot.Locker      = (*Store)(nil)
	_ bot.KV          = (*Store)(nil)
)

// ---- thread outboxes ----
//
// One list per thread (sealed items, oldest first) plus the set of item ids
// in it, both under the thread's hash tag so one script touches one slot;
// an install-wide set names the threads that have items waiting.

func threadTag(th bot.ThreadRef) string {
	return string(th.Platform) + "|" + th.Channel + "|" + th.RootID
}

func (s *Store) outboxKey(th bot.ThreadRef) string {
	return s.prefix + "outbox:{" + threadTag(th) + "}"
}
func (s *Store) outboxIDsKey(th bot.ThreadRef) string { return s.outboxKey(th) + ":ids" }
func (s *Store) outboxThreadsKey() string             { return s.prefix + "outbox:threads" }

// appendScript pushes an item unless its id is already waiting.
var appendScript = goredis.NewScript(`
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1`)

// dropScript removes the first n items and their ids; returns what is left.
var dropScript = goredis.NewScript(`
local n = tonumber(ARGV[1])
local ids = {}
for i = 2, #ARGV do ids[#ids+1] = ARGV[i] end
if #ids > 0 then redis.call('SREM', KEYS[2], unpack(ids)) end
redis.call('LTRIM', KEYS[1], n, -1)
local left = redis.call('LLEN', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[2]) end
return left`)

// OutboxAppend adds item at the end of its thread's outbox, once per id.
func (s *Store) OutboxAppend(ctx context.Context, item bot.OutboxItem) error {
	raw, err := s.seal(item)
	if err != nil {
		return fmt.Errorf("sealing outbox item %s: %w", item.ID, err)
	}
	if err := appendScript.Run(ctx, s.rdb, []string{s.outboxKey(item.Thread), s.outboxIDsKey(item.Thread)}, item.ID, raw).Err(); err != nil {
		return fmt.Errorf("appending %s to the outbox of thread %s: %w", item.ID, item.Thread.RootID, err)
	}
	th, _ := json.Marshal(item.Thread)
	if err := s.rdb.SAdd(ctx, s.outboxThreadsKey(), th).Err(); err != nil {
		return fmt.Errorf("indexing the outbox of thread %s: %w", item.Thread.RootID, err)
	}
	return nil
}

// OutboxPeek returns up to max items from the front of a thread's outbox.
func (s *Store) OutboxPeek(ctx context.Context, th bot.ThreadRef, max int) ([]bot.OutboxItem, error) {
	if max <= 0 {
		return nil, nil
	}
	raws, err := s.rdb.LRange(ctx, s.outboxKey(th), 0, int64(max-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the outbox of thread %s: %w", th.RootID, err)
	}
	out := make([]bot.OutboxItem, 0, len(raws))
	for _, raw := range raws {
		var it bot.OutboxItem
		if err := s.open([]byte(raw), &it); err != nil {
			return nil, fmt.Errorf("opening an outbox item of thread %s: %w", th.RootID, err)
		}
		out = append(out, it)
	}
	return out, nil
}

// OutboxDrop removes the first n items (those just posted).
func (s *Store) OutboxDrop(ctx context.Context, th bot.ThreadRef, n int) error {
	if n <= 0 {
		return nil
	}
	front, err := s.OutboxPeek(ctx, th, n)
	if err != nil {
		return err
	}
	args := []any{len(front)}
	for _, it := range front {
		args = append(args, it.ID)
	}
	left, err := dropScript.Run(ctx, s.rdb, []string{s.outboxKey(th), s.outboxIDsKey(th)}, args...).Int64()
	if err != nil {
		return fmt.Errorf("dropping posted items from the outbox of thread %s: %w", th.RootID, err)
	}
	if left > 0 {
		return nil
	}
	enc, _ := json.Marshal(th)
	if err := s.rdb.SRem(ctx, s.outboxThreadsKey(), enc).Err(); err != nil {
		return fmt.Errorf("unindexing the empty outbox of thread %s: %w", th.RootID, err)
	}
	// An append may have slipped in between: index the thread again if so.
	if n, err := s.rdb.LLen(ctx, s.outboxKey(th)).Result(); err == nil && n > 0 {
		return s.rdb.SAdd(ctx, s.outboxThreadsKey(), enc).Err()
	}
	return nil
}

// OutboxThreads lists the threads with items waiting.
func (s *Store) OutboxThreads(ctx context.Context) ([]bot.ThreadRef, error) {
	members, err := s.rdb.SMembers(ctx, s.outboxThreadsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("listing thread outboxes: %w", err)
	}
	out := make([]bot.ThreadRef, 0, len(members))
	for _, m := range members {
		var th bot.ThreadRef
		if err := json.Unmarshal([]byte(m), &th); err != nil {
			return nil, fmt.Errorf("decoding an outbox thread: %w", err)
		}
		out = append(out, th)
	}
	return out, nil
}

// ---- leases ----

var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

func (s *Store) lockKey(k string) string { return s.prefix + "lock:" + k }

// TryLock takes a lease on key for ttl (SET NX PX with a random token);
// release deletes it only if it is still ours.
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	ok, err := s.rdb.SetNX(ctx, s.lockKey(key), token, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return func() {}, false, fmt.Errorf("taking lease %s: %w", key, err)
	}
	if !ok {
		return func() {}, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = releaseScript.Run(ctx, s.rdb, []string{s.lockKey(key)}, token).Err()
	}, true, nil
}

// ---- small shared values ----

func (s *Store) kvKey(k string) string { return s.prefix + "kv:" + k }

// Put stores a sealed value (ttl 0: no expiry).
func (s *Store) Put(ctx context.Context, key, value string, ttl time.Duration) error {
	raw := s.sealer.Seal([]byte(value))
	if err := s.rdb.Set(ctx, s.kvKey(key), raw, ttl).Err(); err != nil {
		return fmt.Errorf("storing %s: %w", key, err)
	}
	return nil
}

// Get returns a value or bot.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	raw, err := s.rdb.Get(ctx, s.kvKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return "", fmt.Errorf("%s: %w", key, bot.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", key, err)
	}
	plain, err := s.sealer.Open(raw)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", key, err)
	}
	return string(plain), nil
}

// Delete removes a value.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.kvKey(key)).Err(); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	return nil
}
