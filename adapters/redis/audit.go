package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// The audit trail is a hash chain: every entry carries the hash of the one
// before it (bot.AuditHash), so removing, reordering or altering an entry
// breaks the chain at that entry, and VerifyAudit finds it.
//
// Layout, all under one {hash tag} so the append script may touch every key
// on Redis Cluster:
//
//	audit:{log}          stream: the install's chain, oldest first
//	audit:{log}:anchor   hash: the hash of the last entry retention dropped
//	audit:{log}:INC-n    stream: one incident's entries, copies of the chain's
//
// A stream entry holds e (the sealed bot.AuditEntry), h (its hash) and p
// (the previous entry's hash). h and p are in clear so the append script
// can compare heads without the data key; they reveal nothing, and forging
// them needs the entry's plain text, which needs the key.
//
// Stream ids are the entry's time in milliseconds (moved forward when an
// earlier entry already took that millisecond), so retention trims by id.

// maxAppendAttempts bounds the retries of an append that lost the race for
// the head to another replica; each loss means another entry went in.
const maxAppendAttempts = 100

// auditPage is how many entries one XRANGE of a walk reads.
const auditPage = 500

// WithAuditRetention drops audit entries older than d from the head of the
// chain as new ones are appended, keeping the hash of the last one dropped
// as the chain's anchor. 0, the default, keeps every entry.
func WithAuditRetention(d time.Duration) Option {
	return func(s *Store) { s.auditRetention = d }
}

// AuditRecord is an audit entry as the chain holds it.
type AuditRecord struct {
	bot.AuditEntry
	ID       string // stream id: position in the chain
	Hash     string // bot.AuditHash(entry, PrevHash)
	PrevHash string
}

// appendAuditScript appends one entry if the chain's head is still the one
// its hash was computed over (ARGV[1]); otherwise it returns the current
// head, and the caller hashes again. Then it drops expired entries.
//
// KEYS: chain, anchor, incident trail (optional)
// ARGV: prev, hash, sealed, at (ms), cutoff (ms, 0: keep all), trail ttl (ms)
var appendAuditScript = goredis.NewScript(`
local function field(f, name)
  for i = 1, #f, 2 do if f[i] == name then return f[i+1] end end
  return ''
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local head, lastms, lastmsText, lastseq = '', -1, '', 0
if #last > 0 then
  head = field(last[1][2], 'h')
  local id = last[1][1]
  local dash = string.find(id, '-', 1, true)
  lastmsText = string.sub(id, 1, dash - 1)
  lastms = tonumber(lastmsText)
  lastseq = tonumber(string.sub(id, dash + 1))
else
  head = redis.call('HGET', KEYS[2], 'hash') or ''
end
if head ~= ARGV[1] then return {0, head} end
local id
if tonumber(ARGV[4]) > lastms then id = ARGV[4] .. '-0' else id = lastmsText .. '-' .. tostring(lastseq + 1) end
redis.call('XADD', KEYS[1], id, 'e', ARGV[3], 'h', ARGV[2], 'p', ARGV[1])
local cutoff = ARGV[5]
local newms = string.sub(id, 1, string.find(id, '-', 1, true) - 1)
if tonumber(cutoff) > tonumber(newms) then
  cutoff = newms -- the entry just written is never dropped, whatever its time
end
if #KEYS > 2 then
  redis.call('XADD', KEYS[3], id, 'e', ARGV[3], 'h', ARGV[2], 'p', ARGV[1])
  if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[6]) end
  if tonumber(cutoff) > 0 then redis.call('XTRIM', KEYS[3], 'MINID', cutoff .. '-0') end
end
if tonumber(cutoff) > 0 then
  local gone = redis.call('XREVRANGE', KEYS[1], '(' .. cutoff .. '-0', '-', 'COUNT', 1)
  if #gone > 0 then
    redis.call('HSET', KEYS[2], 'hash', field(gone[1][2], 'h'), 'id', gone[1][1])
    redis.call('XTRIM', KEYS[1], 'MINID', cutoff .. '-0')
  end
end
return {1, id}`)

// auditHead caches the chain's head as this store last saw it, so an append
// usually needs one round trip; a stale head only costs a retry.
type auditHead struct {
	mu   sync.Mutex
	hash string
	ok   bool
}

