package bot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Roles says who may do what. IDs are chat user ids (Slack user ids, Teams
// AAD object ids) or, for SMS during failover, E.164 phone numbers.
type Roles struct {
	Responders      []string
	Approvers       []string
	ResponderPhones []string
	ApproverPhones  []string
}

// IsResponder reports whether a may declare, compose, send and resolve.
func (r Roles) IsResponder(a Actor) bool {
	return a.ID != "" && (slices.Contains(r.Responders, a.ID) || slices.Contains(r.ResponderPhones, a.ID))
}

// IsApprover reports whether a may approve or reject updates.
func (r Roles) IsApprover(a Actor) bool {
	return a.ID != "" && (slices.Contains(r.Approvers, a.ID) || slices.Contains(r.ApproverPhones, a.ID))
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
	// FourEyes is set when the person has the role but asked for the update
	// themselves: a second approver must decide.
	FourEyes bool
}

func (e *ForbiddenError) Error() string {
	if e.FourEyes {
		return "you requested this update yourself, so another " + e.Role + " must approve it (four eyes)"
	}
	article := "a "
	if e.Role != "" && strings.ContainsRune("aeiou", rune(e.Role[0])) {
		article = "an "
	}
	return "only " + article + e.Role + " may " + e.Action
}

// ValidationError lists problems with a draft, keyed by field
// ("audiences", "template", "field:next_update", "note"), for the compose form.
type ValidationError struct {
	Problems map[string]string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "the update is not ready to send"
	}
	keys := slices.Sorted(maps.Keys(e.Problems))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Problems[k]
	}
	return strings.Join(parts, "; ")
}

// DecidedError says an approval request was no longer open when someone
// approved or rejected it: another approver was faster, a double click, a
// retry, or the request expired. It wraps ErrConflict. Approve and Reject
// return it together with the broadcast as it now is, so adapters can say
// "already approved by Lee" (State and By) instead of showing a failure.
type DecidedError struct {
	BroadcastID string
	State       BroadcastState
	By          Actor // who decided; SystemActor for an expiry
	At          time.Time
}

func (e *DecidedError) Error() string {
	switch e.State {
	case BroadcastRejected:
		return e.BroadcastID + " was already rejected by " + actorLabel(e.By) + ": nothing was sent"
	case BroadcastExpired:
		return e.BroadcastID + " expired before anyone decided: nothing was sent"
	case BroadcastPendingApproval:
		return e.BroadcastID + " is still waiting for approval"
	}
	return e.BroadcastID + " was already approved by " + actorLabel(e.By)
}

func (e *DecidedError) Unwrap() error { return ErrConflict }

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

// DefaultApprovalTimeout is how long an approval request waits for a
// decision when Settings.ApprovalTimeout is not set.
const DefaultApprovalTimeout = 30 * time.Minute

// MaxTitleLength is the longest incident title, in characters: titles go
// into every SMS, where each character counts.
const MaxTitleLength = 150

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

	// Dedup, when set, claims broadcast ids across replicas (two updates
	// submitted at the same moment never share an id) and absorbs double
	// clicks on Resolve. Without it that holds within one process only.
	Dedup Deduper
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

func (s *Service) approvalTimeout() time.Duration {
	if s.Settings.ApprovalTimeout > 0 {
		return s.Settings.ApprovalTimeout
	}
	return DefaultApprovalTimeout
}

func (s *Service) report(ctx context.Context, err error) {
	if err != nil && s.ReportError != nil {
		s.ReportError(ctx, err)
	}
}

// audit records an entry; a failing audit log does not undo what was done,
// it is reported.
func (s *Service) audit(ctx context.Context, by Actor, action, incidentID, detail string) {
	if s.Audit == nil {
		return
	}
	err := s.Audit.Audit(ctx, AuditEntry{At: s.now(), Actor: by, Action: action, IncidentID: incidentID, Detail: detail})
	if err != nil {
		s.report(ctx, fmt.Errorf("recording audit entry %s for %s: %w", action, incidentID, err))
	}
}

