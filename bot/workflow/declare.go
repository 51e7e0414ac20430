package workflow

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/heraldops/herald/bot"
)

// Declare creates a new incident and posts its root message. channel is where
// the command was typed; Settings.IncidentChannel wins when set.
//
// severity 0 means "not given" and becomes DefaultSeverity. Bad input returns
// a *ValidationError (keys "title", "severity", "channel"). If the root
// message cannot be posted, the incident is still saved (open, without a
// thread) and returned together with the error: chat may be down.
func (s *Service) Declare(ctx context.Context, by bot.Actor, title string, severity int, channel string) (bot.Incident, error) {
	if !s.Roles.IsResponder(by) {
		return bot.Incident{}, &bot.ForbiddenError{Role: bot.RoleResponder, Action: "declare an incident"}
	}
	// Newlines and runs of spaces would break the one-line title in SMS.
	title = strings.Join(strings.Fields(title), " ")
	if severity == 0 {
		severity = bot.DefaultSeverity
	}
	if s.Settings.IncidentChannel != "" {
		channel = s.Settings.IncidentChannel
	}
	problems := map[string]string{}
	if title == "" {
		problems["title"] = problemNoTitle()
	} else if n := utf8.RuneCountInString(title); n > bot.MaxTitleLength {
		problems["title"] = problemTitleTooLong(n)
	}
	if severity < bot.MinSeverity || severity > bot.MaxSeverity {
		problems["severity"] = problemSeverity(severity)
	}
	if channel == "" {
		problems["channel"] = problemNoChannel()
	}
	if len(problems) > 0 {
		return bot.Incident{}, &bot.ValidationError{Problems: problems}
	}

	n, err := s.Incidents.NextIncidentNumber(ctx)
	if err != nil {
		return bot.Incident{}, fmt.Errorf("numbering a new incident: %w", err)
	}
	inc := bot.Incident{
		ID:         bot.IncidentID(n),
		Number:     n,
		Title:      title,
		Severity:   severity,
		State:      bot.IncidentOpen,
		DeclaredBy: by,
		DeclaredAt: s.now(),
	}
	// Saved before posting so the incident exists even if chat is down or we
	// crash mid-way; saved again with its thread below.
	if err := s.Incidents.SaveIncident(ctx, inc); err != nil {
		return bot.Incident{}, fmt.Errorf("saving incident %s: %w", inc.ID, err)
	}
	detail := fmt.Sprintf("SEV%d %s", inc.Severity, inc.Title)
	th, err := s.Chat.PostRoot(ctx, channel, RootMessage(inc))
	if err != nil {
		s.audit(ctx, by, bot.AuditIncidentDeclare, inc.ID, detail+" (root message not posted)")
		return inc, fmt.Errorf("posting incident %s in channel %s: %w", inc.ID, channel, err)
	}
	inc.Thread = th
	if err := s.Incidents.SaveIncident(ctx, inc); err != nil {
		return inc, fmt.Errorf("saving the thread of incident %s: %w", inc.ID, err)
	}
	s.audit(ctx, by, bot.AuditIncidentDeclare, inc.ID, detail)
	return inc, nil
}

// Incident returns one incident.
func (s *Service) Incident(ctx context.Context, id string) (bot.Incident, error) {
	if canonical, err := bot.ParseIncidentID(id); err == nil {
		id = canonical
	}
	inc, err := s.Incidents.Incident(ctx, id)
	if err != nil {
		return bot.Incident{}, fmt.Errorf("loading incident %s: %w", id, err)
	}
	return inc, nil
}

// List returns incidents, newest first; openOnly leaves resolved ones out.
func (s *Service) List(ctx context.Context, openOnly bool) ([]bot.Incident, error) {
	incs, err := s.Incidents.Incidents(ctx, openOnly)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	return incs, nil
}

// NewestOpen returns the newest open incident whose thread is in channel (any
// channel if empty), for commands given without an incident id.
// None: an error wrapping ErrNotFound.
func (s *Service) NewestOpen(ctx context.Context, channel string) (bot.Incident, error) {
	incs, err := s.List(ctx, true)
	if err != nil {
		return bot.Incident{}, err
	}
	for _, inc := range incs {
		if channel == "" || inc.Thread.Channel == channel {
			return inc, nil
		}
	}
	if channel == "" {
		return bot.Incident{}, fmt.Errorf("no open incident: %w", bot.ErrNotFound)
	}
	return bot.Incident{}, fmt.Errorf("no open incident in this channel (give its id, e.g. INC-42): %w", bot.ErrNotFound)
}

// StatusReport is an incident with its broadcasts and their delivery counts.
type StatusReport struct {
	Incident   bot.Incident
	Broadcasts []BroadcastStatus
}

// BroadcastStatus is one broadcast and where its deliveries are.
type BroadcastStatus struct {
	Broadcast bot.Broadcast
	Counts    bot.Counts
}

// Status reports on an incident.
func (s *Service) Status(ctx context.Context, id string) (StatusReport, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return StatusReport{}, err
	}
	bs, err := s.Broadcasts.BroadcastsOf(ctx, inc.ID)
	if err != nil {
		return StatusReport{}, fmt.Errorf("listing the updates of %s: %w", inc.ID, err)
	}
	rep := StatusReport{Incident: inc, Broadcasts: make([]BroadcastStatus, 0, len(bs))}
	for _, b := range bs {
		c, err := s.Broadcasts.Counts(ctx, b.ID)
		if err != nil {
			return StatusReport{}, fmt.Errorf("counting the deliveries of %s: %w", b.ID, err)
		}
		rep.Broadcasts = append(rep.Broadcasts, BroadcastStatus{Broadcast: b, Counts: c})
	}
	return rep, nil
}
