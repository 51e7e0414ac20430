package bot

import (
	"context"
	"errors"
	"strings"
	"time"
)

// OutboxItem is one message waiting to be posted into an incident thread:
// a stakeholder reply, an update typed by SMS during failover, a notice.
type OutboxItem struct {
	ID      string    `json:"id"` // unique per item (e.g. the inbound MessageSid)
	Thread  ThreadRef `json:"thread"`
	Kind    ItemKind  `json:"kind"`
	Message Message   `json:"message"`
	At      time.Time `json:"at"`
	// DuringOutage marks items queued while chat was unreachable, so the
	// replay can say so.
	DuringOutage bool `json:"during_outage,omitempty"`
	// EditOf is the message an edit item replaces (Kind KindEdit); empty when
	// that message itself was kept in the outbox.
	EditOf string `json:"edit_of,omitempty"`
}

// ItemKind says what an outbox item is, which decides how the poster treats
// it: what may be gathered into a digest, what the replay keeps, what an
// outage summary counts. Stored as its string, so the values never change.
type ItemKind string

const (
	// KindReply is a stakeholder's reply, posted as it came.
	KindReply ItemKind = "reply"
	// KindAnswer echoes a responder's answer to a stakeholder.
	KindAnswer ItemKind = "answer"
	// KindUpdate is an update a responder texted during failover.
	KindUpdate ItemKind = "update"
	// KindRelay notes a relay started by SMS during failover.
	KindRelay ItemKind = "relay"
	// KindSummary is an outage summary; one per outage and thread.
	KindSummary ItemKind = "summary"
	// KindRoot is an incident's root message kept while chat was down.
	KindRoot ItemKind = "root"
	// KindPost is any other thread message kept while chat was down.
	KindPost ItemKind = "post"
	// KindEdit marks a kept new version of an earlier message; the replay
	// posts only the latest version per message.
	KindEdit ItemKind = "edit"
	// KindFlood marks a reply from a number that sends too many: kept whole,
	// posted with others at most once per FloodEvery per thread.
	KindFlood ItemKind = "flood"
)

// OutboxStore keeps one ordered, durable outbox per thread. Items leave only
// after they were posted, so a crash or a chat outage loses nothing.
// Bodies are personal data: the store encrypts them at rest.
type OutboxStore interface {
	// OutboxAppend adds item at the end of the thread's outbox; an item whose
	// ID is already in that outbox is not added twice.
	OutboxAppend(ctx context.Context, item OutboxItem) error
	// OutboxPeek returns up to max items from the front, oldest first.
	OutboxPeek(ctx context.Context, thread ThreadRef, max int) ([]OutboxItem, error)
	// OutboxDrop removes the first n items (those just posted).
	OutboxDrop(ctx context.Context, thread ThreadRef, n int) error
	// OutboxThreads lists the threads that have items waiting.
	OutboxThreads(ctx context.Context) ([]ThreadRef, error)
}

// Locker hands out short leases so only one replica works on a thing at a
// time (one poster per thread keeps posts in order).
type Locker interface {
	// TryLock takes the lease on key for ttl; ok is false if another holder
	// has it. release gives it back early.
	TryLock(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
}

// ErrChatDown tells the poster that chat is unreachable: items stay in the
// outbox until it is back.
var ErrChatDown = errors.New("chat is unreachable")

// pendingPrefix marks a thread whose root message could not be posted yet
// because chat was down; the failover replay posts it and re-keys the thread.
const PendingPrefix = "pending-"

// IsPending reports whether the thread's root message still waits for chat.
func (t ThreadRef) IsPending() bool { return strings.HasPrefix(t.RootID, PendingPrefix) }
