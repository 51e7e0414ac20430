package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

// Why a sweeper: Service.Approve moves a broadcast to approved exactly once
// and then calls Start, and Start claims it (approved -> sending) before it
// plans and queues. A failure or crash between those steps leaves an update
// that nobody will ever send:
//
//   - approved, because Start failed before it queued anything and handed
//     the broadcast back (Redis hiccup), or the process died before Start;
//   - sending without QueuedAt, because the process died after the claim
//     and before the last job was queued.
//
// Sweep finds both and finishes the start. Repeating a start is safe:
// deliveries are only created where missing, and a job whose delivery is
// already with the provider or final does nothing.

func (s Settings) restartAfter() time.Duration { return orDur(s.RestartAfter, 30*time.Second) }

func (s Settings) resumeAfter() time.Duration { return orDur(s.ResumeAfter, 2*time.Minute) }

// Sweep starts again the broadcasts whose start was interrupted: those left
// approved for longer than RestartAfter (counted from the decision) and
// those left sending without all their jobs queued for longer than
// ResumeAfter (counted from the claim). It returns how many it started
// again; each is audited as "broadcast.resume". Any number of replicas may
// sweep at once: an approved broadcast is claimed by one of them (as in
// Start), a sending one is resumed by whichever takes the Deduper key first.
// Errors of single broadcasts do not stop the sweep; they are returned
// joined, and the broadcast is tried again by a later sweep.
func (r *Relay) Sweep(ctx context.Context) (int, error) {
	now := r.now()
	resumed := 0
	var errs []error

	approved, err := r.Broadcasts.BroadcastsInState(ctx, bot.BroadcastApproved)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing approved broadcasts: %w", err))
	}
	for _, b := range approved {
		since := approvedAt(b)
		if now.Sub(since) < r.Settings.restartAfter() {
			continue // Start is likely still on its way from the approval
		}
		ok, err := r.restart(ctx, b, now.Sub(since))
		if ok {
			resumed++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}

	sending, err := r.Broadcasts.BroadcastsInState(ctx, bot.BroadcastSending)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing sending broadcasts: %w", err))
	}
	for _, b := range sending {
		since := startedAt(b)
		if !b.QueuedAt.IsZero() || now.Sub(since) < r.Settings.resumeAfter() {
			continue // fully queued, or a start that may still be running
		}
		ok, err := r.resume(ctx, b, now.Sub(since))
		if ok {
			resumed++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return resumed, errors.Join(errs...)
}

// restart starts an approved broadcast that nobody started. The claim in
// begin lets exactly one replica do it.
func (r *Relay) restart(ctx context.Context, b bot.Broadcast, age time.Duration) (bool, error) {
	claimed, err := r.begin(ctx, b, true)
	if claimed {
		r.auditResume(ctx, b, fmt.Sprintf("%s: approved %s ago but never started; started now", b.ID, age.Round(time.Second)), err)
	}
	if err != nil {
		return claimed, fmt.Errorf("restarting broadcast %s: %w", b.ID, err)
	}
	return claimed, nil
}

// resume finishes the start of a broadcast claimed long ago whose jobs were
// never all queued. There is no second claim (it is sending already), so a
// Deduper key picks one replica per ResumeAfter; should that one fail or
// die, the next sweep after the key expires tries again.
func (r *Relay) resume(ctx context.Context, b bot.Broadcast, age time.Duration) (bool, error) {
	first, err := r.Dedup.FirstTime(ctx, "relay:resume:"+b.ID, r.Settings.resumeAfter())
	if err != nil {
		return false, fmt.Errorf("taking the resume of broadcast %s: %w", b.ID, err)
	}
	if !first {
		return false, nil // another replica is resuming it
	}
	// The list may be stale: a replica that resumed it a moment ago and
	// whose key has just expired, or the original start finishing late.
	cur, err := r.Broadcasts.Broadcast(ctx, b.ID)
	if err != nil {
		return false, fmt.Errorf("loading broadcast %s to resume it: %w", b.ID, err)
	}
	if cur.State != bot.BroadcastSending || !cur.QueuedAt.IsZero() {
		return false, nil
	}
	_, err = r.start(ctx, b.ID, true)
	r.auditResume(ctx, cur, fmt.Sprintf("%s: sending for %s without all its jobs queued; queued now", b.ID, age.Round(time.Second)), err)
	if err != nil {
		return true, fmt.Errorf("resuming broadcast %s: %w", b.ID, err)
	}
	return true, nil
}

func (r *Relay) auditResume(ctx context.Context, b bot.Broadcast, detail string, failed error) {
	if r.Audit == nil {
		return
	}
	if failed != nil {
		detail += " (failed, tried again later: " + failed.Error() + ")"
	}
	if err := r.Audit.Audit(ctx, bot.AuditEntry{
		At: r.now(), Actor: bot.SystemActor, Action: bot.AuditBroadcastResume, IncidentID: b.Draft.IncidentID, Detail: detail,
	}); err != nil {
		r.report(ctx, fmt.Errorf("auditing the resume of broadcast %s: %w", b.ID, err))
	}
}

// optOutPending marks the pending deliveries of people who have opted out
// since an earlier start saved them: no job will be queued for them, and a
// pending delivery would keep the broadcast from ever being done.
func (r *Relay) optOutPending(ctx context.Context, id string, optedOut []bot.Recipient) error {
	now := r.now()
	for _, p := range optedOut {
		_, err := r.Broadcasts.UpdateDelivery(ctx, id, p.ID, func(d *bot.Delivery) error {
			if d.State != bot.DeliveryPending {
				return errNoChange
			}
			d.State, d.UpdatedAt = bot.DeliveryOptedOut, now
			return nil
		})
		if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, bot.ErrNotFound) {
			return fmt.Errorf("marking %s's pending delivery as opted out: %w", p.ID, err)
		}
	}
	return nil
}

// approvedAt is when a broadcast was approved; records without a decision
// time (herald send stores none) count from the request.
func approvedAt(b bot.Broadcast) time.Time {
	if !b.DecidedAt.IsZero() {
		return b.DecidedAt
	}
	return b.RequestedAt
}

// startedAt is when a broadcast was claimed; records written before
// StartedAt existed count from the approval.
func startedAt(b bot.Broadcast) time.Time {
	if !b.StartedAt.IsZero() {
		return b.StartedAt
	}
	return approvedAt(b)
}
