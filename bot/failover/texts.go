package failover

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

// The words herald uses over SMS while chat is down. SMS is short and read
// under stress: lead with the incident id and what happened.

// textRejectedBySMS is the reason recorded for a REJECT sent without one.
const textRejectedBySMS = "rejected by SMS"

// SMSError explains a failed command without internals.
func SMSError(err error) string {
	var fe *bot.ForbiddenError
	var ve *bot.ValidationError
	var de *bot.DecidedError
	switch {
	case errors.As(err, &fe):
		return "Refused: " + workflow.ForbiddenSentence(fe) + "."
	case errors.As(err, &ve):
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(ve.Problems)) {
			parts = append(parts, k+": "+ve.Problems[k])
		}
		return "Not sent: " + strings.Join(parts, "; ")
	case errors.As(err, &de):
		return bot.Capitalise(workflow.DecidedSentence(de)) + "."
	case errors.Is(err, bot.ErrNotFound):
		if ids := bot.IncidentIDsIn(err.Error()); len(ids) > 0 {
			return "No incident " + ids[0] + ". Text STATUS for the open ones."
		}
		return "Not found. Text STATUS for the open incidents."
	}
	return "Failed on herald's side. Try again; if it keeps failing, tell whoever runs herald: ref " + bot.ErrorRef(err) + "."
}

// SMSIncidentList lists open incidents.
func SMSIncidentList(incs []bot.Incident) string {
	if len(incs) == 0 {
		return "No open incidents."
	}
	var parts []string
	for _, inc := range incs {
		parts = append(parts, fmt.Sprintf("%s SEV%d %s", inc.ID, inc.Severity, inc.Title))
	}
	return "Open: " + strings.Join(parts, "; ")
}

// SMSStatus reports one incident.
func SMSStatus(r workflow.StatusReport) string {
	s := fmt.Sprintf("%s SEV%d %s: %s.", r.Incident.ID, r.Incident.Severity, r.Incident.State, r.Incident.Title)
	for _, b := range r.Broadcasts {
		s += fmt.Sprintf(" %s %s: %d delivered, %d failed of %d.", b.Broadcast.ID, b.Broadcast.State,
			b.Counts[bot.DeliveryDelivered]+b.Counts[bot.DeliveryRead], b.Counts[bot.DeliveryFailed]+b.Counts[bot.DeliveryUndelivered], b.Broadcast.Total)
	}
	return s
}

// SMSDeclared confirms a new incident.
func SMSDeclared(inc bot.Incident) string {
	return fmt.Sprintf("%s declared: %s. Text UPDATE %s <text> to inform watchers, NOTIFY %s <audience> <template> to notify stakeholders.", inc.ID, inc.Title, inc.ID, inc.ID)
}

// SMSUpdateMessage is a responder's SMS update as it appears in the thread.
func SMSUpdateMessage(by bot.Actor, text string) bot.Message {
	return bot.Message{Title: "Update from " + bot.ActorLabel(by) + " (SMS)", Quote: text}
}

// SMSUpdateKept confirms an update.
func SMSUpdateKept(id string, every time.Duration) string {
	return fmt.Sprintf("Update kept for %s: watchers get it within %s, the thread when chat is back.", id, every)
}

// SMSSending confirms a relay.
func SMSSending(b bot.Broadcast) string {
	return fmt.Sprintf("%s approved: sending to %d recipients by SMS.", b.ID, b.Total)
}

// SMSAwaitingApproval tells the requester an approver must answer.
func SMSAwaitingApproval(b bot.Broadcast, approvers int) string {
	return fmt.Sprintf("%s needs approval: code sent to %d approver(s). Nothing is sent until one of them approves.", b.ID, approvers)
}

// SMSApprovalRequest asks an approver, with the exact text and the code.
func SMSApprovalRequest(inc bot.Incident, b bot.Broadcast, p workflow.Preview, code string) string {
	return fmt.Sprintf("%s: %s asks to notify %s (%d people, SMS): \"%s\" Reply APPROVE %s or REJECT %s.",
		inc.ID, bot.ActorLabel(b.RequestedBy), strings.Join(b.Draft.Audiences, ","), p.Total, p.SMSBody, code, code)
}

// SMSUnknownCode answers an unknown or expired code.
func SMSUnknownCode(code string) string {
	return "Code " + code + " is unknown or expired. Nothing was sent."
}

// SMSRejected confirms a rejection.
func SMSRejected(b bot.Broadcast) string { return b.ID + " rejected. Nothing was sent." }

// SMSRelayNotice records an SMS relay for watchers and the thread.
func SMSRelayNotice(b bot.Broadcast, by bot.Actor) bot.Message {
	return bot.Message{Title: fmt.Sprintf("Notification %s sent over SMS to %s", b.ID, strings.Join(b.Draft.Audiences, ", ")),
		Text: fmt.Sprintf("Template %s, %d recipients, requested by %s, decided by %s.", b.Draft.Template, b.Total, bot.ActorLabel(b.RequestedBy), bot.ActorLabel(b.DecidedBy))}
}

// OutageSummary closes the replay of a thread.
func OutageSummary(start, end time.Time, replies, updates, relays int) bot.Message {
	return bot.Message{
		Title: "Back in chat",
		Text: fmt.Sprintf("Chat unreachable %s to %s UTC: %s, %s, %s.", start.UTC().Format("15:04"), end.UTC().Format("15:04"),
			bot.Plural(replies, "stakeholder reply", "stakeholder replies"), bot.Plural(updates, "update", "updates"),
			bot.Plural(relays, "approved notification over SMS", "approved notifications over SMS")),
	}
}

// WatcherDigest is one SMS for a watcher: the newest thread activity first
// cut to fit, the count of what did not fit at the end.
func WatcherDigest(items []bot.OutboxItem, maxChars int) string {
	head := "herald (chat down): "
	var lines []string
	used := len(head)
	for i, it := range items {
		line := digestLine(it)
		if used+len(line)+2 > maxChars {
			lines = append(lines, fmt.Sprintf("+%d more", len(items)-i))
			break
		}
		lines = append(lines, line)
		used += len(line) + 2
	}
	return head + strings.Join(lines, "; ")
}

func digestLine(it bot.OutboxItem) string {
	m := it.Message
	s := m.Title
	if m.Quote != "" {
		s += ": " + m.Quote
	} else if m.Text != "" {
		s += ": " + m.Text
	}
	return strings.Join(strings.Fields(s), " ")
}
