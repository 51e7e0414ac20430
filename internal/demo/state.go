package demo

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// State is everything the page draws, at one moment.
type State struct {
	Seq       int64        `json:"seq"`
	SlackDown bool         `json:"slackDown"`
	SMSOnly   bool         `json:"smsOnly"`
	Users     []User       `json:"users"`
	Channel   ChannelState `json:"channel"`
	Triage    ChannelState `json:"triage"`
	Modal     *ModalState  `json:"modal"`
	Phones    []PhoneState `json:"phones"`
}

// ChannelState is a Slack channel as a member sees it.
type ChannelState struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Messages   []SlackMessage `json:"messages"`
	Ephemerals []Ephemeral    `json:"ephemerals"`
}

// SlackMessage is a message herald posted, as it stands after any edits.
type SlackMessage struct {
	TS       string          `json:"ts"`
	ThreadTS string          `json:"threadTs,omitempty"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Edits    int             `json:"edits"`
}

// Ephemeral is a message only one user sees ("Only visible to you").
type Ephemeral struct {
	User     string          `json:"user"`
	TS       string          `json:"ts"`
	ThreadTS string          `json:"threadTs,omitempty"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	At       int64           `json:"at"` // unix ms, for ordering among posts
}

type ephemeral = Ephemeral

// ModalState is the modal on top of the stack.
type ModalState struct {
	ID     string            `json:"id"`
	User   string            `json:"user"`
	View   json.RawMessage   `json:"view"`
	Errors map[string]string `json:"errors,omitempty"`
	Depth  int               `json:"depth"`
}

type modalEntry struct {
	ID     string
	User   string
	Errors map[string]string
}

// PhoneState is one phone and its conversation with herald.
type PhoneState struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Number    string   `json:"number"`
	Channel   string   `json:"channel"` // the recipient's preferred channel
	ReplyVia  string   `json:"replyVia"`
	Locale    string   `json:"locale"`
	Audiences []string `json:"audiences"`
	Role      string   `json:"role"` // stakeholder, watcher, responder, approver
	Note      string   `json:"note,omitempty"`
	Bubbles   []Bubble `json:"bubbles"`
}

// Bubble is one message on a phone.
type Bubble struct {
	SID       string `json:"sid"`
	Dir       string `json:"dir"` // "in": herald to the phone; "out": the phone to herald
	Channel   string `json:"channel"`
	Body      string `json:"body"`
	Template  string `json:"template,omitempty"` // WhatsApp content SID
	Media     string `json:"media,omitempty"`
	Status    string `json:"status,omitempty"`
	ErrorCode int    `json:"errorCode,omitempty"`
	At        int64  `json:"at"` // unix ms
}

type inboundMsg struct {
	Phone string
	Bubble
}

func (c *Console) state() State {
	s := State{SMSOnly: c.o.SMSOnly != nil && c.o.SMSOnly(), Users: Users()}
	s.Channel = c.channel(c.o.Config.Slack.IncidentChannel, "incidents")
	s.Triage = c.channel(c.o.Config.Slack.TriageChannel, "incident-triage")
	msgs := c.o.Twilio.Messages()

	c.mu.Lock()
	defer c.mu.Unlock()
	s.Seq, s.SlackDown = c.seq, c.slackDown
	for _, e := range c.local {
		s.Channel.Ephemerals = append(s.Channel.Ephemerals, e)
	}
	if n := len(c.modals); n > 0 {
		top := c.modals[n-1]
		if v, ok := c.o.Slack.View(top.ID); ok {
			s.Modal = &ModalState{ID: v.ID, User: top.User, View: v.Raw, Errors: top.Errors, Depth: n}
		}
	}
	byPhone := map[string][]Bubble{}
	for _, m := range msgs {
		phone := strings.TrimPrefix(m.To, "whatsapp:")
		byPhone[phone] = append(byPhone[phone], c.bubbleLocked(m))
	}
	for _, in := range c.inbound {
		byPhone[in.Phone] = append(byPhone[in.Phone], in.Bubble)
	}
	for _, p := range c.phones {
		ps := p.PhoneState
		ps.Bubbles = byPhone[p.Number]
		sort.SliceStable(ps.Bubbles, func(i, j int) bool { return ps.Bubbles[i].At < ps.Bubbles[j].At })
		if ps.Bubbles == nil {
			ps.Bubbles = []Bubble{}
		}
		s.Phones = append(s.Phones, ps)
	}
	return s
}

func (c *Console) bubbleLocked(m twilioapi.Message) Bubble {
	at, ok := c.seen[m.SID]
	if !ok {
		at = time.Now()
	}
	b := Bubble{SID: m.SID, Dir: "in", Channel: "sms", Body: m.Body, Status: m.Status, ErrorCode: m.ErrorCode, At: at.UnixMilli()}
	if m.WhatsApp() {
		b.Channel = "whatsapp"
	}
	if m.ContentSID != "" {
		b.Template = m.ContentSID
		b.Body = fillContent(m.ContentSID, m.ContentVariables)
	}
	return b
}

// fillContent renders an approved WhatsApp template with its variables, as
// the person's WhatsApp shows it.
func fillContent(sid, varsJSON string) string {
	text, ok := contentTexts[sid]
	var vars map[string]string
	_ = json.Unmarshal([]byte(varsJSON), &vars)
	if !ok {
		parts := make([]string, 0, len(vars))
		for k, v := range vars {
			parts = append(parts, k+": "+v)
		}
		sort.Strings(parts)
		return "Template " + sid + " (" + strings.Join(parts, ", ") + ")"
	}
	for k, v := range vars {
		text = strings.ReplaceAll(text, "{{"+k+"}}", v)
	}
	return text
}

func (c *Console) channel(id, name string) ChannelState {
	cs := ChannelState{ID: id, Name: name, Messages: []SlackMessage{}, Ephemerals: []Ephemeral{}}
	if id == "" {
		return cs
	}
	for _, m := range c.o.Slack.Posts(id) {
		sm := SlackMessage{TS: m.TS, ThreadTS: m.ThreadTS, Text: m.Text, Edits: m.Edits}
		if m.RawBlocks != "" {
			sm.Blocks = json.RawMessage(m.RawBlocks)
		}
		cs.Messages = append(cs.Messages, sm)
	}
	for _, m := range c.o.Slack.Ephemerals() {
		if m.Channel != id {
			continue
		}
		e := Ephemeral{User: m.User, TS: m.TS, ThreadTS: m.ThreadTS, Text: m.Text}
		if m.RawBlocks != "" {
			e.Blocks = json.RawMessage(m.RawBlocks)
		}
		cs.Ephemerals = append(cs.Ephemerals, e)
	}
	return cs
}
