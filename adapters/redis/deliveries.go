package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// Deliveries are updated by compare-and-set: read the sealed record, apply
// the change in Go (the record is sealed, so Redis cannot), and write it
// back with a script that first checks the record is still the one read
// (its SHA-1) and moves the broadcast's counts in the same step. That is one
// round trip per write instead of WATCH, GET and MULTI/EXEC, and none for
// the read when the caller still holds what it read (UpdateDeliveryFrom).
// Writers that do not use the script (an older replica's WATCH/MULTI) still
// change the record, so they are detected too.

var _ bot.DeliveryUpdater = (*Store)(nil)

var casDeliveryScript = goredis.NewScript(`
-- KEYS[1]: delivery; KEYS[2]: the broadcast's counts hash
-- ARGV[1]: SHA-1 of the record read; ARGV[2]: new record; ARGV[3], ARGV[4]: old and new state
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if redis.sha1hex(cur) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
if ARGV[3] ~= ARGV[4] then
  redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
end
return 1
`)

func revOf(sealed []byte) string {
	sum := sha1.Sum(sealed)
	return hex.EncodeToString(sum[:])
}

// Delivery returns one delivery, or bot.ErrNotFound.
func (s *Store) Delivery(ctx context.Context, broadcastID, recipientID string) (bot.Delivery, error) {
	raw, err := s.rdb.Get(ctx, s.deliveryKey(broadcastID, recipientID)).Bytes()
	if errors.Is(err, goredis.Nil) {
		err = bot.ErrNotFound
	}
	var d bot.Delivery
	if err == nil {
		err = s.open(raw, &d)
	}
	if err != nil {
		return bot.Delivery{}, fmt.Errorf("loading delivery %s/%s: %w", broadcastID, recipientID, err)
	}
	d.StoreRev = revOf(raw)
	return d, nil
}

var _ bot.DeliveryBatchReader = (*Store)(nil)

// Deliveries reads many deliveries in one round trip (pipelined GETs: on
// Cluster they live in many slots); missing ones are left out.
func (s *Store) Deliveries(ctx context.Context, refs []bot.DeliveryRef) (map[bot.DeliveryRef]bot.Delivery, error) {
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = s.deliveryKey(r.BroadcastID, r.RecipientID)
	}
	raws, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("loading %d deliveries: %w", len(refs), err)
	}
	out := make(map[bot.DeliveryRef]bot.Delivery, len(refs))
	for i, raw := range raws {
		if raw == nil {
			continue
		}
		var d bot.Delivery
		if err := s.open(raw, &d); err != nil {
			return nil, fmt.Errorf("loading delivery %s/%s: %w", refs[i].BroadcastID, refs[i].RecipientID, err)
		}
		d.StoreRev = revOf(raw)
		out[refs[i]] = d
	}
	return out, nil
}

// UpdateDelivery applies fn to the stored delivery and writes it back by
// compare-and-set, moving the broadcast's counts from the old state to the
// new one in the same step. fn may run more than once; when it returns an
// error nothing is written and that error is returned as it is.
func (s *Store) UpdateDelivery(ctx context.Context, broadcastID, recipientID string, fn func(*bot.Delivery) error) (bot.Delivery, error) {
	return s.updateDelivery(ctx, broadcastID, recipientID, nil, fn)
}

// UpdateDeliveryFrom is UpdateDelivery starting from d as the caller read
// it: no read when nobody wrote the delivery since (bot.DeliveryUpdater).
func (s *Store) UpdateDeliveryFrom(ctx context.Context, d bot.Delivery, fn func(*bot.Delivery) error) (bot.Delivery, error) {
	if d.StoreRev == "" {
		return s.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, fn)
	}
	return s.updateDelivery(ctx, d.BroadcastID, d.RecipientID, &d, fn)
}

