package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

// retryLater handles a temporary refusal: slow the sender for everyone,
// then try again after a jittered backoff (or the provider's Retry-After),
// for as long as the update is current. Only at the give-up time does a
// delivery still refused fail: a temporary refusal says nothing about the
// person, so it must not cost them the update.
func (r *Relay) retryLater(ctx context.Context, d bot.Delivery, pe *bot.ProviderError) (bot.Delivery, time.Duration, error) {
	kind := pe.Failure()
	if kind.MayExist() {
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
	giveUp, err := r.giveUpAt(ctx, d.BroadcastID)
	if err != nil {
		return d, 0, err
	}
	now := r.now()
	if !now.Before(giveUp) {
		f := failureOf(pe)
		f.reason = fmt.Sprintf("still refused at the give-up time (%d attempts): %s", attemptsOn(d, d.Channel), pe.Error())
		next, err := r.fail(ctx, d, f)
		return next, 0, err
	}
	delay := r.Settings.backoff().Delay(attemptsOn(d, d.Channel) - 1)
	if pe.RetryAfter > delay {
		delay = min(pe.RetryAfter, maxProviderPause)
	}
	r.slowSender(ctx, d.Channel, pe, delay)
	// One last try at the give-up time rather than none after a long wait.
	delay = min(delay, giveUp.Sub(now))
	next, err := r.updateDelivery(ctx, d, func(x *bot.Delivery) error {
		i := currentSending(x)
		if i < 0 {
			return errNotPending
		}
		failure{kind: kind, provider: pe.Provider, code: pe.Code, reason: pe.Error()}.mark(&x.Attempts[i])
		x.State, x.UpdatedAt = bot.DeliveryPending, now
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

// slowSender tells the shared bucket of the channel's sender what the
// refusal means for every replica: a Retry-After holds it that long
// (capped); "too many requests" without one lowers its rate, which then
// climbs back gradually (AIMD), instead of stopping it for one delivery's
// backoff; a 5xx or no answer only pauses it briefly, so one bad answer
// cannot stall the whole broadcast.
func (r *Relay) slowSender(ctx context.Context, ch bot.Channel, pe *bot.ProviderError, delay time.Duration) {
	if r.Limiter == nil || r.Settings.rate(ch) < 0 {
		return
	}
	key := r.Messenger.SenderKey(ch)
	adapter, adapts := r.Limiter.(bot.RateAdapter)
	var err error
	switch {
	case pe.RetryAfter > 0:
		err = r.Limiter.Pause(ctx, key, min(pe.RetryAfter, maxProviderPause))
	case pe.Failure() == bot.FailureRateLimited && adapts:
		err = adapter.Slow(ctx, key)
	case pe.Failure() == bot.FailureRateLimited:
		err = r.Limiter.Pause(ctx, key, delay)
	default:
		err = r.Limiter.Pause(ctx, key, min(delay, maxServerErrorPause))
	}
	if err != nil {
		r.report(ctx, fmt.Errorf("slowing the %s sender: %w", ch.Label(), err))
	}
}

// giveUpAt is when the broadcast's update stops being current.
func (r *Relay) giveUpAt(ctx context.Context, id string) (time.Time, error) {
	c, err := r.content(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	if t := c.broadcast.GiveUpAt; !t.IsZero() {
		return t, nil
	}
	// Started before GiveUpAt existed.
	return startedAt(c.broadcast).Add(r.Settings.giveUpAfter()), nil
}

// findSent asks the provider whether the current attempt's message exists
// after all, and records it if so.
func (r *Relay) findSent(ctx context.Context, d bot.Delivery) (bot.Delivery, bool, error) {
	finder, ok := r.Messenger.(bot.MessageFinder)
	i := len(d.Attempts) - 1
	if !ok || i < 0 {
		return d, false, nil
	}
	a := d.Attempts[i]
	res, found, err := finder.FindSent(ctx, d.Phone, a.Channel, a.At.Add(-reconcileSkew))
	if err != nil {
		return d, false, fmt.Errorf("asking the provider for a message to %s: %w", bot.MaskPhone(d.Phone), err)
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
func (r *Relay) reconcile(ctx context.Context, d bot.Delivery, force bool) (bot.Delivery, error) {
	i := len(d.Attempts) - 1
	if i < 0 || d.Attempts[i].State != bot.DeliverySending {
		// "sending" without an attempt in flight: nothing reached the
		// provider; make it pending again.
		return r.interrupted(ctx, d, time.Time{})
	}
	started := d.Attempts[i].At
	if age := r.now().Sub(started); !force && age < r.Settings.sendTimeout()+reconcileSkew && !r.senderGone(ctx, d.Attempts[i].By) {
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

// senderGone reports whether the consumer that began an attempt is known to
// be dead (its lease lapsed): then nobody is in the provider call any more,
// and the attempt is reconciled at once instead of after SendTimeout. Not
// knowing (no leases, no consumer recorded, Redis unsure) means waiting.
func (r *Relay) senderGone(ctx context.Context, by string) bool {
	leases, ok := r.Queue.(bot.Leases)
	if !ok || by == "" {
		return false
	}
	alive, err := leases.Alive(ctx, by)
	if err != nil {
		r.report(ctx, fmt.Errorf("asking whether consumer %s is alive: %w", by, err))
		return false
	}
	return !alive
}

// interrupted marks the attempt that began at `started` as cut short and
// the delivery pending again.
func (r *Relay) interrupted(ctx context.Context, d bot.Delivery, started time.Time) (bot.Delivery, error) {
	now := r.now()
	next, err := r.updateDelivery(ctx, d, func(x *bot.Delivery) error {
		if x.State != bot.DeliverySending {
			return errNoChange
		}
		if i := currentSending(x); i >= 0 {
			if !x.Attempts[i].At.Equal(started) {
				return errNoChange // a newer attempt began meanwhile
			}
			x.Attempts[i].State, x.Attempts[i].Error = bot.DeliveryFailed, "interrupted; no message found at the provider"
		}
		x.State, x.UpdatedAt = bot.DeliveryPending, now
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
