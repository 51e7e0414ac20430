package relay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldops/herald/bot"
)

// HandleStatus applies a provider status callback. Unknown SIDs are ignored
// (they may be herald's answers to replies, or another system's messages).
// States only move forward, so late and repeated callbacks change nothing.
// A WhatsApp message that ends failed or undelivered is sent again by SMS,
// once.
func (r *Relay) HandleStatus(ctx context.Context, u bot.StatusUpdate) error {
	if u.SID == "" {
		return fmt.Errorf("status update without a message SID")
	}
	d, err := r.statusDelivery(ctx, u)
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding the delivery of message %s: %w", u.SID, err)
	}
	var fellBack, failedNow bool
	now := r.now()
	next, err := r.updateDelivery(ctx, d, func(x *bot.Delivery) error {
		fellBack, failedNow = false, false // fn may run more than once
		i := attemptWithSID(x, u.SID)
		if i < 0 {
			// The callback beat the worker's own update: the SID is the
			// attempt in flight.
			if i = currentSending(x); i < 0 || (u.Channel != "" && x.Attempts[i].Channel != u.Channel) {
				return errNoChange
			}
			x.Attempts[i].SID = u.SID
		}
		a := &x.Attempts[i]
		if u.Status.Rank() <= a.State.Rank() {
			return errNoChange
		}
		reached := a.State
		a.State = u.Status
		if u.ErrorCode != 0 || u.Failure != "" {
			a.ErrorCode, a.Failure, a.Error = u.ErrorCode, u.Failure, u.ErrorMessage
		}
		x.UpdatedAt = now
		if i != len(x.Attempts)-1 {
			return nil // an earlier attempt (WhatsApp before the fallback): history only
		}
		bad := u.Status == bot.DeliveryFailed || u.Status == bot.DeliveryUndelivered
		if bad && a.Channel == bot.ChannelWhatsApp && !x.FellBack && reached.Rank() < bot.DeliveryDelivered.Rank() {
			x.Channel, x.FellBack, x.State = bot.ChannelSMS, true, bot.DeliveryPending
			fellBack = true
			return nil
		}
		if u.Status.Rank() > x.State.Rank() {
			x.State = u.Status
			failedNow = bad
		}
		return nil
	})
	switch {
	case errors.Is(err, errNoChange):
		next, err = d, nil
	case err != nil:
		return fmt.Errorf("applying status %s of message %s: %w", u.Status, u.SID, err)
	}
	if fellBack || (next.State == bot.DeliveryPending && next.FellBack) {
		// Queue the SMS; a repeated callback queues again, which is harmless
		// (the job finds the delivery already handled) and repairs a crash
		// between the update above and this enqueue.
		if err := r.Queue.Enqueue(ctx, r.Topic(), jobPayload(next.BroadcastID, next.RecipientID)); err != nil {
			return fmt.Errorf("queueing the SMS fallback of %s/%s: %w", next.BroadcastID, next.RecipientID, err)
		}
	}
	if failedNow {
		r.failed(ctx, next, failure{kind: u.Failure, provider: u.Provider, code: u.ErrorCode, reason: u.ErrorMessage})
	}
	if r.touched(next.BroadcastID) {
		r.refresh(ctx, next.BroadcastID)
	}
	return nil
}

// statusDelivery finds the delivery a callback is about: named by the
// callback itself when the send carried its ids (one read, and it works
// before the SID is recorded), else through the SID index.
func (r *Relay) statusDelivery(ctx context.Context, u bot.StatusUpdate) (bot.Delivery, error) {
	if u.BroadcastID != "" && u.RecipientID != "" {
		return r.Broadcasts.Delivery(ctx, u.BroadcastID, u.RecipientID)
	}
	return r.Broadcasts.DeliveryBySID(ctx, u.SID)
}

// Unsettled counts deliveries the relay still has to bring to the provider.
func Unsettled(c bot.Counts) int { return c[bot.DeliveryPending] + c[bot.DeliverySending] }

// Settled reports whether every delivery has been accepted by the provider
// or has ended (receipts may still move them to delivered or read).
func Settled(c bot.Counts) bool {
	total := 0
	for _, n := range c {
		total += n
	}
	return total > 0 && Unsettled(c) == 0
}

// FailedCount counts failed and undelivered deliveries.
func FailedCount(c bot.Counts) int { return c[bot.DeliveryFailed] + c[bot.DeliveryUndelivered] }

