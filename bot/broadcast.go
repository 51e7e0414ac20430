package bot

import (
	"time"
)

// BroadcastState is where one update is on its way from draft to phones.
type BroadcastState string

const (
	BroadcastPendingApproval BroadcastState = "pending_approval"
	BroadcastApproved        BroadcastState = "approved" // approved (or needed none); handed to the relay
	BroadcastRejected        BroadcastState = "rejected"
	BroadcastExpired         BroadcastState = "expired"
	BroadcastSending         BroadcastState = "sending" // planned and queued
	BroadcastDone            BroadcastState = "done"    // every delivery reached a final state
)

// InFlight reports whether a broadcast in this state is still on its way to
// phones (waiting for approval, approved, sending). Stores index these
// states (see BroadcastStore.BroadcastsInState); the final ones are not
// indexed, since they would only grow.
func (s BroadcastState) InFlight() bool {
	switch s {
	case BroadcastPendingApproval, BroadcastApproved, BroadcastSending:
		return true
	}
	return false
}

// Draft is what a responder composed: the audiences, the template and its
// field values. It becomes a Broadcast when submitted.
type Draft struct {
	IncidentID string            `json:"incident_id"`
	Audiences  []string          `json:"audiences"`
	Template   string            `json:"template"`
	Fields     map[string]string `json:"fields,omitempty"`
	Note       string            `json:"note,omitempty"`
	SMSOnly    bool              `json:"sms_only,omitempty"` // failover and `herald send --sms-only`
	Drill      bool              `json:"drill,omitempty"`
}

// Broadcast is one approved update to a set of audiences: a record plus one
// Delivery per distinct recipient.
type Broadcast struct {
	ID          string         `json:"id"` // "<incident id>-B<n>", e.g. "INC-42-B3", numbered per incident
	Draft       Draft          `json:"draft"`
	State       BroadcastState `json:"state"`
	RequestedBy Actor          `json:"requested_by"`
	RequestedAt time.Time      `json:"requested_at"`
	DecidedBy   Actor          `json:"decided_by,omitzero"` // approver or rejecter
	DecidedAt   time.Time      `json:"decided_at,omitzero"`
	Reason      string         `json:"reason,omitempty"` // rejection reason
	ExpiresAt   time.Time      `json:"expires_at,omitzero"`
	Approval    MessageRef     `json:"approval,omitzero"` // the approval request in the thread
	Progress    MessageRef     `json:"progress,omitzero"` // the live progress message in the thread
	Total       int            `json:"total"`             // deliveries planned
	OptedOut    int            `json:"opted_out"`         // recipients skipped because they opted out
	// FailedByCode counts failed deliveries by provider error code (0: none
	// given), so the progress summary can say why messages failed.
	FailedByCode map[int]int `json:"failed_by_code,omitempty"`
	// FailedByKind counts them by what the failure means, and Provider
	// names whose codes FailedByCode holds ("Twilio"): the summary says why
	// in words and keeps the codes for responders who look them up.
	FailedByKind map[FailureKind]int `json:"failed_by_kind,omitempty"`
	Provider     string              `json:"provider,omitempty"`
	// StartedAt is when the relay claimed the broadcast (approved ->
	// sending); QueuedAt when every job of it was queued. A broadcast
	// "sending" without QueuedAt long after StartedAt was left half-started
	// by a crash, and the relay's Sweep finishes starting it.
	StartedAt time.Time `json:"started_at,omitzero"`
	QueuedAt  time.Time `json:"queued_at,omitzero"`
	// GiveUpAt is when the update stops being current for the relay: until
	// then a temporary refusal is retried, after it the delivery fails.
	GiveUpAt time.Time `json:"give_up_at,omitzero"`
}

// DeliveryState is one recipient's copy's progress. States only move forward
// (see Rank); Failed and Undelivered are final.
type DeliveryState string

