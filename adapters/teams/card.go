package teams

import (
	"strings"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/heraldops/herald/bot"
)

// AdaptiveCardContentType is the attachment content type of an Adaptive Card.
const AdaptiveCardContentType = "application/vnd.microsoft.card.adaptive"

// cardVersion is the Adaptive Card schema version herald writes; Teams
// renders 1.4 on desktop, web and mobile.
const cardVersion = "1.4"

// Render turns a neutral core message into an Adaptive Card:
//
//   - Title: bold, medium text.
//   - Text: body text; *bold* marks become bold runs.
//   - Fields: a FactSet (label/value side by side).
//   - Quote: an emphasis Container (a stakeholder's words, a preview).
//   - Context: small, subtle text under everything.
//   - Actions: Action.Submit buttons whose data is {action, value}; Reject
//     opens an inline reason field (Action.ShowCard) because a rejection
//     needs a reason.
//
// Free text is written as RichTextBlock TextRuns, not TextBlocks: TextRuns
// are never read as Markdown, so a title like "DB [eu](http://x) down" or a
// stakeholder's "1. call me" shows exactly as typed on every Teams client
// (backslash escapes in TextBlocks show up as backslashes on mobile).
func Render(m bot.Message) map[string]any {
	var body []any
	if m.Title != "" {
		body = append(body, richText(m.Title, textRunStyle{size: "Medium", weight: "Bolder"}))
	}
	if m.Text != "" {
		body = append(body, richText(m.Text, textRunStyle{}))
	}
	if len(m.Fields) > 0 {
		facts := make([]any, len(m.Fields))
		for i, f := range m.Fields {
			facts[i] = map[string]any{"title": plainFact(f.Label), "value": plainFact(f.Value)}
		}
		body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	}
	if m.Quote != "" {
		body = append(body, quote(m.Quote))
	}
	if m.Context != "" {
		body = append(body, richText(m.Context, textRunStyle{size: "Small", subtle: true}))
	}
	card := newCard(body)
	if len(m.Actions) > 0 {
		actions := make([]any, len(m.Actions))
		for i, a := range m.Actions {
			actions[i] = renderAction(a)
		}
		card["actions"] = actions
	}
	return card
}

func newCard(body []any) map[string]any {
	if body == nil {
		body = []any{}
	}
	return map[string]any{
		"type":    "AdaptiveCard",
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"version": cardVersion,
		"body":    body,
		// Cards in channels are narrow by default; incident messages carry
		// tables of facts and read better at full width.
		"msteams": map[string]any{"width": "Full"},
	}
}

// submitData is what every herald button sends back: Teams merges the
// card's input values into it.
func submitData(action, value string) map[string]any {
	return map[string]any{"action": action, "value": value}
}

func renderAction(a bot.Action) map[string]any {
	if a.ID == bot.ActionReject {
		return map[string]any{
			"type":  "Action.ShowCard",
			"title": a.Label,
			"card": map[string]any{
				"type": "AdaptiveCard",
				"body": []any{map[string]any{
					"type":        "Input.Text",
					"id":          inputReason,
					"label":       textRejectReasonLabel,
					"placeholder": textRejectReasonPlaceholder,
					"isMultiline": true,
					"isRequired":  true,
					"maxLength":   500,
				}},
				"actions": []any{withStyle(map[string]any{
					"type":  "Action.Submit",
					"title": a.Label,
					"data":  submitData(a.ID, a.Value),
				}, a.Style)},
			},
		}
	}
	return withStyle(map[string]any{
		"type":  "Action.Submit",
		"title": a.Label,
		"data":  submitData(a.ID, a.Value),
	}, a.Style)
}

func withStyle(action map[string]any, s bot.ActionStyle) map[string]any {
	switch s {
	case bot.StylePrimary:
		action["style"] = "positive"
	case bot.StyleDanger:
		action["style"] = "destructive"
	}
	return action
}

type textRunStyle struct {
	size, weight, color string
	subtle              bool
}

// richText renders plain text with *bold* marks as a RichTextBlock. Lines
// stay lines; a lone '*' stays a '*'.
func richText(s string, st textRunStyle) map[string]any {
	var inlines []any
	for _, seg := range splitBold(s) {
		run := map[string]any{"type": "TextRun", "text": seg.text}
		if st.size != "" {
			run["size"] = st.size
		}
		if seg.bold || st.weight == "Bolder" {
			run["weight"] = "Bolder"
		}
		if st.subtle {
			run["isSubtle"] = true
		}
		if st.color != "" {
			run["color"] = st.color
		}
		inlines = append(inlines, run)
	}
	return map[string]any{"type": "RichTextBlock", "inlines": inlines}
}

// literalText shows s exactly: a quote is a person's words or the exact
// text phones will receive, so not even *bold* marks are read.
func literalText(s string) map[string]any {
	return map[string]any{"type": "RichTextBlock", "inlines": []any{map[string]any{"type": "TextRun", "text": s}}}
}

type segment struct {
	text string
	bold bool
}

// splitBold cuts "a *b* c" into "a ", bold "b", " c". A '*' only opens bold
// when a closing '*' follows on the same line with text in between that
// neither starts nor ends with a space, as in Slack's mrkdwn, so "5 * 3"
// and "**x**" stay as they are.
func splitBold(s string) []segment {
	var out []segment
	var plain strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '*' && (i == 0 || s[i-1] != '*') && i+1 < len(s) && s[i+1] != '*' && s[i+1] != ' ' {
			rest := s[i+1:]
			end := strings.IndexByte(rest, '*')
			nl := strings.IndexByte(rest, '\n')
			closes := end > 0 && (nl < 0 || end < nl) && rest[end-1] != ' ' && (end+1 == len(rest) || rest[end+1] != '*')
			if closes {
				if plain.Len() > 0 {
					out = append(out, segment{text: plain.String()})
					plain.Reset()
				}
				out = append(out, segment{text: rest[:end], bold: true})
				i += end + 1
				continue
			}
		}
		plain.WriteByte(s[i])
	}
	if plain.Len() > 0 {
		out = append(out, segment{text: plain.String()})
	}
	return out
}

// plainFact drops *bold* marks from a FactSet entry: facts have no runs, and
// the marks would show as stars or italics depending on the client.
func plainFact(s string) string {
	var b strings.Builder
	for _, seg := range splitBold(s) {
		b.WriteString(seg.text)
	}
	return b.String()
}

func quote(s string) map[string]any {
	return map[string]any{
		"type":  "Container",
		"style": "emphasis",
		"bleed": false,
		"items": []any{literalText(s)},
	}
}

// attachment wraps a card for an activity.
func attachment(card map[string]any) schema.Attachment {
	return schema.Attachment{ContentType: AdaptiveCardContentType, Content: card}
}

// cardActivity is a message activity carrying one card; summary is the
// plain-text version Teams shows in notifications and the activity feed.
func cardActivity(card map[string]any, summary string) outActivity {
	return outActivity{
		Type:        "message",
		Summary:     truncate(summary, 250),
		Attachments: []schema.Attachment{attachment(card)},
	}
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
