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
	"github.com/heraldops/herald/bot/workflow"
)

// textUsage is escaped: it shows <title> and the like literally.
var textUsage = escape("*Usage:* `/incident <command>`\n" +
	"• `new <title> [--sev 1..4]`: declare an incident\n" +
	"• `notify [INC-n]`: compose an update to stakeholders\n" +
	"• `status [INC-n]`: where an incident and its updates are\n" +
	"• `list [all]`: open incidents (all: resolved too)\n" +
	"• `resolve [INC-n]`: mark an incident resolved\n" +
	"• `reply [INC-n] <who> <text>`: answer a stakeholder by SMS or WhatsApp\n" +
	"• `failover on|off`: force SMS-only mode, or end it\n" +
	"• `help`: this list\n" +
	"Without `INC-n`, the newest open incident in this channel is meant.")

// usageOf is the one-line usage of a subcommand, for argument errors.
var usageOf = map[string]string{
	cmdNew:      "`/incident new <title> [--sev 1..4]`",
	cmdNotify:   "`/incident notify [INC-n]`",
	cmdStatus:   "`/incident status [INC-n]`",
	cmdList:     "`/incident list [all]`",
	cmdResolve:  "`/incident resolve [INC-n]`",
	cmdReply:    "`/incident reply [INC-n] <who> <text>`",
	cmdFailover: "`/incident failover on|off`",
	cmdHelp:     "`/incident help`",
}

func textUsageError(e *UsageError) string {
	if e.Command == "" {
		return escape(e.Problem) + "\n" + textUsage
	}
	return escape(e.Problem) + "\n*Usage:* " + escape(usageOf[e.Command])
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

// ---- command-line problems (after textUsage's "what went wrong") ----

const (
	textTooManyWords         = "Too many words: give at most one incident id."
	textListArgs             = "`list` takes nothing or `all`."
	textOnOrOff              = "Say `on` or `off`."
	textSevTwice             = "Give --sev only once."
	textNoTitle              = "The incident needs a title."
	textReplyNeedsWhoAndWhat = "Say whom to answer and what."
)

func textNotAnIncidentID(s string) string {
	return fmt.Sprintf("%q is not an incident id like INC-42.", s)
}

func textUnknownCommand(name string) string {
	return fmt.Sprintf("herald does not know the command %q.", name)
}

func textBadSeverity(val string) string {
	return fmt.Sprintf("Severity must be %d to %d (1 is the worst), not %q.", bot.MinSeverity, bot.MaxSeverity, val)
}

func textTitleTooLong() string {
	return fmt.Sprintf("The title is too long (at most %d characters).", workflow.MaxTitleLength)
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

func textSMSInfo(i bot.SMSInfo) string {
	return fmt.Sprintf("%d %s · %s · %d %s", i.Segments, plural(i.Segments, "segment", "segments"), i.Encoding, i.Characters, plural(i.Characters, "character", "characters"))
}

func textLocaleBody(locale string) string { return "SMS in " + escape(locale) }

func textWhatsApp(p workflow.Preview) string {
	if p.WhatsAppTemplate == "" {
		return "*WhatsApp:* the SMS text, free-form (no approved template)."
	}
	var vars []string
	for _, k := range slices.Sorted(maps.Keys(p.WhatsAppVars)) {
		vars = append(vars, fmt.Sprintf("{{%s}} = %s", k, escape(p.WhatsAppVars[k])))
	}
	s := "*WhatsApp template* `" + escape(p.WhatsAppTemplate) + "`"
	if len(vars) > 0 {
		s += "\n" + strings.Join(vars, "\n")
	}
	if wa := p.PerChannel[bot.ChannelWhatsApp]; wa > 0 {
		s += fmt.Sprintf("\n%d of %d WhatsApp recipients get the free-form text (their 24-hour window is open); the rest get the template.", p.FreeFormWhatsApp, wa)
	}
	return s
}

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
