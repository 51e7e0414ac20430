package relay_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/bot/workflow"
)

// The workflow hands approved broadcasts to the relay through its Relayer port.
var _ workflow.Relayer = (*relay.Relay)(nil)

func TestStartPlansOnePersonOnceSkipsOptOutsAndIsIdempotent(t *testing.T) {
	f := newRelayFixture(t, true)
	if err := f.store.SetOptOut(f.ctx, phKim, true); err != nil {
		t.Fatal(err)
	}
	b := f.approved("B-7-1", []string{"executives", "it-ops"}, false)

	f.start(b)
	f.start(b) // a double click, a second replica: nothing more happens

	got := f.broadcast(b.ID)
	if got.State != bot.BroadcastSending || got.Total != 3 || got.OptedOut != 1 {
		t.Fatalf("broadcast = %s total %d opted out %d, want sending 3 1", got.State, got.Total, got.OptedOut)
	}
	if n := f.store.Pending(f.relay.Topic()); n != 3 {
		t.Errorf("queued jobs = %d, want 3 (dana once although in two audiences and listed twice, omar, lea)", n)
	}
	if c := f.counts(b.ID); c[bot.DeliveryPending] != 3 || c[bot.DeliveryOptedOut] != 1 {
		t.Errorf("counts = %v", c)
	}
	if d := f.delivery(b.ID, "kim"); d.State != bot.DeliveryOptedOut {
		t.Errorf("kim's delivery = %s, want opted_out", d.State)
	}
	if _, err := f.store.Delivery(f.ctx, b.ID, "dana-work"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("dana-work has a delivery (err %v); the same phone must be reached once", err)
	}
	if posts := f.chat.Thread(f.incident.Thread); len(posts) != 1 {
		t.Errorf("thread has %d posts, want the one progress message", len(posts))
	}
	p := f.progress(b.ID)
	if !strings.Contains(p.Message.PlainText(), "Opted out: 1") {
		t.Errorf("progress message does not show the opt-out:\n%s", p.Message.PlainText())
	}
	// Replies must find the incident.
	cs, err := f.store.Contacts(f.ctx, phDana, f.clock.Now().Add(-time.Hour))
	if err != nil || len(cs) != 1 || cs[0].IncidentID != "INC-7" {
		t.Errorf("contacts of dana = %v, %v", cs, err)
	}
	if cs, _ := f.store.Contacts(f.ctx, phKim, f.clock.Now().Add(-time.Hour)); len(cs) != 0 {
		t.Errorf("opted-out kim recorded as contacted: %v", cs)
	}

	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := f.msgr.total(); n != 3 {
		t.Errorf("provider got %d messages, want 3", n)
	}
	if len(f.msgr.sendsTo(phKim)) != 0 {
		t.Error("an opted-out number was messaged")
	}
}

