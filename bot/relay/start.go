package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

// Start plans the broadcast and queues one job per recipient. Calling it
// again for the same broadcast does nothing: only the call that moves the
// stored broadcast from approved to sending goes on. A broadcast not stored
// yet (herald send) is stored first.
func (r *Relay) Start(ctx context.Context, b bot.Broadcast) error {
	_, err := r.begin(ctx, b, false)
	return err
}

// begin is Start; claimed says whether this call moved the broadcast to
// sending. again is set when a start may have run before (Sweep).
func (r *Relay) begin(ctx context.Context, b bot.Broadcast, again bool) (claimed bool, err error) {
	now := r.now()
	claim := func(x *bot.Broadcast) error {
		switch x.State {
		case bot.BroadcastApproved:
			x.State = bot.BroadcastSending
			x.StartedAt, x.QueuedAt = now, time.Time{}
			x.GiveUpAt = now.Add(r.Settings.giveUpAfter())
			return nil
		case bot.BroadcastSending, bot.BroadcastDone:
			return errAlreadyStarted
		}
		return fmt.Errorf("broadcast %s is %s, not approved: %w", x.ID, x.State, bot.ErrConflict)
	}
	_, err = r.Broadcasts.UpdateBroadcast(ctx, b.ID, claim)
	if errors.Is(err, bot.ErrNotFound) && b.State == bot.BroadcastApproved {
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
		if _, rerr := r.Broadcasts.UpdateBroadcast(ctx, b.ID, func(x *bot.Broadcast) error {
			x.State = bot.BroadcastApproved
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
	deliveries := make([]bot.Delivery, 0, len(plan.Recipients)+len(plan.OptedOut))
	contacts := make([]bot.Contact, 0, len(plan.Recipients))
	for _, p := range plan.Recipients {
		deliveries = append(deliveries, bot.Delivery{
			BroadcastID: id, IncidentID: inc.ID, RecipientID: p.Recipient.ID, Name: p.Recipient.Name,
			Phone: p.Recipient.Phone, Channel: p.Channel, Locale: p.Recipient.Locale,
			State: bot.DeliveryPending, UpdatedAt: now,
		})
		contacts = append(contacts, bot.Contact{Phone: p.Recipient.Phone, IncidentID: inc.ID, BroadcastID: id, At: now})
	}
	for _, p := range plan.OptedOut {
		ch := p.Channel
		if b.Draft.SMSOnly || !ch.Valid() {
			ch = bot.ChannelSMS
		}
		deliveries = append(deliveries, bot.Delivery{
			BroadcastID: id, IncidentID: inc.ID, RecipientID: p.ID, Name: p.Name,
			Phone: p.Phone, Channel: ch, Locale: p.Locale, State: bot.DeliveryOptedOut, UpdatedAt: now,
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
		counts := bot.Counts{bot.DeliveryPending: total}
		if optedOut > 0 {
			counts[bot.DeliveryOptedOut] = optedOut
		}
		progress, err = r.Chat.Post(ctx, inc.Thread, ProgressMessage(start, counts, false))
		if err != nil {
			// Chat being down must not stop stakeholders being told.
			r.report(ctx, fmt.Errorf("posting the progress message of broadcast %s: %w", id, err))
		}
	}
	b, err = r.Broadcasts.UpdateBroadcast(ctx, id, func(x *bot.Broadcast) error {
		x.Total, x.OptedOut, x.Progress = total, optedOut, progress
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("recording the broadcast's plan: %w", err)
	}
	content := &broadcastContent{
		broadcast: b, incident: inc, template: plan.Template,
		data:     bot.TemplateDataFor(inc, b.Draft),
		byLocale: map[string]bot.Rendered{},
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
	if _, err := r.Broadcasts.UpdateBroadcast(ctx, id, func(x *bot.Broadcast) error {
		x.QueuedAt = r.now()
		return nil
	}); err != nil {
		r.report(ctx, fmt.Errorf("marking broadcast %s as queued: %w", id, err))
	}
	if r.Audit != nil {
		if err := r.Audit.Audit(ctx, bot.AuditEntry{
			At: now, Actor: bot.SystemActor, Action: bot.AuditBroadcastRelay, IncidentID: inc.ID,
			Detail: fmt.Sprintf("%s: %d recipients (%d SMS, %d WhatsApp), %d opted out", id, total,
				plan.PerChannel[bot.ChannelSMS], plan.PerChannel[bot.ChannelWhatsApp], optedOut),
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
