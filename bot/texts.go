package bot

// Every user-facing English text of the incident workflow lives here, so
// wording can be reviewed (and one day translated) in one place. People read
// these under stress: each message leads with what happened, then what to do.

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// maxListed caps how many incidents a list message shows; chat messages have
// size limits and nobody scans fifty lines during an incident.
const maxListed = 20

// SeverityLabel names a severity the way responders say it: "SEV1 · critical".
func SeverityLabel(sev int) string {
	switch sev {
	case 1:
		return "SEV1 · critical"
	case 2:
		return "SEV2 · major"
	case 3:
		return "SEV3 · minor"
	case 4:
		return "SEV4 · low"
	}
	return fmt.Sprintf("SEV%d", sev)
}

// RootMessage is an incident's root message in the incident channel; its
// thread is the incident thread. An open incident carries the Notify
// stakeholders and Resolve buttons; a resolved one carries none.
func RootMessage(inc Incident) Message {
	m := Message{
		Title: fmt.Sprintf("%s · SEV%d · %s", inc.ID, inc.Severity, inc.Title),
		Fields: []Field{
			{Label: "Severity", Value: SeverityLabel(inc.Severity)},
			{Label: "State", Value: stateLabel(inc)},
			{Label: "Declared by", Value: actorLabel(inc.DeclaredBy)},
		},
		Context: "Incident " + inc.ID + " · /incident help lists every command",
	}
	if inc.State == IncidentResolved {
		m.Text = "Resolved. Replies from stakeholders still arrive in this thread. " +
			"*Send the all-clear* tells stakeholders it is over."
		m.Actions = []Action{{ID: ActionNotify, Label: "Send the all-clear", Value: inc.ID, Style: StylePrimary}}
		return m
	}
	m.Text = "Incident declared. Work it in this thread.\n" +
		"*Notify stakeholders* sends an update to their phones (SMS/WhatsApp). " +
		"When it is over, *Resolve* it and send the all-clear."
	m.Actions = []Action{
		{ID: ActionNotify, Label: "Notify stakeholders", Value: inc.ID, Style: StylePrimary},
		{ID: ActionResolve, Label: "Resolve", Value: inc.ID},
	}
	return m
}

// ResolvedMessage is posted in the thread when an incident is resolved.
func ResolvedMessage(inc Incident, by Actor) Message {
	return Message{
		Title: fmt.Sprintf("%s resolved by %s", inc.ID, actorLabel(by)),
		Text: fmt.Sprintf("Resolved after %s. Notify stakeholders that it is over: *Send the all-clear* "+
			"(pick your resolved template). Replies from stakeholders still show up here.", humanDuration(inc.ResolvedAt.Sub(inc.DeclaredAt))),
		Actions: []Action{{ID: ActionNotify, Label: "Send the all-clear", Value: inc.ID, Style: StylePrimary}},
	}
}

// ApprovalRequestMessage asks an approver to approve or reject an update
// before it reaches phones. It shows exactly what will be sent and to how many.
func ApprovalRequestMessage(p Preview, b Broadcast) Message {
	requester := actorLabel(b.RequestedBy)
	m := Message{
		Title: fmt.Sprintf("Approval needed: update to %s (%s)", strings.Join(b.Draft.Audiences, ", "), people(p.Total)),
		Text: fmt.Sprintf("%s wants to send this update for %s. Read it, then *Approve* to send it now, or *Reject* with a reason.\n"+
			"Another approver must decide: %s cannot approve their own request.", requester, b.Draft.IncidentID, requester),
		Quote:   p.SMSBody,
		Fields:  previewFields(p),
		Context: fmt.Sprintf("%s · expires in %s: if nobody decides, nothing is sent", b.ID, humanDuration(b.ExpiresAt.Sub(b.RequestedAt))),
		Actions: []Action{
			{ID: ActionApprove, Label: "Approve", Value: b.ID, Style: StylePrimary},
			{ID: ActionReject, Label: "Reject", Value: b.ID, Style: StyleDanger},
		},
	}
	m.Fields = append(m.Fields, Field{Label: "Requested by", Value: requester})
	return m
}

