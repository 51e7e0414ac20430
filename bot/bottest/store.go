package bottest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/heraldops/herald/bot"
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
	limiter    *bot.LocalLimiter
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
		limiter:    bot.NewLocalLimiter(clock),
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

func dkey(broadcastID, recipientID string) string { return broadcastID + "/" + recipientID }

// SaveDeliveries creates the deliveries that do not exist yet; existing ones
// are left as they are (as the Redis store does), so a start run again
// neither resets nor double-counts anyone.
func (s *Store) SaveDeliveries(_ context.Context, ds []bot.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		k := dkey(d.BroadcastID, d.RecipientID)
		if _, ok := s.deliveries[k]; ok {
			continue
		}
		s.deliveries[k] = enc(d)
		s.count(d.BroadcastID, d.State, +1)
	}
	return nil
}

func (s *Store) count(broadcastID string, st bot.DeliveryState, n int) {
	c := s.counts[broadcastID]
	if c == nil {
		c = bot.Counts{}
		s.counts[broadcastID] = c
	}
	c[st] += n
	if c[st] == 0 {
		delete(c, st)
	}
}

func (s *Store) Delivery(_ context.Context, broadcastID, recipientID string) (bot.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.deliveries[dkey(broadcastID, recipientID)]
	if !ok {
		return bot.Delivery{}, fmt.Errorf("delivery %s/%s: %w", broadcastID, recipientID, bot.ErrNotFound)
	}
	return dec[bot.Delivery](raw), nil
}

func (s *Store) UpdateDelivery(_ context.Context, broadcastID, recipientID string, fn func(*bot.Delivery) error) (bot.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dkey(broadcastID, recipientID)
	raw, ok := s.deliveries[k]
	if !ok {
		return bot.Delivery{}, fmt.Errorf("delivery %s: %w", k, bot.ErrNotFound)
	}
	d := dec[bot.Delivery](raw)
	before := d.State
	if err := fn(&d); err != nil {
		return bot.Delivery{}, err
	}
	s.deliveries[k] = enc(d)
	if d.State != before {
		s.count(broadcastID, before, -1)
		s.count(broadcastID, d.State, +1)
	}
	return d, nil
}

func (s *Store) IndexSID(_ context.Context, sid, broadcastID, recipientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sids[sid] = [2]string{broadcastID, recipientID}
	return nil
}

func (s *Store) DeliveryBySID(ctx context.Context, sid string) (bot.Delivery, error) {
	s.mu.Lock()
	ids, ok := s.sids[sid]
	s.mu.Unlock()
	if !ok {
		return bot.Delivery{}, fmt.Errorf("message %s: %w", sid, bot.ErrNotFound)
	}
	return s.Delivery(ctx, ids[0], ids[1])
}

func (s *Store) Counts(_ context.Context, broadcastID string) (bot.Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := bot.Counts{}
	for k, v := range s.counts[broadcastID] {
		out[k] = v
	}
	return out, nil
}

// ---- phones ----

func (s *Store) SetOptOut(_ context.Context, phone string, optedOut bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if optedOut {
		s.optOut[phone] = true
	} else {
		delete(s.optOut, phone)
	}
	return nil
}

func (s *Store) OptedOut(_ context.Context, phones []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range phones {
		if s.optOut[p] {
			out[p] = true
		}
	}
	return out, nil
}

func (s *Store) OpenSession(_ context.Context, phone string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.sessions[phone]) {
		s.sessions[phone] = at
	}
	return nil
}

func (s *Store) OpenSessions(_ context.Context, phones []string, at time.Time) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range phones {
		if last, ok := s.sessions[p]; ok && at.Sub(last) < bot.WhatsAppSessionWindow {
			out[p] = true
		}
	}
	return out, nil
}

func (s *Store) RecordContacts(_ context.Context, cs []bot.Contact, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		s.contacts[c.Phone] = append(s.contacts[c.Phone], contactEntry{c: c, expires: c.At.Add(ttl)})
	}
	return nil
}

func (s *Store) Contacts(_ context.Context, phone string, since time.Time) ([]bot.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Clock.Now()
	latest := map[string]bot.Contact{}
	for _, e := range s.contacts[phone] {
		if now.After(e.expires) || e.c.At.Before(since) {
			continue
		}
		if cur, ok := latest[e.c.IncidentID]; !ok || e.c.At.After(cur.At) {
			latest[e.c.IncidentID] = e.c
		}
	}
	out := make([]bot.Contact, 0, len(latest))
	for _, c := range latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

func (s *Store) Forget(_ context.Context, phone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.optOut, phone)
	delete(s.sessions, phone)
	delete(s.contacts, phone)
	return nil
}

// ---- audit, dedup ----

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

type memJob struct {
	id         string
	payload    []byte
	owner      string
	claimedAt  time.Time
	deliveries int64
}

type memQueue struct {
	seq     int
	waiting []*memJob
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
	return len(q.waiting) + len(q.pending)
}

// ---- rate limiter ----

// Reserve and Pause are bot.LocalLimiter's, on the store's clock.
func (s *Store) Reserve(ctx context.Context, key string, rate float64, burst int) (time.Duration, error) {
	return s.limiter.Reserve(ctx, key, rate, burst)
}

func (s *Store) Pause(ctx context.Context, key string, d time.Duration) error {
	return s.limiter.Pause(ctx, key, d)
}
