package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
)

// decision is the outcome of one attempt to decide a pending broadcast.
type decision int

const (
	decidedNow decision = iota // this caller made the decision
	expiredNow                 // this caller found it past its time and expired it
)

// decide moves a pending broadcast to its next state exactly once, inside the
// store's atomic update: of all concurrent callers only one sees it pending.
// The others get the stored broadcast and a *DecidedError (ErrConflict).
// apply may refuse with an error, which is returned as it is.
func (s *Service) decide(ctx context.Context, id string, apply func(b *bot.Broadcast, now time.Time) error) (bot.Broadcast, decision, error) {
	now := s.now()
	var (
		outcome decision
		current bot.Broadcast
	)
	b, err := s.Broadcasts.UpdateBroadcast(ctx, id, func(b *bot.Broadcast) error {
		// The store may run this more than once (optimistic locking): start clean.
		outcome, current = decidedNow, *b
		if b.State != bot.BroadcastPendingApproval {
			return &bot.DecidedError{BroadcastID: b.ID, State: b.State, By: b.DecidedBy, At: b.DecidedAt}
		}
		if err := apply(b, now); err != nil {
			return err
		}
		if !b.ExpiresAt.IsZero() && !now.Before(b.ExpiresAt) {
			*b = current
			b.State = bot.BroadcastExpired
			b.DecidedBy = bot.SystemActor
			b.DecidedAt = now
			outcome = expiredNow
		}
		return nil
	})
	if err != nil {
		var decided *bot.DecidedError
		var forbidden *bot.ForbiddenError
		switch {
		case errors.As(err, &decided):
			return current, 0, err
		case errors.As(err, &forbidden):
			return bot.Broadcast{}, 0, err
		}
		return bot.Broadcast{}, 0, fmt.Errorf("deciding on %s: %w", id, err)
	}
	return b, outcome, nil
}

// Approve approves a pending broadcast and hands it to the relay, exactly once
// however many approvers click how often. The requester cannot approve their
// own request (four eyes): *ForbiddenError.
//
// Every caller but the one who approved gets the broadcast as it now is and a
// *DecidedError (wrapping ErrConflict) saying who decided. An approval that
// arrives after the request expired expires it (if nobody did yet) and
// returns a *DecidedError with State expired: nothing is sent.
func (s *Service) Approve(ctx context.Context, by bot.Actor, broadcastID string) (bot.Broadcast, error) {
	if !s.Roles.IsApprover(by) {
		return bot.Broadcast{}, &bot.ForbiddenError{Role: bot.RoleApprover, Action: "approve a stakeholder update"}
	}
	b, outcome, err := s.decide(ctx, broadcastID, func(b *bot.Broadcast, now time.Time) error {
		if b.RequestedBy.ID == by.ID {
			return &bot.ForbiddenError{Role: bot.RoleApprover, Action: "approve an update someone else requested", FourEyes: true}
		}
		b.State = bot.BroadcastApproved
		b.DecidedBy = by
		b.DecidedAt = now
		return nil
	})
	if err != nil {
		return b, err
	}
	if outcome == expiredNow {
		s.report(ctx, s.announceExpiry(ctx, b))
		return b, &bot.DecidedError{BroadcastID: b.ID, State: bot.BroadcastExpired, By: bot.SystemActor, At: b.DecidedAt}
	}
	detail := b.ID + " requested by " + bot.ActorLabel(b.RequestedBy)
	if g := guardAuditSummary(s.broadcastFindings(ctx, b)); g != "" {
		// The approval request listed them: the trail shows the approver
		// decided knowing.
		detail += "; approved with " + g
	}
	s.audit(ctx, by, bot.AuditBroadcastApprove, b.Draft.IncidentID, detail)
	s.report(ctx, s.editApproval(ctx, b, ApprovedMessage(b, s.body(ctx, b))))
	if err := s.startRelay(ctx, b); err != nil {
		return b, err
	}
	return b, nil
}

