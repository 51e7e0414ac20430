package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

// reconcileSkew widens the window in which a message found at the provider
// counts as the interrupted attempt's: clocks of replicas and provider differ.
const reconcileSkew = 2 * time.Second

// HandleJob works one relay job: it brings the job's delivery to the
// provider (or to a final failure). It is idempotent: a delivery that has a
// SID or a final state is left alone, so re-handed jobs never send twice.
func (r *Relay) HandleJob(ctx context.Context, j bot.Job) error { return r.handle(ctx, j, "") }

// handle is HandleJob for the queue consumer `consumer` ("" outside Run),
// which its attempts record (see Attempt.By).
func (r *Relay) handle(ctx context.Context, j bot.Job, consumer string) error {
	var job relayJob
	if err := json.Unmarshal(j.Payload, &job); err != nil || job.Broadcast == "" || job.Recipient == "" {
		// Retrying cannot fix a payload; drop it loudly.
		r.report(ctx, fmt.Errorf("dropping relay job %s with a malformed payload %q", j.ID, j.Payload))
		return nil
	}
	err := r.deliver(ctx, job.Broadcast, job.Recipient, consumer)
	if ctx.Err() == nil && r.touched(job.Broadcast) {
		r.refresh(ctx, job.Broadcast)
	}
	return err
}

