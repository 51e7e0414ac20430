package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Twilio error codes the relay acts on.
const (
	CodeUnsubscribed       = 21610 // the number sent STOP to the sender: never retry
	CodeOutsideWindow      = 63016 // WhatsApp free-form outside the 24-hour window
	CodeChannelNoToAddress = 63003 // no WhatsApp account behind the number
	CodeInvalidRecipient   = 63024 // WhatsApp: invalid message recipient / cannot receive
	CodeExperiment         = 63032 // WhatsApp: Meta withholds business messages from this user
	CodeMetaWithheld       = 63049 // WhatsApp: Meta chose not to deliver this message
)

// WhatsAppUnreachable reports whether a WhatsApp error means the person
// cannot get this message on WhatsApp at all, so SMS should carry it.
func WhatsAppUnreachable(code int) bool {
	switch code {
	case CodeOutsideWindow, CodeChannelNoToAddress, CodeInvalidRecipient, CodeExperiment, CodeMetaWithheld:
		return true
	}
	return false
}

// reconcileSkew widens the window in which a message found at the provider
// counts as the interrupted attempt's: clocks of replicas and provider differ.
const reconcileSkew = 2 * time.Second

// HandleJob works one relay job: it brings the job's delivery to the
// provider (or to a final failure). It is idempotent: a delivery that has a
// SID or a final state is left alone, so re-handed jobs never send twice.
func (r *Relay) HandleJob(ctx context.Context, j Job) error {
	var job relayJob
	if err := json.Unmarshal(j.Payload, &job); err != nil || job.Broadcast == "" || job.Recipient == "" {
		// Retrying cannot fix a payload; drop it loudly.
		r.report(ctx, fmt.Errorf("dropping relay job %s with a malformed payload %q", j.ID, j.Payload))
		return nil
	}
	err := r.deliver(ctx, job.Broadcast, job.Recipient)
	if ctx.Err() == nil && r.touched(job.Broadcast) {
		r.refresh(ctx, job.Broadcast)
	}
	return err
}

func (r *Relay) deliver(ctx context.Context, bid, rid string) error {
	d, err := r.Broadcasts.Delivery(ctx, bid, rid)
	if errors.Is(err, ErrNotFound) {
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
		case DeliveryPending:
			d, wait, err = r.attempt(ctx, d)
			ours = d.State == DeliverySending
		case DeliverySending:
			d, err = r.reconcile(ctx, d, ours)
			ours = false
		default:
			return nil // with the provider already, or final
		}
		if err != nil {
			return err
		}
		if err := Sleep(ctx, wait); err != nil {
			return err // stopping; the job stays pending and the delivery in a safe state
		}
	}
}