func TestStartRefusesUnapprovedBroadcast(t *testing.T) {
	f := newRelayFixture(t, true)
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	if _, err := f.store.UpdateBroadcast(f.ctx, b.ID, func(x *bot.Broadcast) error { x.State = bot.BroadcastPendingApproval; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.relay.Start(f.ctx, b); !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("Start of a pending broadcast = %v, want ErrConflict", err)
	}
	if n := f.store.Pending(f.relay.Topic()); n != 0 {
		t.Errorf("%d jobs queued for an unapproved broadcast", n)
	}
}

func TestWhatsAppUsesFreeFormOnlyInsideTheSessionWindow(t *testing.T) {
	f := newRelayFixture(t, true)
	// Dana wrote 2 hours ago: window open. Lea wrote 25 hours ago: closed.
	if err := f.store.OpenSession(f.ctx, phDana, f.clock.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.OpenSession(f.ctx, phLea, f.clock.Now().Add(-25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}

	dana := f.msgr.sendsTo(phDana)
	if len(dana) != 1 || dana[0].Channel != bot.ChannelWhatsApp || dana[0].ContentSID != "" || !strings.Contains(dana[0].Body, "wir untersuchen") {
		t.Errorf("dana (window open, de) got %+v, want one free-form German WhatsApp body", dana)
	}
	lea := f.msgr.sendsTo(phLea)
	if len(lea) != 1 || lea[0].Channel != bot.ChannelWhatsApp || lea[0].Body != "" || lea[0].ContentSID != "HX0000000000000000000000000000000" ||
		lea[0].ContentVariables["1"] != "Checkout down" || lea[0].ContentVariables["2"] != "10:30" {
		t.Errorf("lea (window closed) got %+v, want the approved template with its variables", lea)
	}
	omar := f.msgr.sendsTo(phOmar)
	if len(omar) != 1 || omar[0].Channel != bot.ChannelSMS || omar[0].Body != "[SEV2] Checkout down: investigating. Next update 10:30." {
		t.Errorf("omar got %+v", omar)
	}
	c := f.counts(b.ID)
	if c[bot.DeliveryQueued] != 4 {
		t.Errorf("counts = %v, want 4 queued", c)
	}
}

func TestWhatsAppWithoutTemplateOutsideWindowGoesBySMS(t *testing.T) {
	f := newRelayFixture(t, false) // no WhatsApp content template
	// Lea's window is open when planned but has closed by the time her job runs.
	if err := f.store.OpenSession(f.ctx, phLea, f.clock.Now().Add(-23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)
	f.clock.Advance(2 * time.Hour)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	lea := f.msgr.sendsTo(phLea)
	if len(lea) != 1 || lea[0].Channel != bot.ChannelSMS {
		t.Fatalf("lea got %+v, want exactly one SMS", lea)
	}
	d := f.delivery(b.ID, "lea")
	if !d.FellBack || !slices.Equal(states(d), []string{"whatsapp:failed", "sms:queued"}) {
		t.Errorf("lea's delivery: fell back %v, attempts %v", d.FellBack, states(d))
	}
}

func TestSMSOnlyForcesSMS(t *testing.T) {
	f := newRelayFixture(t, true)
	if err := f.store.OpenSession(f.ctx, phDana, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	b := f.approved("B-7-1", []string{"it-ops"}, true)
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, m := range f.msgr.sent {
		if m.Channel != bot.ChannelSMS || m.ContentSID != "" {
			t.Errorf("SMS-only broadcast sent %+v", m)
		}
	}
	if f.msgr.total() != 4 {
		t.Errorf("sent %d, want 4", f.msgr.total())
	}
}

func TestProviderErrors(t *testing.T) {
	tooMany := &bot.ProviderError{Kind: bot.FailureRateLimited, Provider: "Twilio", Code: 20429, HTTPStatus: 429, Message: "Too Many Requests", RetryAfter: 5 * time.Millisecond}
	unavailable := &bot.ProviderError{Kind: bot.FailureTemporary, Provider: "Twilio", HTTPStatus: 503, Message: "Service Unavailable"}
	tests := []struct {
		name       string
		errs       []error // what the provider answers omar's SMS, in order
		wantState  bot.DeliveryState
		wantSends  int
		wantTrail  []string
		wantPaused bool
		wantOptOut bool
		created    bool          // the provider created the message despite the error
		step       time.Duration // the clock moves this much at every send to omar
	}{
		{
			name: "500 but the message was created: found, not resent", errs: []error{&bot.ProviderError{Kind: bot.FailureTemporary, Provider: "Twilio", HTTPStatus: 500, Message: "Internal Server Error"}}, created: true,
			wantState: bot.DeliverySent, wantSends: 1, wantTrail: []string{"sms:sent"},
		},
		{
			name: "429 then success: bucket paused, not failed", errs: []error{tooMany},
			wantState: bot.DeliveryQueued, wantSends: 2, wantTrail: []string{"sms:failed:20429", "sms:queued"}, wantPaused: true,
		},
		{
			name: "5xx twice then success", errs: []error{unavailable, unavailable},
			wantState: bot.DeliveryQueued, wantSends: 3, wantTrail: []string{"sms:failed", "sms:failed", "sms:queued"}, wantPaused: true,
		},
		{
			// Issue 12: no fixed number of attempts any more; 20 minutes
			// pass at each try, so the second one is past the 30-minute
			// give-up time.
			name: "5xx until the give-up time: failed after the try past it", errs: []error{unavailable, unavailable, unavailable, unavailable},
			wantState: bot.DeliveryFailed, wantSends: 2, wantTrail: []string{"sms:failed", "sms:failed"}, wantPaused: true, step: 20 * time.Minute,
		},
		{
			name: "no answer at all is retried too", errs: []error{errors.New("connection reset")},
			wantState: bot.DeliveryQueued, wantSends: 2, wantTrail: []string{"sms:failed", "sms:queued"}, wantPaused: true,
		},
		{
			name: "21610 unsubscribed: failed, opted out, not retried", errs: []error{&bot.ProviderError{Kind: bot.FailureUnsubscribed, Provider: "Twilio", Code: 21610, HTTPStatus: 400, Message: "Attempt to send to unsubscribed recipient"}},
			wantState: bot.DeliveryFailed, wantSends: 1, wantTrail: []string{"sms:failed:21610"}, wantOptOut: true,
		},
		{
			name: "21211 invalid number: failed with its code", errs: []error{&bot.ProviderError{Kind: bot.FailurePermanent, Provider: "Twilio", Code: 21211, HTTPStatus: 400, Message: "Invalid 'To' Phone Number"}},
			wantState: bot.DeliveryFailed, wantSends: 1, wantTrail: []string{"sms:failed:21211"},
		},
		{
			name: "30007 filtered: failed with its code", errs: []error{&bot.ProviderError{Kind: bot.FailurePermanent, Provider: "Twilio", Code: 30007, HTTPStatus: 400, Message: "filtered"}},
			wantState: bot.DeliveryFailed, wantSends: 1, wantTrail: []string{"sms:failed:30007"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given
			f := newRelayFixture(t, true)
			f.relay.Settings.SMSPerSecond = 1000 // the shared bucket is in play
			f.msgr.failNext(bot.ChannelSMS, phOmar, tt.errs...)
			if tt.step > 0 {
				f.msgr.onSend = func(m bot.Outbound) {
					if m.To == phOmar {
						f.clock.Advance(tt.step)
					}
				}
			}
			if tt.created {
				f.msgr.existing[key(bot.ChannelSMS, phOmar)] = bot.SendResult{SID: "SMcreated", Status: bot.DeliverySent}
			}
			b := f.approved("B-7-1", []string{"it-ops"}, false)
			// when
			f.start(b)
			if errs := f.drain(); len(errs) > 0 {
				t.Fatal(errs)
			}
			// then
			d := f.delivery(b.ID, "omar")
			if d.State != tt.wantState {
				t.Errorf("state = %s, want %s", d.State, tt.wantState)
			}
			if n := len(f.msgr.sendsTo(phOmar)); n != tt.wantSends {
				t.Errorf("provider calls = %d, want %d", n, tt.wantSends)
			}
			if got := states(d); !slices.Equal(got, tt.wantTrail) {
				t.Errorf("attempts = %v, want %v", got, tt.wantTrail)
			}
			paused := len(f.limiter.pauses["sender:sms"]) > 0
			if paused != tt.wantPaused {
				t.Errorf("SMS sender paused = %v, want %v (%v)", paused, tt.wantPaused, f.limiter.pauses)
			}
			if tt.name[:3] == "429" && f.limiter.pauses["sender:sms"][0] < tooMany.RetryAfter {
				t.Errorf("paused %v, want at least Retry-After %v", f.limiter.pauses["sender:sms"][0], tooMany.RetryAfter)
			}
			opted, _ := f.store.OptedOut(f.ctx, []string{phOmar})
			if opted[phOmar] != tt.wantOptOut {
				t.Errorf("omar opted out = %v, want %v", opted[phOmar], tt.wantOptOut)
			}
			if tt.wantState == bot.DeliveryFailed {
				code := d.Attempts[len(d.Attempts)-1].ErrorCode
				if got := f.broadcast(b.ID).FailedByCode[code]; got != 1 {
					t.Errorf("FailedByCode[%d] = %d, want 1", code, got)
				}
				if !strings.Contains(f.progress(b.ID).Latest().PlainText(), "Failed: 1") {
					t.Errorf("summary does not show the failure:\n%s", f.progress(b.ID).Latest().PlainText())
				}
			}
			// Everyone else got theirs.
			if c := f.counts(b.ID); relay.Unsettled(c) != 0 {
				t.Errorf("unsettled deliveries left: %v", c)
			}
		})
	}
}

func TestWhatsAppRefusedFallsBackToSMSOnce(t *testing.T) {
	tests := []struct {
		name      string
		smsErr    error
		wantState bot.DeliveryState
		wantTrail []string
	}{
		{"SMS succeeds", nil, bot.DeliveryQueued, []string{"whatsapp:failed:63016", "sms:queued"}},
		{"SMS fails too: no second fallback", &bot.ProviderError{Kind: bot.FailurePermanent, Provider: "Twilio", Code: 21211, HTTPStatus: 400}, bot.DeliveryFailed, []string{"whatsapp:failed:63016", "sms:failed:21211"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRelayFixture(t, true)
			f.msgr.failNext(bot.ChannelWhatsApp, phLea, &bot.ProviderError{Kind: bot.FailureChannelUnreachable, Provider: "Twilio", Code: 63016, HTTPStatus: 400, Message: "outside the allowed window"})
			if tt.smsErr != nil {
				f.msgr.failNext(bot.ChannelSMS, phLea, tt.smsErr)
			}
			b := f.approved("B-7-1", []string{"it-ops"}, false)
			f.start(b)
			if errs := f.drain(); len(errs) > 0 {
				t.Fatal(errs)
			}
			sends := f.msgr.sendsTo(phLea)
			if len(sends) != 2 || sends[0].Channel != bot.ChannelWhatsApp || sends[1].Channel != bot.ChannelSMS {
				t.Fatalf("lea got %+v, want one WhatsApp then one SMS", sends)
			}
			if sends[1].Body == "" {
				t.Error("the SMS fallback has no body")
			}
			d := f.delivery(b.ID, "lea")
			if d.State != tt.wantState || !d.FellBack || d.Channel != bot.ChannelSMS || !slices.Equal(states(d), tt.wantTrail) {
				t.Errorf("delivery = %s fellBack %v channel %s attempts %v, want %s %v", d.State, d.FellBack, d.Channel, states(d), tt.wantState, tt.wantTrail)
			}
		})
	}
}

func TestStatusCallbacksMoveForwardOnlyAndAreIdempotent(t *testing.T) {
	f := newRelayFixture(t, true)
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	sid := f.delivery(b.ID, "omar").Attempts[0].SID
	status := func(s bot.DeliveryState) {
		t.Helper()
		if err := f.relay.HandleStatus(f.ctx, bot.StatusUpdate{SID: sid, Status: s, Channel: bot.ChannelSMS, To: phOmar, At: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	status(bot.DeliverySent)
	status(bot.DeliveryDelivered)
	status(bot.DeliveryDelivered) // Twilio re-delivers
	status(bot.DeliverySent)      // late, out of order
	status(bot.DeliveryQueued)

	d := f.delivery(b.ID, "omar")
	if d.State != bot.DeliveryDelivered || d.Attempts[0].State != bot.DeliveryDelivered {
		t.Errorf("after sent, delivered, delivered, sent, queued: %s / %s, want delivered", d.State, d.Attempts[0].State)
	}
	c := f.counts(b.ID)
	if c[bot.DeliveryDelivered] != 1 || c[bot.DeliveryQueued] != 3 || len(c) != 2 {
		t.Errorf("counts = %v, want 1 delivered 3 queued", c)
	}
	// A SID herald does not know (an answer to a reply, another system).
	if err := f.relay.HandleStatus(f.ctx, bot.StatusUpdate{SID: "SMunknown", Status: bot.DeliveryFailed}); err != nil {
		t.Errorf("unknown SID: %v, want nil", err)
	}
	// A failure after delivery cannot happen backwards either way: failed
	// is terminal and counts once.
	status(bot.DeliveryUndelivered)
	status(bot.DeliveryUndelivered)
	if c := f.counts(b.ID); c[bot.DeliveryUndelivered] != 1 || c[bot.DeliveryDelivered] != 0 {
		t.Errorf("counts = %v", c)
	}
	if n := f.broadcast(b.ID).FailedByCode[0]; n != 1 {
		t.Errorf("failure counted %d times, want once", n)
	}
}

func TestWhatsAppFailedByCallbackFallsBackToSMSOnce(t *testing.T) {
	f := newRelayFixture(t, true)
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	waSID := f.delivery(b.ID, "lea").Attempts[0].SID
	failed := bot.StatusUpdate{SID: waSID, Status: bot.DeliveryFailed, ErrorCode: 63016, Failure: bot.FailureChannelUnreachable, Provider: "Twilio", Channel: bot.ChannelWhatsApp, To: phLea}

	// when: the callback reports 63016, twice (Twilio re-delivers)
	for range 2 {
		if err := f.relay.HandleStatus(f.ctx, failed); err != nil {
			t.Fatal(err)
		}
	}
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := f.relay.HandleStatus(f.ctx, failed); err != nil { // and once more, late
		t.Fatal(err)
	}
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}

	// then
	sends := f.msgr.sendsTo(phLea)
	if len(sends) != 2 || sends[1].Channel != bot.ChannelSMS {
		t.Fatalf("lea got %d messages %+v, want WhatsApp then exactly one SMS", len(sends), sends)
	}
	d := f.delivery(b.ID, "lea")
	if !d.FellBack || d.State != bot.DeliveryQueued || !slices.Equal(states(d), []string{"whatsapp:failed:63016", "sms:queued"}) {
		t.Fatalf("delivery: fellBack %v state %s attempts %v", d.FellBack, d.State, states(d))
	}
	// The SMS failing too is final: no third attempt.
	smsSID := d.Attempts[1].SID
	if err := f.relay.HandleStatus(f.ctx, bot.StatusUpdate{SID: smsSID, Status: bot.DeliveryUndelivered, ErrorCode: 30003, Failure: bot.FailurePermanent, Provider: "Twilio"}); err != nil {
		t.Fatal(err)
	}
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := len(f.msgr.sendsTo(phLea)); n != 2 {
		t.Errorf("lea got %d messages, want 2", n)
	}
	if d := f.delivery(b.ID, "lea"); d.State != bot.DeliveryUndelivered {
		t.Errorf("state = %s, want undelivered", d.State)
	}
	if n := f.broadcast(b.ID).FailedByCode[30003]; n != 1 {
		t.Errorf("FailedByCode[30003] = %d, want 1", n)
	}
}

func TestCrashReconciliation(t *testing.T) {
	tests := []struct {
		name         string
		startedAgo   time.Duration
		atProvider   bool
		wantSends    int
		wantErr      bool
		wantSID      string
		wantAttempts []string
	}{
		{"message at the provider: recorded, not resent", time.Hour, true, 0, false, "SMexisting", []string{"sms:sent"}},
		{"no message at the provider: sent", time.Hour, false, 1, false, "", []string{"sms:failed", "sms:queued"}},
		{"attempt still young: left to its worker", time.Second, false, 0, true, "", []string{"sms:sending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given: omar's job was being sent when its worker died
			f := newRelayFixture(t, true)
			b := f.approved("B-7-1", []string{"it-ops"}, false)
			f.start(b)
			began := f.clock.Now().Add(-tt.startedAgo)
			if _, err := f.store.UpdateDelivery(f.ctx, b.ID, "omar", func(d *bot.Delivery) error {
				d.State = bot.DeliverySending
				d.Attempts = append(d.Attempts, bot.Attempt{Channel: bot.ChannelSMS, State: bot.DeliverySending, At: began})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if tt.atProvider {
				f.msgr.existing[key(bot.ChannelSMS, phOmar)] = bot.SendResult{SID: "SMexisting", Status: bot.DeliverySent}
			}
			// when
			errs := f.drain()
			// then
			if (len(errs) > 0) != tt.wantErr {
				t.Errorf("errors = %v, want error: %v", errs, tt.wantErr)
			}
			if n := len(f.msgr.sendsTo(phOmar)); n != tt.wantSends {
				t.Errorf("sent to omar %d times, want %d", n, tt.wantSends)
			}
			d := f.delivery(b.ID, "omar")
			if !slices.Equal(states(d), tt.wantAttempts) {
				t.Errorf("attempts = %v, want %v", states(d), tt.wantAttempts)
			}
			if tt.wantSID != "" {
				if d.Attempts[0].SID != tt.wantSID {
					t.Errorf("SID = %q, want %q", d.Attempts[0].SID, tt.wantSID)
				}
				if got, err := f.store.DeliveryBySID(f.ctx, tt.wantSID); err != nil || got.RecipientID != "omar" {
					t.Errorf("SID not indexed: %v %v", got.RecipientID, err)
				}
			}
		})
	}
}

func TestProgressIsThrottledAndTheSummaryPostedOnce(t *testing.T) {
	// given: two replicas working the same broadcast, a clock standing still
	f := newRelayFixture(t, true)
	replica := &relay.Relay{
		Planner: f.relay.Planner, Incidents: f.store, Broadcasts: f.store, Phones: f.store, Queue: f.store,
		Limiter: f.store, Messenger: f.msgr, Chat: f.chat, Audit: f.store, Dedup: f.store, Clock: f.clock,
		Settings: f.relay.Settings,
	}
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)

	// when: all four jobs finish within the same second on two replicas
	if errs := drainWith(t, f.ctx, f.store, f.relay, replica); len(errs) > 0 {
		t.Fatal(errs)
	}

	// then: at most one progress edit in that second, then the summary
	p := f.progress(b.ID)
	var summaries, edits int
	for _, m := range p.Updates {
		if strings.HasPrefix(m.Title, "Relayed ") {
			summaries++
		} else {
			edits++
		}
	}
	if summaries != 1 || edits > 1 {
		t.Fatalf("updates: %d summaries, %d progress edits; want 1 and at most 1", summaries, edits)
	}
	final := p.Latest()
	if final.Title != "Relayed B-7-1 to 4 recipients" || !strings.Contains(final.Context, "4 of 4 accepted") {
		t.Errorf("final message:\n%s", final.PlainText())
	}
	if st := f.broadcast(b.ID).State; st != bot.BroadcastDone {
		t.Errorf("broadcast state = %s, want done", st)
	}
	trail, _ := f.store.AuditTrail(f.ctx, "INC-7")
	if done := countAction(trail, "broadcast.done"); done != 1 {
		t.Errorf("broadcast.done audited %d times, want 1", done)
	}

	// Receipts after the end refresh the summary, throttled per second.
	before := len(f.progress(b.ID).Updates)
	sid := f.delivery(b.ID, "omar").Attempts[0].SID
	f.clock.Advance(time.Second)
	for _, s := range []bot.DeliveryState{bot.DeliverySent, bot.DeliveryDelivered} {
		if err := replica.HandleStatus(f.ctx, bot.StatusUpdate{SID: sid, Status: s}); err != nil {
			t.Fatal(err)
		}
	}
	after := f.progress(b.ID)
	if len(after.Updates) != before+1 {
		t.Fatalf("receipts within one second made %d edits, want 1", len(after.Updates)-before)
	}
	f.clock.Advance(time.Second)
	if err := f.relay.HandleStatus(f.ctx, bot.StatusUpdate{SID: sid, Status: bot.DeliveryRead}); err != nil {
		t.Fatal(err)
	}
	if got := f.progress(b.ID).Latest(); !strings.Contains(got.PlainText(), "Read: 1") {
		t.Errorf("summary not refreshed with the receipt:\n%s", got.PlainText())
	}
	if trail, _ := f.store.AuditTrail(f.ctx, "INC-7"); countAction(trail, "broadcast.done") != 1 {
		t.Error("broadcast.done audited again after receipts")
	}
}

func countAction(es []bot.AuditEntry, action bot.AuditAction) int {
	n := 0
	for _, e := range es {
		if e.Action == action {
			n++
		}
	}
	return n
}

func TestEveryoneOptedOutIsDoneAtOnce(t *testing.T) {
	f := newRelayFixture(t, true)
	if err := f.store.SetOptOut(f.ctx, phDana, true); err != nil {
		t.Fatal(err)
	}
	b := f.approved("B-7-1", []string{"executives"}, false)
	f.start(b)
	if st := f.broadcast(b.ID).State; st != bot.BroadcastDone {
		t.Errorf("state = %s, want done", st)
	}
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	c, err := f.relay.Wait(ctx, b.ID, time.Millisecond, nil)
	if err != nil || c[bot.DeliveryOptedOut] != 1 {
		t.Errorf("Wait = %v, %v", c, err)
	}
}

func TestWaitReturnsWhenEverythingSettled(t *testing.T) {
	f := newRelayFixture(t, true)
	f.msgr.failNext(bot.ChannelSMS, phOmar, &bot.ProviderError{Kind: bot.FailurePermanent, Provider: "Twilio", Code: 21211, HTTPStatus: 400})
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)

	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	workers := make(chan error, 1)
	wctx, stop := context.WithCancel(ctx)
	go func() {
		workers <- f.relay.Run(wctx, relay.WorkerConfig{Consumer: "w1", Concurrency: 2, Block: 10 * time.Millisecond})
	}()
	var polls int
	c, err := f.relay.Wait(ctx, b.ID, 5*time.Millisecond, func(bot.Counts) { polls++ })
	stop()
	if werr := <-workers; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c[bot.DeliveryQueued] != 3 || relay.FailedCount(c) != 1 || polls == 0 {
		t.Errorf("counts = %v after %d polls", c, polls)
	}
	if s := relay.Summary(f.broadcast(b.ID), c); !strings.Contains(s, "3 of 4 accepted") || !strings.Contains(s, "refused or undeliverable ×1; Twilio 21211 ×1") {
		t.Errorf("summary = %q", s)
	}
	if n := f.store.Pending(f.relay.Topic()); n != 0 {
		t.Errorf("%d jobs left unacked", n)
	}
}

// noWaitLimiter hands out every token at once and ignores pauses, so a test
// can look at the pauses asked for without waiting them out.
type noWaitLimiter struct{}

func (noWaitLimiter) Reserve(context.Context, string, float64, int) (time.Duration, error) {
	return 0, nil
}

func (noWaitLimiter) Pause(context.Context, string, time.Duration) error { return nil }

func TestSharedSenderPausesAreBounded(t *testing.T) {
	tests := []struct {
		name      string
		err       *bot.ProviderError
		wantPause time.Duration
	}{
		{"429 asking for an hour holds the sender 2 minutes at most",
			&bot.ProviderError{Kind: bot.FailureRateLimited, Provider: "Twilio", Code: 20429, HTTPStatus: 429, RetryAfter: time.Hour}, 2 * time.Minute},
		{"one 503 slows the sender a second at most, not for the whole backoff",
			&bot.ProviderError{Kind: bot.FailureTemporary, Provider: "Twilio", HTTPStatus: 503}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRelayFixture(t, true)
			f.limiter.RateLimiter = noWaitLimiter{}
			f.relay.Settings.SMSPerSecond = 10
			f.relay.Settings.BaseBackoff, f.relay.Settings.MaxBackoff = time.Hour, time.Hour
			f.msgr.failNext(bot.ChannelSMS, phOmar, tt.err)
			f.start(f.approved("B-7-9", []string{"it-ops"}, false))
			_ = f.drain()
			pauses := f.limiter.pauses["sender:sms"]
			if len(pauses) != 1 || pauses[0] > tt.wantPause || pauses[0] <= 0 {
				t.Fatalf("pauses = %v, want one of at most %v", pauses, tt.wantPause)
			}
		})
	}
}

// countingLimiter counts reservations per key and never makes anyone wait.
type countingLimiter struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *countingLimiter) Reserve(_ context.Context, key string, _ float64, _ int) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[key]++
	return 0, nil
}

func (l *countingLimiter) Pause(context.Context, string, time.Duration) error { return nil }

func TestLongSMSTakesOneTokenPerSegment(t *testing.T) {
	f := newRelayFixture(t, true)
	counter := &countingLimiter{}
	f.relay.Limiter = counter
	f.relay.Settings.SMSPerSecond = 10
	b := f.approved("B-7-3", []string{"it-ops"}, true) // SMS only: five people by SMS
	b.Draft.Fields["next_update"] = strings.Repeat("after the database failover completes ", 6)
	if err := f.store.SaveBroadcast(f.ctx, b); err != nil {
		t.Fatal(err)
	}
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	sent := f.msgr.sendsTo(phOmar)
	if len(sent) != 1 {
		t.Fatalf("omar got %d messages", len(sent))
	}
	segments := bot.CountSMS(sent[0].Body).Segments
	people := f.msgr.total()
	if segments < 2 || counter.n["sender:sms"] != segments*people {
		t.Errorf("%d tokens for %d people of %d segments, want one per segment", counter.n["sender:sms"], people, segments)
	}
}
