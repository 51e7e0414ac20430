package workflow

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/command"
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
func RootMessage(inc bot.Incident) bot.Message {
	m := bot.Message{
		Title: fmt.Sprintf("%s · SEV%d · %s", inc.ID, inc.Severity, inc.Title),
		Fields: []bot.Field{
			{Label: "Severity", Value: SeverityLabel(inc.Severity)},
			{Label: "State", Value: stateLabel(inc)},
			{Label: "Declared by", Value: bot.ActorLabel(inc.DeclaredBy)},
		},
		Context: "Incident " + inc.ID + " · " + typed(platformOf(inc), command.Help, "") + " lists every command",
	}
	if inc.State == bot.IncidentResolved {
		m.Text = "Resolved. Replies from stakeholders still arrive in this thread. " +
			"*Send the all-clear* tells stakeholders it is over."
		m.Actions = []bot.Action{{ID: bot.ActionNotify, Label: "Send the all-clear", Value: inc.ID, Style: bot.StylePrimary}}
		return m
	}
	m.Text = "Incident declared. Work it in this thread.\n" +
		"*Notify stakeholders* sends an update to their phones (SMS/WhatsApp). " +
		"When it is over, *Resolve* it and send the all-clear."
	m.Actions = []bot.Action{
		{ID: bot.ActionNotify, Label: "Notify stakeholders", Value: inc.ID, Style: bot.StylePrimary},
		{ID: bot.ActionResolve, Label: "Resolve", Value: inc.ID},
	}
	return m
}

// ResolvedMessage is posted in the thread when an incident is resolved.
func ResolvedMessage(inc bot.Incident, by bot.Actor) bot.Message {
	return bot.Message{
		Title: fmt.Sprintf("%s resolved by %s", inc.ID, bot.ActorLabel(by)),
		Text: fmt.Sprintf("Resolved after %s. Notify stakeholders that it is over: *Send the all-clear* "+
			"(pick your resolved template). Replies from stakeholders still show up here.", bot.HumanDuration(inc.ResolvedAt.Sub(inc.DeclaredAt))),
		Actions: []bot.Action{{ID: bot.ActionNotify, Label: "Send the all-clear", Value: inc.ID, Style: bot.StylePrimary}},
	}
}

// ApprovalRequestMessage asks an approver to approve or reject an update
// before it reaches phones. It shows exactly what will be sent and to how many.
func ApprovalRequestMessage(p Preview, b bot.Broadcast) bot.Message {
	requester := bot.ActorLabel(b.RequestedBy)
	m := bot.Message{
		Title: fmt.Sprintf("Approval needed: update to %s (%s)", strings.Join(b.Draft.Audiences, ", "), bot.People(p.Total)),
		Text: fmt.Sprintf("%s wants to send this update for %s. Read it, then *Approve* to send it now, or *Reject* with a reason.\n"+
			"Another approver must decide: %s cannot approve their own request.", requester, b.Draft.IncidentID, requester) +
			guardApprovalText(p),
		Quote:   p.SMSBody,
		Fields:  previewFields(p),
		Context: fmt.Sprintf("%s · expires in %s: if nobody decides, nothing is sent", b.ID, bot.HumanDuration(b.ExpiresAt.Sub(b.RequestedAt))),
		Actions: []bot.Action{
			{ID: bot.ActionApprove, Label: "Approve", Value: b.ID, Style: bot.StylePrimary},
			{ID: bot.ActionReject, Label: "Reject", Value: b.ID, Style: bot.StyleDanger},
		},
	}
	m.Fields = append(m.Fields, bot.Field{Label: "Requested by", Value: requester})
	return m
}

// guardApprovalText lists the guard's findings under the request, each
// match in *bold*, or is empty.
func guardApprovalText(p Preview) string {
	lines := FindingLines(p.Findings)
	if len(lines) == 0 {
		return ""
	}
	text := "\n\n" + GuardApprovalHeading(len(lines))
	for _, l := range lines {
		text += "\n• " + l.Bold()
	}
	return text
}

// previewFields lists what a preview will do, as label/value pairs.
func previewFields(p Preview) []bot.Field {
	fields := []bot.Field{
		{Label: "Recipients", Value: RecipientsLine(p)},
		{Label: "SMS", Value: SMSLine(p.SMS, p.SMSBody)},
	}
	if p.OptedOut > 0 {
		fields = append(fields, bot.Field{Label: "Opted out", Value: fmt.Sprintf("%s (not sent: they texted STOP)", bot.People(p.OptedOut))})
	}
	if wa := WhatsAppLine(p); wa != "" {
		fields = append(fields, bot.Field{Label: "WhatsApp", Value: wa})
	}
	for _, loc := range slices.Sorted(maps.Keys(p.BodiesByLocale)) {
		fields = append(fields, bot.Field{Label: "Text (" + loc + ")", Value: p.BodiesByLocale[loc]})
	}
	if p.Draft.Drill {
		fields = append(fields, bot.Field{Label: "Drill", Value: "yes: a test run"})
	}
	return fields
}