// attempt makes one try to send a pending delivery. It returns the delivery
// as it now is and, when it is pending again, how long to wait first.
func (r *Relay) attempt(ctx context.Context, d Delivery) (Delivery, time.Duration, error) {
	c, err := r.content(ctx, d.BroadcastID)
	if err != nil {
		return d, 0, err
	}
	text, err := c.render(d.Locale)
	if err != nil {
		return d, 0, err
	}
	out := Outbound{To: d.Phone, Channel: d.Channel, Body: text.Body}
	if d.Channel == ChannelWhatsApp {
		// The window is checked now, not when planned: it may have opened or
		// closed while the job waited.
		open, err := r.Phones.OpenSessions(ctx, []string{d.Phone}, r.now())
		if err != nil {
			return d, 0, fmt.Errorf("checking the WhatsApp window of %s: %w", MaskPhone(d.Phone), err)
		}
		if !open[d.Phone] {
			if text.ContentSID == "" {
				d, err = r.fallBack(ctx, d, -1, 0, "outside the WhatsApp session window and the template has no WhatsApp content")
				return d, 0, err
			}
			out.Body, out.ContentSID, out.ContentVariables = "", text.ContentSID, text.ContentVariables
		}
	}
	if err := r.takeToken(ctx, out); err != nil {
		return d, 0, err
	}

	// Persist the attempt before calling the provider: a crash during the
	// call leaves "sending" with a start time, which tells whoever picks the
	// job up to reconcile before sending again.
	started := r.now()
	next, err := r.Broadcasts.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, func(x *Delivery) error {
		if x.State != DeliveryPending {
			return errNotPending
		}
		x.State = DeliverySending
		x.Attempts = append(x.Attempts, Attempt{Channel: x.Channel, State: DeliverySending, At: started})
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
	var pe *ProviderError
	if !errors.As(sendErr, &pe) {
		// No provider answer (network, timeout): the message may or may not
		// exist at the provider.
		pe = &ProviderError{Message: sendErr.Error()}
	}
	if r.OnOutcome != nil {
		r.OnOutcome(d.Channel, DeliveryFailed, pe.Code)
	}
	switch {
	case pe.Temporary():
		return r.retryLater(ctx, d, pe)
	case d.Channel == ChannelWhatsApp && !d.FellBack && WhatsAppUnreachable(pe.Code):
		d, err = r.fallBack(ctx, d, len(d.Attempts)-1, pe.Code, pe.Message)
		return d, 0, err
	default:
		d, err = r.fail(ctx, d, pe.Code, pe.Message)
		return d, 0, err
	}
}

// takeToken waits until the message's sender may send it, in the bucket
// shared by all replicas. An SMS takes one token per segment: carriers and
// Twilio count a long code's throughput in segments, so a 3-segment update
// costs three times the rate of a short one.
func (r *Relay) takeToken(ctx context.Context, m Outbound) error {
	ch := m.Channel
	rate := r.Settings.rate(ch)
	if r.Limiter == nil || rate < 0 {
		return nil
	}
	tokens := 1
	if ch == ChannelSMS {
		tokens = max(1, CountSMS(m.Body).Segments)
	}
	var wait time.Duration
	for range tokens {
		w, err := r.Limiter.Reserve(ctx, r.Messenger.SenderKey(ch), rate, r.Settings.burst())
		if err != nil {
			return fmt.Errorf("reserving a %s send: %w", ch.Label(), err)
		}
		wait = max(wait, w)
	}
	return Sleep(ctx, wait)
}

// recordSent records the provider's SID on the delivery's current attempt.
func (r *Relay) recordSent(ctx context.Context, d Delivery, res SendResult) (Delivery, error) {
	// Index first: a status callback may arrive before the delivery update
	// and must find its delivery (HandleStatus attaches the SID itself).
	if err := r.Broadcasts.IndexSID(ctx, res.SID, d.BroadcastID, d.RecipientID); err != nil {
		return d, fmt.Errorf("indexing message %s: %w", res.SID, err)
	}
	state := res.Status
	if state.Rank() < DeliveryQueued.Rank() || state.Final() {
		state = DeliveryQueued
	}
	now := r.now()
	next, err := r.Broadcasts.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, func(x *Delivery) error {
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
		r.OnOutcome(next.Channel, DeliveryQueued, 0)
	}
	return next, nil
}

func attemptWithSID(d *Delivery, sid string) int {
	for i := range d.Attempts {
		if d.Attempts[i].SID == sid {
			return i
		}
	}
	return -1
}

// currentSending is the index of the attempt in flight, or -1.
func currentSending(d *Delivery) int {
	i := len(d.Attempts) - 1
	if i >= 0 && d.Attempts[i].State == DeliverySending && d.Attempts[i].SID == "" {
		return i
	}
	return -1
}

func attemptsOn(d Delivery, ch Channel) int {
	n := 0
	for _, a := range d.Attempts {
		if a.Channel == ch {
			n++
		}
	}
	return n
}

// retryLater handles a temporary refusal: slow the sender for everyone,
// then try again after a jittered backoff, until MaxAttempts.
func (r *Relay) retryLater(ctx context.Context, d Delivery, pe *ProviderError) (Delivery, time.Duration, error) {
	if pe.HTTPStatus == 0 || pe.HTTPStatus >= 500 {
		// The provider may have created the message before failing to
		// answer; look before sending it again.
		next, found, err := r.findSent(ctx, d)
		if found || (err != nil && ctx.Err() != nil) {
			return next, 0, err
		}
		if err != nil {
			// Cannot tell: stay "sending" and look again after a pause.
			r.report(ctx, err)
			return d, r.Settings.backoff().Delay(attemptsOn(d, d.Channel) - 1), nil
		}
	}
	n := attemptsOn(d, d.Channel)
	delay := r.Settings.backoff().Delay(n - 1)
	if pe.RetryAfter > delay {
		delay = min(pe.RetryAfter, maxProviderPause)
	}
	// The provider's "too many requests" holds the shared sender for every
	// replica as long as it asks (capped); a 5xx or no answer only slows it
	// briefly, so one bad answer cannot stall the whole broadcast.
	pause := delay
	if !rateLimited(pe) {
		pause = min(delay, maxServerErrorPause)
	}
	if r.Limiter != nil && r.Settings.rate(d.Channel) >= 0 {
		if err := r.Limiter.Pause(ctx, r.Messenger.SenderKey(d.Channel), pause); err != nil {
			r.report(ctx, fmt.Errorf("pausing the %s sender: %w", d.Channel.Label(), err))
		}
	}
	if n >= r.Settings.maxAttempts() {
		next, err := r.fail(ctx, d, pe.Code, fmt.Sprintf("gave up after %d attempts: %s", n, pe.Error()))
		return next, 0, err
	}
	now := r.now()
	next, err := r.Broadcasts.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, func(x *Delivery) error {
		i := currentSending(x)
		if i < 0 {
			return errNotPending
		}
		x.Attempts[i].State, x.Attempts[i].ErrorCode, x.Attempts[i].Error = DeliveryFailed, pe.Code, pe.Error()
		x.State, x.UpdatedAt = DeliveryPending, now
		return nil
	})
	if errors.Is(err, errNotPending) {
		next, err = r.Broadcasts.Delivery(ctx, d.BroadcastID, d.RecipientID)
		return next, 0, err
	}
	if err != nil {
		return d, 0, fmt.Errorf("recording a temporary failure of %s/%s: %w", d.BroadcastID, d.RecipientID, err)
	}
	return next, delay, nil
}

