package teams

import (
	"html"
	"regexp"
	"strings"

	"github.com/heraldops/herald/bot/command"
)

var atTag = regexp.MustCompile(`(?is)<at>(.*?)</at>`)

// StripMention removes the bot's own @mention ("<at>herald</at>") from a
// Teams message and decodes the few HTML entities Teams puts in plain text.
// botName is the mentioned name from the activity's mention entity, if known;
// without it a leading mention is taken to be the bot's (a channel message
// only reaches the bot when the bot is mentioned).
func StripMention(text, botName string) string {
	stripped := false
	text = atTag.ReplaceAllStringFunc(text, func(m string) string {
		name := strings.TrimSpace(atTag.FindStringSubmatch(m)[1])
		if (botName != "" && strings.EqualFold(name, botName)) || (botName == "" && !stripped) {
			stripped = true
			return " "
		}
		return name // another person's mention reads as their name
	})
	text = html.UnescapeString(text)
	text = strings.ReplaceAll(text, "\u00a0", " ")
	return strings.TrimSpace(text)
}

// parseCommand reads a Teams message as a command line: what only Teams
// does to text (the bot's <at> mention, HTML entities) is undone by
// StripMention, the rest is the one grammar that Slack and SMS share
// (bot/command), so "@herald new Checkout down -s 2" reads as it does in
// Slack.
func parseCommand(text, botName string) (command.Command, error) {
	return command.Parse(StripMention(text, botName))
}
