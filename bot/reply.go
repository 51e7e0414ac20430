package bot

import (
	"time"
)

// Media is one attachment of an inbound message (WhatsApp photo, document,
// voice note, MMS).
type Media struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
}

// Inbound is one message a phone sent to herald's number, as the provider
// delivered it.
type Inbound struct {
	MessageSID  string    `json:"message_sid"`
	From        string    `json:"from"` // E.164, without the whatsapp: prefix
	To          string    `json:"to"`
	Channel     Channel   `json:"channel"`
	Body        string    `json:"body"`
	ProfileName string    `json:"profile_name,omitempty"` // WhatsApp display name
	Media       []Media   `json:"media,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
}

// Reply is an inbound message routed to an incident (or to triage).
type Reply struct {
	Inbound         Inbound  `json:"inbound"`
	IncidentID      string   `json:"incident_id,omitempty"` // empty: triage
	RecipientID     string   `json:"recipient_id,omitempty"`
	Name            string   `json:"name,omitempty"`
	Audiences       []string `json:"audiences,omitempty"`
	OtherCandidates []string `json:"other_candidates,omitempty"` // other incidents it could have been about
	Named           bool     `json:"named,omitempty"`            // the text named the incident (else: the most recent)
}

// Contact records that herald messaged a phone about an incident, so that
// the phone's reply can find its incident.
type Contact struct {
	Phone       string    `json:"phone"`
	IncidentID  string    `json:"incident_id"`
	BroadcastID string    `json:"broadcast_id"`
	At          time.Time `json:"at"`
}

// AuditEntry is one line of the audit trail: every command, approval, send
// and reply.
type AuditEntry struct {
	At         time.Time   `json:"at"`
	Actor      Actor       `json:"actor"`
	Action     AuditAction `json:"action"`
	IncidentID string      `json:"incident_id,omitempty"`
	Detail     string      `json:"detail,omitempty"` // never a raw phone number
}
