package bottest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/ratelimit"
)

var (
	_ bot.IncidentStore  = (*Store)(nil)
	_ bot.BroadcastStore = (*Store)(nil)
	_ bot.PhoneStore     = (*Store)(nil)
	_ bot.AuditLog       = (*Store)(nil)
	_ bot.Deduper        = (*Store)(nil)
	_ bot.Queue          = (*Store)(nil)
	_ bot.RateLimiter    = (*Store)(nil)
)

// Store keeps everything in memory. Records are deep-copied in and out (via
// JSON) so tests cannot alias stored state, as with a real store.
type Store struct {
	Clock bot.Clock

	mu         sync.Mutex
	incNumber  int64
	incidents  map[string][]byte
	broadcasts map[string][]byte
	bcOrder    []string
	deliveries map[string][]byte // broadcastID/recipientID
	sids       map[string][2]string
	counts     map[string]bot.Counts
	optOut     map[string]bool
	sessions   map[string]time.Time
	contacts   map[string][]contactEntry
	audit      []bot.AuditEntry
	seen       map[string]time.Time
	queues     map[string]*memQueue
	limiter    *ratelimit.LocalLimiter
	outbox     map[bot.ThreadRef][][]byte
	locks      map[string]time.Time
	kv         map[string]kvEntry
}

type contactEntry struct {
	c       bot.Contact
	expires time.Time
}

// NewStore returns an empty store using clock for TTLs and rate limits (a
// SystemClock if nil).
func NewStore(clock bot.Clock) *Store {
	if clock == nil {
		clock = bot.SystemClock{}
	}
	return &Store{
		Clock:      clock,
		incidents:  map[string][]byte{},
		broadcasts: map[string][]byte{},
		deliveries: map[string][]byte{},
		sids:       map[string][2]string{},
		counts:     map[string]bot.Counts{},
		optOut:     map[string]bool{},
		sessions:   map[string]time.Time{},
		contacts:   map[string][]contactEntry{},
		seen:       map[string]time.Time{},
		queues:     map[string]*memQueue{},
		limiter:    ratelimit.NewLocalLimiter(clock),
	}
}

func enc(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func dec[T any](b []byte) T {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	return v
}

// ---- incidents ----

func (s *Store) NextIncidentNumber(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incNumber++
	return s.incNumber, nil
}

func (s *Store) SaveIncident(_ context.Context, inc bot.Incident) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incidents[inc.ID] = enc(inc)
	return nil
}

func (s *Store) Incident(_ context.Context, id string) (bot.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.incidents[id]
	if !ok {
		return bot.Incident{}, fmt.Errorf("incident %s: %w", id, bot.ErrNotFound)
	}
	return dec[bot.Incident](b), nil
}

func (s *Store) Incidents(_ context.Context, openOnly bool) ([]bot.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bot.Incident
	for _, b := range s.incidents {
		inc := dec[bot.Incident](b)
		if openOnly && inc.State != bot.IncidentOpen {
			continue
		}
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out, nil
}

// ---- broadcasts and deliveries ----

func (s *Store) SaveBroadcast(_ context.Context, b bot.Broadcast) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.broadcasts[b.ID]; !ok {
		s.bcOrder = append(s.bcOrder, b.ID)
	}
	s.broadcasts[b.ID] = enc(b)
	return nil
}

func (s *Store) Broadcast(_ context.Context, id string) (bot.Broadcast, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.broadcasts[id]
	if !ok {
		return bot.Broadcast{}, fmt.Errorf("broadcast %s: %w", id, bot.ErrNotFound)
	}
	return dec[bot.Broadcast](b), nil
}

func (s *Store) UpdateBroadcast(_ context.Context, id string, fn func(*bot.Broadcast) error) (bot.Broadcast, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.broadcasts[id]
	if !ok {
		return bot.Broadcast{}, fmt.Errorf("broadcast %s: %w", id, bot.ErrNotFound)
	}
	b := dec[bot.Broadcast](raw)
	if err := fn(&b); err != nil {
		return bot.Broadcast{}, err
	}
	s.broadcasts[id] = enc(b)
	return b, nil
}

func (s *Store) BroadcastsOf(_ context.Context, incidentID string) ([]bot.Broadcast, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bot.Broadcast
	for _, id := range s.bcOrder {
		b := dec[bot.Broadcast](s.broadcasts[id])
		if b.Draft.IncidentID == incidentID {
			out = append(out, b)
		}
	}
	return out, nil
}

func (s *Store) PendingApprovals(ctx context.Context) ([]bot.Broadcast, error) {
	return s.BroadcastsInState(ctx, bot.BroadcastPendingApproval)
}

// BroadcastsInState lists the broadcasts in an in-flight state, oldest
// request first; like the Redis store it refuses the final states, which a
// real store does not index.
func (s *Store) BroadcastsInState(_ context.Context, state bot.BroadcastState) ([]bot.Broadcast, error) {
	if !state.InFlight() {
		return nil, fmt.Errorf("listing broadcasts in state %q: only in-flight states are indexed", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bot.Broadcast
	for _, id := range s.bcOrder {
		b := dec[bot.Broadcast](s.broadcasts[id])
		if b.State == state {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RequestedAt.Before(out[j].RequestedAt) })
	return out, nil
}

func (s *Store) Audit(_ context.Context, e bot.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	return nil
}

func (s *Store) AuditTrail(_ context.Context, incidentID string) ([]bot.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bot.AuditEntry
	for _, e := range s.audit {
		if incidentID == "" || e.IncidentID == incidentID {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *Store) FirstTime(_ context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Clock.Now()
	if exp, ok := s.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	s.seen[key] = now.Add(ttl)
	return true, nil
}

// ---- queue ----
