package replies

import (
	"fmt"
	"strings"

	"github.com/heraldops/herald/bot"
)

// The texts of stakeholder replies in incident threads, of responders'
// answers to them, and of the digests that gather several waiting posts.

// ReplyMessage is how a stakeholder's reply looks in the thread:
// "Dana Weber · executives · WhatsApp", their words, their media, and how
// to answer in the syntax of platform p (the thread's).
func ReplyMessage(p bot.Platform, rep bot.Reply) bot.Message {
	in := rep.Inbound
	who := rep.Name
	if rep.RecipientID == "" {
		// Not in the directory: never show the full number of a stranger.
		who = bot.MaskPhone(in.From)
		if in.ProfileName != "" {
			who = in.ProfileName + " (" + who + ")"
		}
	}
	parts := []string{who}
	if len(rep.Audiences) > 0 {
		parts = append(parts, strings.Join(rep.Audiences, ", "))
	}
	parts = append(parts, in.Channel.Label())
	m := bot.Message{Title: strings.Join(parts, " · "), Quote: in.Body}
	if len(in.Media) > 0 {
		var lines []string
		for i, md := range in.Media {
			lines = append(lines, fmt.Sprintf("Attachment %d (%s): %s", i+1, md.ContentType, md.URL))
		}
		m.Text = strings.Join(lines, "\n")
	}
	var ctxParts []string
	if rep.IncidentID == "" {
		ctxParts = append(ctxParts, "Not linked to an incident: herald had not messaged this number recently.")
	} else if len(rep.OtherCandidates) > 0 {
		why := " (most recent)"
		if rep.Named {
			why = " (named in the message)"
		}
		ctxParts = append(ctxParts, "Routed to "+rep.IncidentID+why+"; could also be about "+strings.Join(rep.OtherCandidates, ", ")+".")
	}
	if rep.RecipientID != "" {
		// adapters/slack's Reply to stakeholder shortcut reads the
		// stakeholder's id from this line (answerHint there): change both.
		ctxParts = append(ctxParts, answerHint(p, rep.RecipientID))
	}
	m.Context = strings.Join(ctxParts, " ")
	return m
}

// AnswerEchoMessage is the thread's copy of a responder's answer to a
// stakeholder: who answered whom over which channel, the words, and the
// provider's message id (the number masked: threads are read by many).
func AnswerEchoMessage(by bot.Actor, rcp bot.Recipient, ch bot.Channel, text, sid string) bot.Message {
	return bot.Message{
		Title:   fmt.Sprintf("%s answered %s · %s", bot.ActorLabel(by), rcp.Name, ch.Label()),
		Quote:   text,
		Context: "Sent to " + bot.MaskPhone(rcp.Phone) + " (" + sid + ")",
	}
}

func problemEmptyAnswer() string { return "the answer is empty" }

func problemUnknownStakeholder(who string) string {
	return fmt.Sprintf("no stakeholder called %q", who)
}

// textFlooding marks a reply from a number that sends very many.
func textFlooding() string {
	return "This number sends very many messages: herald posts them together, at most once a minute."
}

// Default answers to opt-out keywords.
const (
	TextOptedOut = "You will no longer receive incident updates from this number. Reply START to receive them again."
	TextOptedIn  = "You will receive incident updates again. Reply STOP to unsubscribe."
	TextHelp     = "Incident updates. Reply to this message to reach the incident team. Reply STOP to unsubscribe, START to subscribe again."
)

// answerHint is the reply post's last line. Slack's is also machine-read
// (adapters/slack's Reply to stakeholder shortcut): keep it as it is.
func answerHint(p bot.Platform, recipientID string) string {
	if p == bot.PlatformTeams {
		return "Answer with @herald reply " + recipientID + " <text>"
	}
	return "Answer with /incident reply " + recipientID + " <text>"
}
