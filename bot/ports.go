package bot

import (
	"context"
	"errors"
	"time"
)

// The ports: what the core needs from the outside world. Adapters implement
// them and say so at compile time, e.g.
//
//	var _ bot.Chat = (*slack.Chat)(nil)
//
// Optional abilities are separate small interfaces, discovered with a type
// assertion (see MessageFinder).

// ErrNotFound is returned by stores when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a state change lost a race or is no longer
// allowed (approving an already approved broadcast).
var ErrConflict = errors.New("conflict")

// Clock tells the time; tests inject a fixed or stepping clock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// ---- chat ----

// Chat posts into incident channels and threads. The Slack and Teams adapters
// implement it.
type Chat interface {
	// PostRoot posts an incident's root message in a channel; its thread is the
	// incident thread.
	PostRoot(ctx context.Context, channel string, m Message) (ThreadRef, error)
	// Post posts a message into a thread.
	Post(ctx context.Context, thread ThreadRef, m Message) (MessageRef, error)
	// Update replaces a message herald posted earlier.
	Update(ctx context.Context, ref MessageRef, m Message) error
}

// ---- messaging provider ----

// Outbound is one message to one phone.
type Outbound struct {
	To               string            // E.164
	Channel          Channel           // sms or whatsapp
	Body             string            // free-form body (SMS, or WhatsApp inside the session window)
	ContentSID       string            // WhatsApp template (outside the session window)
	ContentVariables map[string]string // its variables
	// BroadcastID and RecipientID name the delivery this message is for;
	// the provider's status callbacks carry them back, so a callback finds
	// its delivery without a look-up by message SID (and before the SID is
	// known, if it beats the send's own answer).
	BroadcastID, RecipientID string
}

// SendResult is the provider's answer to a send.
type SendResult struct {
	SID    string
	Status DeliveryState // usually queued
}

// Messenger sends SMS and WhatsApp messages (Twilio).
type Messenger interface {
	Send(ctx context.Context, m Outbound) (SendResult, error)
	// SenderKey names the sender a message on ch goes out from (phone number or
	// Messaging Service); rate limits are kept per sender.
	SenderKey(ch Channel) string
}

// MessageFinder is the optional ability to look up a message already sent, so
// a job found half-done after a crash is reconciled instead of sent twice.
type MessageFinder interface {
	// FindSent returns a message sent to `to` on ch since `since`, if any.
	FindSent(ctx context.Context, to string, ch Channel, since time.Time) (SendResult, bool, error)
}

// ---- storage ----

// IncidentStore keeps incidents.
type IncidentStore interface {
	// NextIncidentNumber hands out 1, 2, 3... across all replicas.
	NextIncidentNumber(ctx context.Context) (int64, error)
	SaveIncident(ctx context.Context, inc Incident) error
	Incident(ctx context.Context, id string) (Incident, error) // ErrNotFound
	// Incidents lists incidents, newest first; openOnly filters resolved ones out.
	Incidents(ctx context.Context, openOnly bool) ([]Incident, error)
}