// findSent asks the provider whether the current attempt's message exists
// after all, and records it if so.
func (r *Relay) findSent(ctx context.Context, d Delivery) (Delivery, bool, error) {
	finder, ok := r.Messenger.(MessageFinder)
	i := len(d.Attempts) - 1
	if !ok || i < 0 {
		return d, false, nil
	}
	a := d.Attempts[i]
	res, found, err := finder.FindSent(ctx, d.Phone, a.Channel, a.At.Add(-reconcileSkew))
	if err != nil {
		return d, false, fmt.Errorf("asking the provider for a message to %s: %w", MaskPhone(d.Phone), err)
	}
	if !found {
		return d, false, nil
	}
	next, err := r.recordSent(ctx, d, res)
	return next, true, err
}

// reconcile settles a delivery found in "sending": its worker died around
// the provider call, or is still in it. force skips the age check (the
// caller's own call just ended).
func (r *Relay) reconcile(ctx context.Context, d Delivery, force bool) (Delivery, error) {
	i := len(d.Attempts) - 1
	if i < 0 || d.Attempts[i].State != DeliverySending {
		// "sending" without an attempt in flight: nothing reached the
		// provider; make it pending again.
		return r.interrupted(ctx, d, time.Time{})
	}
	started := d.Attempts[i].At
	if age := r.now().Sub(started); !force && age < r.Settings.sendTimeout()+reconcileSkew {
		// Another worker may still be waiting for the provider; the job
		// comes back after the queue's reclaim time.
		return d, fmt.Errorf("delivery %s/%s is being sent elsewhere (attempt began %s ago)", d.BroadcastID, d.RecipientID, age.Round(time.Millisecond))
	}
	next, found, err := r.findSent(ctx, d)
	if err != nil || found {
		return next, err
	}
	return r.interrupted(ctx, d, started)
}

// interrupted marks the attempt that began at `started` as cut short and
// the delivery pending again.
func (r *Relay) interrupted(ctx context.Context, d Delivery, started time.Time) (Delivery, error) {
	now := r.now()
	next, err := r.Broadcasts.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, func(x *Delivery) error {
		if x.State != DeliverySending {
			return errNoChange
		}
		if i := currentSending(x); i >= 0 {
			if !x.Attempts[i].At.Equal(started) {
				return errNoChange // a newer attempt began meanwhile
			}
			x.Attempts[i].State, x.Attempts[i].Error = DeliveryFailed, "interrupted; no message found at the provider"
		}
		x.State, x.UpdatedAt = DeliveryPending, now
		return nil
	})
	if errors.Is(err, errNoChange) {
		return r.Broadcasts.Delivery(ctx, d.BroadcastID, d.RecipientID)
	}
	if err != nil {
		return d, fmt.Errorf("reopening interrupted delivery %s/%s: %w", d.BroadcastID, d.RecipientID, err)
	}
	return next, nil
}

