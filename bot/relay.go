package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

var _ Relayer = (*Relay)(nil)

// Defaults for the per-sender rates, from Twilio's published limits: a
// non-US long code sends 10 messages per second (US 10DLC 1, toll-free 3,
// short code 100); a WhatsApp Business sender on Meta's Cloud API sends 80
// text messages per second (older Twilio senders start at 10). Twilio queues
// what comes faster, but a queue that grows past its limit rejects messages,
// so herald paces itself instead. internal/config sets the same defaults.
const (
	DefaultSMSPerSecond      = 10
	DefaultWhatsAppPerSecond = 80
)

// RelaySettings tunes the relay.
type RelaySettings struct {
	// SMSPerSecond and WhatsAppPerSecond are each sender's rate, shared by
	// all replicas through the RateLimiter. 0: the default above; negative:
	// no limit (benchmarks, a Twilio account that queues for you).
	SMSPerSecond      float64
	WhatsAppPerSecond float64
	// Burst is how many tokens a sender's bucket may save up (default 1:
	// messages evenly spaced).
	Burst int
	// MaxAttempts bounds the tries per channel on temporary errors (429,
	// 5xx, no answer) before a delivery counts as failed (default 5).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter between those tries (defaults 500ms and 30s).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// SendTimeout bounds one provider call (default 30s). A delivery found in
	// "sending" for longer than that is presumed abandoned by a dead worker
	// and reconciled; younger ones are left to the worker that is sending.
	SendTimeout time.Duration
	// ContactTTL is how long replies from a messaged phone still find the
	// incident (default 72h).
	ContactTTL time.Duration
	// Topic is the queue topic of relay jobs (default "relay").
	Topic string
	// ProgressEvery is the least time between two edits of a broadcast's
	// progress message, across all replicas (default 1s).
	ProgressEvery time.Duration
	// Batch is how many deliveries are saved or enqueued per round trip when
	// a broadcast starts (default 2000).
	Batch int
	// RestartAfter and ResumeAfter are Sweep's grace periods: how long a
	// broadcast may stay approved without being started (default 30s), and
	// stay sending without all its jobs queued (default 2m), before Sweep
	// takes it for abandoned and starts it again.
	RestartAfter time.Duration
	ResumeAfter  time.Duration
}

func (s RelaySettings) rate(ch Channel) float64 {
	r, def := s.SMSPerSecond, float64(DefaultSMSPerSecond)
	if ch == ChannelWhatsApp {
		r, def = s.WhatsAppPerSecond, DefaultWhatsAppPerSecond
	}
	if r == 0 {
		return def
	}
	return r
}

