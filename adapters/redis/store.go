package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
)

// DefaultPrefix starts every key when New is given no prefix.
const DefaultPrefix = "herald:"

// Store keeps herald's shared state in Redis. It is safe for concurrent use
// and holds no state of its own that matters across replicas.
type Store struct {
	rdb       goredis.UniversalClient
	prefix    string
	sealer    *crypto.Sealer
	clock     bot.Clock
	retention time.Duration

	auditRetention time.Duration // 0: keep every audit entry
	head           auditHead     // the audit chain's head as last seen

	groups  sync.Map // topic -> struct{}: consumer group known to exist
	cursors sync.Map // topic -> string: where the last XAUTOCLAIM scan stopped
	scripts sync.Map // script hash -> struct{}: loaded into Redis by this store
	// promoteMu guards promoteAt: per topic, when Claim next looks for
	// deferred jobs that came due, and whether any is known to wait (see
	// deferred.go).
	promoteMu sync.Mutex
	promoteAt map[string]promoteTimes

	// rateNow, when set, replaces Redis server TIME in the rate-limit
	// scripts; only tests set it, to compare the script with ratelimit.Take.
	rateNow func() int64
}

var (
	_ bot.IncidentStore  = (*Store)(nil)
	_ bot.BroadcastStore = (*Store)(nil)
	_ bot.PhoneStore     = (*Store)(nil)
	_ bot.AuditLog       = (*Store)(nil)
	_ bot.Deduper        = (*Store)(nil)
	_ bot.Queue          = (*Store)(nil)
	_ bot.RateLimiter    = (*Store)(nil)
)

// Option tunes a Store.
type Option func(*Store)

// WithRetention makes records that carry phone numbers (deliveries and their
// provider-SID index) expire d after they were written. 0, the default,
// keeps them until the person is forgotten. Contacts take their retention
// from RecordContacts.
func WithRetention(d time.Duration) Option {
	return func(s *Store) { s.retention = d }
}

// New returns a Store over client. prefix starts every key (DefaultPrefix
// when empty; a ':' is added when missing). sealer is required: there is no
// way to store records in clear text. A nil clock is the system clock.
func New(client goredis.UniversalClient, prefix string, sealer *crypto.Sealer, clock bot.Clock, opts ...Option) *Store {
	if sealer == nil {
		panic("redis.New: a sealer is required (records are always encrypted)")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, ":") {
		prefix += ":"
	}
	if clock == nil {
		clock = bot.SystemClock{}
	}
	s := &Store{rdb: client, prefix: prefix, sealer: sealer, clock: clock}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping reports whether Redis answers, for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("pinging Redis: %w", err)
	}
	return nil
}

// Client is the underlying go-redis client (for locks and other adapters
// that keep their own keys under Prefix).
func (s *Store) Client() goredis.UniversalClient { return s.rdb }

// Prefix is what every key of this store starts with.
func (s *Store) Prefix() string { return s.prefix }

// ---- keys ----
//
// A {hash tag} marks keys that scripts or transactions use together, so
// they live in one Cluster slot: a broadcast with its deliveries and counts,
// a phone's contacts and session.

func (s *Store) incidentSeqKey() string            { return s.prefix + "inc:seq" }
func (s *Store) incidentKey(id string) string      { return s.prefix + "inc:" + id }
func (s *Store) incidentsKey() string              { return s.prefix + "incs:all" }
func (s *Store) openIncidentsKey() string          { return s.prefix + "incs:open" }
func (s *Store) broadcastsOfKey(inc string) string { return s.prefix + "incbcs:" + inc }
func (s *Store) broadcastKey(id string) string     { return s.prefix + "bc:{" + id + "}" }
func (s *Store) countsKey(id string) string        { return s.prefix + "bc:{" + id + "}:counts" }
func (s *Store) deliveryKey(bid, rid string) string {
	return s.prefix + "bc:{" + bid + "}:d:" + rid
}
func (s *Store) deliveryPattern() string      { return escapeGlob(s.prefix) + "bc:{*}:d:*" }
func (s *Store) sidKey(sid string) string     { return s.prefix + "sid:" + sid }
func (s *Store) optOutKey() string            { return s.prefix + "optout" }
func (s *Store) sessionKey(bi string) string  { return s.prefix + "ph:{" + bi + "}:wa" }
func (s *Store) contactsKey(bi string) string { return s.prefix + "ph:{" + bi + "}:contacts" }
func (s *Store) contactKey(bi, inc string) string {
	return s.prefix + "ph:{" + bi + "}:c:" + inc
}

