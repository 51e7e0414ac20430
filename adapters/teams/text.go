package teams

// Teams-only user-facing text: compose and preview card labels, command
// usage, acknowledgements. The workflow's own texts (root message, approval
// request, status, help, refusals) come from bot, shared with Slack.

import (
	"fmt"
	"strings"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/command"
	"github.com/heraldops/herald/bot/workflow"
)

const (
	textComposeIntro            = "Choose who gets the update and fill in the template. Preview shows exactly what phones will receive before anything is sent."
	textAudiencesLabel          = "Audiences"
	textTemplateLabel           = "Template"
	textNoteLabel               = "Note (optional)"
	textPreviewButton           = "Preview"
	textShowFieldsButton        = "Show fields of chosen template"
	textEditButton              = "Edit"
	textSMSHeading              = "SMS text, exactly as sent"
	textFactSMS                 = "SMS"
	textFactRecipients          = "Recipients"
	textFactWhatsApp            = "WhatsApp"
	textFactOptedOut            = "Opted out"
	textFactAudiences           = "Audiences"
	textFactTemplate            = "Template"
	textFactApproval            = "Approval"
	textRejectReasonLabel       = "Why reject it? The requester sees this."
	textRejectReasonPlaceholder = "e.g. wrong ETA, say 15:30"
	textNeedReason              = "Please give a reason for rejecting: open Reject again and fill in the reason."
	textAlreadyHandled          = "Already done: this button was used before."
)

func textComposeTitle(inc bot.Incident) string {
	return fmt.Sprintf("Notify stakeholders · %s · %s", inc.ID, inc.Title)
}

func textAudienceChoice(a AudienceChoice) string {
	s := fmt.Sprintf("%s (%s)", a.Name, textPeople(a.Members))
	if a.Description != "" {
		s += " · " + a.Description
	}
	if a.ApprovalRequired {
		s += " · needs approval"
	}
	return s
}

func textPeople(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}

func textFieldLabel(name string) string {
	return strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "_", " ")
}

func textFieldPlaceholder(name string) string {
	return "{{.Fields." + name + "}} in the template"
}

func textPreviewTitle(p workflow.Preview) string {
	return fmt.Sprintf("Preview · %s · %s", p.Draft.IncidentID, p.Incident.Title)
}

func textPreviewIntro(p workflow.Preview) string {
	if len(p.Problems) > 0 {
		return "This update cannot be sent yet: fix the problems below with *Edit*."
	}
	if p.ApprovalRequired {
		return "Check the text. *Request approval* posts it for an approver in the incident thread; nothing is sent until another approver approves."
	}
	return "Check the text. *Send* relays it to every recipient now."
}

func textLocaleHeading(loc string) string { return "SMS text (" + loc + ")" }

func textOptedOut(n int) string {
	return textPeople(n) + " (not sent: they texted STOP)"
}

func textApproval(required bool) string {
	if required {
		return "needed: another approver must approve before it is sent"
	}
	return "not needed: it is sent when you click Send"
}

func textSendButton(approval bool) string {
	if approval {
		return "Request approval"
	}
	return "Send"
}

func textSubmitted(b bot.Broadcast) bot.Message {
	if b.State == bot.BroadcastPendingApproval {
		return bot.Message{
			Title:   fmt.Sprintf("Approval requested for %s", b.Draft.IncidentID),
			Text:    "The request is in the incident thread. Nothing is sent until another approver approves it.",
			Context: b.ID,
		}
	}
	return bot.Message{
		Title:   fmt.Sprintf("Sending to %s", textPeople(b.Total)),
		Text:    "Delivery progress follows in the incident thread.",
		Context: b.ID,
	}
}

func textComposePosted(inc bot.Incident) string {
	return fmt.Sprintf("The compose card for %s is in the incident's thread.", inc.ID)
}

func textDeclared(inc bot.Incident) string {
	return fmt.Sprintf("Declared %s (SEV%d): %s. Its thread is in the incident channel.", inc.ID, inc.Severity, inc.Title)
}

func textNoIncident() string {
	return "No open incident here. Give its id (e.g. " + command.Invocation(command.Teams, command.Status, "INC-42") +
		") or see " + command.Invocation(command.Teams, command.List, "") + "."
}

// textCardOutdated: the compose card's draft no longer fits the incident.
var textCardOutdated = "This card is out of date. Start again with " + command.Invocation(command.Teams, command.Notify, "") + "."

func textNoReplier() string {
	return "Replying to stakeholders from Teams is not available on this herald."
}

func textReplySent(who string) string {
	return "Sent to " + who + "."
}

// The words about commands (help, usage, refusals of a mistyped line, "not
// available yet") come from bot/command, shared with Slack and SMS and
// rendered in Teams' syntax (@herald new, *bold* for what to type).

func textHelp(topic command.Name) bot.Message {
	return bot.Message{Text: command.HelpText(command.Teams, topic, "")}
}

func textUsageError(e *command.UsageError) string { return command.Explain(command.Teams, e) }

func textNotAvailable(c command.Command) string { return command.NotAvailable(command.Teams, c) }