// IndexSIDAndUpdate is IndexSID then UpdateDeliveryFrom, sent together in
// one round trip (bot.SentRecorder); the index is written first either way.
func (s *Store) IndexSIDAndUpdate(ctx context.Context, sid string, d bot.Delivery, fn func(*bot.Delivery) error) (bot.Delivery, error) {
	if sid == "" {
		return bot.Delivery{}, errors.New("indexing a message SID: empty SID")
	}
	if d.StoreRev == "" || !s.scriptKnown(casDeliveryScript) {
		if err := s.IndexSID(ctx, sid, d.BroadcastID, d.RecipientID); err != nil {
			return bot.Delivery{}, err
		}
		if err := casDeliveryScript.Load(ctx, s.rdb).Err(); err == nil {
			s.markScriptKnown(casDeliveryScript)
		}
		return s.UpdateDeliveryFrom(ctx, d, fn)
	}
	index := func(p goredis.Pipeliner) {
		p.Set(ctx, s.sidKey(sid), d.BroadcastID+sidSeparator+d.RecipientID, s.retention)
	}
	return s.updateDelivery(ctx, d.BroadcastID, d.RecipientID, &d, fn, index)
}

var _ bot.SentRecorder = (*Store)(nil)

// updateDelivery is the compare-and-set loop. with, if given, adds commands
// to the first write's round trip, before the script (they are sent even if
// the compare fails).
func (s *Store) updateDelivery(ctx context.Context, broadcastID, recipientID string, known *bot.Delivery, fn func(*bot.Delivery) error, with ...func(goredis.Pipeliner)) (bot.Delivery, error) {
	const maxAttempts = 100
	key, counts := s.deliveryKey(broadcastID, recipientID), s.countsKey(broadcastID)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var d bot.Delivery
		if known != nil && attempt == 0 {
			d = *known
			// fn changes attempts in place; the caller's copy stays as it was.
			d.Attempts = slices.Clone(known.Attempts)
		} else {
			var err error
			if d, err = s.Delivery(ctx, broadcastID, recipientID); err != nil {
				return bot.Delivery{}, fmt.Errorf("updating delivery %s/%s: %w", broadcastID, recipientID, err)
			}
		}
		rev, old := d.StoreRev, d.State
		if err := fn(&d); err != nil {
			return bot.Delivery{}, err
		}
		if d.BroadcastID != broadcastID || d.RecipientID != recipientID {
			return bot.Delivery{}, fmt.Errorf("updating delivery %s/%s: the update changed its ids", broadcastID, recipientID)
		}
		d.StoreRev = ""
		sealed, err := s.seal(d)
		if err != nil {
			return bot.Delivery{}, fmt.Errorf("updating delivery %s/%s: %w", broadcastID, recipientID, err)
		}
		keys, args := []string{key, counts}, []any{rev, sealed, string(old), string(d.State)}
		var res int
		if len(with) > 0 && attempt == 0 {
			var cas *goredis.Cmd
			_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for _, w := range with {
					w(p)
				}
				cas = casDeliveryScript.EvalSha(ctx, p, keys, args...)
				return nil
			})
			if err == nil {
				res, err = cas.Int()
			}
			if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
				s.scripts.Delete(casDeliveryScript.Hash())
				res, err = casDeliveryScript.Run(ctx, s.rdb, keys, args...).Int()
			}
		} else {
			res, err = casDeliveryScript.Run(ctx, s.rdb, keys, args...).Int()
		}
		switch {
		case err != nil:
			return bot.Delivery{}, fmt.Errorf("updating delivery %s/%s: %w", broadcastID, recipientID, err)
		case res == -1:
			return bot.Delivery{}, fmt.Errorf("updating delivery %s/%s: %w", broadcastID, recipientID, bot.ErrNotFound)
		case res == 1:
			d.StoreRev = revOf(sealed)
			return d, nil
		}
		// Someone else wrote it first (a status callback, a duplicate job):
		// read it again. A known copy is stale by definition; a fresh read
		// lost a race, so back off a little, with jitter.
		if known != nil && attempt == 0 {
			continue
		}
		backoff := time.Duration(1+attempt%10) * time.Millisecond
		if err := bot.Sleep(ctx, backoff/2+rand.N(backoff)); err != nil {
			return bot.Delivery{}, err
		}
	}
	return bot.Delivery{}, fmt.Errorf("updating delivery %s/%s: %d concurrent writes in a row: %w", broadcastID, recipientID, maxAttempts, bot.ErrConflict)
}
