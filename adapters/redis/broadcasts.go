package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// Broadcasts in flight (waiting for approval, approved, sending) are also
// indexed in one set per state, so the approval expiry and the relay's
// sweeper find them without scanning. A set and the records it names live in
// different Cluster slots, so a set is never written in the record's
// transaction: the id is added to its new state's set before the record is
// written and removed from the old state's set after, and readers check each
// record's state. A crash in between leaves an extra entry, never a missing
// one. Final states have no set; they would only grow.

// SaveBroadcast creates or replaces a broadcast and indexes it by incident
// and, while it is in flight, in its state's set.
func (s *Store) SaveBroadcast(ctx context.Context, b bot.Broadcast) error {
	if b.ID == "" {
		return errors.New("saving broadcast: empty id")
	}
	sealed, err := s.seal(b)
	if err != nil {
		return fmt.Errorf("saving broadcast %s: %w", b.ID, err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		// Indexes first: a crash before the record leaves an index entry
		// without a record, which readers skip.
		if b.State.InFlight() {
			p.SAdd(ctx, s.stateKey(b.State), b.ID)
		}
		if b.Draft.IncidentID != "" {
			p.ZAdd(ctx, s.broadcastsOfKey(b.Draft.IncidentID), goredis.Z{Score: float64(millis(b.RequestedAt)), Member: b.ID})
		}
		p.Set(ctx, s.broadcastKey(b.ID), sealed, goredis.KeepTTL)
		// The state it replaces is unknown here: leave every other set.
		for _, st := range inFlightStates {
			if st != b.State {
				p.SRem(ctx, s.stateKey(st), b.ID)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving broadcast %s: %w", b.ID, err)
	}
	return nil
}

// Broadcast returns one broadcast, or bot.ErrNotFound.
func (s *Store) Broadcast(ctx context.Context, id string) (bot.Broadcast, error) {
	var b bot.Broadcast
	if err := s.load(ctx, s.rdb, s.broadcastKey(id), &b); err != nil {
		return bot.Broadcast{}, fmt.Errorf("loading broadcast %s: %w", id, err)
	}
	return b, nil
}

// UpdateBroadcast applies fn to the stored broadcast under WATCH/MULTI,
// retrying when another replica wrote it in between; fn may therefore run
// more than once and must only change the broadcast it is given. When fn
// returns an error nothing is written and that error is returned as it is.
func (s *Store) UpdateBroadcast(ctx context.Context, id string, fn func(*bot.Broadcast) error) (bot.Broadcast, error) {
	key := s.broadcastKey(id)
	var before, after bot.Broadcast
	err := s.optimistic(ctx, "updating broadcast "+id, func(tx *goredis.Tx) error {
		var b bot.Broadcast
		if err := s.load(ctx, tx, key, &b); err != nil {
			return err
		}
		before = b
		if err := fn(&b); err != nil {
			return fnError{err}
		}
		if b.ID != id {
			return fnError{fmt.Errorf("updating broadcast %s: the update changed its id to %q", id, b.ID)}
		}
		sealed, err := s.seal(b)
		if err != nil {
			return err
		}
		if b.State != before.State && b.State.InFlight() {
			// Outside the transaction (the state's set lives in another
			// Cluster slot); an extra entry is harmless, readers check.
			if err := s.rdb.SAdd(ctx, s.stateKey(b.State), id).Err(); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, sealed, goredis.KeepTTL)
			return nil
		})
		after = b
		return err
	}, key)
	var fe fnError
	if errors.As(err, &fe) {
		return bot.Broadcast{}, fe.err
	}
	if err != nil {
		return bot.Broadcast{}, fmt.Errorf("updating broadcast %s: %w", id, err)
	}
	// The broadcast itself is updated. Should the index update fail, a stale
	// entry in the old state's set is filtered out by readers, so the update
	// still stands.
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if before.State != after.State && before.State.InFlight() {
			p.SRem(ctx, s.stateKey(before.State), id)
		}
		if after.Draft.IncidentID != "" && after.Draft.IncidentID != before.Draft.IncidentID {
			p.ZAdd(ctx, s.broadcastsOfKey(after.Draft.IncidentID), goredis.Z{Score: float64(millis(after.RequestedAt)), Member: id})
		}
		return nil
	})
	return after, nil
}