func (r *Relay) deliver(ctx context.Context, bid, rid, consumer string) error {
	var err error
	d, ok := r.takeFetched(bid, rid)
	if !ok {
		d, err = r.Broadcasts.Delivery(ctx, bid, rid)
	}
	if errors.Is(err, bot.ErrNotFound) {
		r.report(ctx, fmt.Errorf("dropping relay job for %s/%s: %w", bid, rid, err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading delivery %s/%s: %w", bid, rid, err)
	}
	// ours is set while the delivery is "sending" because of this handler's
	// own attempt whose outcome is unknown (the provider did not answer, and
	// asking it failed too): no other worker is in that call, so it can be
	// reconciled without waiting out SendTimeout.
	ours := false
	for {
		var wait time.Duration
		switch d.State {
		case bot.DeliveryPending:
			d, wait, err = r.attempt(ctx, d, consumer)
			ours = d.State == bot.DeliverySending
		case bot.DeliverySending:
			d, err = r.reconcile(ctx, d, ours)
			ours = false
		default:
			return nil // with the provider already, or final
		}
		if err != nil {
			return err
		}
		if wait >= r.Settings.deferAfter() && d.State == bot.DeliveryPending {
			if q, ok := r.Queue.(bot.Deferrer); ok {
				// Wait in the queue, not in a worker slot: the slot serves
				// someone else meanwhile. This job is done once the
				// deferred one is stored; a crash before that leaves this
				// one to be reclaimed.
				if err := q.Defer(ctx, r.Topic(), wait, jobPayload(bid, rid)); err != nil {
					return fmt.Errorf("deferring delivery %s/%s by %s: %w", bid, rid, wait, err)
				}
				return nil
			}
		}
		if err := bot.Sleep(ctx, wait); err != nil {
			return err // stopping; the job stays pending and the delivery in a safe state
		}
	}
}

// attempt makes one try to send a pending delivery. It returns the delivery
// as it now is and, when it is pending again, how long to wait first.
func (r *Relay) attempt(ctx context.Context, d bot.Delivery, consumer string) (bot.Delivery, time.Duration, error) {
	c, err := r.content(ctx, d.BroadcastID)
	if err != nil {
		return d, 0, err
	}
	text, err := c.render(d.Locale)
	if err != nil {
		return d, 0, err
	}
	out := bot.Outbound{To: d.Phone, Channel: d.Channel, Body: text.Body, BroadcastID: d.BroadcastID, RecipientID: d.RecipientID}
	if d.Channel == bot.ChannelWhatsApp {
		// The window is checked now, not when planned: it may have opened or
		// closed while the job waited.
		open, err := r.Phones.OpenSessions(ctx, []string{d.Phone}, r.now())
		if err != nil {
			return d, 0, fmt.Errorf("checking the WhatsApp window of %s: %w", bot.MaskPhone(d.Phone), err)
		}
		if !open[d.Phone] {
			if text.ContentSID == "" {
				d, err = r.fallBack(ctx, d, -1, failure{kind: bot.FailureChannelUnreachable, reason: "outside the WhatsApp session window and the template has no WhatsApp content"})
				return d, 0, err
			}
			out.Body, out.ContentSID, out.ContentVariables = "", text.ContentSID, text.ContentVariables
		}
	}
	if err := r.takeToken(ctx, out); err != nil {
		return d, 0, err
	}
	// A slot in the sender's window before "sending" is written: waiting
	// for it is not part of the attempt.
	win := r.senderWindow(r.Messenger.SenderKey(d.Channel))
	if err := win.acquire(ctx); err != nil {
		return d, 0, err
	}
	released := false
	defer func() {
		if !released {
			win.release(r.now(), false, false)
		}
	}()

	// Persist the attempt before calling the provider: a crash during the
	// call leaves "sending" with a start time, which tells whoever picks the
	// job up to reconcile before sending again.
	started := r.now()
	next, err := r.updateDelivery(ctx, d, func(x *bot.Delivery) error {
		if x.State != bot.DeliveryPending || x.Channel != d.Channel || x.FellBack != d.FellBack {
			// Moved on, or fell back to SMS since d was read: out was built
			// for d, so look again rather than send it.
			return errNotPending
		}
		x.State = bot.DeliverySending
		x.Attempts = append(x.Attempts, bot.Attempt{Channel: x.Channel, State: bot.DeliverySending, At: started, By: consumer})
		x.UpdatedAt = started
		return nil
	})
	if errors.Is(err, errNotPending) {
		// Someone else got there first (a duplicate job); look again.
		next, err = r.Broadcasts.Delivery(ctx, d.BroadcastID, d.RecipientID)
		return next, 0, err
	}
	if err != nil {
		return d, 0, fmt.Errorf("marking delivery %s/%s as sending: %w", d.BroadcastID, d.RecipientID, err)
	}
	d = next

	sendCtx, cancel := context.WithTimeout(ctx, r.Settings.sendTimeout())
	res, sendErr := r.Messenger.Send(sendCtx, out)
	cancel()
	var pe *bot.ProviderError
	refused := errors.As(sendErr, &pe) && pe.Failure() == bot.FailureRateLimited && pe.RetryAfter == 0
	win.release(r.now(), sendErr == nil, refused)
	released = true
	if sendErr == nil {
		d, err = r.recordSent(ctx, d, res)
		return d, 0, err
	}
	if ctx.Err() != nil {
		// Stopped mid-call: whether the provider took the message is
		// unknown. The delivery stays "sending" for the next worker to
		// reconcile.
		return d, 0, ctx.Err()
	}
	if pe == nil {
		// No provider answer (network, timeout): the message may or may not
		// exist at the provider.
		pe = &bot.ProviderError{Kind: bot.FailureUnknown, Message: sendErr.Error()}
	}
	if r.OnOutcome != nil {
		r.OnOutcome(d.Channel, bot.DeliveryFailed, pe.Code)
	}
	// The adapter classified the refusal; the kind alone decides.
	switch kind := pe.Failure(); {
	case kind.Retry():
		return r.retryLater(ctx, d, pe)
	case kind == bot.FailureChannelUnreachable && d.Channel == bot.ChannelWhatsApp && !d.FellBack:
		d, err = r.fallBack(ctx, d, len(d.Attempts)-1, failureOf(pe))
		return d, 0, err
	default:
		d, err = r.fail(ctx, d, failureOf(pe))
		return d, 0, err
	}
}

// takeToken waits until the message's sender may send it, in the bucket
// shared by all replicas. An SMS takes one token per segment: carriers and
// Twilio count a long code's throughput in segments, so a 3-segment update
// costs three times the rate of a short one.
func (r *Relay) takeToken(ctx context.Context, m bot.Outbound) error {
	ch := m.Channel
	rate := r.Settings.rate(ch)
	if r.Limiter == nil || rate < 0 {
		return nil
	}
	tokens := 1
	if ch == bot.ChannelSMS {
		tokens = max(1, bot.CountSMS(m.Body).Segments)
	}
	key := r.Messenger.SenderKey(ch)
	if batch, ok := r.Limiter.(bot.BatchReserver); ok && tokens > 1 {
		// All segments' tokens in one round trip.
		wait, err := batch.ReserveN(ctx, key, rate, r.Settings.burst(), tokens)
		if err != nil {
			return fmt.Errorf("reserving a %s send of %d segments: %w", ch.Label(), tokens, err)
		}
		return bot.Sleep(ctx, wait)
	}
	var wait time.Duration
	for range tokens {
		w, err := r.Limiter.Reserve(ctx, key, rate, r.Settings.burst())
		if err != nil {
			return fmt.Errorf("reserving a %s send: %w", ch.Label(), err)
		}
		wait = max(wait, w)
	}
	return bot.Sleep(ctx, wait)
}

// recordSent records the provider's SID on the delivery's current attempt.
func (r *Relay) recordSent(ctx context.Context, d bot.Delivery, res bot.SendResult) (bot.Delivery, error) {
	// Index first: a status callback without the delivery's ids may arrive
	// before the delivery update and must find its delivery (HandleStatus
	// attaches the SID itself). A SentRecorder sends both in one round trip.
	rec, together := r.Broadcasts.(bot.SentRecorder)
	together = together && d.StoreRev != ""
	if !together {
		if err := r.Broadcasts.IndexSID(ctx, res.SID, d.BroadcastID, d.RecipientID); err != nil {
			return d, fmt.Errorf("indexing message %s: %w", res.SID, err)
		}
	}
	state := res.Status
	if state.Rank() < bot.DeliveryQueued.Rank() || state.Final() {
		state = bot.DeliveryQueued
	}
	now := r.now()
	update := r.updateDelivery
	if together {
		update = func(ctx context.Context, d bot.Delivery, fn func(*bot.Delivery) error) (bot.Delivery, error) {
			return rec.IndexSIDAndUpdate(ctx, res.SID, d, fn)
		}
	}
	next, err := update(ctx, d, func(x *bot.Delivery) error {
		i := attemptWithSID(x, res.SID)
		if i < 0 {
			i = currentSending(x)
		}
		if i < 0 {
			return errNoChange
		}
		a := &x.Attempts[i]
		a.SID = res.SID
		if state.Rank() > a.State.Rank() {
			a.State = state
		}
		if state.Rank() > x.State.Rank() {
			x.State = state
		}
		x.UpdatedAt = now
		return nil
	})
	if errors.Is(err, errNoChange) {
		return r.Broadcasts.Delivery(ctx, d.BroadcastID, d.RecipientID)
	}
	if err != nil {
		return d, fmt.Errorf("recording message %s on delivery %s/%s: %w", res.SID, d.BroadcastID, d.RecipientID, err)
	}
	if r.OnOutcome != nil {
		r.OnOutcome(next.Channel, bot.DeliveryQueued, 0)
	}
	return next, nil
}

func attemptWithSID(d *bot.Delivery, sid string) int {
	for i := range d.Attempts {
		if d.Attempts[i].SID == sid {
			return i
		}
	}
	return -1
}

// currentSending is the index of the attempt in flight, or -1.
func currentSending(d *bot.Delivery) int {
	i := len(d.Attempts) - 1
	if i >= 0 && d.Attempts[i].State == bot.DeliverySending && d.Attempts[i].SID == "" {
		return i
	}
	return -1
}

func attemptsOn(d bot.Delivery, ch bot.Channel) int {
	n := 0
	for _, a := range d.Attempts {
		if a.Channel == ch {
			n++
		}
	}
	return n
}
