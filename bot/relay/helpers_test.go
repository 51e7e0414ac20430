package relay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/relay"
)

// fakeMessenger is a scripted provider: per number and channel it returns
// the queued errors first, then accepts. It also answers FindSent from
// messages the test says already exist.
type fakeMessenger struct {
	mu       sync.Mutex
	seq      int
	sent     []bot.Outbound
	script   map[string][]error // channel:phone -> errors to return, in order
	always   func(bot.Outbound) error
	existing map[string]bot.SendResult // channel:phone -> a message the provider already has
	finds    int
	onSend   func(bot.Outbound) // runs at every Send, before it answers
}

var (
	_ bot.Messenger     = (*fakeMessenger)(nil)
	_ bot.MessageFinder = (*fakeMessenger)(nil)
)

func newFakeMessenger() *fakeMessenger {
	return &fakeMessenger{script: map[string][]error{}, existing: map[string]bot.SendResult{}}
}

func key(ch bot.Channel, phone string) string { return string(ch) + ":" + phone }

func (f *fakeMessenger) failNext(ch bot.Channel, phone string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[key(ch, phone)] = append(f.script[key(ch, phone)], errs...)
}

func (f *fakeMessenger) Send(_ context.Context, m bot.Outbound) (bot.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	if f.onSend != nil {
		f.onSend(m)
	}
	k := key(m.Channel, m.To)
	if errs := f.script[k]; len(errs) > 0 {
		f.script[k] = errs[1:]
		return bot.SendResult{}, errs[0]
	}
	if f.always != nil {
		if err := f.always(m); err != nil {
			return bot.SendResult{}, err
		}
	}
	f.seq++
	return bot.SendResult{SID: fmt.Sprintf("SM%032d", f.seq), Status: bot.DeliveryQueued}, nil
}

func (f *fakeMessenger) SenderKey(ch bot.Channel) string { return "sender:" + string(ch) }

func (f *fakeMessenger) FindSent(_ context.Context, to string, ch bot.Channel, _ time.Time) (bot.SendResult, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds++
	res, ok := f.existing[key(ch, to)]
	return res, ok, nil
}

