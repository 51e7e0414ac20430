package workflow

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldops/herald/bot"
)

// Relayer hands an approved broadcast to the relay engine.
type Relayer interface {
	// Start plans and enqueues the broadcast's deliveries. It must be safe to
	// call twice for the same broadcast (the second call does nothing).
	Start(ctx context.Context, b bot.Broadcast) error
}

// Settings tunes the service.
type Settings struct {
	IncidentChannel string        // where root messages go; empty: the channel the command came from
	ApprovalTimeout time.Duration // default 30 min
	MaxSMSSegments  int           // 0: no limit
	Guard           GuardSettings
}

// GuardSettings tunes the content guard for updates to external audiences.
type GuardSettings struct {
	InternalDomains []string // host names under these (and their subdomains) are findings
	// Block refuses an update with findings; otherwise the approver sees
	// them and decides.
	Block bool
}

// DefaultApprovalTimeout is how long an approval request waits for a
// decision when Settings.ApprovalTimeout is not set.
const DefaultApprovalTimeout = 30 * time.Minute

// Service is the incident workflow every chat front end (Slack, Teams, SMS
// during failover) drives: declare, compose and preview, approve, resolve.
type Service struct {
	Directory  *bot.Directory
	Planner    *bot.Planner
	Incidents  bot.IncidentStore
	Broadcasts bot.BroadcastStore
	Audit      bot.AuditLog
	Chat       bot.Chat
	Relay      Relayer
	Clock      bot.Clock
	Roles      bot.Roles
	Settings   Settings

	// Dedup, when set, claims broadcast ids across replicas (two updates
	// submitted at the same moment never share an id) and absorbs double
	// clicks on Resolve. Without it that holds within one process only.
	Dedup bot.Deduper
	// ReportError receives failures that happen after an action took effect
	// and so do not undo it: an audit write, editing an approval message.
	// Wire it to the log; nil drops them.
	ReportError func(ctx context.Context, err error)

	idMu sync.Mutex // serialises broadcast id allocation within this process
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// withDefaults fills what is not set: the one place the defaults live.
func (s Settings) withDefaults() Settings {
	s.ApprovalTimeout = cmp.Or(s.ApprovalTimeout, DefaultApprovalTimeout)
	return s
}

func (s *Service) approvalTimeout() time.Duration { return s.Settings.withDefaults().ApprovalTimeout }

func (s *Service) report(ctx context.Context, err error) {
	if err != nil && s.ReportError != nil {
		s.ReportError(ctx, err)
	}
}

// audit records an entry; a failing audit log does not undo what was done,
// it is reported.
func (s *Service) audit(ctx context.Context, by bot.Actor, action bot.AuditAction, incidentID, detail string) {
	if s.Audit == nil {
		return
	}
	err := s.Audit.Audit(ctx, bot.AuditEntry{At: s.now(), Actor: by, Action: action, IncidentID: incidentID, Detail: detail})
	if err != nil {
		s.report(ctx, fmt.Errorf("recording audit entry %s for %s: %w", action, incidentID, err))
	}
}

// Validate says which required dependencies are missing. Dedup and
// ReportError are optional (see their comments).
func (s *Service) Validate() error {
	return bot.RequireDeps("workflow.Service", map[string]bool{
		"Directory": s.Directory != nil, "Planner": s.Planner != nil, "Incidents": s.Incidents != nil,
		"Broadcasts": s.Broadcasts != nil, "Audit": s.Audit != nil, "Chat": s.Chat != nil,
		"Relay": s.Relay != nil, "Clock": s.Clock != nil,
	})
}
