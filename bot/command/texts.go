package command

// Every word people read about commands: help, usage, what is wrong with a
// mistyped line, and "not available yet". One place for all three
// surfaces, so the sentences stay the same and only the syntax differs:
// Slack shows `/incident new`, Teams @herald new, SMS NEW. Slack texts are
// mrkdwn and not escaped (the Slack adapter escapes &, <, > in the whole
// text); Teams texts use *bold*, which its card renderer reads; SMS texts
// are plain.

import (
	"fmt"
	"strings"

	"github.com/heraldops/herald/bot"
)

// Surface is where a command was typed; texts are rendered in its syntax.
type Surface string

// The surfaces.
const (
	Slack Surface = "slack"
	Teams Surface = "teams"
	SMS   Surface = "sms"
)

// offered lists, per surface, the commands its front end acts on today, in
// the order help shows them. Help lists exactly these, Offers answers from
// them, so help never promises what the front end then refuses. Add a
// command here when a front end starts to act on it.
var offered = map[Surface][]Name{
	Slack: {New, Notify, Status, List, Resolve, Reply, Failover, Help},
	Teams: {New, Notify, Status, List, Resolve, Reply, Help},
	SMS:   {Status, List, New, Update, Notify, Approve, Reject, Help},
}

// Offers reports whether the front end of s acts on c. For any other
// command line it answers NotAvailable(s, c), never "unknown command".
// new's --drill, --tag and --detected are not acted on anywhere yet, nor
// notify's one-line form outside SMS.
func Offers(s Surface, c Command) bool {
	if !contains(offered[s], c.Name) || len(c.OptionsGiven()) > 0 {
		return false
	}
	return c.Name != Notify || c.Template == "" || s == SMS
}

// forms are the commands' arguments as usage shows them.
var forms = map[Name]string{
	New:       "<title> [--sev 1..4]",
	Notify:    "[INC-n]",
	Status:    "[INC-n]",
	List:      "[all]",
	Resolve:   "[INC-n]",
	Reply:     "[INC-n] <who> <text>",
	Update:    "INC-n <text>",
	Approve:   "<code>",
	Reject:    "<code> [reason]",
	Reach:     "[INC-n]",
	Cancel:    "[B-id]",
	Scheduled: "[INC-n]",
	Tag:       "INC-n <tag>",
	Clock:     "INC-n done <name>",
	Failover:  "on|off",
	Help:      "[command]",
}

// smsForms differ where SMS has no form to fill and no channel to imply
// the incident.
var smsForms = map[Name]string{
	Notify: "INC-n <audience> <template> [field=value ...]",
}

// descriptions say what each command does, as help lists it.
var descriptions = map[Name]string{
	New:       fmt.Sprintf("declare an incident (SEV%d is the worst; default SEV%d)", bot.MinSeverity, bot.DefaultSeverity),
	Notify:    "send stakeholders an update",
	Status:    "where an incident and its updates are",
	List:      "open incidents (all: resolved too)",
	Resolve:   "mark an incident resolved",
	Reply:     "answer a stakeholder by SMS or WhatsApp",
	Update:    "tell watchers what is happening",
	Approve:   "approve an update with the code you were texted",
	Reject:    "reject it, saying why",
	Reach:     "who has received and read the latest update",
	Cancel:    "stop a broadcast or a scheduled update",
	Scheduled: "the scheduled updates",
	Tag:       "tag an incident: personal-data, security, nis2",
	Clock:     "mark a regulatory clock's step done",
	Failover:  "force SMS-only mode, or end it",
	Help:      "this list, or one command's usage",
}

func form(s Surface, n Name) string {
	if f, ok := smsForms[n]; ok && s == SMS {
		return f
	}
	return forms[n]
}

// Invocation is how a person types the command on s, marked as something
// to type: Invocation(Teams, Status, "INC-42") is *@herald status INC-42*,
// on Slack `/incident status INC-42`, by SMS STATUS INC-42. Texts elsewhere
// that point people at a command use it, so no surface is told another's
// syntax.
func Invocation(s Surface, n Name, args string) string {
	line := strings.TrimSpace(string(n) + " " + args)
	switch s {
	case Slack:
		return "`/incident " + line + "`"
	case Teams:
		return "*@herald " + line + "*"
	}
	return strings.TrimSpace(strings.ToUpper(string(n)) + " " + args)
}

