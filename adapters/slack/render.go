package slack

import (
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
)

// Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
const (
	maxHeaderChars  = 150
	maxSectionChars = 3000
	maxFieldChars   = 2000
	maxFields       = 10
	maxButtonText   = 75
	maxButtonValue  = 2000
	maxActions      = 25
)

// Render turns a neutral core message into Block Kit blocks: Title as a
// header, Text as a mrkdwn section (long text split over several), Fields
// side by side, Quote as a quoted section, Context as small print and
// Actions as buttons whose action_id is the action's ID. Everything the core
// wrote is escaped (&, <, >), so text from stakeholders cannot ping
// @channel or forge links; the core's *bold* marks pass through.
func Render(m bot.Message) []slack.Block {
	var blocks []slack.Block
	if m.Title != "" {
		blocks = append(blocks, slack.NewHeaderBlock(plain(truncate(m.Title, maxHeaderChars))))
	}
	for _, chunk := range splitText(escape(m.Text), maxSectionChars) {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(chunk), nil, nil))
	}
	for i := 0; i < len(m.Fields); i += maxFields {
		var fields []*slack.TextBlockObject
		for _, f := range m.Fields[i:min(i+maxFields, len(m.Fields))] {
			fields = append(fields, mrkdwn(truncate("*"+escape(f.Label)+"*\n"+escape(f.Value), maxFieldChars)))
		}
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	if m.Quote != "" {
		for _, chunk := range splitText(quote(escape(m.Quote)), maxSectionChars) {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(chunk), nil, nil))
		}
	}
	if m.Context != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(truncate(escape(m.Context), maxSectionChars))))
	}
	if len(m.Actions) > 0 {
		var buttons []slack.BlockElement
		for _, a := range m.Actions[:min(len(m.Actions), maxActions)] {
			b := slack.NewButtonBlockElement(a.ID, truncate(a.Value, maxButtonValue), plain(truncate(a.Label, maxButtonText)))
			switch a.Style {
			case bot.StylePrimary:
				b = b.WithStyle(slack.StylePrimary)
			case bot.StyleDanger:
				b = b.WithStyle(slack.StyleDanger)
			}
			buttons = append(buttons, b)
		}
		blocks = append(blocks, slack.NewActionBlock("", buttons...))
	}
	return blocks
}

// FallbackText is the message's plain text for notifications and clients
// that cannot show blocks, escaped like the blocks.
func FallbackText(m bot.Message) string {
	return truncate(escape(m.PlainText()), 4000)
}

// escape applies Slack's three escapes; everything else is sent as it is.
// https://docs.slack.dev/messaging/formatting-message-text#escaping
func escape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// quote marks every line as quoted (after escaping, so the marker is the only
// literal ">").
func quote(s string) string {
	return "> " + strings.ReplaceAll(s, "\n", "\n> ")
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// truncate cuts s to at most n characters (runes), marking the cut with "…".
// Slack counts characters, and a cut must not split an escape sequence.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	cut := string(r)
	if i := strings.LastIndexByte(cut, '&'); i >= 0 && !strings.Contains(cut[i:], ";") {
		cut = cut[:i] // do not leave half an "&amp;"
	}
	return cut + "…"
}

// splitText splits s into pieces of at most n characters, preferring line
// breaks, then spaces, so long texts stay whole across several sections.
func splitText(s string, n int) []string {
	if s == "" {
		return nil
	}
	var out []string
	for utf8.RuneCountInString(s) > n {
		r := []rune(s)
		head := string(r[:n])
		cut := strings.LastIndexByte(head, '\n')
		if cut <= 0 {
			cut = strings.LastIndexByte(head, ' ')
		}
		if i := strings.LastIndexByte(head, '&'); i >= 0 && !strings.Contains(head[i:], ";") && (cut <= 0 || i < cut) {
			cut = i // never split inside "&amp;"
		}
		if cut <= 0 {
			cut = len(head)
		}
		out = append(out, strings.TrimRight(s[:cut], " \n"))
		s = strings.TrimLeft(s[cut:], " \n")
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