// Reject rejects a pending broadcast with a reason.
//
// Reason is required (*ValidationError, key "reason"). Requesters who are
// approvers may reject their own request: nothing is sent, so no second pair
// of eyes is needed to withdraw it. Concurrent decisions behave as in Approve.
func (s *Service) Reject(ctx context.Context, by bot.Actor, broadcastID, reason string) (bot.Broadcast, error) {
	if !s.Roles.IsApprover(by) {
		return bot.Broadcast{}, &bot.ForbiddenError{Role: bot.RoleApprover, Action: "reject a stakeholder update"}
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return bot.Broadcast{}, &bot.ValidationError{Problems: map[string]string{"reason": problemNoReason()}}
	}
	b, outcome, err := s.decide(ctx, broadcastID, func(b *bot.Broadcast, now time.Time) error {
		b.State = bot.BroadcastRejected
		b.DecidedBy = by
		b.DecidedAt = now
		b.Reason = reason
		return nil
	})
	if err != nil {
		return b, err
	}
	if outcome == expiredNow {
		s.report(ctx, s.announceExpiry(ctx, b))
		return b, &bot.DecidedError{BroadcastID: b.ID, State: bot.BroadcastExpired, By: bot.SystemActor, At: b.DecidedAt}
	}
	s.audit(ctx, by, bot.AuditBroadcastReject, b.Draft.IncidentID, b.ID+": "+reason)
	s.report(ctx, s.editApproval(ctx, b, RejectedMessage(b, s.body(ctx, b))))
	return b, nil
}

// ExpireApprovals expires approval requests older than the approval timeout
// and says so in their threads. Run it periodically.
//
// It returns how many it expired; several replicas may run it at once, each
// request is expired and announced once.
func (s *Service) ExpireApprovals(ctx context.Context) (int, error) {
	pending, err := s.Broadcasts.PendingApprovals(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing approval requests: %w", err)
	}
	now := s.now()
	expired := 0
	var errs []error
	for _, p := range pending {
		if p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt) {
			continue
		}
		b, outcome, err := s.decide(ctx, p.ID, func(*bot.Broadcast, time.Time) error { return nil })
		if errors.Is(err, bot.ErrConflict) {
			continue // decided a moment ago
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if outcome != expiredNow {
			// The clock moved back between listing and deciding: leave it.
			continue
		}
		expired++
		if err := s.announceExpiry(ctx, b); err != nil {
			errs = append(errs, err)
		}
	}
	return expired, errors.Join(errs...)
}

func (s *Service) announceExpiry(ctx context.Context, b bot.Broadcast) error {
	s.audit(ctx, bot.SystemActor, bot.AuditBroadcastExpire, b.Draft.IncidentID,
		fmt.Sprintf("%s: no decision within %s, nothing sent", b.ID, bot.HumanDuration(b.ExpiresAt.Sub(b.RequestedAt))))
	return s.editApproval(ctx, b, ExpiredMessage(b, s.body(ctx, b)))
}

// editApproval replaces the approval request in the thread, if one was posted.
func (s *Service) editApproval(ctx context.Context, b bot.Broadcast, m bot.Message) error {
	if b.Approval.ID == "" {
		return nil
	}
	if err := s.Chat.Update(ctx, b.Approval, m); err != nil {
		return fmt.Errorf("editing the approval request of %s: %w", b.ID, err)
	}
	return nil
}

// body renders a broadcast's default text again, so the edited approval
// message keeps showing what was decided on. Empty if it cannot be rendered.
func (s *Service) body(ctx context.Context, b bot.Broadcast) string {
	tpl, ok := s.Directory.Template(b.Draft.Template)
	if !ok {
		return ""
	}
	inc, err := s.Incidents.Incident(ctx, b.Draft.IncidentID)
	if err != nil {
		s.report(ctx, fmt.Errorf("loading incident %s for the text of %s: %w", b.Draft.IncidentID, b.ID, err))
		return ""
	}
	r, err := tpl.Render("", bot.TemplateDataFor(inc, b.Draft))
	if err != nil {
		return ""
	}
	return r.Body
}