// ApprovedMessage replaces an approval request once it is approved: the
// buttons go, the decision and what happens next stay.
func ApprovedMessage(b bot.Broadcast, body string) bot.Message {
	return bot.Message{
		Title: fmt.Sprintf("Approved by %s: sending to %s", bot.ActorLabel(b.DecidedBy), bot.People(b.Total)),
		Text: fmt.Sprintf("The update for %s to %s, requested by %s, is on its way. Delivery progress follows in this thread.",
			b.Draft.IncidentID, strings.Join(b.Draft.Audiences, ", "), bot.ActorLabel(b.RequestedBy)),
		Quote:   body,
		Context: b.ID,
	}
}

// RejectedMessage replaces an approval request once it is rejected.
func RejectedMessage(b bot.Broadcast, body string) bot.Message {
	return bot.Message{
		Title: fmt.Sprintf("Rejected by %s: nothing was sent", bot.ActorLabel(b.DecidedBy)),
		Text: fmt.Sprintf("Reason: %s\n%s: change the update and submit it again with %s.",
			b.Reason, bot.ActorLabel(b.RequestedBy), typed(b.RequestedBy.Platform, command.Notify, b.Draft.IncidentID)),
		Quote:   body,
		Context: b.ID,
	}
}

// ExpiredMessage replaces an approval request nobody decided on in time.
func ExpiredMessage(b bot.Broadcast, body string) bot.Message {
	return bot.Message{
		Title: fmt.Sprintf("Expired after %s: nothing was sent", bot.HumanDuration(b.ExpiresAt.Sub(b.RequestedAt))),
		Text: fmt.Sprintf("No approver decided in time, so stakeholders did not get this update. "+
			"To send it, submit it again with %s.", typed(b.RequestedBy.Platform, command.Notify, b.Draft.IncidentID)),
		Quote:   body,
		Context: b.ID,
	}
}

