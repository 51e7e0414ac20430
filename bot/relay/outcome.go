package relay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

// failure is why a delivery or one of its attempts failed: the kind decides,
// the provider's code and message are kept for responders and logs.
type failure struct {
	kind     bot.FailureKind
	provider string
	code     int
	reason   string
}

func failureOf(pe *bot.ProviderError) failure {
	return failure{kind: pe.Failure(), provider: pe.Provider, code: pe.Code, reason: pe.Message}
}

// mark records f on an attempt.
func (f failure) mark(a *bot.Attempt) {
	a.State, a.ErrorCode, a.Failure, a.Error = bot.DeliveryFailed, f.code, f.kind, f.reason
}

// fallBack moves a WhatsApp delivery to SMS, once. attempt is the index of
// the attempt that failed (-1: WhatsApp was not tried, a note is recorded).
func (r *Relay) fallBack(ctx context.Context, d bot.Delivery, attempt int, f failure) (bot.Delivery, error) {
	now := r.now()
	next, err := r.updateDelivery(ctx, d, func(x *bot.Delivery) error {
		if x.FellBack || x.Channel != bot.ChannelWhatsApp {
			return errNoChange
		}
		if attempt < 0 {
			if x.State != bot.DeliveryPending {
				return errNoChange
			}
			x.Attempts = append(x.Attempts, bot.Attempt{Channel: bot.ChannelWhatsApp, State: bot.DeliveryFailed, Failure: f.kind, Error: f.reason, At: now})
		} else if attempt < len(x.Attempts) {
			f.mark(&x.Attempts[attempt])
		}
		x.Channel, x.FellBack, x.State, x.UpdatedAt = bot.ChannelSMS, true, bot.DeliveryPending, now
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

// fail ends a delivery as failed for the reason f.
func (r *Relay) fail(ctx context.Context, d bot.Delivery, f failure) (bot.Delivery, error) {
	now := r.now()
	next, err := r.updateDelivery(ctx, d, func(x *bot.Delivery) error {
		if x.State.Final() {
			return errNoChange
		}
		if i := currentSending(x); i >= 0 {
			f.mark(&x.Attempts[i])
		}
		x.State, x.UpdatedAt = bot.DeliveryFailed, now
		return nil
	})
	if errors.Is(err, errNoChange) {
		return r.Broadcasts.Delivery(ctx, d.BroadcastID, d.RecipientID)
	}
	if err != nil {
		return d, fmt.Errorf("recording the failure of %s/%s: %w", d.BroadcastID, d.RecipientID, err)
	}
	r.failed(ctx, next, f)
	return next, nil
}

// failed does what follows a delivery's final failure: count it by kind and
// by provider code for the summary and, for an unsubscribed number,
// remember the opt-out.
func (r *Relay) failed(ctx context.Context, d bot.Delivery, f failure) {
	if _, err := r.Broadcasts.UpdateBroadcast(ctx, d.BroadcastID, func(b *bot.Broadcast) error {
		if b.FailedByCode == nil {
			b.FailedByCode = map[int]int{}
		}
		if b.FailedByKind == nil {
			b.FailedByKind = map[bot.FailureKind]int{}
		}
		b.FailedByCode[f.code]++
		b.FailedByKind[f.kind]++
		if f.provider != "" {
			b.Provider = f.provider
		}
		return nil
	}); err != nil {
		r.report(ctx, fmt.Errorf("counting a failure of broadcast %s: %w", d.BroadcastID, err))
	}
	if f.kind != bot.FailureUnsubscribed {
		return
	}
	// The number opted out at the provider (STOP while Twilio's own opt-out
	// handling is on): keep it out of future plans too.
	if err := r.Phones.SetOptOut(ctx, d.Phone, true); err != nil {
		r.report(ctx, fmt.Errorf("recording the opt-out of %s: %w", bot.MaskPhone(d.Phone), err))
		return
	}
	if r.Audit != nil {
		if err := r.Audit.Audit(ctx, bot.AuditEntry{
			At: r.now(), Actor: bot.SystemActor, Action: bot.AuditPhoneOptOut, IncidentID: d.IncidentID,
			Detail: fmt.Sprintf("%s opted out at the provider (%s)", bot.MaskPhone(d.Phone), cmp.Or(bot.ProviderCode(f.provider, f.code), "no code")),
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