// sends returns what was sent to one phone, in order.
func (f *fakeMessenger) sendsTo(phone string) []bot.Outbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []bot.Outbound
	for _, m := range f.sent {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

func (f *fakeMessenger) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// recordingLimiter records pauses on top of the store's bucket.
type recordingLimiter struct {
	bot.RateLimiter
	mu     sync.Mutex
	pauses map[string][]time.Duration
}

func (l *recordingLimiter) Pause(ctx context.Context, k string, d time.Duration) error {
	l.mu.Lock()
	if l.pauses == nil {
		l.pauses = map[string][]time.Duration{}
	}
	l.pauses[k] = append(l.pauses[k], d)
	l.mu.Unlock()
	return l.RateLimiter.Pause(ctx, k, d)
}

// Phones of the test directory.
const (
	phDana  = "+4915100000001" // WhatsApp, de, executives + it-ops
	phOmar  = "+14155550101"   // SMS, it-ops
	phLea   = "+4915100000003" // WhatsApp, it-ops
	phKim   = "+4915100000004" // SMS, it-ops, opted out in some tests
	phDanaB = "+4915100000001" // a second entry for Dana's number (dedup by phone)
)

type relayFixture struct {
	t        *testing.T
	ctx      context.Context
	clock    *bottest.Clock
	store    *bottest.Store
	chat     *bottest.Chat
	msgr     *fakeMessenger
	limiter  *recordingLimiter
	relay    *relay.Relay
	incident bot.Incident
}

func newRelayFixture(t *testing.T, withWhatsAppTemplate bool) *relayFixture {
	t.Helper()
	recipients := []bot.Recipient{
		{ID: "dana", Name: "Dana Weber", Phone: phDana, Channel: bot.ChannelWhatsApp, Locale: "de"},
		{ID: "dana-work", Name: "Dana Weber (work)", Phone: phDanaB, Channel: bot.ChannelSMS},
		{ID: "omar", Name: "Omar Haddad", Phone: phOmar, Channel: bot.ChannelSMS},
		{ID: "lea", Name: "Lea Park", Phone: phLea, Channel: bot.ChannelWhatsApp},
		{ID: "kim", Name: "Kim Berg", Phone: phKim, Channel: bot.ChannelSMS},
	}
	audiences := []bot.Audience{
		{Name: "executives", Members: []string{"dana"}},
		{Name: "it-ops", Members: []string{"omar", "dana", "dana-work", "lea", "kim"}},
	}
	src := bot.TemplateSource{
		Name:    "investigating",
		Fields:  []string{"next_update"},
		SMS:     "[SEV{{.Severity}}] {{.Title}}: investigating. Next update {{.Fields.next_update}}.",
		Locales: map[string]string{"de": "[SEV{{.Severity}}] {{.Title}}: wir untersuchen. Nächstes Update {{.Fields.next_update}}."},
	}
	if withWhatsAppTemplate {
		src.WhatsApp = &bot.WhatsAppTemplate{ContentSID: "HX0000000000000000000000000000000", Variables: map[string]string{"1": "{{.Title}}", "2": "{{.Fields.next_update}}"}}
	}
	tpl, errs := bot.ParseTemplate(src)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	dir, err := bot.NewDirectory(recipients, audiences, []*bot.Template{tpl})
	if err != nil {
		t.Fatal(err)
	}
	clock := bottest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	f := &relayFixture{
		t: t, ctx: context.Background(), clock: clock, store: store,
		chat: &bottest.Chat{}, msgr: newFakeMessenger(), limiter: &recordingLimiter{RateLimiter: store},
	}
	th, err := f.chat.PostRoot(f.ctx, "C0INCIDENTS", bot.Message{Title: "root"})
	if err != nil {
		t.Fatal(err)
	}
	f.incident = bot.Incident{ID: "INC-7", Number: 7, Title: "Checkout down", Severity: 2, State: bot.IncidentOpen, Thread: th}
	if err := store.SaveIncident(f.ctx, f.incident); err != nil {
		t.Fatal(err)
	}
	f.relay = &relay.Relay{
		Planner:    &bot.Planner{Directory: dir, Phones: store, Clock: clock},
		Incidents:  store,
		Broadcasts: store,
		Phones:     store,
		Queue:      store,
		Limiter:    f.limiter,
		Messenger:  f.msgr,
		Chat:       f.chat,
		Audit:      store,
		Dedup:      store,
		Clock:      clock,
		Settings: relay.Settings{
			SMSPerSecond: -1, WhatsAppPerSecond: -1,
			BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		},
		OnError: func(_ context.Context, err error) { t.Logf("relay: %v", err) },
	}
	return f
}

// approved stores and returns an approved broadcast to the audiences.
func (f *relayFixture) approved(id string, audiences []string, smsOnly bool) bot.Broadcast {
	f.t.Helper()
	b := bot.Broadcast{
		ID:    id,
		Draft: bot.Draft{IncidentID: f.incident.ID, Audiences: audiences, Template: "investigating", Fields: map[string]string{"next_update": "10:30"}, SMSOnly: smsOnly},
		State: bot.BroadcastApproved, RequestedBy: bot.Actor{ID: "U0RESP1"}, RequestedAt: f.clock.Now(),
	}
	if err := f.store.SaveBroadcast(f.ctx, b); err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *relayFixture) start(b bot.Broadcast) {
	f.t.Helper()
	if err := f.relay.Start(f.ctx, b); err != nil {
		f.t.Fatalf("Start: %v", err)
	}
}

// drain works every queued relay job synchronously, acking the ones that
// succeed, and returns the errors of those that did not.
func (f *relayFixture) drain() []error {
	f.t.Helper()
	return drainWith(f.t, f.ctx, f.store, f.relay)
}

func drainWith(t *testing.T, ctx context.Context, q *bottest.Store, relays ...*relay.Relay) []error {
	t.Helper()
	var errs []error
	for i := 0; ; i++ {
		jobs, err := q.Claim(ctx, relays[0].Topic(), "test", 100, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			return errs
		}
		for k, j := range jobs {
			r := relays[(i+k)%len(relays)]
			if err := r.HandleJob(ctx, j); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := q.Ack(ctx, j.Topic, j.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (f *relayFixture) delivery(bid, rid string) bot.Delivery {
	f.t.Helper()
	d, err := f.store.Delivery(f.ctx, bid, rid)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *relayFixture) broadcast(id string) bot.Broadcast {
	f.t.Helper()
	b, err := f.store.Broadcast(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *relayFixture) counts(id string) bot.Counts {
	f.t.Helper()
	c, err := f.store.Counts(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// progress returns the broadcast's progress post in the thread.
func (f *relayFixture) progress(id string) bottest.Post {
	f.t.Helper()
	ref := f.broadcast(id).Progress
	for _, p := range f.chat.Thread(f.incident.Thread) {
		if p.Ref.ID == ref.ID {
			return p
		}
	}
	f.t.Fatalf("no progress message for %s", id)
	return bottest.Post{}
}

func states(d bot.Delivery) []string {
	var out []string
	for _, a := range d.Attempts {
		s := string(a.Channel) + ":" + string(a.State)
		if a.ErrorCode != 0 {
			s += fmt.Sprintf(":%d", a.ErrorCode)
		}
		out = append(out, s)
	}
	return out
}