// BroadcastsOf lists an incident's broadcasts, oldest first.
func (s *Store) BroadcastsOf(ctx context.Context, incidentID string) ([]bot.Broadcast, error) {
	ids, err := s.rdb.ZRange(ctx, s.broadcastsOfKey(incidentID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("listing broadcasts of %s: %w", incidentID, err)
	}
	bs, err := s.broadcasts(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("listing broadcasts of %s: %w", incidentID, err)
	}
	out := bs[:0]
	for _, b := range bs {
		if b.Draft.IncidentID == incidentID {
			out = append(out, b)
		}
	}
	return out, nil
}

// PendingApprovals lists broadcasts waiting for approval, oldest first.
func (s *Store) PendingApprovals(ctx context.Context) ([]bot.Broadcast, error) {
	return s.BroadcastsInState(ctx, bot.BroadcastPendingApproval)
}

// BroadcastsInState lists the broadcasts in an in-flight state, oldest
// request first. Final states are not indexed: asking for one is an error.
func (s *Store) BroadcastsInState(ctx context.Context, state bot.BroadcastState) ([]bot.Broadcast, error) {
	if !state.InFlight() {
		return nil, fmt.Errorf("listing %s broadcasts: only in-flight states are indexed", state)
	}
	key := s.stateKey(state)
	ids, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("listing %s broadcasts: %w", state, err)
	}
	bs, err := s.broadcasts(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("listing %s broadcasts: %w", state, err)
	}
	out := bs[:0]
	var stale []any
	for _, b := range bs {
		switch {
		case b.State == state:
			out = append(out, b)
		case !b.State.InFlight():
			// Final states never change again, so this entry can go. Others
			// stay: an id without a record may be a broadcast being saved
			// right now, and one in another in-flight state may be moving
			// back here (sending handed back to approved), its record not
			// written yet.
			stale = append(stale, b.ID)
		}
	}
	if len(stale) > 0 {
		_ = s.rdb.SRem(ctx, key, stale...).Err() // tidying only; readers filter anyway
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RequestedAt.Before(out[j].RequestedAt) })
	return out, nil
}

// broadcasts loads broadcasts by id, in order, skipping ids without a
// record.
func (s *Store) broadcasts(ctx context.Context, ids []string) ([]bot.Broadcast, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.broadcastKey(id)
	}
	raws, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]bot.Broadcast, 0, len(ids))
	for i, raw := range raws {
		if raw == nil {
			continue
		}
		var b bot.Broadcast
		if err := s.open(raw, &b); err != nil {
			return nil, fmt.Errorf("reading broadcast %s: %w", ids[i], err)
		}
		out = append(out, b)
	}
	return out, nil
}

// ---- deliveries ----

// saveDeliveriesScript creates the deliveries that do not exist yet and
// counts each new one under its state, in one step per batch, so saving the
// same plan twice (a relay restarted half-way) neither resets a delivery
// that has moved on nor counts anyone twice.
var saveDeliveriesScript = goredis.NewScript(`
-- KEYS[1]: the broadcast's counts hash; KEYS[2..]: delivery keys
-- ARGV[1]: TTL in ms (0: keep); then per delivery: sealed record, state
local ttl = tonumber(ARGV[1])
local created = 0
for i = 2, #KEYS do
  local ok
  if ttl > 0 then
    ok = redis.call('SET', KEYS[i], ARGV[2*i-2], 'NX', 'PX', ttl)
  else
    ok = redis.call('SET', KEYS[i], ARGV[2*i-2], 'NX')
  end
  if ok then
    redis.call('HINCRBY', KEYS[1], ARGV[2*i-1], 1)
    created = created + 1
  end
end
return created
`)

// deliveryBatch is how many deliveries one script call creates: big enough
// to amortise the call, small enough not to block Redis noticeably.
const deliveryBatch = 500

