package workflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/guard"
)

// Preview is exactly what a draft would send, for the compose modal's second
// step and the approval request.
type Preview struct {
	Draft            bot.Draft
	Incident         bot.Incident
	SMSBody          string // default-locale body
	SMS              bot.SMSInfo
	BodiesByLocale   map[string]string // other locales' bodies, when the template has them
	WhatsAppTemplate string            // content SID, empty if none
	WhatsAppVars     map[string]string
	PerChannel       map[bot.Channel]int // recipients per channel after de-duplication and opt-outs
	FreeFormWhatsApp int                 // WhatsApp recipients whose session window is open
	OptedOut         int
	Total            int
	ApprovalRequired bool
	// Findings are what the content guard found in the texts, when an
	// audience is external (FindingLines says them in words). With
	// Settings.Guard.Block they are also Problems["guard"].
	Findings []guard.Finding
	// Problems is non-empty when the draft cannot be sent as it is; keys as in
	// ValidationError.
	Problems map[string]string
}

// Preview renders a draft without sending anything.
//
// A resolved incident can still be notified (the all-clear).
// Problems keys: "audiences", "template",
// "field:<name>", "note", "sms" (longer than Settings.MaxSMSSegments),
// "guard" (findings to an external audience while Settings.Guard.Block).
// BodiesByLocale holds the texts of the template's other locales that at
// least one recipient will get. Preview makes no chat calls.
func (s *Service) Preview(ctx context.Context, by bot.Actor, d bot.Draft) (Preview, error) {
	if !s.Roles.IsResponder(by) {
		return Preview{}, &bot.ForbiddenError{Role: bot.RoleResponder, Action: "prepare a stakeholder update"}
	}
	inc, err := s.Incident(ctx, d.IncidentID)
	if err != nil {
		return Preview{}, err
	}
	return s.preview(ctx, inc, d)
}

func (s *Service) preview(ctx context.Context, inc bot.Incident, d bot.Draft) (Preview, error) {
	d.IncidentID = inc.ID
	p := Preview{Draft: d, Incident: inc, PerChannel: map[bot.Channel]int{}}
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
	def, err := tpl.Render("", bot.TemplateDataFor(inc, d))
	if err != nil {
		return Preview{}, fmt.Errorf("previewing the update for %s: %w", inc.ID, err)
	}
	p.SMSBody = def.Body
	p.SMS = bot.CountSMS(def.Body)
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
		if pr.Channel == bot.ChannelWhatsApp && pr.FreeForm {
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
				if n := bot.CountSMS(p.BodiesByLocale[loc]).Segments; n > limit {
					problems["sms"] = problemSMSTooLong(loc, n, limit)
					break
				}
			}
		}
	}
	if p.Findings, err = s.guardFindings(tpl, inc, d); err != nil {
		return Preview{}, fmt.Errorf("previewing the update for %s: %w", inc.ID, err)
	}
	if len(p.Findings) > 0 && s.Settings.Guard.Block {
		problems["guard"] = problemGuardBlocked(FindingLines(p.Findings))
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
func (s *Service) Submit(ctx context.Context, by bot.Actor, d bot.Draft) (bot.Broadcast, error) {
	if !s.Roles.IsResponder(by) {
		return bot.Broadcast{}, &bot.ForbiddenError{Role: bot.RoleResponder, Action: "send a stakeholder update"}
	}
	inc, err := s.Incident(ctx, d.IncidentID)
	if err != nil {
		return bot.Broadcast{}, err
	}
	p, err := s.preview(ctx, inc, d)
	if err != nil {
		return bot.Broadcast{}, err
	}
	if len(p.Problems) > 0 {
		return bot.Broadcast{}, &bot.ValidationError{Problems: p.Problems}
	}
	now := s.now()
	b := bot.Broadcast{
		Draft:       p.Draft,
		RequestedBy: by,
		RequestedAt: now,
		Total:       p.Total,
		OptedOut:    p.OptedOut,
	}
	detail := fmt.Sprintf("template %s to %s (%s, %d opted out)", d.Template, strings.Join(d.Audiences, ", "), bot.People(p.Total), p.OptedOut)
	if g := guardAuditSummary(p.Findings); g != "" {
		// The requester saw the findings in the preview and went on.
		detail += "; " + g
	}

	if !p.ApprovalRequired {
		// The responder's own confirmation is the decision.
		b.State = bot.BroadcastApproved
		b.DecidedBy = by
		b.DecidedAt = now
		if err := s.createBroadcast(ctx, &b); err != nil {
			return bot.Broadcast{}, err
		}
		s.audit(ctx, by, bot.AuditBroadcastSend, inc.ID, b.ID+": "+detail)
		if err := s.startRelay(ctx, b); err != nil {
			return b, err
		}
		return b, nil
	}

	b.State = bot.BroadcastPendingApproval
	b.ExpiresAt = now.Add(s.approvalTimeout())
	if err := s.createBroadcast(ctx, &b); err != nil {
		return bot.Broadcast{}, err
	}
	s.audit(ctx, by, bot.AuditBroadcastRequest, inc.ID, b.ID+": "+detail)
	if inc.Thread.IsZero() {
		return b, fmt.Errorf("%s has no chat thread to ask for approval of %s in: %w", inc.ID, b.ID, bot.ErrChatDown)
	}
	ref, err := s.Chat.Post(ctx, inc.Thread, ApprovalRequestMessage(p, b))
	if err != nil {
		return b, fmt.Errorf("posting the approval request for %s: %w", b.ID, err)
	}
	// Only the reference is written: an approver may already have clicked.
	updated, err := s.Broadcasts.UpdateBroadcast(ctx, b.ID, func(x *bot.Broadcast) error {
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
func (s *Service) createBroadcast(ctx context.Context, b *bot.Broadcast) error {
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
		} else if !errors.Is(err, bot.ErrNotFound) {
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

func (s *Service) startRelay(ctx context.Context, b bot.Broadcast) error {
	if s.Relay == nil {
		return fmt.Errorf("%s is approved, but no relay is configured to send it", b.ID)
	}
	if err := s.Relay.Start(ctx, b); err != nil {
		return fmt.Errorf("%s is approved; handing it to the relay failed, herald retries within a minute (do not send it again): %w", b.ID, err)
	}
	return nil
}
