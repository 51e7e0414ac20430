package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// Phones are never written in clear text: opt-outs are a set of blind
// indexes; a phone's session window and contacts live under keys named by
// its blind index, hash-tagged so they share a Cluster slot; contact details
// (which carry the number) are sealed.

// SetOptOut records that a phone sent STOP (or START).
func (s *Store) SetOptOut(ctx context.Context, phone string, optedOut bool) error {
	bi := s.sealer.BlindIndex(phone)
	var err error
	if optedOut {
		err = s.rdb.SAdd(ctx, s.optOutKey(), bi).Err()
	} else {
		err = s.rdb.SRem(ctx, s.optOutKey(), bi).Err()
	}
	if err != nil {
		return fmt.Errorf("recording an opt-out: %w", err)
	}
	return nil
}

// OptedOut returns which of the phones opted out, in one SMISMEMBER.
func (s *Store) OptedOut(ctx context.Context, phones []string) (map[string]bool, error) {
	out := make(map[string]bool, len(phones))
	if len(phones) == 0 {
		return out, nil
	}
	bis := make([]any, len(phones))
	for i, p := range phones {
		bis[i] = s.sealer.BlindIndex(p)
	}
	member, err := s.rdb.SMIsMember(ctx, s.optOutKey(), bis...).Result()
	if err != nil {
		return nil, fmt.Errorf("checking %d phones for opt-outs: %w", len(phones), err)
	}
	for i, p := range phones {
		if member[i] {
			out[p] = true
		}
	}
	return out, nil
}

// openSessionScript keeps the latest inbound time only, so a late-delivered
// older message cannot shorten an open window.
var openSessionScript = goredis.NewScript(`
-- KEYS[1]: session key; ARGV[1]: inbound time, ms; ARGV[2]: TTL, ms
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// OpenSession records an inbound WhatsApp message: the key lives as long as
// the 24-hour window, so nothing lingers after it closes.
func (s *Store) OpenSession(ctx context.Context, phone string, at time.Time) error {
	left := s.ttlLeft(at, bot.WhatsAppSessionWindow)
	if left == 0 {
		return nil // the window this message opened has closed already
	}
	bi := s.sealer.BlindIndex(phone)
	err := openSessionScript.Run(ctx, s.rdb, []string{s.sessionKey(bi)}, millis(at), left.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("opening a WhatsApp session window: %w", err)
	}
	return nil
}

// OpenSessions returns which phones have a WhatsApp window open at `at`.
func (s *Store) OpenSessions(ctx context.Context, phones []string, at time.Time) (map[string]bool, error) {
	out := make(map[string]bool, len(phones))
	keys := make([]string, len(phones))
	for i, p := range phones {
		keys[i] = s.sessionKey(s.sealer.BlindIndex(p))
	}
	raws, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("checking %d WhatsApp session windows: %w", len(phones), err)
	}
	for i, raw := range raws {
		if raw == nil {
			continue
		}
		last, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("checking WhatsApp session windows: malformed time %q", raw)
		}
		if time.UnixMilli(last).Add(bot.WhatsAppSessionWindow).After(at) {
			out[phones[i]] = true
		}
	}
	return out, nil
}

// recordContactScript keeps, per phone and incident, the most recent
// contact; the index lives as long as its longest-lived entry.
var recordContactScript = goredis.NewScript(`
-- KEYS[1]: the phone's contact index (incident id scored by time, ms)
-- KEYS[2]: the sealed contact for this incident
-- ARGV[1]: time, ms; ARGV[2]: incident id; ARGV[3]: sealed contact; ARGV[4]: TTL, ms (0: keep)
local cur = redis.call('ZSCORE', KEYS[1], ARGV[2])
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
else
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('PERSIST', KEYS[1])
end
return 1
`)

// pruneContactsScript removes index entries whose contact has expired,
// checking inside Redis so it cannot race a RecordContacts.
var pruneContactsScript = goredis.NewScript(`
-- KEYS[1]: the phone's contact index; KEYS[2..]: contact keys; ARGV: their incident ids
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[i-1])
  end
