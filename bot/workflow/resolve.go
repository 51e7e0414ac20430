package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

// resolveDedupTTL absorbs double clicks on Resolve; longer would block a
// genuine retry after a failure.
const resolveDedupTTL = 10 * time.Second

// Resolve marks an incident resolved and says so in its thread.
// Resolving a resolved incident returns it unchanged and posts nothing.
func (s *Service) Resolve(ctx context.Context, by bot.Actor, id string) (bot.Incident, error) {
	if !s.Roles.IsResponder(by) {
		return bot.Incident{}, &bot.ForbiddenError{Role: bot.RoleResponder, Action: "resolve an incident"}
	}
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return bot.Incident{}, err
	}
	if inc.State == bot.IncidentResolved {
		return inc, nil
	}
	if s.Dedup != nil {
		first, err := s.Dedup.FirstTime(ctx, "resolve:"+inc.ID, resolveDedupTTL)
		if err != nil {
			return bot.Incident{}, fmt.Errorf("resolving %s: %w", inc.ID, err)
		}
		if !first {
			// Another click is resolving it right now.
			return inc, nil
		}
	}
	inc.State = bot.IncidentResolved
	inc.ResolvedAt = s.now()
	if err := s.Incidents.SaveIncident(ctx, inc); err != nil {
		return bot.Incident{}, fmt.Errorf("saving resolved incident %s: %w", inc.ID, err)
	}
	s.audit(ctx, by, bot.AuditIncidentResolve, inc.ID, "after "+bot.HumanDuration(inc.ResolvedAt.Sub(inc.DeclaredAt)))
	if inc.Thread.IsZero() {
		return inc, nil
	}
	// The root message loses its buttons so nobody notifies or resolves again.
	root := bot.MessageRef{Thread: inc.Thread, ID: inc.Thread.RootID}
	if err := s.Chat.Update(ctx, root, RootMessage(inc)); err != nil {
		s.report(ctx, fmt.Errorf("updating the root message of resolved %s: %w", inc.ID, err))
	}
	if _, err := s.Chat.Post(ctx, inc.Thread, ResolvedMessage(inc, by)); err != nil {
		return inc, fmt.Errorf("%s is resolved, but posting that in its thread failed: %w", inc.ID, err)
	}
	return inc, nil
}
