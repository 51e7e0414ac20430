package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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

// Refusal reports whether err is one of the core's refusals (a missing
// role, problems with a draft, something not found, a decision already
// taken): the person's situation, explained to them from the error's
// fields. Anything else is unexpected, herald's fault: it is logged with its
// ErrorRef, and the person sees only a plain sentence and that reference.
func Refusal(err error) bool {
	var forbidden *ForbiddenError
	var invalid *ValidationError
	return errors.As(err, &forbidden) || errors.As(err, &invalid) ||
		errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)
}

// ErrorRef is a short reference to an unexpected error ("E-3F9A1C"): shown
// to the person instead of the error's text, and logged beside the error
// (field "ref"), so whoever runs herald finds the log line. The same error
// text always gives the same reference.
func ErrorRef(err error) string {
	if err == nil {
		return ""
	}
	sum := sha256.Sum256([]byte(err.Error()))
	return "E-" + strings.ToUpper(hex.EncodeToString(sum[:3]))
}

// RequireDeps returns an error naming every dependency of owner that is
// missing (present[name] false), or nil. Each feature's Validate uses it,
// so a wiring mistake stops herald at start with one sentence instead of a
// nil dereference in the middle of an incident.
func RequireDeps(owner string, present map[string]bool) error {
	var missing []string
	for name, ok := range present {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%s is missing %s", owner, strings.Join(missing, ", "))
}