// Declare creates a new incident and posts its root message. channel is where
// the command was typed; Settings.IncidentChannel wins when set.
//
// severity 0 means "not given" and becomes DefaultSeverity. Bad input returns
// a *ValidationError (keys "title", "severity", "channel"). If the root
// message cannot be posted, the incident is still saved (open, without a
// thread) and returned together with the error: chat may be down.
func (s *Service) Declare(ctx context.Context, by Actor, title string, severity int, channel string) (Incident, error) {
	if !s.Roles.IsResponder(by) {
		return Incident{}, &ForbiddenError{Role: RoleResponder, Action: "declare an incident"}
	}
	// Newlines and runs of spaces would break the one-line title in SMS.
	title = strings.Join(strings.Fields(title), " ")
	if severity == 0 {
		severity = DefaultSeverity
	}
	if s.Settings.IncidentChannel != "" {
		channel = s.Settings.IncidentChannel
	}
	problems := map[string]string{}
	if title == "" {
		problems["title"] = problemNoTitle()
	} else if n := utf8.RuneCountInString(title); n > MaxTitleLength {
		problems["title"] = problemTitleTooLong(n)
	}
	if severity < MinSeverity || severity > MaxSeverity {
		problems["severity"] = problemSeverity(severity)
	}
	if channel == "" {
		problems["channel"] = problemNoChannel()
	}
	if len(problems) > 0 {
		return Incident{}, &ValidationError{Problems: problems}
	}

	n, err := s.Incidents.NextIncidentNumber(ctx)
	if err != nil {
		return Incident{}, fmt.Errorf("numbering a new incident: %w", err)
	}
	inc := Incident{
		ID:         IncidentID(n),
		Number:     n,
		Title:      title,
		Severity:   severity,
		State:      IncidentOpen,
		DeclaredBy: by,
		DeclaredAt: s.now(),
	}
	// Saved before posting so the incident exists even if chat is down or we
	// crash mid-way; saved again with its thread below.
	if err := s.Incidents.SaveIncident(ctx, inc); err != nil {
		return Incident{}, fmt.Errorf("saving incident %s: %w", inc.ID, err)
	}
	detail := fmt.Sprintf("SEV%d %s", inc.Severity, inc.Title)
	th, err := s.Chat.PostRoot(ctx, channel, RootMessage(inc))
	if err != nil {
		s.audit(ctx, by, "incident.declare", inc.ID, detail+" (root message not posted)")
		return inc, fmt.Errorf("posting incident %s in channel %s: %w", inc.ID, channel, err)
	}
	inc.Thread = th
	if err := s.Incidents.SaveIncident(ctx, inc); err != nil {
		return inc, fmt.Errorf("saving the thread of incident %s: %w", inc.ID, err)
	}
	s.audit(ctx, by, "incident.declare", inc.ID, detail)
	return inc, nil
}

// Incident returns one incident.
func (s *Service) Incident(ctx context.Context, id string) (Incident, error) {
	if canonical, err := ParseIncidentID(id); err == nil {
		id = canonical
	}
	inc, err := s.Incidents.Incident(ctx, id)
	if err != nil {
		return Incident{}, fmt.Errorf("loading incident %s: %w", id, err)
	}
	return inc, nil
}

// List returns incidents, newest first; openOnly leaves resolved ones out.
func (s *Service) List(ctx context.Context, openOnly bool) ([]Incident, error) {
	incs, err := s.Incidents.Incidents(ctx, openOnly)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	return incs, nil
}