// previewFields lists what a preview will do, as label/value pairs.
func previewFields(p Preview) []Field {
	fields := []Field{
		{Label: "Recipients", Value: recipientsLine(p)},
		{Label: "SMS", Value: smsLine(p.SMS)},
	}
	if p.OptedOut > 0 {
		fields = append(fields, Field{Label: "Opted out", Value: fmt.Sprintf("%s (not sent: they texted STOP)", people(p.OptedOut))})
	}
	if p.WhatsAppTemplate != "" {
		fields = append(fields, Field{Label: "WhatsApp template", Value: p.WhatsAppTemplate})
	}
	for _, loc := range slices.Sorted(maps.Keys(p.BodiesByLocale)) {
		fields = append(fields, Field{Label: "Text (" + loc + ")", Value: p.BodiesByLocale[loc]})
	}
	if p.Draft.Drill {
		fields = append(fields, Field{Label: "Drill", Value: "yes: a test run"})
	}
	return fields
}

// recipientsLine is "12 people: 9 WhatsApp (4 free-form), 3 SMS".
func recipientsLine(p Preview) string {
	var parts []string
	for _, ch := range []Channel{ChannelWhatsApp, ChannelSMS} {
		n := p.PerChannel[ch]
		if n == 0 {
			continue
		}
		part := fmt.Sprintf("%d %s", n, ch.Label())
		if ch == ChannelWhatsApp && p.FreeFormWhatsApp > 0 && p.WhatsAppTemplate != "" {
			part += fmt.Sprintf(" (%d free-form)", p.FreeFormWhatsApp)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return people(p.Total)
	}
	return people(p.Total) + ": " + strings.Join(parts, ", ")
}

func smsLine(info SMSInfo) string {
	seg := "segments"
	if info.Segments == 1 {
		seg = "segment"
	}
	return fmt.Sprintf("%d %s, %s, %d characters", info.Segments, seg, info.Encoding, info.Characters)
}

// ApprovedMessage replaces an approval request once it is approved: the
// buttons go, the decision and what happens next stay.
func ApprovedMessage(b Broadcast, body string) Message {
	return Message{
		Title: fmt.Sprintf("Approved by %s: sending to %s", actorLabel(b.DecidedBy), people(b.Total)),
		Text: fmt.Sprintf("The update for %s to %s, requested by %s, is on its way. Delivery progress follows in this thread.",
			b.Draft.IncidentID, strings.Join(b.Draft.Audiences, ", "), actorLabel(b.RequestedBy)),
		Quote:   body,
		Context: b.ID,
	}
}

// RejectedMessage replaces an approval request once it is rejected.
func RejectedMessage(b Broadcast, body string) Message {
	return Message{
		Title: fmt.Sprintf("Rejected by %s: nothing was sent", actorLabel(b.DecidedBy)),
		Text: fmt.Sprintf("Reason: %s\n%s: change the update and submit it again with /incident notify %s.",
			b.Reason, actorLabel(b.RequestedBy), b.Draft.IncidentID),
		Quote:   body,
		Context: b.ID,
	}
}

// ExpiredMessage replaces an approval request nobody decided on in time.
func ExpiredMessage(b Broadcast, body string) Message {
	return Message{
		Title: fmt.Sprintf("Expired after %s: nothing was sent", humanDuration(b.ExpiresAt.Sub(b.RequestedAt))),
		Text: fmt.Sprintf("No approver decided in time, so stakeholders did not get this update. "+
			"To send it, submit it again with /incident notify %s.", b.Draft.IncidentID),
		Quote:   body,
		Context: b.ID,
	}
}

// StatusMessage answers /incident status: where the incident is and what
// every update did.
func StatusMessage(r StatusReport, now time.Time) Message {
	inc := r.Incident
	m := Message{
		Title: fmt.Sprintf("%s · SEV%d · %s", inc.ID, inc.Severity, inc.Title),
		Fields: []Field{
			{Label: "State", Value: stateLabel(inc) + ageSuffix(inc, now)},
			{Label: "Severity", Value: SeverityLabel(inc.Severity)},
			{Label: "Declared by", Value: actorLabel(inc.DeclaredBy)},
			{Label: "Stakeholder updates", Value: fmt.Sprint(len(r.Broadcasts))},
		},
	}
	if len(r.Broadcasts) == 0 {
		if inc.State == IncidentOpen {
			m.Text = "No stakeholder update sent yet. Use /incident notify " + inc.ID + " to send one."
		} else {
			m.Text = "No stakeholder update was sent."
		}
		return m
	}
	lines := make([]string, 0, len(r.Broadcasts))
	for _, bs := range r.Broadcasts {
		lines = append(lines, broadcastLine(bs))
	}
	m.Text = strings.Join(lines, "\n")
	return m
}

func broadcastLine(bs BroadcastStatus) string {
	b := bs.Broadcast
	line := fmt.Sprintf("*%s* · %s · %s · %s", b.ID, strings.Join(b.Draft.Audiences, ", "), b.Draft.Template, broadcastStateLabel(b))
	if c := countsLine(bs.Counts); c != "" {
		line += " · " + c
	}
	return line
}

func broadcastStateLabel(b Broadcast) string {
	switch b.State {
	case BroadcastPendingApproval:
		return "waiting for approval"
	case BroadcastApproved, BroadcastSending, BroadcastDone:
		if b.DecidedBy.ID == b.RequestedBy.ID {
			return fmt.Sprintf("sent by %s to %s", actorLabel(b.RequestedBy), people(b.Total))
		}
		return fmt.Sprintf("approved by %s, to %s", actorLabel(b.DecidedBy), people(b.Total))
	case BroadcastRejected:
		return fmt.Sprintf("rejected by %s (%s), not sent", actorLabel(b.DecidedBy), b.Reason)
	case BroadcastExpired:
		return "expired unapproved, not sent"
	}
	return string(b.State)
}

// countsLine is "10 delivered, 1 read, 1 failed", in the order a delivery moves.
func countsLine(c Counts) string {
	states := make([]DeliveryState, 0, len(c))
	for st, n := range c {
		if n > 0 {
			states = append(states, st)
		}
	}
	sort.Slice(states, func(i, j int) bool {
		if ri, rj := states[i].Rank(), states[j].Rank(); ri != rj {
			return ri < rj
		}
		return states[i] < states[j]
	})
	parts := make([]string, len(states))
	for i, st := range states {
		parts[i] = fmt.Sprintf("%d %s", c[st], strings.ReplaceAll(string(st), "_", " "))
	}
	return strings.Join(parts, ", ")
}

// ListMessage answers /incident list.
func ListMessage(incs []Incident, openOnly bool, now time.Time) Message {
	title := "Incidents"
	if openOnly {
		title = "Open incidents"
	}
	if len(incs) == 0 {
		if openOnly {
			return Message{Title: "No open incidents", Text: "Declare one with /incident new <title> [--sev 1..4]."}
		}
		return Message{Title: "No incidents yet", Text: "Declare one with /incident new <title> [--sev 1..4]."}
	}
	m := Message{Title: fmt.Sprintf("%s (%d)", title, len(incs))}
	lines := make([]string, 0, min(len(incs), maxListed)+1)
	for i, inc := range incs {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("…and %d more", len(incs)-maxListed))
			break
		}
		lines = append(lines, fmt.Sprintf("*%s* · SEV%d · %s · %s%s", inc.ID, inc.Severity, inc.Title, stateLabel(inc), ageSuffix(inc, now)))
	}
	m.Text = strings.Join(lines, "\n")
	m.Context = "Details: /incident status INC-<number>"
	return m
}