// refresh keeps the progress message current: at most one edit per
// ProgressEvery across replicas, and the summary exactly once when the last
// delivery settles (the broadcast then moves to done).
func (r *Relay) refresh(ctx context.Context, id string) {
	counts, err := r.Broadcasts.Counts(ctx, id)
	if err != nil {
		r.report(ctx, fmt.Errorf("counting deliveries of broadcast %s: %w", id, err))
		return
	}
	settled := Settled(counts)
	if settled {
		b, err := r.Broadcasts.UpdateBroadcast(ctx, id, func(x *bot.Broadcast) error {
			if x.State != bot.BroadcastSending {
				return errNoChange
			}
			x.State = bot.BroadcastDone
			return nil
		})
		if err == nil {
			r.finish(ctx, b, counts)
			return
		}
		if !errors.Is(err, errNoChange) {
			r.report(ctx, fmt.Errorf("marking broadcast %s done: %w", id, err))
		}
		// Done already: late receipts keep refreshing the summary below.
	} else if counts[bot.DeliveryPending]+counts[bot.DeliverySending] == 0 {
		return // nothing stored yet
	}
	if r.Chat == nil {
		return
	}
	if !r.editDue(id) {
		r.later(id)
		return
	}
	every := r.Settings.progressEvery()
	slot := r.now().UnixNano() / int64(every)
	first, err := r.Dedup.FirstTime(ctx, "relay:progress:"+id+":"+strconv.FormatInt(slot, 10), 2*every)
	if err != nil {
		r.report(ctx, fmt.Errorf("throttling progress of broadcast %s: %w", id, err))
		return
	}
	if !first {
		r.later(id)
		return
	}
	b, err := r.Broadcasts.Broadcast(ctx, id)
	if err != nil {
		r.report(ctx, fmt.Errorf("loading broadcast %s for its progress: %w", id, err))
		return
	}
	r.edit(ctx, b, ProgressMessage(b, counts, settled))
}

// later keeps a broadcast whose edit was throttled marked for the Run loop's
// next refresh: otherwise the last receipts of a burst (delivered, read
// arriving within ProgressEvery of the previous edit) never reach the
// message and the summary stays behind for good.
func (r *Relay) later(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == 0 {
		return // no loop to come back; the next status refreshes it
	}
	if r.dirty == nil {
		r.dirty = map[string]bool{}
	}
	r.dirty[id] = true
}

// editDue is the per-replica part of the throttle: no shared-store round
// trip for jobs finishing within the same interval on this replica.
func (r *Relay) editDue(id string) bool {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastEdit == nil {
		r.lastEdit = map[string]time.Time{}
	}
	if last, ok := r.lastEdit[id]; ok && now.Sub(last) < r.Settings.progressEvery() && !now.Before(last) {
		return false
	}
	if len(r.lastEdit) >= contentCacheSize {
		clear(r.lastEdit)
	}
	r.lastEdit[id] = now
	return true
}

// finish runs once per broadcast, in whichever replica settled it last.
func (r *Relay) finish(ctx context.Context, b bot.Broadcast, c bot.Counts) {
	r.edit(ctx, b, ProgressMessage(b, c, true))
	if r.Audit != nil {
		if err := r.Audit.Audit(ctx, bot.AuditEntry{
			At: r.now(), Actor: bot.SystemActor, Action: bot.AuditBroadcastDone, IncidentID: b.Draft.IncidentID,
			Detail: b.ID + ": " + Summary(b, c),
		}); err != nil {
			r.report(ctx, fmt.Errorf("auditing the end of broadcast %s: %w", b.ID, err))
		}
	}
}

func (r *Relay) edit(ctx context.Context, b bot.Broadcast, m bot.Message) {
	if r.Chat == nil || b.Progress.ID == "" {
		return
	}
	if err := r.Chat.Update(ctx, b.Progress, m); err != nil {
		r.report(ctx, fmt.Errorf("updating the progress message of broadcast %s: %w", b.ID, err))
	}
}

// Wait polls a broadcast until every delivery is settled (see Settled) or
// ctx ends, calling onProgress (optional) with the counts on each poll. It
// serves `herald send`, which prints progress and the summary.
func (r *Relay) Wait(ctx context.Context, id string, every time.Duration, onProgress func(bot.Counts)) (bot.Counts, error) {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	for {
		c, err := r.Broadcasts.Counts(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("counting deliveries of broadcast %s: %w", id, err)
		}
		if onProgress != nil {
			onProgress(c)
		}
		if Settled(c) {
			return c, nil
		}
		if b, err := r.Broadcasts.Broadcast(ctx, id); err == nil && b.State == bot.BroadcastDone {
			return c, nil // nobody to send to
		}
		if err := bot.Sleep(ctx, every); err != nil {
			return c, fmt.Errorf("waiting for broadcast %s: %w", id, err)
		}
	}
}