// Audit appends an entry to the install-wide chain and to its incident's
// trail, atomically: two replicas appending at once never fork the chain
// (the script refuses an entry hashed over a head that moved). Entries are
// sealed like every record; callers pass details with phone numbers
// already masked.
func (s *Store) Audit(ctx context.Context, e bot.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.clock.Now()
	}
	e.At = e.At.UTC()
	sealed, err := s.seal(e)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", e.Action, err)
	}
	keys := []string{s.auditKey(), s.auditAnchorKey()}
	if e.IncidentID != "" {
		keys = append(keys, s.incidentAuditKey(e.IncidentID))
	}
	var cutoff int64
	if s.auditRetention > 0 {
		cutoff = s.clock.Now().Add(-s.auditRetention).UnixMilli()
	}
	prev, err := s.cachedAuditHead(ctx)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", e.Action, err)
	}
	for range maxAppendAttempts {
		hash := bot.AuditHash(e, prev)
		res, err := appendAuditScript.Run(ctx, s.rdb, keys, prev, hash, sealed, e.At.UnixMilli(), cutoff, s.auditRetention.Milliseconds()).Slice()
		if err != nil {
			s.head.mu.Lock()
			s.head.ok = false // unknown whether it went in: read the head next time
			s.head.mu.Unlock()
			return fmt.Errorf("auditing %s: %w", e.Action, err)
		}
		if len(res) != 2 {
			return fmt.Errorf("auditing %s: unexpected script answer %v", e.Action, res)
		}
		appended, _ := res[0].(int64)
		if appended == 1 {
			prev = hash
		} else {
			prev, _ = res[1].(string)
		}
		s.head.mu.Lock()
		s.head.hash, s.head.ok = prev, true
		s.head.mu.Unlock()
		if appended == 1 {
			return nil
		}
	}
	return fmt.Errorf("auditing %s: the chain's head kept moving (%d attempts)", e.Action, maxAppendAttempts)
}

func (s *Store) cachedAuditHead(ctx context.Context) (string, error) {
	s.head.mu.Lock()
	hash, ok := s.head.hash, s.head.ok
	s.head.mu.Unlock()
	if ok {
		return hash, nil
	}
	last, err := s.rdb.XRevRangeN(ctx, s.auditKey(), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("reading the audit chain's head: %w", err)
	}
	if len(last) == 1 {
		h, _ := last[0].Values["h"].(string)
		return h, nil
	}
	return s.auditAnchor(ctx)
}

// auditAnchor is the hash the oldest kept entry must name as its previous:
// that of the last entry retention dropped, or "" when none was.
func (s *Store) auditAnchor(ctx context.Context) (string, error) {
	h, err := s.rdb.HGet(ctx, s.auditAnchorKey(), "hash").Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the audit chain's anchor: %w", err)
	}
	return h, nil
}

// AuditTrail returns an incident's audit entries, oldest first.
func (s *Store) AuditTrail(ctx context.Context, incidentID string) ([]bot.AuditEntry, error) {
	msgs, err := s.rdb.XRange(ctx, s.incidentAuditKey(incidentID), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail of %s: %w", incidentID, err)
	}
	return s.auditEntries(msgs)
}

// RecentAudit returns the install's last n audit entries, oldest first.
func (s *Store) RecentAudit(ctx context.Context, n int64) ([]bot.AuditEntry, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.auditKey(), "+", "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return s.auditEntries(msgs)
}

func (s *Store) auditEntries(msgs []goredis.XMessage) ([]bot.AuditEntry, error) {
	out := make([]bot.AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		r, err := s.auditRecord(m)
		if err != nil {
			return nil, err
		}
		out = append(out, r.AuditEntry)
	}
	return out, nil
}

func (s *Store) auditRecord(m goredis.XMessage) (AuditRecord, error) {
	raw, _ := m.Values["e"].(string)
	r := AuditRecord{ID: m.ID}
	r.Hash, _ = m.Values["h"].(string)
	r.PrevHash, _ = m.Values["p"].(string)
	if err := s.open([]byte(raw), &r.AuditEntry); err != nil {
		return r, fmt.Errorf("reading audit entry %s: %w", m.ID, err)
	}
	return r, nil
}

// walkAudit calls fn for every entry of stream key from id start to id end
// ("-" and "+" for all), oldest first, reading a page at a time. Entries it
// cannot open reach fn with the error, so a verifier can name them.
func (s *Store) walkAudit(ctx context.Context, key, start, end string, fn func(AuditRecord, error) error) error {
	for {
		msgs, err := s.rdb.XRangeN(ctx, key, start, end, auditPage).Result()
		if err != nil {
			return fmt.Errorf("reading the audit log: %w", err)
		}
		for _, m := range msgs {
			r, err := s.auditRecord(m)
			if err := fn(r, err); err != nil {
				return err
			}
		}
		if len(msgs) < auditPage {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// auditID is the first stream id of the millisecond of t.
func auditID(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) + "-0" }

// AuditRange calls fn for every entry from since to until (zero: open-ended),
// oldest first: the install's chain, or one incident's trail when
// incidentID is set. An entry that does not open stops the walk with an
// error (herald audit verify says more).
func (s *Store) AuditRange(ctx context.Context, incidentID string, since, until time.Time, fn func(AuditRecord) error) error {
	key := s.auditKey()
	if incidentID != "" {
		key = s.incidentAuditKey(incidentID)
	}
	// Ids are entry times moved forward, never back: an entry at or after
	// since has an id at or after since's, so the walk may start there; the
	// end is checked on each entry's own time.
	start := "-"
	if !since.IsZero() {
		start = auditID(since)
	}
	return s.walkAudit(ctx, key, start, "+", func(r AuditRecord, err error) error {
		if err != nil {
			return err
		}
		if r.At.Before(since) || (!until.IsZero() && r.At.After(until)) {
			return nil
		}
		return fn(r)
	})
}