// fallBack moves a WhatsApp delivery to SMS, once. attempt is the index of
// the attempt that failed (-1: WhatsApp was not tried, a note is recorded).
func (r *Relay) fallBack(ctx context.Context, d Delivery, attempt, code int, reason string) (Delivery, error) {
	now := r.now()
	next, err := r.Broadcasts.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, func(x *Delivery) error {
		if x.FellBack || x.Channel != ChannelWhatsApp {
			return errNoChange
		}
		if attempt < 0 {
			if x.State != DeliveryPending {
				return errNoChange
			}
			x.Attempts = append(x.Attempts, Attempt{Channel: ChannelWhatsApp, State: DeliveryFailed, Error: reason, At: now})
		} else if attempt < len(x.Attempts) {
			x.Attempts[attempt].State, x.Attempts[attempt].ErrorCode, x.Attempts[attempt].Error = DeliveryFailed, code, reason
		}
		x.Channel, x.FellBack, x.State, x.UpdatedAt = ChannelSMS, true, DeliveryPending, now
		return nil
	})
	if errors.Is(err, errNoChange) {
		return r.Broadcasts.Delivery(ctx, d.BroadcastID, d.RecipientID)
	}
	if err != nil {
		return d, fmt.Errorf("falling back to SMS for %s/%s: %w", d.BroadcastID, d.RecipientID, err)
	}
	return next, nil
}

// fail ends a delivery as failed with the provider's code.
func (r *Relay) fail(ctx context.Context, d Delivery, code int, reason string) (Delivery, error) {
	now := r.now()
	next, err := r.Broadcasts.UpdateDelivery(ctx, d.BroadcastID, d.RecipientID, func(x *Delivery) error {
		if x.State.Final() {
			return errNoChange
		}
		if i := currentSending(x); i >= 0 {
			x.Attempts[i].State, x.Attempts[i].ErrorCode, x.Attempts[i].Error = DeliveryFailed, code, reason
		}
		x.State, x.UpdatedAt = DeliveryFailed, now
		return nil
	})
	if errors.Is(err, errNoChange) {
		return r.Broadcasts.Delivery(ctx, d.BroadcastID, d.RecipientID)
	}
	if err != nil {
		return d, fmt.Errorf("recording the failure of %s/%s: %w", d.BroadcastID, d.RecipientID, err)
	}
	r.failed(ctx, next, code)
	return next, nil
}

// failed does what follows a delivery's final failure: count it by code for
// the summary and, for an unsubscribed number, remember the opt-out.
func (r *Relay) failed(ctx context.Context, d Delivery, code int) {
	if _, err := r.Broadcasts.UpdateBroadcast(ctx, d.BroadcastID, func(b *Broadcast) error {
		if b.FailedByCode == nil {
			b.FailedByCode = map[int]int{}
		}
		b.FailedByCode[code]++
		return nil
	}); err != nil {
		r.report(ctx, fmt.Errorf("counting a failure of broadcast %s: %w", d.BroadcastID, err))
	}
	if code != CodeUnsubscribed {
		return
	}
	// The number opted out at the provider (STOP while Twilio's own opt-out
	// handling is on): keep it out of future plans too.
	if err := r.Phones.SetOptOut(ctx, d.Phone, true); err != nil {
		r.report(ctx, fmt.Errorf("recording the opt-out of %s: %w", MaskPhone(d.Phone), err))
		return
	}
	if r.Audit != nil {
		if err := r.Audit.Audit(ctx, AuditEntry{
			At: r.now(), Actor: SystemActor, Action: "phone.opt_out", IncidentID: d.IncidentID,
			Detail: fmt.Sprintf("%s opted out at the provider (error %d)", MaskPhone(d.Phone), code),
		}); err != nil {
			r.report(ctx, fmt.Errorf("auditing an opt-out: %w", err))
		}
	}
}

// maxProviderPause caps a provider's Retry-After: a wild value must not
// stop a broadcast for longer than this.
const maxProviderPause = 2 * time.Minute

// maxServerErrorPause is how long a provider 5xx or timeout slows the shared
// sender: long enough to ease an overloaded API, short enough not to stall.
const maxServerErrorPause = time.Second

// rateLimited reports whether the provider said "too many requests".
func rateLimited(pe *ProviderError) bool {
	return pe.HTTPStatus == 429 || pe.Code == 20429
}