end
return 0
`)

// RecordContacts remembers which incident each phone was messaged about.
// Each contact expires ttl after its time (ttl <= 0 keeps it until Forget).
// A zero At means now.
func (s *Store) RecordContacts(ctx context.Context, cs []bot.Contact, ttl time.Duration) error {
	type call struct {
		keys []string
		args []any
	}
	now := s.clock.Now()
	calls := make([]call, 0, len(cs))
	for _, c := range cs {
		if c.Phone == "" || c.IncidentID == "" {
			return errors.New("recording contacts: a contact needs a phone and an incident id")
		}
		if c.At.IsZero() {
			c.At = now
		}
		var ttlMS int64
		if ttl > 0 {
			left := s.ttlLeft(c.At, ttl)
			if left == 0 {
				continue // already past retention
			}
			ttlMS = left.Milliseconds()
		}
		sealed, err := s.seal(c)
		if err != nil {
			return fmt.Errorf("recording contacts: %w", err)
		}
		bi := s.sealer.BlindIndex(c.Phone)
		calls = append(calls, call{
			keys: []string{s.contactsKey(bi), s.contactKey(bi, c.IncidentID)},
			args: []any{millis(c.At), c.IncidentID, sealed, ttlMS},
		})
	}
	const perPipeline = 5000
	for start := 0; start < len(calls); start += perPipeline {
		chunk := calls[start:min(start+perPipeline, len(calls))]
		err := s.runScripts(ctx, recordContactScript, len(chunk), func(i int) ([]string, []any) {
			return chunk[i].keys, chunk[i].args
		})
		if err != nil {
			return fmt.Errorf("recording %d contacts: %w", len(cs), err)
		}
	}
	return nil
}

// Contacts returns the incidents phone was messaged about since `since`,
// most recent first, one per incident.
func (s *Store) Contacts(ctx context.Context, phone string, since time.Time) ([]bot.Contact, error) {
	bi := s.sealer.BlindIndex(phone)
	ids, err := s.rdb.ZRevRangeByScore(ctx, s.contactsKey(bi), &goredis.ZRangeBy{
		Min: strconv.FormatInt(millis(since), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("looking up a phone's contacts: %w", err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.contactKey(bi, id)
	}
	raws, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("looking up a phone's contacts: %w", err)
	}
	out := make([]bot.Contact, 0, len(ids))
	var expired []any
	for i, raw := range raws {
		if raw == nil {
			expired = append(expired, ids[i])
			continue
		}
		var c bot.Contact
		if err := s.open(raw, &c); err != nil {
			return nil, fmt.Errorf("reading a contact about %s: %w", ids[i], err)
		}
		out = append(out, c)
	}
	if len(expired) > 0 {
		// The details expired on their own; drop their index entries too,
		// unless a new contact about the same incident arrived meanwhile.
		// Best effort: a leftover entry is skipped by the next reader.
		keys := []string{s.contactsKey(bi)}
		for _, id := range expired {
			keys = append(keys, s.contactKey(bi, id.(string)))
		}
		_ = pruneContactsScript.Run(ctx, s.rdb, keys, expired...).Err()
	}
	return out, nil
}

// Forget erases everything kept about a phone: its opt-out, session window,
// contacts, and every delivery to it with that delivery's SID index entries.
// Deliveries are found by scanning and opening them all, since they are not
// indexed by phone: it is linear in the number of stored deliveries, which is
// fine for a rare, manual command. Delivery counts (numbers without a person)
// and audit entries (which never hold raw numbers) are kept.
//
// The opt-out is erased too, as erasure asks; if the person is still in the
// directory they would be messaged again, so remove them there as well.
func (s *Store) Forget(ctx context.Context, phone string) error {
	bi := s.sealer.BlindIndex(phone)
	ids, err := s.rdb.ZRange(ctx, s.contactsKey(bi), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("forgetting a phone: listing its contacts: %w", err)
	}
	perPhone := []string{s.contactsKey(bi), s.sessionKey(bi)}
	for _, id := range ids {
		perPhone = append(perPhone, s.contactKey(bi, id))
	}
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.SRem(ctx, s.optOutKey(), bi)
		p.Del(ctx, perPhone...) // one hash tag: one slot, so one DEL is fine on Cluster
		return nil
	})
	if err != nil {
		return fmt.Errorf("forgetting a phone: %w", err)
	}
	err = s.scan(ctx, s.deliveryPattern(), func(node goredis.Cmdable, keys []string) error {
		raws, err := getManyOn(ctx, node, keys)
		if err != nil {
			return err
		}
		var doomed []string
		for i, raw := range raws {
			if raw == nil {
				continue
			}
			var d bot.Delivery
			if err := s.open(raw, &d); err != nil {
				return fmt.Errorf("reading %s: %w", keys[i], err)
			}
			if d.Phone != phone {
				continue
			}
			doomed = append(doomed, keys[i])
			for _, a := range d.Attempts {
				if a.SID != "" {
					doomed = append(doomed, s.sidKey(a.SID))
				}
			}
		}
		if len(doomed) == 0 {
			return nil
		}
		_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range doomed {
				p.Del(ctx, k)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("forgetting a phone: erasing its deliveries: %w", err)
	}
	return nil
}