func (s RelaySettings) burst() int       { return orInt(s.Burst, 1) }
func (s RelaySettings) maxAttempts() int { return orInt(s.MaxAttempts, 5) }
func (s RelaySettings) topic() string    { return orStr(s.Topic, "relay") }
func (s RelaySettings) batch() int       { return orInt(s.Batch, 2000) }
func (s RelaySettings) sendTimeout() time.Duration {
	return orDur(s.SendTimeout, 30*time.Second)
}
func (s RelaySettings) contactTTL() time.Duration    { return orDur(s.ContactTTL, 72*time.Hour) }
func (s RelaySettings) progressEvery() time.Duration { return orDur(s.ProgressEvery, time.Second) }
func (s RelaySettings) backoff() Backoff {
	return Backoff{Base: s.BaseBackoff, Max: s.MaxBackoff}
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orStr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// Relay is the relay engine: it turns an approved broadcast into one durable
// job per recipient, sends each on the person's channel within the shared
// per-sender rate, retries what may succeed later, falls back from WhatsApp
// to SMS once, follows the provider's status callbacks and keeps the
// thread's progress message current. Any number of replicas may run it
// against the same stores and queue.
type Relay struct {
	Planner    *Planner
	Incidents  IncidentStore
	Broadcasts BroadcastStore
	Phones     PhoneStore
	Queue      Queue
	Limiter    RateLimiter
	Messenger  Messenger
	// Chat, when set, carries the progress message in the incident thread;
	// nil (herald send while chat is down) relays without one.
	Chat     Chat
	Audit    AuditLog
	Dedup    Deduper
	Clock    Clock
	Settings RelaySettings
	// OnError hears about problems that do not stop the relay (a progress
	// edit that failed, a job that could not be decoded); optional.
	OnError func(ctx context.Context, err error)
	// OnOutcome hears about every provider answer, for metrics: the channel,
	// the state reached (queued, or failed) and the error code; optional.
	OnOutcome func(ch Channel, state DeliveryState, code int)

	mu       sync.Mutex
	contents map[string]*broadcastContent // by broadcast id
	lastEdit map[string]time.Time         // progress edits tried, per broadcast, on this replica
	dirty    map[string]bool              // broadcasts whose counts moved since the last refresh
	running  int                          // Run loops refreshing dirty broadcasts in the background
}

// broadcastContent is what every job of a broadcast needs to build its
// message, loaded once per replica (a broadcast's text never changes).
type broadcastContent struct {
	broadcast Broadcast
	incident  Incident
	template  *Template
	data      TemplateData

	mu       sync.Mutex
	byLocale map[string]Rendered
}

func (c *broadcastContent) render(locale string) (Rendered, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.byLocale[locale]; ok {
		return r, nil
	}
	r, err := c.template.Render(locale, c.data)
	if err != nil {
		return Rendered{}, err
	}
	c.byLocale[locale] = r
	return r, nil
}

// relayJob is a job's payload: small, so 50,000 of them queue quickly.
type relayJob struct {
	Broadcast string `json:"b"`
	Recipient string `json:"r"`
}

func jobPayload(broadcastID, recipientID string) []byte {
	b, _ := json.Marshal(relayJob{Broadcast: broadcastID, Recipient: recipientID})
	return b
}

var (
	errAlreadyStarted = errors.New("already started")
	errNotPending     = errors.New("delivery is no longer pending")
	errNoChange       = errors.New("nothing to change")
)

func (r *Relay) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func (r *Relay) report(ctx context.Context, err error) {
	if r.OnError != nil && err != nil {
		r.OnError(ctx, err)
	}
}

// Topic is the queue topic the relay's workers consume.
func (r *Relay) Topic() string { return r.Settings.topic() }

// Run works relay jobs until ctx ends (see RunWorkers); cfg's Queue and
// Topic are filled in from the relay. While it runs, jobs only mark their
// broadcast for a progress refresh, which a ticker does a few times per
// ProgressEvery: at thousands of messages a second that saves a counts
// round trip per message and still notices the end within a fraction of a
// second.
func (r *Relay) Run(ctx context.Context, cfg WorkerConfig) error {
	cfg.Queue, cfg.Topic = r.Queue, r.Topic()
	if cfg.OnError == nil {
		cfg.OnError = r.OnError
	}
	r.mu.Lock()
	r.running++
	r.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(r.Settings.progressEvery() / 4)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				r.refreshDirty(ctx)
			}
		}
	}()
	err := RunWorkers(ctx, cfg, r.HandleJob)
	<-stopped
	r.mu.Lock()
	r.running--
	r.mu.Unlock()
	// The last jobs' counts, unless the store is gone with ctx.
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	r.refreshDirty(final)
	return err
}

// touched notes that a broadcast's counts moved; it reports whether the
// caller should refresh at once (no Run loop will).
func (r *Relay) touched(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == 0 {
		return true
	}
	if r.dirty == nil {
		r.dirty = map[string]bool{}
	}
	r.dirty[id] = true
	return false
}

func (r *Relay) refreshDirty(ctx context.Context) {
	r.mu.Lock()
	ids := make([]string, 0, len(r.dirty))
	for id := range r.dirty {
		ids = append(ids, id)
	}
	clear(r.dirty)
	r.mu.Unlock()
	for _, id := range ids {
		r.refresh(ctx, id)
	}
}

// Start plans the broadcast and queues one job per recipient. Calling it
// again for the same broadcast does nothing: only the call that moves the
// stored broadcast from approved to sending goes on. A broadcast not stored
// yet (herald send) is stored first.
func (r *Relay) Start(ctx context.Context, b Broadcast) error {
	_, err := r.begin(ctx, b, false)
	return err
}