// HelpMessage answers /incident help.
func HelpMessage() Message {
	return Message{
		Title: "herald: incident commands",
		Text: strings.Join([]string{
			"*/incident new <title> [--sev 1..4]*: declare an incident (SEV1 is the worst; default SEV3)",
			"*/incident notify [INC-42]*: send stakeholders an update by SMS/WhatsApp",
			"*/incident status [INC-42]*: where the incident and its updates are",
			"*/incident list*: open incidents",
			"*/incident reply <who> <text>*: answer a stakeholder who wrote in",
			"*/incident resolve [INC-42]*: mark the incident resolved",
			"*/incident help*: this list",
		}, "\n"),
		Context: "Without an id, commands act on the newest open incident in this channel.",
	}
}

// RefusalMessage explains to the person who asked why herald did not do it,
// and what they can do instead. Adapters show it only to that person.
func RefusalMessage(err error) Message {
	var forbidden *ForbiddenError
	var invalid *ValidationError
	var decided *DecidedError
	switch {
	case errors.As(err, &forbidden):
		if forbidden.FourEyes {
			return Message{
				Title: "You cannot approve your own update",
				Text:  "Four eyes: a second approver has to approve it. Ask another approver to look at the request in the thread.",
			}
		}
		return Message{
			Title: "Not allowed: " + forbidden.Error(),
			Text:  fmt.Sprintf("Ask whoever runs herald to add you to roles.%ss in its config, or ask a %s to do it.", forbidden.Role, forbidden.Role),
		}
	case errors.As(err, &invalid):
		keys := slices.Sorted(maps.Keys(invalid.Problems))
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = "• " + invalid.Problems[k]
		}
		return Message{Title: "Please fix this first", Text: strings.Join(lines, "\n")}
	case errors.As(err, &decided):
		return Message{Title: capitalise(decided.Error())}
	case errors.Is(err, ErrNotFound):
		return Message{
			Title: "Not found",
			Text:  maskPhonesIn(err.Error()) + "\nCheck the incident id with /incident list.",
		}
	}
	return Message{
		Title: "herald could not do that",
		Text:  maskPhonesIn(err.Error()) + "\nTry again in a moment. If it keeps failing, tell whoever runs herald.",
	}
}