// BroadcastStore keeps broadcasts and their deliveries.
type BroadcastStore interface {
	SaveBroadcast(ctx context.Context, b Broadcast) error
	Broadcast(ctx context.Context, id string) (Broadcast, error) // ErrNotFound
	// UpdateBroadcast applies fn to the stored broadcast atomically (optimistic
	// locking, retried on a concurrent write). If fn returns an error nothing is
	// written and that error is returned.
	UpdateBroadcast(ctx context.Context, id string, fn func(*Broadcast) error) (Broadcast, error)
	// BroadcastsOf lists an incident's broadcasts, oldest first.
	BroadcastsOf(ctx context.Context, incidentID string) ([]Broadcast, error)
	// PendingApprovals lists broadcasts in state pending_approval (the store
	// indexes them on every save and update).
	PendingApprovals(ctx context.Context) ([]Broadcast, error)
	// BroadcastsInState lists the broadcasts in an in-flight state (see
	// BroadcastState.InFlight), oldest request first; the store indexes them
	// on every save and update. A state that is not in flight is an error.
	BroadcastsInState(ctx context.Context, state BroadcastState) ([]Broadcast, error)

	// SaveDeliveries stores planned deliveries in bulk (tens of thousands) and
	// counts them by state. A delivery that already exists is left as it is
	// and not counted again, so a start that is run again (Relay.Sweep)
	// neither resets a delivery that moved on nor counts anyone twice.
	SaveDeliveries(ctx context.Context, ds []Delivery) error
	Delivery(ctx context.Context, broadcastID, recipientID string) (Delivery, error)
	// UpdateDelivery applies fn atomically and keeps the broadcast's Counts in
	// step with the state change. fn returning an error writes nothing.
	UpdateDelivery(ctx context.Context, broadcastID, recipientID string, fn func(*Delivery) error) (Delivery, error)
	// IndexSID remembers which delivery a provider message SID belongs to, for
	// status callbacks.
	IndexSID(ctx context.Context, sid, broadcastID, recipientID string) error
	DeliveryBySID(ctx context.Context, sid string) (Delivery, error) // ErrNotFound
	Counts(ctx context.Context, broadcastID string) (Counts, error)
}

// DeliveryUpdater is the optional ability of a BroadcastStore to update a
// delivery it handed out without reading it again: fn is applied to d as it
// was read (d.StoreRev says which version that was) and written only if the
// stored delivery has not changed since; otherwise it is read again and fn
// applied to that, as UpdateDelivery does. One round trip instead of two.
type DeliveryUpdater interface {
	UpdateDeliveryFrom(ctx context.Context, d Delivery, fn func(*Delivery) error) (Delivery, error)
}

// DeliveryRef names one delivery.
type DeliveryRef struct{ BroadcastID, RecipientID string }

// DeliveryBatchReader is the optional ability of a BroadcastStore to read
// many deliveries in one round trip; missing ones are left out of the map.
type DeliveryBatchReader interface {
	Deliveries(ctx context.Context, refs []DeliveryRef) (map[DeliveryRef]Delivery, error)
}

// SentRecorder is the optional ability of a BroadcastStore to index a
// message SID and update the delivery it belongs to in one round trip:
// IndexSID, then UpdateDeliveryFrom (see DeliveryUpdater).
type SentRecorder interface {
	IndexSIDAndUpdate(ctx context.Context, sid string, d Delivery, fn func(*Delivery) error) (Delivery, error)
}

// PhoneStore keeps what herald knows per phone number: opt-outs, WhatsApp
// session windows, and which incidents it was last messaged about. Numbers
// are E.164; the store never keeps them in clear text.
type PhoneStore interface {
	SetOptOut(ctx context.Context, phone string, optedOut bool) error
	// OptedOut returns which of the phones opted out (bulk, for planning).
	OptedOut(ctx context.Context, phones []string) (map[string]bool, error)
	// OpenSession records an inbound WhatsApp message: the 24-hour window opens.
	OpenSession(ctx context.Context, phone string, at time.Time) error
	// OpenSessions returns which of the phones have an open WhatsApp window at
	// `at` (bulk, for planning).
	OpenSessions(ctx context.Context, phones []string, at time.Time) (map[string]bool, error)
	// RecordContacts remembers the incidents phones were messaged about; each
	// is forgotten after ttl.
	RecordContacts(ctx context.Context, cs []Contact, ttl time.Duration) error
	// Contacts returns the incidents phone was messaged about since `since`,
	// most recent first, one entry per incident.
	Contacts(ctx context.Context, phone string, since time.Time) ([]Contact, error)
	// Forget erases everything kept about a phone (GDPR erasure).
	Forget(ctx context.Context, phone string) error
}

// AuditLog records every command, approval, send and reply.
type AuditLog interface {
	Audit(ctx context.Context, e AuditEntry) error
	AuditTrail(ctx context.Context, incidentID string) ([]AuditEntry, error)
}

