package bot

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// ForbiddenError refuses an action to someone who lacks the role it needs.
type ForbiddenError struct {
	Role   string // the role needed
	Action string // what was refused, e.g. "declare an incident"
	// FourEyes is set when the person has the role but asked for the update
	// themselves: a second approver must decide.
	FourEyes bool
}

func (e *ForbiddenError) Error() string {
	if e.FourEyes {
		return "you requested this update yourself, so another " + e.Role + " must approve it (four eyes)"
	}
	article := "a "
	if e.Role != "" && strings.ContainsRune("aeiou", rune(e.Role[0])) {
		article = "an "
	}
	return "only " + article + e.Role + " may " + e.Action
}

// ValidationError lists problems with a draft, keyed by field
// ("audiences", "template", "field:next_update", "note"), for the compose form.
type ValidationError struct {
	Problems map[string]string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "the update is not ready to send"
	}
	keys := slices.Sorted(maps.Keys(e.Problems))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Problems[k]
	}
	return strings.Join(parts, "; ")
}

// DecidedError says an approval request was no longer open when someone
// approved or rejected it: another approver was faster, a double click, a
// retry, or the request expired. It wraps ErrConflict. Approve and Reject
// return it together with the broadcast as it now is, so adapters can say
// "already approved by Lee" (State and By) instead of showing a failure.
type DecidedError struct {
	BroadcastID string
	State       BroadcastState
	By          Actor // who decided; SystemActor for an expiry
	At          time.Time
}

func (e *DecidedError) Error() string {
	switch e.State {
	case BroadcastRejected:
		return e.BroadcastID + " was already rejected by " + ActorLabel(e.By) + ": nothing was sent"
	case BroadcastExpired:
		return e.BroadcastID + " expired before anyone decided: nothing was sent"
	case BroadcastPendingApproval:
		return e.BroadcastID + " is still waiting for approval"
	}
	return e.BroadcastID + " was already approved by " + ActorLabel(e.By)
}

func (e *DecidedError) Unwrap() error { return ErrConflict }