// code marks a word the person types.
func code(s Surface, w string) string {
	switch s {
	case Slack:
		return "`" + w + "`"
	case Teams:
		return "*" + w + "*"
	}
	return w
}

func where(s Surface) string {
	switch s {
	case Slack:
		return "in Slack"
	case Teams:
		return "in Teams"
	}
	return "by SMS"
}

// Usage is one command's usage line: "*Usage:* `/incident new <title>
// [--sev 1..4]`".
func Usage(s Surface, n Name) string { return usageLead(s) + Invocation(s, n, form(s, n)) }

func usageLead(s Surface) string {
	if s == SMS {
		return "Usage: "
	}
	return "*Usage:* "
}

// HelpText answers help: every command the surface offers, or one command's
// usage when topic is set. org names the organisation in SMS help, as
// carriers expect of every HELP answer; chat help is read inside the
// organisation's own workspace and does not show it.
func HelpText(s Surface, topic Name, org string) string {
	if topic != "" {
		switch {
		case contains(offered[s], topic):
			return Usage(s, topic) + ": " + descriptions[topic]
		case contains(offered[SMS], topic):
			// An SMS-only verb (UPDATE, APPROVE) is shown as it is texted.
			return usageLead(s) + code(s, Invocation(SMS, topic, form(SMS, topic))) +
				" by SMS while chat is down: " + descriptions[topic]
		}
		return Usage(s, topic) + ": " + descriptions[topic] + " (not available " + where(s) + " yet)"
	}
	if s == SMS {
		return smsHelp(org)
	}
	var b strings.Builder
	b.WriteString("*herald: incident commands*\n")
	if s == Slack {
		b.WriteString("*Usage:* `/incident <command>`")
	} else {
		b.WriteString("*Usage:* @herald <command> (in a personal chat, just the command)")
	}
	for _, n := range offered[s] {
		b.WriteString("\n• " + code(s, strings.TrimSpace(string(n)+" "+form(s, n))) + ": " + descriptions[n])
	}
	if s == Slack {
		b.WriteString("\nWithout `INC-n`, the newest open incident in this channel is meant.")
	} else {
		b.WriteString("\nWithout INC-n, the incident of this thread is meant, else the newest open one in this channel.")
	}
	return b.String()
}

// Explain answers a line that was not understood: what is wrong, then how
// to type it. A line whose command is unknown gets the whole list in chat;
// over SMS, where each answer costs, a pointer to HELP.
//
// A mistyped command that s does not offer anyway (failover in Teams,
// RESOLVE by SMS) is answered as not available: fixing the line would not
// help.
func Explain(s Surface, e *UsageError) string {
	if e.Command != "" && !contains(offered[s], e.Command) {
		return NotAvailable(s, Command{Name: e.Command})
	}
	problem := problemText(s, e)
	switch {
	case e.Command == "" && s == SMS:
		return problem + " Text HELP for the commands."
	case e.Command == "":
		return problem + "\n" + HelpText(s, "", "")
	case s == SMS:
		return problem + " " + Usage(s, e.Command)
	}
	return problem + "\n" + Usage(s, e.Command)
}

// NotAvailable answers a command line that parses but that the front end of
// s does not act on (Offers is false).
func NotAvailable(s Surface, c Command) string {
	if opts := c.OptionsGiven(); len(opts) > 0 {
		names := make([]string, len(opts))
		for i, f := range opts {
			names[i] = code(s, string(f))
		}
		if len(names) == 1 {
			return names[0] + " is not available yet: declare without it."
		}
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " are not available yet: declare without them."
	}
	if s != SMS {
		switch c.Name {
		case Notify:
			return "Notifying in one line is for SMS while chat is down; here " +
				Invocation(s, Notify, c.IncidentID) + " opens the form."
		case Update:
			return code(s, Invocation(SMS, Update, form(SMS, Update))) +
				" is an SMS command for when chat is down; here, post the update in the incident's thread."
		case Approve, Reject:
			return code(s, Invocation(SMS, c.Name, "<code>")) +
				" is an SMS command for when chat is down; here, use the *Approve* and *Reject* buttons in the incident's thread."
		}
	}
	return Invocation(s, c.Name, "") + " is not available " + where(s) + " yet."
}

