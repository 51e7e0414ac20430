package bot

import (
	"strings"
)

// Message is one chat message in neutral form. The core builds Messages; each
// chat adapter renders them (Slack: Block Kit, Teams: Adaptive Cards), with
// golden-file tests for each renderer. Text is plain text with *bold* marks
// only; renderers escape everything else.
type Message struct {
	Title   string   `json:"title,omitempty"`   // header line
	Text    string   `json:"text,omitempty"`    // body, may span lines
	Fields  []Field  `json:"fields,omitempty"`  // label/value pairs shown side by side
	Quote   string   `json:"quote,omitempty"`   // quoted text: a stakeholder's words, a preview
	Context string   `json:"context,omitempty"` // small print under the message
	Actions []Action `json:"actions,omitempty"` // buttons
}

// Field is a labelled value ("Severity" / "SEV2").
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// ActionStyle colours a button.
type ActionStyle string

const (
	StyleDefault ActionStyle = ""
	StylePrimary ActionStyle = "primary"
	StyleDanger  ActionStyle = "danger"
)

// Well-known action ids: adapters route button clicks back to the core by them.
const (
	ActionNotify  = "notify"  // value: incident id
	ActionResolve = "resolve" // value: incident id
	ActionApprove = "approve" // value: broadcast id
	ActionReject  = "reject"  // value: broadcast id
)

// Action is a button: ID says what it does, Value what it applies to.
type Action struct {
	ID    string      `json:"id"`
	Label string      `json:"label"`
	Value string      `json:"value"`
	Style ActionStyle `json:"style,omitempty"`
}

// PlainText is the message as one plain string: chat notification fallback,
// SMS digests for watchers during failover, logs.
func (m Message) PlainText() string {
	var parts []string
	if m.Title != "" {
		parts = append(parts, m.Title)
	}
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	for _, f := range m.Fields {
		parts = append(parts, f.Label+": "+f.Value)
	}
	if m.Quote != "" {
		parts = append(parts, "> "+strings.ReplaceAll(m.Quote, "\n", "\n> "))
	}
	if m.Context != "" {
		parts = append(parts, m.Context)
	}
	return strings.Join(parts, "\n")
}