const (
	DeliveryPending     DeliveryState = "pending"   // planned, in the queue
	DeliverySending     DeliveryState = "sending"   // a worker is calling the provider
	DeliveryQueued      DeliveryState = "queued"    // the provider accepted it (has a SID)
	DeliverySent        DeliveryState = "sent"      // handed to the carrier / WhatsApp
	DeliveryDelivered   DeliveryState = "delivered" // on the phone
	DeliveryRead        DeliveryState = "read"      // WhatsApp read receipt
	DeliveryFailed      DeliveryState = "failed"
	DeliveryUndelivered DeliveryState = "undelivered"
	DeliveryOptedOut    DeliveryState = "opted_out" // skipped: the number sent STOP
)

// Rank orders delivery states so a late or repeated status callback can
// never move a delivery backwards.
func (s DeliveryState) Rank() int {
	switch s {
	case DeliveryPending:
		return 0
	case DeliverySending:
		return 1
	case DeliveryQueued:
		return 2
	case DeliverySent:
		return 3
	case DeliveryDelivered:
		return 4
	case DeliveryRead:
		return 5
	case DeliveryFailed, DeliveryUndelivered, DeliveryOptedOut:
		return 6
	}
	return -1
}

// Final reports whether nothing more will happen to a delivery in this state
// (read is final too: nothing comes after it).
func (s DeliveryState) Final() bool {
	switch s {
	case DeliveryDelivered, DeliveryRead, DeliveryFailed, DeliveryUndelivered, DeliveryOptedOut:
		return true
	}
	return false
}

// Attempt is one try to send a delivery on one channel.
type Attempt struct {
	Channel   Channel       `json:"channel"`
	SID       string        `json:"sid,omitempty"`
	State     DeliveryState `json:"state"`
	ErrorCode int           `json:"error_code,omitempty"` // the provider's error code, for display
	Failure   FailureKind   `json:"failure,omitempty"`    // what the failure meant
	Error     string        `json:"error,omitempty"`
	At        time.Time     `json:"at"`
	// By is the queue consumer that made the attempt: while it is "sending"
	// and By's lease (bot.Leases) has lapsed, nobody is in the provider
	// call any more and the attempt can be reconciled at once.
	By string `json:"by,omitempty"`
}

// Delivery is one recipient's copy of a broadcast.
type Delivery struct {
	BroadcastID string        `json:"broadcast_id"`
	IncidentID  string        `json:"incident_id"`
	RecipientID string        `json:"recipient_id"`
	Name        string        `json:"name"`
	Phone       string        `json:"phone"` // E.164; encrypted at rest by the store
	Channel     Channel       `json:"channel"`
	Locale      string        `json:"locale,omitempty"`
	State       DeliveryState `json:"state"`
	Attempts    []Attempt     `json:"attempts,omitempty"`
	FellBack    bool          `json:"fell_back,omitempty"` // WhatsApp failed and SMS was tried
	UpdatedAt   time.Time     `json:"updated_at"`
	// StoreRev is opaque to the core: the store's mark of the version it
	// handed out, so a DeliveryUpdater can tell whether it changed since.
	StoreRev string `json:"-"`
}

// Counts is a broadcast's deliveries by state, for the progress message.
type Counts map[DeliveryState]int

// StatusUpdate is a provider's report on a message it accepted earlier
// (Twilio status callback).
type StatusUpdate struct {
	SID          string        `json:"sid"`
	Status       DeliveryState `json:"status"`
	ErrorCode    int           `json:"error_code,omitempty"` // the provider's code, for display
	ErrorMessage string        `json:"error_message,omitempty"`
	// Failure classifies a failed or undelivered status (the adapter's
	// mapping of ErrorCode); Provider names whose code ErrorCode is.
	Failure  FailureKind `json:"failure,omitempty"`
	Provider string      `json:"provider,omitempty"`
	// BroadcastID and RecipientID name the delivery when the callback
	// carried them (see Outbound); empty for messages sent without them.
	BroadcastID string    `json:"broadcast_id,omitempty"`
	RecipientID string    `json:"recipient_id,omitempty"`
	To          string    `json:"to,omitempty"` // E.164, without whatsapp:
	Channel     Channel   `json:"channel,omitempty"`
	At          time.Time `json:"at"`
}