// problems are the sentences for what is wrong, one per Problem.
var problems = map[Problem]func(s Surface, e *UsageError) string{
	ProblemUnknownCommand: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("herald does not know the command %q.", e.Word)
	},
	ProblemNoTitle: func(Surface, *UsageError) string {
		return "The incident needs a title: what is broken, in a few words."
	},
	ProblemTitleTooLong: func(Surface, *UsageError) string {
		return fmt.Sprintf("The title is too long (at most %d characters).", bot.MaxTitleLength)
	},
	ProblemBadSeverity: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("The severity %q is not a number from %d to %d (%d is the worst).", e.Word, bot.MinSeverity, bot.MaxSeverity, bot.MinSeverity)
	},
	ProblemNoValue: func(s Surface, e *UsageError) string { return noValueText(s, Flag(e.Word)) },
	ProblemFlagTwice: func(s Surface, e *UsageError) string {
		return "Give " + code(s, e.Word) + " only once."
	},
	ProblemFlagTakesNoValue: func(s Surface, e *UsageError) string { return code(s, e.Word) + " takes no value." },
	ProblemBadTag: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("%q is not a tag: use lower-case letters, digits and hyphens, e.g. %s, %s or %s.", e.Word, TagPersonalData, TagSecurity, TagNIS2)
	},
	ProblemBadTime: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("%q is not a time: give 14:05 (today), 20m (ago) or 2026-12-03T14:05:00Z.", e.Word)
	},
	ProblemNotIncidentID: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("%q is not an incident id like INC-42.", e.Word)
	},
	ProblemNoIncidentID: func(Surface, *UsageError) string { return "Say which incident, e.g. INC-42." },
	ProblemTooManyWords: func(_ Surface, e *UsageError) string {
		if e.Command == Cancel {
			return "Too many words: give at most one id."
		}
		return "Too many words: give at most one incident id."
	},
	ProblemListArgs: func(s Surface, _ *UsageError) string {
		return code(s, "list") + " takes nothing or " + code(s, "all") + "."
	},
	ProblemOnOrOff: func(s Surface, _ *UsageError) string {
		return "Say " + code(s, "on") + " or " + code(s, "off") + "."
	},
	ProblemNoWhoOrWhat: func(Surface, *UsageError) string { return "Say whom to answer and what." },
	ProblemNoText:      func(Surface, *UsageError) string { return "Say what the update is." },
	ProblemNoTemplate:  func(Surface, *UsageError) string { return "Say which audience and which template." },
	ProblemBadField: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("%q is not a field: write field=value, e.g. next_update=15:00.", e.Word)
	},
	ProblemFieldTwice: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("The field %q is given twice.", e.Word)
	},
	ProblemNoCode: func(Surface, *UsageError) string { return "Give the code from the approval request." },
	ProblemBadCode: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("%q is not an approval code.", e.Word)
	},
	ProblemBadTarget: func(_ Surface, e *UsageError) string {
		return fmt.Sprintf("%q is not the id of a broadcast (B-7-1) or an incident.", e.Word)
	},
	ProblemClockNeedsDone: func(Surface, *UsageError) string { return "Say done and which clock." },
	ProblemTagNeedsOneTag: func(Surface, *UsageError) string {
		return "Say which tag, e.g. " + string(TagSecurity) + "."
	},
}

// problemText is the sentence for what is wrong; a problem without one (a
// bug) still reads as a sentence, not as a code.
func problemText(s Surface, e *UsageError) string {
	if f, ok := problems[e.Problem]; ok {
		return f(s, e)
	}
	return "herald did not understand that."
}

func noValueText(s Surface, f Flag) string {
	switch f {
	case FlagTag:
		return code(s, string(f)) + " needs a tag, e.g. " + string(TagSecurity) + "."
	case FlagDetected:
		return code(s, string(f)) + " needs a time, e.g. 14:05 or 20m."
	}
	return fmt.Sprintf("%s needs a severity from %d to %d.", code(s, string(f)), bot.MinSeverity, bot.MaxSeverity)
}

func contains(names []Name, n Name) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// SurfaceOf is the surface a chat platform's people type on; a thread of
// no known platform (an SMS declaration before chat named it) reads
// Slack's, herald's first front end.
func SurfaceOf(p bot.Platform) Surface {
	if p == bot.PlatformTeams {
		return Teams
	}
	return Slack
}