// begin is Start; claimed says whether this call moved the broadcast to
// sending. again is set when a start may have run before (Sweep).
func (r *Relay) begin(ctx context.Context, b Broadcast, again bool) (claimed bool, err error) {
	now := r.now()
	claim := func(x *Broadcast) error {
		switch x.State {
		case BroadcastApproved:
			x.State = BroadcastSending
			x.StartedAt, x.QueuedAt = now, time.Time{}
			return nil
		case BroadcastSending, BroadcastDone:
			return errAlreadyStarted
		}
		return fmt.Errorf("broadcast %s is %s, not approved: %w", x.ID, x.State, ErrConflict)
	}
	_, err = r.Broadcasts.UpdateBroadcast(ctx, b.ID, claim)
	if errors.Is(err, ErrNotFound) && b.State == BroadcastApproved {
		if err = r.Broadcasts.SaveBroadcast(ctx, b); err != nil {
			return false, fmt.Errorf("storing broadcast %s: %w", b.ID, err)
		}
		_, err = r.Broadcasts.UpdateBroadcast(ctx, b.ID, claim)
	}
	if errors.Is(err, errAlreadyStarted) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("starting broadcast %s: %w", b.ID, err)
	}
	queued, err := r.start(ctx, b.ID, again)
	if err != nil && !queued {
		// Nothing was queued: hand the broadcast back so that Start can be
		// tried again, instead of leaving it "sending" forever.
		if _, rerr := r.Broadcasts.UpdateBroadcast(ctx, b.ID, func(x *Broadcast) error {
			x.State = BroadcastApproved
			return nil
		}); rerr != nil {
			r.report(ctx, fmt.Errorf("handing broadcast %s back after a failed start: %w", b.ID, rerr))
		}
	}
	if err != nil {
		return true, fmt.Errorf("relaying broadcast %s: %w", b.ID, err)
	}
	return true, nil
}

