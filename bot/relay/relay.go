package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldops/herald/bot"
)

// Relay is the relay engine: it turns an approved broadcast into one durable
// job per recipient, sends each on the person's channel within the shared
// per-sender rate, retries what may succeed later, falls back from WhatsApp
// to SMS once, follows the provider's status callbacks and keeps the
// thread's progress message current. Any number of replicas may run it
// against the same stores and queue.
type Relay struct {
	Planner    *bot.Planner
	Incidents  bot.IncidentStore
	Broadcasts bot.BroadcastStore
	Phones     bot.PhoneStore
	Queue      bot.Queue
	Limiter    bot.RateLimiter
	Messenger  bot.Messenger
	// Chat, when set, carries the progress message in the incident thread;
	// nil (herald send while chat is down) relays without one.
	Chat     bot.Chat
	Audit    bot.AuditLog
	Dedup    bot.Deduper
	Clock    bot.Clock
	Settings Settings
	// OnError hears about problems that do not stop the relay (a progress
	// edit that failed, a job that could not be decoded); optional.
	OnError func(ctx context.Context, err error)
	// OnOutcome hears about every provider answer, for metrics: the channel,
	// the state reached (queued, or failed) and the error code; optional.
	OnOutcome func(ch bot.Channel, state bot.DeliveryState, code int)

	mu       sync.Mutex
	contents map[string]*broadcastContent     // by broadcast id
	lastEdit map[string]time.Time             // progress edits tried, per broadcast, on this replica
	dirty    map[string]bool                  // broadcasts whose counts moved since the last refresh
	running  int                              // Run loops refreshing dirty broadcasts in the background
	windows  map[string]*window               // per sender: requests in flight this replica allows (window.go)
	fetched  map[bot.DeliveryRef]bot.Delivery // read for a claimed batch, taken by its jobs (prefetch)
}

// broadcastContent is what every job of a broadcast needs to build its
// message, loaded once per replica (a broadcast's text never changes).
type broadcastContent struct {
	broadcast bot.Broadcast
	incident  bot.Incident
	template  *bot.Template
	data      bot.TemplateData

	mu       sync.Mutex
	byLocale map[string]bot.Rendered
}

func (c *broadcastContent) render(locale string) (bot.Rendered, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.byLocale[locale]; ok {
		return r, nil
	}
	r, err := c.template.Render(locale, c.data)
	if err != nil {
		return bot.Rendered{}, err
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
	if _, ok := r.Broadcasts.(bot.DeliveryBatchReader); ok && cfg.Prepare == nil {
		cfg.Prepare = r.prefetch
	}
	consumer := cfg.Consumer
	err := RunWorkers(ctx, cfg, func(ctx context.Context, j bot.Job) error { return r.handle(ctx, j, consumer) })
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
		data:     bot.TemplateDataFor(inc, b.Draft),
		byLocale: map[string]bot.Rendered{},
	}
	r.remember(id, c)
	return c, nil
}

// updateDelivery applies fn to delivery d as the relay last saw it: with a
// store that can (bot.DeliveryUpdater) in one round trip when nobody wrote
// it since, else as BroadcastStore.UpdateDelivery, reading it first.
func (r *Relay) updateDelivery(ctx context.Context, d bot.Delivery, fn func(*bot.Delivery) error) (bot.Delivery, error) {
	if u, ok := r.Broadcasts.(bot.DeliveryUpdater); ok && d.StoreRev != "" {
		return u.UpdateDeliveryFrom(ctx, d, fn)
	}
	return r.Broadcasts.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, fn)
}

// prefetchCap bounds the deliveries read ahead and not yet taken (jobs that
// stopped before their turn); past it the stock is dropped, which only costs
// those jobs a read of their own.
const prefetchCap = 4096

// prefetch reads the deliveries of a claimed batch in one round trip, for
// its jobs to take instead of reading one each. A delivery may change
// between this read and its job's turn: every write is a compare-and-set on
// the version read, so a stale copy is only ever read again.
func (r *Relay) prefetch(ctx context.Context, jobs []bot.Job) {
	reader, ok := r.Broadcasts.(bot.DeliveryBatchReader)
	if !ok {
		return
	}
	refs := make([]bot.DeliveryRef, 0, len(jobs))
	for _, j := range jobs {
		var job relayJob
		if json.Unmarshal(j.Payload, &job) == nil && job.Broadcast != "" && job.Recipient != "" {
			refs = append(refs, bot.DeliveryRef{BroadcastID: job.Broadcast, RecipientID: job.Recipient})
		}
	}
	got, err := reader.Deliveries(ctx, refs)
	if err != nil {
		r.report(ctx, fmt.Errorf("reading %d deliveries ahead: %w", len(refs), err))
		return // each job reads its own
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fetched == nil || len(r.fetched)+len(got) > prefetchCap {
		r.fetched = make(map[bot.DeliveryRef]bot.Delivery, len(got))
	}
	for k, d := range got {
		r.fetched[k] = d
	}
}

// takeFetched returns the delivery read ahead for (bid, rid), once.
func (r *Relay) takeFetched(bid, rid string) (bot.Delivery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := bot.DeliveryRef{BroadcastID: bid, RecipientID: rid}
	d, ok := r.fetched[k]
	if ok {
		delete(r.fetched, k)
	}
	return d, ok
}
