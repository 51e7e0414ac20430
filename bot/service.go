package bot

import (
	"context"
	"errors"
	"time"
)

// Roles says who may do what. IDs are chat user ids (Slack user ids, Teams
// AAD object ids) or, for SMS during failover, E.164 phone numbers.
type Roles struct {
	Responders      []string
	Approvers       []string
	ResponderPhones []string
	ApproverPhones  []string
}

// Role names, as shown in refusals.
const (
	RoleResponder = "responder"
	RoleApprover  = "approver"
)

// ForbiddenError refuses an action to someone who lacks the role it needs.
type ForbiddenError struct {
	Role   string // the role needed
	Action string // what was refused, e.g. "declare an incident"
}

func (e *ForbiddenError) Error() string {
	return "only a " + e.Role + " may " + e.Action
}

// ValidationError lists problems with a draft, keyed by field
// ("audiences", "template", "field:next_update", "note"), for the compose form.
type ValidationError struct {
	Problems map[string]string
}

func (e *ValidationError) Error() string {
	return "the update is not ready to send"
}

// Relayer hands an approved broadcast to the relay engine.
type Relayer interface {
	// Start plans and enqueues the broadcast's deliveries. It must be safe to
	// call twice for the same broadcast (the second call does nothing).
	Start(ctx context.Context, b Broadcast) error
}

// Settings tunes the service.
type Settings struct {
	IncidentChannel string        // where root messages go; empty: the channel the command came from
	ApprovalTimeout time.Duration // default 30 min
	MaxSMSSegments  int           // 0: no limit
}

// Service is the incident workflow every chat front end (Slack, Teams, SMS
// during failover) drives: declare, compose and preview, approve, resolve.
type Service struct {
	Directory  *Directory
	Planner    *Planner
	Incidents  IncidentStore
	Broadcasts BroadcastStore
	Audit      AuditLog
	Chat       Chat
	Relay      Relayer
	Clock      Clock
	Roles      Roles
	Settings   Settings
}

var errNotImplemented = errors.New("not implemented yet")

// Declare creates a new incident and posts its root message. channel is where
// the command was typed; Settings.IncidentChannel wins when set.
func (s *Service) Declare(ctx context.Context, by Actor, title string, severity int, channel string) (Incident, error) {
	return Incident{}, errNotImplemented
}

// Incident returns one incident.
func (s *Service) Incident(ctx context.Context, id string) (Incident, error) {
	return Incident{}, errNotImplemented
}

// List returns incidents, newest first; openOnly leaves resolved ones out.
func (s *Service) List(ctx context.Context, openOnly bool) ([]Incident, error) {
	return nil, errNotImplemented
}

// NewestOpen returns the newest open incident whose thread is in channel (any
// channel if empty), for commands given without an incident id.
func (s *Service) NewestOpen(ctx context.Context, channel string) (Incident, error) {
	return Incident{}, errNotImplemented
}

// StatusReport is an incident with its broadcasts and their delivery counts.
type StatusReport struct {
	Incident   Incident
	Broadcasts []BroadcastStatus
}

// BroadcastStatus is one broadcast and where its deliveries are.
type BroadcastStatus struct {
	Broadcast Broadcast
	Counts    Counts
}

// Status reports on an incident.
func (s *Service) Status(ctx context.Context, id string) (StatusReport, error) {
	return StatusReport{}, errNotImplemented
}

// Resolve marks an incident resolved and says so in its thread.
func (s *Service) Resolve(ctx context.Context, by Actor, id string) (Incident, error) {
	return Incident{}, errNotImplemented
}

// SMSInfo is how carriers will count an SMS body.
type SMSInfo struct {
	Encoding   string // "GSM-7" or "UCS-2"
	Characters int    // characters as the user sees them
	Units      int    // septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2)
	Segments   int    // 1 up to 160/70 units, then 153/67 per segment
}

// Preview is exactly what a draft would send, for the compose modal's second
// step and the approval request.
type Preview struct {
	Draft            Draft
	Incident         Incident
	SMSBody          string // default-locale body
	SMS              SMSInfo
	BodiesByLocale   map[string]string // other locales' bodies, when the template has them
	WhatsAppTemplate string            // content SID, empty if none
	WhatsAppVars     map[string]string
	PerChannel       map[Channel]int // recipients per channel after de-duplication and opt-outs
	FreeFormWhatsApp int             // WhatsApp recipients whose session window is open
	OptedOut         int
	Total            int
	ApprovalRequired bool
	// Problems is non-empty when the draft cannot be sent as it is; keys as in
	// ValidationError.
	Problems map[string]string
}

// Preview renders a draft without sending anything.
func (s *Service) Preview(ctx context.Context, by Actor, d Draft) (Preview, error) {
	return Preview{}, errNotImplemented
}

// Submit sends a composed update: straight to the relay when no audience needs
// approval, else as an approval request in the incident thread. A draft with
// problems returns a *ValidationError.
func (s *Service) Submit(ctx context.Context, by Actor, d Draft) (Broadcast, error) {
	return Broadcast{}, errNotImplemented
}

// Approve approves a pending broadcast and hands it to the relay, exactly once
// however many approvers click how often. The requester cannot approve their
// own request (four eyes): *ForbiddenError.
func (s *Service) Approve(ctx context.Context, by Actor, broadcastID string) (Broadcast, error) {
	return Broadcast{}, errNotImplemented
}

// Reject rejects a pending broadcast with a reason.
func (s *Service) Reject(ctx context.Context, by Actor, broadcastID, reason string) (Broadcast, error) {
	return Broadcast{}, errNotImplemented
}

// ExpireApprovals expires approval requests older than the approval timeout
// and says so in their threads. Run it periodically.
func (s *Service) ExpireApprovals(ctx context.Context) (int, error) {
	return 0, errNotImplemented
}