// SaveDeliveries stores planned deliveries in bulk and counts them by state.
// A delivery that already exists is left as it is (and not counted again).
// An empty State is saved as pending, a zero UpdatedAt as now.
func (s *Store) SaveDeliveries(ctx context.Context, ds []bot.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	now := s.clock.Now()
	type call struct {
		keys []string
		args []any
	}
	byBroadcast := map[string]*call{}
	var calls []*call
	for _, d := range ds {
		if d.BroadcastID == "" || d.RecipientID == "" {
			return fmt.Errorf("saving deliveries: a delivery needs a broadcast and a recipient id (got %q/%q)", d.BroadcastID, d.RecipientID)
		}
		if d.State == "" {
			d.State = bot.DeliveryPending
		}
		if d.UpdatedAt.IsZero() {
			d.UpdatedAt = now
		}
		sealed, err := s.seal(d)
		if err != nil {
			return fmt.Errorf("saving delivery %s/%s: %w", d.BroadcastID, d.RecipientID, err)
		}
		c := byBroadcast[d.BroadcastID]
		if c == nil || len(c.keys) > deliveryBatch {
			c = &call{keys: []string{s.countsKey(d.BroadcastID)}, args: []any{s.retention.Milliseconds()}}
			byBroadcast[d.BroadcastID] = c
			calls = append(calls, c)
		}
		c.keys = append(c.keys, s.deliveryKey(d.BroadcastID, d.RecipientID))
		c.args = append(c.args, sealed, string(d.State))
	}
	// A few dozen script calls per round trip keep the request size sane
	// while 50,000 deliveries still take only a handful of round trips.
	const callsPerPipeline = 20
	for start := 0; start < len(calls); start += callsPerPipeline {
		chunk := calls[start:min(start+callsPerPipeline, len(calls))]
		err := s.runScripts(ctx, saveDeliveriesScript, len(chunk), func(i int) ([]string, []any) {
			return chunk[i].keys, chunk[i].args
		})
		if err != nil {
			return fmt.Errorf("saving %d deliveries: %w", len(ds), err)
		}
	}
	return nil
}

// runScripts runs script n times in one pipeline. Pipelines cannot fall
// back from EVALSHA to EVAL per command, so the script is loaded first, and
// loaded again if the server forgot it (restart, failover) before a retry.
// Callers' scripts are idempotent, so the retry is safe.
func (s *Store) runScripts(ctx context.Context, script *goredis.Script, n int, call func(i int) ([]string, []any)) error {
	for attempt := 0; ; attempt++ {
		if attempt > 0 || !s.scriptKnown(script) {
			if err := script.Load(ctx, s.rdb).Err(); err != nil {
				return fmt.Errorf("loading script: %w", err)
			}
			s.markScriptKnown(script)
		}
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := 0; i < n; i++ {
				keys, args := call(i)
				script.EvalSha(ctx, p, keys, args...)
			}
			return nil
		})
		if err != nil && attempt == 0 && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			continue
		}
		return err
	}
}

// sidSeparator joins broadcast and recipient id in the SID index; ids never
// contain it.
const sidSeparator = "\x1f"

// IndexSID remembers which delivery a provider message SID belongs to.
func (s *Store) IndexSID(ctx context.Context, sid, broadcastID, recipientID string) error {
	if sid == "" {
		return errors.New("indexing a message SID: empty SID")
	}
	if err := s.rdb.Set(ctx, s.sidKey(sid), broadcastID+sidSeparator+recipientID, s.retention).Err(); err != nil {
		return fmt.Errorf("indexing message SID %s: %w", sid, err)
	}
	return nil
}

// DeliveryBySID finds the delivery a status callback is about, or
// bot.ErrNotFound.
func (s *Store) DeliveryBySID(ctx context.Context, sid string) (bot.Delivery, error) {
	v, err := s.rdb.Get(ctx, s.sidKey(sid)).Result()
	if errors.Is(err, goredis.Nil) {
		return bot.Delivery{}, fmt.Errorf("finding the delivery of message %s: %w", sid, bot.ErrNotFound)
	}
	if err != nil {
		return bot.Delivery{}, fmt.Errorf("finding the delivery of message %s: %w", sid, err)
	}
	bid, rid, ok := strings.Cut(v, sidSeparator)
	if !ok {
		return bot.Delivery{}, fmt.Errorf("finding the delivery of message %s: malformed index entry", sid)
	}
	return s.Delivery(ctx, bid, rid)
}

// Counts returns a broadcast's deliveries by state; states with none are
// left out.
func (s *Store) Counts(ctx context.Context, broadcastID string) (bot.Counts, error) {
	m, err := s.rdb.HGetAll(ctx, s.countsKey(broadcastID)).Result()
	if err != nil {
		return nil, fmt.Errorf("counting deliveries of %s: %w", broadcastID, err)
	}
	out := bot.Counts{}
	for state, v := range m {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("counting deliveries of %s: %s is %q", broadcastID, state, v)
		}
		if n != 0 {
			out[bot.DeliveryState(state)] = n
		}
	}
	return out, nil
}
