package slack

// Every piece of Slack-only text herald shows: usage help, acknowledgements,
// modal titles, labels and the preview's wording. The text of core messages
// (root message, approval request, progress, status, list, refusals) comes
// from bot as bot.Message and is only rendered here. Keep this the one place
// to read or translate Slack's own text. Texts are mrkdwn, already escaped
// where they carry anything a person typed.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/command"
	"github.com/heraldops/herald/bot/workflow"
)

// The words about commands (help, usage, refusals of a mistyped line, "not
// available yet") come from bot/command, shared with Teams and SMS and
// rendered in Slack's syntax. They repeat what was typed, so they are
// escaped here.

func textHelp(topic command.Name) string { return escape(command.HelpText(command.Slack, topic, "")) }

func textUsageError(e *command.UsageError) string { return escape(command.Explain(command.Slack, e)) }

func textNotAvailable(c command.Command) string {
	return escape(command.NotAvailable(command.Slack, c))
}

func textDeclaring(title string, sev int) string {
	return fmt.Sprintf("Declaring *%s* (SEV%d)…", escape(title), sev)
}

func textDeclaredElsewhere(inc bot.Incident) string {
	return fmt.Sprintf("%s declared in <#%s>.", inc.ID, inc.Thread.Channel)
}

func textResolving(id string) string { return "Resolving " + id + "…" }

func textReplying(who string) string { return "Sending your answer to " + escape(who) + "…" }

func textFailoverSwitching(on bool) string {
	if on {
		return "Switching to SMS-only mode…"
	}
	return "Ending SMS-only mode…"
}

func textFailoverSwitched(on bool) string {
	if on {
		return "herald is in SMS-only mode: thread activity goes to watchers by SMS until you run `/incident failover off`."
	}
	return "SMS-only mode ended: herald posts in Slack again and replays what was kept."
}

func textReplied(r bot.Recipient) string { return "Answer sent to " + escape(r.Name) + "." }

const (
	textBusy            = "herald is busy right now; please try again in a moment."
	textFailoverMissing = "Failover switching is not available in this installation."
	textReplyMissing    = "Answering stakeholders is not available in this installation."
	textNoOpenIncident  = "There is no open incident in this channel. Name one, e.g. `INC-42`, or see `/incident list`."
	textManyOpen        = "Several incidents are open; name one, e.g. `INC-42` (see `/incident list`)."
	textTriggerExpired  = "Slack took too long to open the form; please try again."
	textSlow            = "herald is slow to answer; it goes on in the background and tells you the result here."
	textChooseTemplate  = "Choose a template to see its fields."
	textTooLong         = "Too much text for one update; please shorten the fields."
)

func textProblems(problems map[string]string) string {
	var b strings.Builder
	b.WriteString("The update is not ready to send:")
	for _, k := range slices.Sorted(maps.Keys(problems)) {
		b.WriteString("\n• " + escape(problems[k]))
	}
	return b.String()
}

// ---- modals ----

const (
	textComposeTitle   = "Notify stakeholders" // modal titles: at most 24 characters
	textPreviewTitle   = "Check and send"
	textDoneTitle      = "Update on its way"
	textRejectTitle    = "Reject update"
	textPreviewButton  = "Preview"
	textSendButton     = "Send now"
	textRequestButton  = "Request approval"
	textRejectButton   = "Reject"
	textCancel         = "Cancel"
	textClose          = "Close"
	textAudiencesLabel = "Audiences"
	textAudiencesHint  = "Everyone in the chosen audiences gets one message, even if they are in several."
	textTemplateLabel  = "Template"
	textNoteLabel      = "Note (optional)"
	textReasonLabel    = "Why is it rejected?"
	textReasonHint     = "The requester sees this in the incident thread."
	textSMSHeading     = "SMS, exactly as phones will show it"
)

func textComposeContext(incidentID string) string { return "Update for *" + incidentID + "*" }

func textAudienceOption(a bot.Audience, people int) string {
	s := fmt.Sprintf("%s · %d %s", a.Name, people, plural(people, "person", "people"))
	if a.ApprovalRequired {
		s += " · approval"
	}
	return s
}

// textFieldLabel turns a template field name into a label: next_update -> Next update.
func textFieldLabel(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func textLocaleBody(locale string) string { return "SMS in " + escape(locale) }

func textRecipientFields(p workflow.Preview) [][2]string {
	return [][2]string{
		{"SMS", fmt.Sprint(p.PerChannel[bot.ChannelSMS])},
		{"WhatsApp", fmt.Sprint(p.PerChannel[bot.ChannelWhatsApp])},
		{"Opted out (skipped)", fmt.Sprint(p.OptedOut)},
		{"Total", fmt.Sprintf("%d %s", p.Total, plural(p.Total, "person", "people"))},
	}
}

func textApproval(needed bool) string {
	if needed {
		return ":lock: An audience needs approval: an approver other than you must approve in the incident thread before anything is sent."
	}
	return ":outbox_tray: No approval needed: it is sent as soon as you press *" + textSendButton + "*."
}

func textSubmitted(b bot.Broadcast) string {
	if b.State == bot.BroadcastPendingApproval {
		return fmt.Sprintf("Approval requested in the incident thread (%s). Nothing is sent until an approver approves.", b.ID)
	}
	return fmt.Sprintf("%s is on its way to %d %s. Progress is shown in the incident thread.", b.ID, b.Total, plural(b.Total, "person", "people"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ---- the "Reply to stakeholder" message action ----

const (
	textAnswerTitle  = "Reply to stakeholder" // modal title: at most 24 characters
	textAnswerButton = "Send"
	textAnswerLabel  = "Your answer"
	textAnswerHint   = "Sent as you typed it, over their channel: WhatsApp while their 24-hour window is open, otherwise SMS. It is echoed in the thread."
	textWhoLabel     = "Stakeholder"
	textAnswerEmpty  = "Type the answer first."
	// textNotAReply: the action was used on a message that is not a
	// stakeholder's reply herald posted.
	textNotAReply = "*Reply to stakeholder* works on the stakeholder replies herald posts in incident threads (they end with _Answer with /incident reply …_). This message is not one."
)

func textAnswerContext(names []string, incidentID string) string {
	who := "the stakeholder"
	if len(names) == 1 {
		who = "*" + escape(names[0]) + "*"
	}
	return "Answer " + who + " about *" + escape(incidentID) + "*."
}

// textReplyOutsideIncident: a reply in the triage channel belongs to no
// incident, so the answer cannot be filed under one.
func textReplyOutsideIncident(who string) string {
	return escape("This reply is not in an incident thread. Answer with `/incident reply INC-n " + who + " <text>`, naming the incident it is about.")
}