// StatusMessage answers /incident status: where the incident is and what
// every update did.
func StatusMessage(r StatusReport, now time.Time) bot.Message {
	inc := r.Incident
	m := bot.Message{
		Title: fmt.Sprintf("%s · SEV%d · %s", inc.ID, inc.Severity, inc.Title),
		Fields: []bot.Field{
			{Label: "State", Value: stateLabel(inc) + ageSuffix(inc, now)},
			{Label: "Severity", Value: SeverityLabel(inc.Severity)},
			{Label: "Declared by", Value: bot.ActorLabel(inc.DeclaredBy)},
			{Label: "Stakeholder updates", Value: fmt.Sprint(len(r.Broadcasts))},
		},
	}
	if len(r.Broadcasts) == 0 {
		if inc.State == bot.IncidentOpen {
			m.Text = "No stakeholder update sent yet. Use " + typed(platformOf(inc), command.Notify, inc.ID) + " to send one."
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

func broadcastStateLabel(b bot.Broadcast) string {
	switch b.State {
	case bot.BroadcastPendingApproval:
		return "waiting for approval"
	case bot.BroadcastApproved, bot.BroadcastSending, bot.BroadcastDone:
		if b.DecidedBy.ID == b.RequestedBy.ID {
			return fmt.Sprintf("sent by %s to %s", bot.ActorLabel(b.RequestedBy), bot.People(b.Total))
		}
		return fmt.Sprintf("approved by %s, to %s", bot.ActorLabel(b.DecidedBy), bot.People(b.Total))
	case bot.BroadcastRejected:
		return fmt.Sprintf("rejected by %s (%s), not sent", bot.ActorLabel(b.DecidedBy), b.Reason)
	case bot.BroadcastExpired:
		return "expired unapproved, not sent"
	}
	return string(b.State)
}

// countsLine is "10 delivered, 1 read, 1 failed", in the order a delivery moves.
func countsLine(c bot.Counts) string {
	states := make([]bot.DeliveryState, 0, len(c))
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

// ListMessage answers list, in the syntax of platform p.
func ListMessage(p bot.Platform, incs []bot.Incident, openOnly bool, now time.Time) bot.Message {
	title := "Incidents"
	if openOnly {
		title = "Open incidents"
	}
	if len(incs) == 0 {
		if openOnly {
			return bot.Message{Title: "No open incidents", Text: "Declare one with " + typed(p, command.New, "<title> [--sev 1..4]") + "."}
		}
		return bot.Message{Title: "No incidents yet", Text: "Declare one with " + typed(p, command.New, "<title> [--sev 1..4]") + "."}
	}
	m := bot.Message{Title: fmt.Sprintf("%s (%d)", title, len(incs))}
	lines := make([]string, 0, min(len(incs), maxListed)+1)
	for i, inc := range incs {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("…and %d more", len(incs)-maxListed))
			break
		}
		lines = append(lines, fmt.Sprintf("*%s* · SEV%d · %s · %s%s", inc.ID, inc.Severity, inc.Title, stateLabel(inc), ageSuffix(inc, now)))
	}
	m.Text = strings.Join(lines, "\n")
	m.Context = "Details: " + typed(p, command.Status, "INC-<number>")
	return m
}

// RefusalMessage explains to the person who asked why herald did not do it,
// and what they can do instead, rendered from the refusal's fields (never
// from an error's text, which is for logs). Adapters show it only to that
// person.
func RefusalMessage(err error) bot.Message {
	var forbidden *bot.ForbiddenError
	var invalid *bot.ValidationError
	var decided *bot.DecidedError
	switch {
	case errors.As(err, &forbidden):
		if forbidden.FourEyes {
			return bot.Message{
				Title: "You cannot approve your own update",
				Text:  "Four eyes: a second approver has to approve it. Ask another approver to look at the request in the thread.",
			}
		}
		return bot.Message{
			Title: "Not allowed: " + ForbiddenSentence(forbidden),
			Text:  fmt.Sprintf("Ask whoever runs herald to add you to roles.%ss in its config, or ask a %s to do it.", forbidden.Role, forbidden.Role),
		}
	case errors.As(err, &invalid):
		keys := slices.Sorted(maps.Keys(invalid.Problems))
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = "• " + invalid.Problems[k]
		}
		return bot.Message{Title: "Please fix this first", Text: strings.Join(lines, "\n")}
	case errors.As(err, &decided):
		return bot.Message{Title: bot.Capitalise(DecidedSentence(decided))}
	case errors.Is(err, bot.ErrNotFound):
		what := "herald found nothing by that name."
		if ids := bot.IncidentIDsIn(err.Error()); len(ids) > 0 {
			what = "herald has no incident " + ids[0] + "."
		}
		return bot.Message{Title: "Not found", Text: what + "\nCheck the incident id: the list command shows the open incidents."}
	case errors.Is(err, bot.ErrConflict):
		return bot.Message{Title: "Someone else changed this just now", Text: "Nothing was done twice. Look at the thread for what happened, then try again if it is still needed."}
	}
	return UnexpectedMessage(err)
}

// UnexpectedMessage is what a person sees when herald itself failed: a
// plain sentence and a reference to the log line, never the error's text.
func UnexpectedMessage(err error) bot.Message {
	return bot.Message{
		Title: "herald could not do that",
		Text:  "Something went wrong on herald's side. Try again in a moment. If it keeps failing, tell whoever runs herald the reference " + bot.ErrorRef(err) + ".",
	}
}

// ForbiddenSentence says who may do what was refused: "only a responder may
// declare an incident".
func ForbiddenSentence(e *bot.ForbiddenError) string {
	if e.FourEyes {
		return "you requested this update yourself, so another " + e.Role + " must approve it (four eyes)"
	}
	article := "a "
	if e.Role != "" && strings.ContainsRune("aeiou", rune(e.Role[0])) {
		article = "an "
	}
	return "only " + article + e.Role + " may " + e.Action
}

// DecidedSentence says what became of an approval request someone tried to
// decide too late: "INC-4-B2 was already approved by Lee Chen".
func DecidedSentence(e *bot.DecidedError) string {
	switch e.State {
	case bot.BroadcastRejected:
		return e.BroadcastID + " was already rejected by " + bot.ActorLabel(e.By) + ": nothing was sent"
	case bot.BroadcastExpired:
		return e.BroadcastID + " expired before anyone decided: nothing was sent"
	case bot.BroadcastPendingApproval:
		return e.BroadcastID + " is still waiting for approval"
	}
	return e.BroadcastID + " was already approved by " + bot.ActorLabel(e.By)
}

func stateLabel(inc bot.Incident) string {
	if inc.State == bot.IncidentResolved {
		return "Resolved"
	}
	return "Open"
}

// ageSuffix is " for 1h 12m" (open) or " after 1h 12m" (resolved).
func ageSuffix(inc bot.Incident, now time.Time) string {
	if inc.DeclaredAt.IsZero() {
		return ""
	}
	if inc.State == bot.IncidentResolved && !inc.ResolvedAt.IsZero() {
		return " after " + bot.HumanDuration(inc.ResolvedAt.Sub(inc.DeclaredAt))
	}
	return " for " + bot.HumanDuration(now.Sub(inc.DeclaredAt))
}

// Problem texts for drafts and commands, keyed as in ValidationError.
func problemNoTitle() string { return "Give the incident a title: what is broken, in a few words." }

func problemTitleTooLong(n int) string {
	return fmt.Sprintf("The title has %d characters; keep it to %d so it fits in an SMS.", n, bot.MaxTitleLength)
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
		return fmt.Sprintf("Nobody would get this: all %s in these audiences opted out.", bot.People(optedOut))
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

// typed is how a person on platform p types command n: each platform's
// people are told their own syntax (/incident in Slack, @herald in Teams).
func typed(p bot.Platform, n command.Name, args string) string {
	return command.Invocation(command.SurfaceOf(p), n, args)
}

// platformOf is where an incident's thread lives, else where it was
// declared from.
func platformOf(inc bot.Incident) bot.Platform {
	return cmp.Or(inc.Thread.Platform, inc.DeclaredBy.Platform)
}