// actorLabel names someone in a message. A phone number (an actor during
// failover) is masked: threads are read by many.
func actorLabel(a Actor) string {
	if a.Name != "" {
		return a.Name
	}
	if strings.HasPrefix(a.ID, "+") {
		return MaskPhone(a.ID)
	}
	return a.ID
}

func stateLabel(inc Incident) string {
	if inc.State == IncidentResolved {
		return "Resolved"
	}
	return "Open"
}

// ageSuffix is " for 1h 12m" (open) or " after 1h 12m" (resolved).
func ageSuffix(inc Incident, now time.Time) string {
	if inc.DeclaredAt.IsZero() {
		return ""
	}
	if inc.State == IncidentResolved && !inc.ResolvedAt.IsZero() {
		return " after " + humanDuration(inc.ResolvedAt.Sub(inc.DeclaredAt))
	}
	return " for " + humanDuration(now.Sub(inc.DeclaredAt))
}

// people is "1 person" / "12 people".
func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}

// humanDuration is "less than a minute", "30 min", "1h 12m", "3 days".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		m := int((d % time.Hour) / time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var e164ish = regexp.MustCompile(`\+\d{8,15}`)

// maskPhonesIn masks anything that looks like a phone number in an error
// text before it is shown in chat.
func maskPhonesIn(s string) string { return e164ish.ReplaceAllStringFunc(s, MaskPhone) }

// Problem texts for drafts and commands, keyed as in ValidationError.
func problemNoTitle() string { return "Give the incident a title: what is broken, in a few words." }

func problemTitleTooLong(n int) string {
	return fmt.Sprintf("The title has %d characters; keep it to %d so it fits in an SMS.", n, MaxTitleLength)
}

func problemSeverity(sev int) string {
	return fmt.Sprintf("There is no SEV%d: use 1 (critical) to 4 (low).", sev)
}

func problemNoChannel() string {
	return "herald does not know where to post the incident: set slack.incident_channel in the config, or run the command in a channel."
}

func problemNoAudience() string { return "Choose at least one audience." }

func problemUnknownAudience(name string, known []string) string {
	return fmt.Sprintf("There is no audience %q. Audiences: %s.", name, strings.Join(known, ", "))
}

func problemNobodyToReach(optedOut int) string {
	if optedOut > 0 {
		return fmt.Sprintf("Nobody would get this: all %s in these audiences opted out.", people(optedOut))
	}
	return "Nobody would get this: these audiences have no members."
}

func problemNoTemplate() string { return "Choose a template." }

func problemUnknownTemplate(name string) string {
	return fmt.Sprintf("There is no template %q.", name)
}

func problemEmptyField(field string) string {
	return fmt.Sprintf("Fill in %q: the template needs it.", strings.ReplaceAll(field, "_", " "))
}

func problemNoteNotAllowed(template string) string {
	return fmt.Sprintf("Template %q has no place for a note: remove the note or choose another template.", template)
}

func problemSMSTooLong(locale string, segments, limit int) string {
	which := "The SMS"
	if locale != "" {
		which = "The " + locale + " SMS"
	}
	return fmt.Sprintf("%s would be %d segments; the limit is %d. Shorten the field texts.", which, segments, limit)
}

func problemNoReason() string {
	return "Say why you reject it, so the requester can fix the update."
}