// Deduper recognises things seen before: Slack retries, Twilio re-deliveries
// of a MessageSid, double clicks.
type Deduper interface {
	// FirstTime returns true exactly once per key within ttl, across replicas.
	FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// ---- work queue ----

// Job is one unit of work taken from a Queue.
type Job struct {
	ID         string // queue-assigned id, used to Ack
	Topic      string
	Payload    []byte
	Deliveries int64 // how many times the job has been handed out (1 the first time)
}

// Queue is a durable work queue shared by all replicas (Redis Streams with a
// consumer group). A job stays pending until acked; a consumer that dies
// leaves its jobs to be reclaimed by another.
type Queue interface {
	Enqueue(ctx context.Context, topic string, payloads ...[]byte) error
	// Claim hands out up to max new jobs to consumer, waiting up to block.
	Claim(ctx context.Context, topic, consumer string, max int, block time.Duration) ([]Job, error)
	// Reclaim takes over up to max jobs that other consumers have held for at
	// least minIdle without acking.
	Reclaim(ctx context.Context, topic, consumer string, minIdle time.Duration, max int) ([]Job, error)
	Ack(ctx context.Context, topic string, ids ...string) error
}

// Deferrer is the optional ability of a Queue to hold jobs back: each comes
// up for Claim only once `after` has passed (on the queue's clock, shared by
// all replicas). A job that must wait goes back to the queue this way rather
// than sleeping in a worker slot. It may come up more than once after a
// crash; handlers are idempotent anyway.
type Deferrer interface {
	Defer(ctx context.Context, topic string, after time.Duration, payloads ...[]byte) error
}

// Leases is the optional ability of a Queue to tell live consumers from dead
// ones. A live consumer renews its lease and the jobs it is working, so its
// jobs never look abandoned however long a handler takes; when it dies, its
// jobs go idle and its lease lapses within ttl, so others take over in
// seconds and can tell its half-done work is nobody's any more.
type Leases interface {
	// Renew marks consumer alive for ttl and resets the idle time of its
	// jobs ids of topic (may be empty).
	Renew(ctx context.Context, topic, consumer string, ttl time.Duration, ids []string) error
	// Alive reports whether consumer's lease is current.
	Alive(ctx context.Context, consumer string) (bool, error)
}

// RateLimiter is a token bucket per key. The Redis one is shared by all
// replicas; LocalLimiter serves a single process and tests.
type RateLimiter interface {
	// Reserve takes one token from bucket key (refilled at rate per second,
	// holding at most burst) and returns how long the caller must wait before
	// using it (0: now).
	Reserve(ctx context.Context, key string, rate float64, burst int) (time.Duration, error)
	// Pause stops bucket key from handing out tokens for d (provider said 429).
	Pause(ctx context.Context, key string, d time.Duration) error
}

// BatchReserver is the optional ability of a RateLimiter to take n tokens
// in one call, as n Reserves in a row would (a long SMS takes one token per
// segment); the wait returned is the last token's.
type BatchReserver interface {
	ReserveN(ctx context.Context, key string, rate float64, burst, n int) (time.Duration, error)
}

// RateAdapter is the optional ability of a RateLimiter to lower bucket key's
// rate when the provider refuses without saying for how long, and to raise
// it again gradually (additive increase, multiplicative decrease): the
// senders settle just under what the provider accepts instead of stopping.
type RateAdapter interface {
	// Slow halves the bucket's current rate (down to a floor); refusals
	// within a short cooldown of the last decrease count once, so a burst of
	// refusals from many workers is one decrease. The rate climbs back to the
	// configured one linearly over a few seconds.
	Slow(ctx context.Context, key string) error
}

// KV keeps small shared values for all replicas: one-time approval codes,
// the forced failover mode, watcher digest cursors.
type KV interface {
	Put(ctx context.Context, key, value string, ttl time.Duration) error // ttl 0: no expiry
	Get(ctx context.Context, key string) (string, error)                 // ErrNotFound
	Delete(ctx context.Context, key string) error
}