// stateKey is the index set of broadcasts in an in-flight state (see
// bot.BroadcastState.InFlight). pending_approval keeps the name its set had
// before the other states were indexed, so an upgrade finds the broadcasts
// waiting for approval.
func (s *Store) stateKey(st bot.BroadcastState) string {
	if st == bot.BroadcastPendingApproval {
		return s.prefix + "bcs:pending"
	}
	return s.prefix + "bcs:" + string(st)
}

// inFlightStates are the broadcast states with an index set.
var inFlightStates = []bot.BroadcastState{bot.BroadcastPendingApproval, bot.BroadcastApproved, bot.BroadcastSending}

// Dedup and rate-limit keys are callers' strings, which may hold a phone
// number (a sender number, an inbound message's origin): they are stored as
// their blind index.
func (s *Store) dedupKey(k string) string      { return s.prefix + "dedup:" + s.sealer.BlindIndex(k) }
func (s *Store) streamKey(topic string) string { return s.prefix + "q:" + topic }
func (s *Store) rateKey(k string) string       { return s.prefix + "rl:" + s.sealer.BlindIndex(k) }
func (s *Store) auditKey() string              { return s.prefix + "audit:{log}" }
func (s *Store) auditAnchorKey() string        { return s.auditKey() + ":anchor" }
func (s *Store) incidentAuditKey(inc string) string {
	return s.auditKey() + ":" + inc
}

// escapeGlob makes s match itself in a SCAN MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ---- sealed records ----

func (s *Store) seal(v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.sealer.Seal(plain), nil
}

func (s *Store) open(raw []byte, v any) error {
	plain, err := s.sealer.Open(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}

// load reads and opens one record; a missing key is bot.ErrNotFound.
func (s *Store) load(ctx context.Context, c goredis.Cmdable, key string, v any) error {
	raw, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return bot.ErrNotFound
	}
	if err != nil {
		return err
	}
	return s.open(raw, v)
}

// getMany reads many keys in one round trip. Pipelined GETs rather than MGET
// because on Cluster the keys may live in different slots. Missing keys are
// nil.
func (s *Store) getMany(ctx context.Context, keys []string) ([][]byte, error) {
	return getManyOn(ctx, s.rdb, keys)
}

// getManyOn is getMany on a given client (one cluster node, for keys SCAN
// found there).
func getManyOn(ctx context.Context, c goredis.Cmdable, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.StringCmd, len(keys))
	_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// scan calls fn with batches of keys matching pattern, on every master of a
// cluster.
func (s *Store) scan(ctx context.Context, pattern string, fn func(c goredis.Cmdable, keys []string) error) error {
	one := func(ctx context.Context, c goredis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		batch := make([]string, 0, 1000)
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == cap(batch) {
				if err := fn(c, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			return fn(c, batch)
		}
		return nil
	}
	if cc, ok := s.rdb.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error { return one(ctx, c) })
	}
	return one(ctx, s.rdb)
}

// ttlLeft is how long something written at `at` has left to live when it
// should be kept for keep, measured on the store's clock so tests with a
// fixed clock get whole TTLs. Always at least 1 ms when positive.
func (s *Store) ttlLeft(at time.Time, keep time.Duration) time.Duration {
	left := keep - s.clock.Now().Sub(at)
	if left <= 0 {
		return 0
	}
	if left < time.Millisecond {
		return time.Millisecond
	}
	return left
}

// millis is a time as Unix milliseconds: sorted-set scores must stay
// below 2^53 to be exact, which nanoseconds would not.
func millis(t time.Time) int64 { return t.UnixMilli() }

// optimistic runs a WATCH/MULTI transaction on keys, retrying when another
// writer got in between. An error from the caller's fn comes back as is.
func (s *Store) optimistic(ctx context.Context, what string, txf func(*goredis.Tx) error, keys ...string) error {
	const maxAttempts = 100
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err := s.rdb.Watch(ctx, txf, keys...)
		if !errors.Is(err, goredis.TxFailedErr) {
			return err
		}
		// Someone else wrote the key first: back off a little, with jitter
		// so the losers do not collide again in lockstep.
		backoff := time.Duration(1+attempt%10) * time.Millisecond
		if err := bot.Sleep(ctx, backoff/2+rand.N(backoff)); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s: %d concurrent writes in a row: %w", what, maxAttempts, bot.ErrConflict)
}

// fnError marks an error returned by the caller's update function, so it is
// passed through without wrapping.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

func (s *Store) scriptKnown(sc *goredis.Script) bool {
	_, ok := s.scripts.Load(sc.Hash())
	return ok
}

func (s *Store) markScriptKnown(sc *goredis.Script) { s.scripts.Store(sc.Hash(), struct{}{}) }
