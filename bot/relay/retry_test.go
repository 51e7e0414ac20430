package relay_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
)

// adaptingLimiter never makes anyone wait and records Slow and Pause calls.
type adaptingLimiter struct {
	mu     sync.Mutex
	slows  int
	pauses []time.Duration
}

var _ bot.RateAdapter = (*adaptingLimiter)(nil)

func (l *adaptingLimiter) Reserve(context.Context, string, float64, int) (time.Duration, error) {
	return 0, nil
}

func (l *adaptingLimiter) Pause(_ context.Context, _ string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauses = append(l.pauses, d)
	return nil
}

func (l *adaptingLimiter) Slow(context.Context, string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.slows++
	return nil
}

// Issue 12: twenty "too many requests" in a row are no reason to give up on
// a person; without a Retry-After the shared rate is lowered, not paused.
func TestTooManyRequestsNeverFailsWhileTheUpdateIsCurrent(t *testing.T) {
	f := newRelayFixture(t, true)
	lim := &adaptingLimiter{}
	f.relay.Limiter = lim
	f.relay.Settings.SMSPerSecond = 10
	tooMany := &bot.ProviderError{Kind: bot.FailureRateLimited, Provider: "Twilio", Code: 20429, HTTPStatus: 429}
	errs := make([]error, 20)
	for i := range errs {
		errs[i] = tooMany
	}
	f.msgr.failNext(bot.ChannelSMS, phOmar, errs...)
	b := f.approved("B-7-1", []string{"it-ops"}, false)

	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}

	d := f.delivery(b.ID, "omar")
	if d.State != bot.DeliveryQueued || len(d.Attempts) != 21 {
		t.Fatalf("omar: %s after %d attempts, want queued after 21", d.State, len(d.Attempts))
	}
	if d.Attempts[0].Failure != bot.FailureRateLimited {
		t.Errorf("first attempt failure = %q, want rate limited", d.Attempts[0].Failure)
	}
	if lim.slows != 20 || len(lim.pauses) != 0 {
		t.Errorf("slowed %d times, paused %v; want 20 slows and no pause", lim.slows, lim.pauses)
	}
}

func TestRetryAfterIsHonouredWithAPause(t *testing.T) {
	f := newRelayFixture(t, true)
	lim := &adaptingLimiter{}
	f.relay.Limiter = lim
	f.relay.Settings.SMSPerSecond = 10
	f.msgr.failNext(bot.ChannelSMS, phOmar, &bot.ProviderError{Kind: bot.FailureRateLimited, Code: 20429, RetryAfter: 3 * time.Second})
	b := f.approved("B-7-1", []string{"it-ops"}, false)

	f.start(b)
	_ = f.drain()

	if len(lim.pauses) != 1 || lim.pauses[0] != 3*time.Second || lim.slows != 0 {
		t.Errorf("pauses %v, slows %d; want one pause of 3s", lim.pauses, lim.slows)
	}
}

// A retry that must wait goes back to the queue with its due time: no
// worker sleeps through it, and it comes up when due.
func TestALongRetryWaitGoesBackToTheQueue(t *testing.T) {
	f := newRelayFixture(t, true)
	f.relay.Settings.BaseBackoff, f.relay.Settings.MaxBackoff = 10*time.Second, 10*time.Second
	f.msgr.failNext(bot.ChannelSMS, phOmar, &bot.ProviderError{Kind: bot.FailureRateLimited, Code: 20429, RetryAfter: 5 * time.Second})
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)

	began := time.Now()
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if time.Since(began) > 2*time.Second {
		t.Fatalf("drain took %v: a worker slept through the wait", time.Since(began))
	}
	if d := f.delivery(b.ID, "omar"); d.State != bot.DeliveryPending {
		t.Fatalf("omar is %s while waiting, want pending", d.State)
	}
	if n := f.store.Deferred(f.relay.Topic()); n != 1 {
		t.Fatalf("%d deferred jobs, want 1", n)
	}
	progress := f.progress(b.ID).Latest().PlainText()
	if want := relay.RetryUntil(f.clock.Now().Add(30 * time.Minute)); !strings.Contains(progress, want) {
		t.Errorf("progress message does not say %q:\n%s", want, progress)
	}

	// when: the wait is over
	f.clock.Advance(10 * time.Second)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if d := f.delivery(b.ID, "omar"); d.State != bot.DeliveryQueued {
		t.Errorf("omar is %s after the wait, want queued", d.State)
	}
	if n := len(f.msgr.sendsTo(phOmar)); n != 2 {
		t.Errorf("omar: %d sends, want 2", n)
	}
}

// Issue 12: a callback names its delivery, so one that beats the send's own
// answer (before the SID is indexed) still finds it and attaches its SID.
func TestCallbackBeforeTheSendAnswersFindsItsDeliveryByItsIDs(t *testing.T) {
	f := newRelayFixture(t, true)
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	var early error
	f.msgr.onSend = func(m bot.Outbound) {
		if m.To != phOmar {
			return
		}
		sid := fmt.Sprintf("SM%032d", f.msgr.seq+1) // the SID this send will answer
		early = f.relay.HandleStatus(f.ctx, bot.StatusUpdate{SID: sid, Status: bot.DeliveryDelivered, BroadcastID: m.BroadcastID, RecipientID: m.RecipientID})
	}
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if early != nil {
		t.Fatal(early)
	}
	d := f.delivery(b.ID, "omar")
	if d.State != bot.DeliveryDelivered || d.Attempts[0].SID == "" {
		t.Errorf("omar: %s, attempts %+v; want delivered with the SID attached", d.State, d.Attempts)
	}
}