// NewestOpen returns the newest open incident whose thread is in channel (any
// channel if empty), for commands given without an incident id.
// None: an error wrapping ErrNotFound.
func (s *Service) NewestOpen(ctx context.Context, channel string) (Incident, error) {
	incs, err := s.List(ctx, true)
	if err != nil {
		return Incident{}, err
	}
	for _, inc := range incs {
		if channel == "" || inc.Thread.Channel == channel {
			return inc, nil
		}
	}
	if channel == "" {
		return Incident{}, fmt.Errorf("no open incident: %w", ErrNotFound)
	}
	return Incident{}, fmt.Errorf("no open incident in this channel (give its id, e.g. INC-42): %w", ErrNotFound)
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

// resolveDedupTTL absorbs double clicks on Resolve; longer would block a
// genuine retry after a failure.
const resolveDedupTTL = 10 * time.Second

// Resolve marks an incident resolved and says so in its thread.
// Resolving a resolved incident returns it unchanged and posts nothing.
func (s *Service) Resolve(ctx context.Context, by Actor, id string) (Incident, error) {
	if !s.Roles.IsResponder(by) {
		return Incident{}, &ForbiddenError{Role: RoleResponder, Action: "resolve an incident"}
	}
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	if inc.State == IncidentResolved {
		return inc, nil
	}
	if s.Dedup != nil {
		first, err := s.Dedup.FirstTime(ctx, "resolve:"+inc.ID, resolveDedupTTL)
		if err != nil {
			return Incident{}, fmt.Errorf("resolving %s: %w", inc.ID, err)
		}
		if !first {
			// Another click is resolving it right now.
			return inc, nil
		}
	}
	inc.State = IncidentResolved
	inc.ResolvedAt = s.now()
	if err := s.Incidents.SaveIncident(ctx, inc); err != nil {
		return Incident{}, fmt.Errorf("saving resolved incident %s: %w", inc.ID, err)
	}
	s.audit(ctx, by, "incident.resolve", inc.ID, "after "+humanDuration(inc.ResolvedAt.Sub(inc.DeclaredAt)))
	if inc.Thread.IsZero() {
		return inc, nil
	}
	// The root message loses its buttons so nobody notifies or resolves again.
	root := MessageRef{Thread: inc.Thread, ID: inc.Thread.RootID}
	if err := s.Chat.Update(ctx, root, RootMessage(inc)); err != nil {
		s.report(ctx, fmt.Errorf("updating the root message of resolved %s: %w", inc.ID, err))
	}
	if _, err := s.Chat.Post(ctx, inc.Thread, ResolvedMessage(inc, by)); err != nil {
		return inc, fmt.Errorf("%s is resolved, but posting that in its thread failed: %w", inc.ID, err)
	}
	return inc, nil
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
//
// A resolved incident can still be notified (the all-clear).
// Problems keys: "audiences", "template",
// "field:<name>", "note", "sms" (longer than Settings.MaxSMSSegments).
// BodiesByLocale holds the texts of the template's other locales that at
// least one recipient will get. Preview makes no chat calls.
func (s *Service) Preview(ctx context.Context, by Actor, d Draft) (Preview, error) {
	if !s.Roles.IsResponder(by) {
		return Preview{}, &ForbiddenError{Role: RoleResponder, Action: "prepare a stakeholder update"}
	}
	inc, err := s.Incident(ctx, d.IncidentID)
	if err != nil {
		return Preview{}, err
	}
	return s.preview(ctx, inc, d)
}

func (s *Service) preview(ctx context.Context, inc Incident, d Draft) (Preview, error) {
	d.IncidentID = inc.ID
	p := Preview{Draft: d, Incident: inc, PerChannel: map[Channel]int{}}
	problems := map[string]string{}

	if len(d.Audiences) == 0 {
		problems["audiences"] = problemNoAudience()
	}
	for _, name := range d.Audiences {
		if _, ok := s.Directory.Audience(name); !ok {
			problems["audiences"] = problemUnknownAudience(name, s.audienceNames())
			break
		}
	}
	tpl, ok := s.Directory.Template(d.Template)
	switch {
	case d.Template == "":
		problems["template"] = problemNoTemplate()
	case !ok:
		problems["template"] = problemUnknownTemplate(d.Template)
	}
	if tpl != nil {
		for _, f := range tpl.Fields {
			if strings.TrimSpace(d.Fields[f]) == "" {
				problems["field:"+f] = problemEmptyField(f)
			}
		}
		if strings.TrimSpace(d.Note) != "" && !tpl.AllowNote {
			problems["note"] = problemNoteNotAllowed(tpl.Name)
		}
	}
	if problems["audiences"] != "" || tpl == nil {
		// Nothing to plan: the form shows what to choose first.
		p.Problems = problems
		return p, nil
	}

	plan, err := s.Planner.Plan(ctx, inc, d)
	if err != nil {
		return Preview{}, fmt.Errorf("planning the update for %s: %w", inc.ID, err)
	}
	def, err := tpl.Render("", TemplateData{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Fields: d.Fields, Note: d.Note})
	if err != nil {
		return Preview{}, fmt.Errorf("previewing the update for %s: %w", inc.ID, err)
	}
	p.SMSBody = def.Body
	p.SMS = CountSMS(def.Body)
	p.WhatsAppTemplate = def.ContentSID
	p.WhatsAppVars = def.ContentVariables
	p.ApprovalRequired = plan.ApprovalRequired
	p.OptedOut = len(plan.OptedOut)
	p.Total = len(plan.Recipients)
	for ch, n := range plan.PerChannel {
		p.PerChannel[ch] = n
	}
	locales := map[string]bool{}
	for _, l := range tpl.Locales() {
		locales[l] = true
	}
	for _, pr := range plan.Recipients {
		if pr.Channel == ChannelWhatsApp && pr.FreeForm {
			p.FreeFormWhatsApp++
		}
		if loc := pr.Recipient.Locale; locales[loc] {
			if p.BodiesByLocale == nil {
				p.BodiesByLocale = map[string]string{}
			}
			p.BodiesByLocale[loc] = pr.Rendered.Body
		}
	}
	if p.Total == 0 {
		problems["audiences"] = problemNobodyToReach(p.OptedOut)
	}
	if limit := s.Settings.MaxSMSSegments; limit > 0 {
		if p.SMS.Segments > limit {
			problems["sms"] = problemSMSTooLong("", p.SMS.Segments, limit)
		} else {
			for _, loc := range slices.Sorted(maps.Keys(p.BodiesByLocale)) {
				if n := CountSMS(p.BodiesByLocale[loc]).Segments; n > limit {
					problems["sms"] = problemSMSTooLong(loc, n, limit)
					break
				}
			}
		}
	}
	if len(problems) > 0 {
		p.Problems = problems
	}
	return p, nil
}

func (s *Service) audienceNames() []string {
	var names []string
	for _, a := range s.Directory.Audiences() {
		names = append(names, a.Name)
	}
	return names
}

// Submit sends a composed update: straight to the relay when no audience needs
// approval, else as an approval request in the incident thread. A draft with
// problems returns a *ValidationError.
//
// Broadcast ids read "INC-42-B3" (the third update of INC-42). If the approval
// request cannot be posted, the pending broadcast is returned with the error:
// it stands and can still be approved by SMS or expire.
func (s *Service) Submit(ctx context.Context, by Actor, d Draft) (Broadcast, error) {
	if !s.Roles.IsResponder(by) {
		return Broadcast{}, &ForbiddenError{Role: RoleResponder, Action: "send a stakeholder update"}
	}
	inc, err := s.Incident(ctx, d.IncidentID)
	if err != nil {
		return Broadcast{}, err
	}
	p, err := s.preview(ctx, inc, d)
	if err != nil {
		return Broadcast{}, err
	}
	if len(p.Problems) > 0 {
		return Broadcast{}, &ValidationError{Problems: p.Problems}
	}
	now := s.now()
	b := Broadcast{
		Draft:       p.Draft,
		RequestedBy: by,
		RequestedAt: now,
		Total:       p.Total,
		OptedOut:    p.OptedOut,
	}
	detail := fmt.Sprintf("template %s to %s (%s, %d opted out)", d.Template, strings.Join(d.Audiences, ", "), people(p.Total), p.OptedOut)

	if !p.ApprovalRequired {
		// The responder's own confirmation is the decision.
		b.State = BroadcastApproved
		b.DecidedBy = by
		b.DecidedAt = now
		if err := s.createBroadcast(ctx, &b); err != nil {
			return Broadcast{}, err
		}
		s.audit(ctx, by, "broadcast.send", inc.ID, b.ID+": "+detail)
		if err := s.startRelay(ctx, b); err != nil {
			return b, err
		}
		return b, nil
	}

	b.State = BroadcastPendingApproval
	b.ExpiresAt = now.Add(s.approvalTimeout())
	if err := s.createBroadcast(ctx, &b); err != nil {
		return Broadcast{}, err
	}
	s.audit(ctx, by, "broadcast.request", inc.ID, b.ID+": "+detail)
	if inc.Thread.IsZero() {
		return b, fmt.Errorf("%s has no chat thread to ask for approval of %s in: %w", inc.ID, b.ID, ErrChatDown)
	}
	ref, err := s.Chat.Post(ctx, inc.Thread, ApprovalRequestMessage(p, b))
	if err != nil {
		return b, fmt.Errorf("posting the approval request for %s: %w", b.ID, err)
	}
	// Only the reference is written: an approver may already have clicked.
	updated, err := s.Broadcasts.UpdateBroadcast(ctx, b.ID, func(x *Broadcast) error {
		x.Approval = ref
		return nil
	})
	if err != nil {
		b.Approval = ref
		return b, fmt.Errorf("remembering the approval request of %s: %w", b.ID, err)
	}
	return updated, nil
}

// broadcastIDClaimTTL keeps a claimed broadcast id reserved well past any
// incident's life; the store check below covers the time after.
const broadcastIDClaimTTL = 90 * 24 * time.Hour

// createBroadcast gives b the next free id of its incident and saves it.
func (s *Service) createBroadcast(ctx context.Context, b *Broadcast) error {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	incID := b.Draft.IncidentID
	existing, err := s.Broadcasts.BroadcastsOf(ctx, incID)
	if err != nil {
		return fmt.Errorf("numbering a new update of %s: %w", incID, err)
	}
	for n := len(existing) + 1; n <= len(existing)+1000; n++ {
		id := fmt.Sprintf("%s-B%d", incID, n)
		if _, err := s.Broadcasts.Broadcast(ctx, id); err == nil {
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("checking update id %s: %w", id, err)
		}
		if s.Dedup != nil {
			first, err := s.Dedup.FirstTime(ctx, "broadcast-id:"+id, broadcastIDClaimTTL)
			if err != nil {
				return fmt.Errorf("claiming update id %s: %w", id, err)
			}
			if !first {
				continue // another replica took it a moment ago
			}
		}
		b.ID = id
		if err := s.Broadcasts.SaveBroadcast(ctx, *b); err != nil {
			return fmt.Errorf("saving update %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("no free update id for %s", incID)
}

func (s *Service) startRelay(ctx context.Context, b Broadcast) error {
	if s.Relay == nil {
		return fmt.Errorf("%s is approved, but no relay is configured to send it", b.ID)
	}
	if err := s.Relay.Start(ctx, b); err != nil {
		return fmt.Errorf("%s is approved; handing it to the relay failed, herald retries within a minute (do not send it again): %w", b.ID, err)
	}
	return nil
}

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
func (s *Service) decide(ctx context.Context, id string, apply func(b *Broadcast, now time.Time) error) (Broadcast, decision, error) {
	now := s.now()
	var (
		outcome decision
		current Broadcast
	)
	b, err := s.Broadcasts.UpdateBroadcast(ctx, id, func(b *Broadcast) error {
		// The store may run this more than once (optimistic locking): start clean.
		outcome, current = decidedNow, *b
		if b.State != BroadcastPendingApproval {
			return &DecidedError{BroadcastID: b.ID, State: b.State, By: b.DecidedBy, At: b.DecidedAt}
		}
		if err := apply(b, now); err != nil {
			return err
		}
		if !b.ExpiresAt.IsZero() && !now.Before(b.ExpiresAt) {
			*b = current
			b.State = BroadcastExpired
			b.DecidedBy = SystemActor
			b.DecidedAt = now
			outcome = expiredNow
		}
		return nil
	})
	if err != nil {
		var decided *DecidedError
		var forbidden *ForbiddenError
		switch {
		case errors.As(err, &decided):
			return current, 0, err
		case errors.As(err, &forbidden):
			return Broadcast{}, 0, err
		}
		return Broadcast{}, 0, fmt.Errorf("deciding on %s: %w", id, err)
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
func (s *Service) Approve(ctx context.Context, by Actor, broadcastID string) (Broadcast, error) {
	if !s.Roles.IsApprover(by) {
		return Broadcast{}, &ForbiddenError{Role: RoleApprover, Action: "approve a stakeholder update"}
	}
	b, outcome, err := s.decide(ctx, broadcastID, func(b *Broadcast, now time.Time) error {
		if b.RequestedBy.ID == by.ID {
			return &ForbiddenError{Role: RoleApprover, Action: "approve an update someone else requested", FourEyes: true}
		}
		b.State = BroadcastApproved
		b.DecidedBy = by
		b.DecidedAt = now
		return nil
	})
	if err != nil {
		return b, err
	}
	if outcome == expiredNow {
		s.report(ctx, s.announceExpiry(ctx, b))
		return b, &DecidedError{BroadcastID: b.ID, State: BroadcastExpired, By: SystemActor, At: b.DecidedAt}
	}
	s.audit(ctx, by, "broadcast.approve", b.Draft.IncidentID, b.ID+" requested by "+actorLabel(b.RequestedBy))
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
func (s *Service) Reject(ctx context.Context, by Actor, broadcastID, reason string) (Broadcast, error) {
	if !s.Roles.IsApprover(by) {
		return Broadcast{}, &ForbiddenError{Role: RoleApprover, Action: "reject a stakeholder update"}
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Broadcast{}, &ValidationError{Problems: map[string]string{"reason": problemNoReason()}}
	}
	b, outcome, err := s.decide(ctx, broadcastID, func(b *Broadcast, now time.Time) error {
		b.State = BroadcastRejected
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
		return b, &DecidedError{BroadcastID: b.ID, State: BroadcastExpired, By: SystemActor, At: b.DecidedAt}
	}
	s.audit(ctx, by, "broadcast.reject", b.Draft.IncidentID, b.ID+": "+reason)
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
		b, outcome, err := s.decide(ctx, p.ID, func(*Broadcast, time.Time) error { return nil })
		if errors.Is(err, ErrConflict) {
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

func (s *Service) announceExpiry(ctx context.Context, b Broadcast) error {
	s.audit(ctx, SystemActor, "broadcast.expire", b.Draft.IncidentID,
		fmt.Sprintf("%s: no decision within %s, nothing sent", b.ID, humanDuration(b.ExpiresAt.Sub(b.RequestedAt))))
	return s.editApproval(ctx, b, ExpiredMessage(b, s.body(ctx, b)))
}

// editApproval replaces the approval request in the thread, if one was posted.
func (s *Service) editApproval(ctx context.Context, b Broadcast, m Message) error {
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
func (s *Service) body(ctx context.Context, b Broadcast) string {
	tpl, ok := s.Directory.Template(b.Draft.Template)
	if !ok {
		return ""
	}
	inc, err := s.Incidents.Incident(ctx, b.Draft.IncidentID)
	if err != nil {
		s.report(ctx, fmt.Errorf("loading incident %s for the text of %s: %w", b.Draft.IncidentID, b.ID, err))
		return ""
	}
	r, err := tpl.Render("", TemplateData{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Fields: b.Draft.Fields, Note: b.Draft.Note})
	if err != nil {
		return ""
	}
	return r.Body
}
