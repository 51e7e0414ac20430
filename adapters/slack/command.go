package slack

import (
	"regexp"
	"strings"

	"github.com/heraldops/herald/bot/command"
)

// parseCommand reads the text after /incident as Slack sends it: Slack's
// escapes and references are undone here, the rest is the one grammar that
// Teams and SMS share (bot/command). It is pure and total: any input gives
// a command.Command or a *command.UsageError.
func parseCommand(text string) (command.Command, error) {
	return command.Parse(fromSlackText(text))
}

var slackRef = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

// fromSlackText turns Slack's escaped message text into what the person
// typed: <@U1|dana> -> @dana, <#C1|ops> -> #ops, <https://x|x> -> https://x,
// then &lt; &gt; &amp; back to < > &. Slack normalises whitespace variants
// too, so non-breaking spaces become spaces.
func fromSlackText(s string) string {
	s = slackRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := slackRef.FindStringSubmatch(ref)
		target, label := m[1], m[2]
		switch {
		case strings.HasPrefix(target, "@") || strings.HasPrefix(target, "#"):
			if label != "" {
				return target[:1] + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			if label != "" {
				return label
			}
			return "@" + strings.TrimPrefix(target, "!")
		}
		return target
	})
	s = strings.ReplaceAll(s, "\u00a0", " ")
	return slackUnescaper.Replace(s)
}

var slackUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