// start does the work of Start once the broadcast is claimed; queued says
// whether any job was enqueued before an error. again is set when an earlier
// start may have saved deliveries or posted the progress message already
// (Sweep): every step is then safe to repeat (deliveries are only created
// where missing, jobs of a delivery already sent do nothing).
func (r *Relay) start(ctx context.Context, id string, again bool) (queued bool, err error) {
	b, err := r.Broadcasts.Broadcast(ctx, id)
	if err != nil {
		return false, fmt.Errorf("loading the broadcast: %w", err)
	}
	inc, err := r.Incidents.Incident(ctx, b.Draft.IncidentID)
	if err != nil {
		return false, fmt.Errorf("loading incident %s: %w", b.Draft.IncidentID, err)
	}
	plan, err := r.Planner.Plan(ctx, inc, b.Draft)
	if err != nil {
		return false, fmt.Errorf("planning: %w", err)
	}
	now := r.now()
	deliveries := make([]Delivery, 0, len(plan.Recipients)+len(plan.OptedOut))
	contacts := make([]Contact, 0, len(plan.Recipients))
	for _, p := range plan.Recipients {
		deliveries = append(deliveries, Delivery{
			BroadcastID: id, IncidentID: inc.ID, RecipientID: p.Recipient.ID, Name: p.Recipient.Name,
			Phone: p.Recipient.Phone, Channel: p.Channel, Locale: p.Recipient.Locale,
			State: DeliveryPending, UpdatedAt: now,
		})
		contacts = append(contacts, Contact{Phone: p.Recipient.Phone, IncidentID: inc.ID, BroadcastID: id, At: now})
	}
	for _, p := range plan.OptedOut {
		ch := p.Channel
		if b.Draft.SMSOnly || !ch.Valid() {
			ch = ChannelSMS
		}
		deliveries = append(deliveries, Delivery{
			BroadcastID: id, IncidentID: inc.ID, RecipientID: p.ID, Name: p.Name,
			Phone: p.Phone, Channel: ch, Locale: p.Locale, State: DeliveryOptedOut, UpdatedAt: now,
		})
	}
	batch := r.Settings.batch()
	for chunk := range chunks(deliveries, batch) {
		if err := r.Broadcasts.SaveDeliveries(ctx, chunk); err != nil {
			return false, fmt.Errorf("saving %d deliveries: %w", len(chunk), err)
		}
	}
	if again {
		// Someone who opted out since the first try may have a pending
		// delivery from it, which no job will come for.
		if err := r.optOutPending(ctx, id, plan.OptedOut); err != nil {
			return false, err
		}
	}
	if len(contacts) > 0 {
		if err := r.Phones.RecordContacts(ctx, contacts, r.Settings.contactTTL()); err != nil {
			return false, fmt.Errorf("recording whom the broadcast reaches: %w", err)
		}
	}

	total, optedOut := len(plan.Recipients), len(plan.OptedOut)
	progress := b.Progress // posted by an earlier try: edited, not posted twice
	if r.Chat != nil && !inc.Thread.IsZero() && progress.ID == "" {
		start := b
		start.Total, start.OptedOut = total, optedOut
		counts := Counts{DeliveryPending: total}
		if optedOut > 0 {
			counts[DeliveryOptedOut] = optedOut
		}
		progress, err = r.Chat.Post(ctx, inc.Thread, ProgressMessage(start, counts, false))
		if err != nil {
			// Chat being down must not stop stakeholders being told.
			r.report(ctx, fmt.Errorf("posting the progress message of broadcast %s: %w", id, err))
		}
	}
	b, err = r.Broadcasts.UpdateBroadcast(ctx, id, func(x *Broadcast) error {
		x.Total, x.OptedOut, x.Progress = total, optedOut, progress
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("recording the broadcast's plan: %w", err)
	}
	content := &broadcastContent{
		broadcast: b, incident: inc, template: plan.Template,
		data:     TemplateData{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Fields: b.Draft.Fields, Note: b.Draft.Note},
		byLocale: map[string]Rendered{},
	}
	for _, p := range plan.Recipients {
		content.byLocale[p.Recipient.Locale] = p.Rendered
	}
	r.remember(id, content)

	payloads := make([][]byte, 0, batch)
	for i, p := range plan.Recipients {
		payloads = append(payloads, jobPayload(id, p.Recipient.ID))
		if len(payloads) == batch || i == len(plan.Recipients)-1 {
			if err := r.Queue.Enqueue(ctx, r.Topic(), payloads...); err != nil {
				return queued, fmt.Errorf("queueing %d of %d jobs: %w", len(payloads), total, err)
			}
			queued = true
			payloads = payloads[:0]
		}
	}
	// Every job is queued: from here on Sweep leaves the broadcast alone. If
	// this write fails, Sweep later queues the jobs again, which is harmless.
	if _, err := r.Broadcasts.UpdateBroadcast(ctx, id, func(x *Broadcast) error {
		x.QueuedAt = r.now()
		return nil
	}); err != nil {
		r.report(ctx, fmt.Errorf("marking broadcast %s as queued: %w", id, err))
	}
	if r.Audit != nil {
		if err := r.Audit.Audit(ctx, AuditEntry{
			At: now, Actor: SystemActor, Action: "broadcast.relay", IncidentID: inc.ID,
			Detail: fmt.Sprintf("%s: %d recipients (%d SMS, %d WhatsApp), %d opted out", id, total,
				plan.PerChannel[ChannelSMS], plan.PerChannel[ChannelWhatsApp], optedOut),
		}); err != nil {
			r.report(ctx, fmt.Errorf("auditing broadcast %s: %w", id, err))
		}
	}
	if total == 0 {
		r.refresh(ctx, id) // nobody to send to: done at once
	}
	return true, nil
}

func chunks[T any](s []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// contentCacheSize bounds the per-replica cache of broadcast texts; a few
// broadcasts are ever in flight at once.
const contentCacheSize = 64

func (r *Relay) remember(id string, c *broadcastContent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.contents == nil {
		r.contents = map[string]*broadcastContent{}
	}
	if len(r.contents) >= contentCacheSize {
		for k := range r.contents {
			delete(r.contents, k)
			break
		}
	}
	r.contents[id] = c
}

// content returns what the broadcast's jobs need, from the cache or loaded.
func (r *Relay) content(ctx context.Context, id string) (*broadcastContent, error) {
	r.mu.Lock()
	c, ok := r.contents[id]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	b, err := r.Broadcasts.Broadcast(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("loading broadcast %s: %w", id, err)
	}
	inc, err := r.Incidents.Incident(ctx, b.Draft.IncidentID)
	if err != nil {
		return nil, fmt.Errorf("loading incident %s: %w", b.Draft.IncidentID, err)
	}
	tpl, ok := r.Planner.Directory.Template(b.Draft.Template)
	if !ok {
		return nil, fmt.Errorf("broadcast %s: template %q is no longer configured", id, b.Draft.Template)
	}
	c = &broadcastContent{
		broadcast: b, incident: inc, template: tpl,
		data:     TemplateData{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Fields: b.Draft.Fields, Note: b.Draft.Note},
		byLocale: map[string]Rendered{},
	}
	r.remember(id, c)
	return c, nil
}
