package bot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// IncidentState is where an incident is in its life.
type IncidentState string

const (
	IncidentOpen     IncidentState = "open"
	IncidentResolved IncidentState = "resolved"
)

// Platform names the chat platform a thread lives on.
type Platform string

const (
	PlatformSlack Platform = "slack"
	PlatformTeams Platform = "teams"
)

// ThreadRef points at an incident's thread: the root message in a channel.
// For Slack, Channel is the channel id and RootID the root message's ts; for
// Teams, Channel is the conversation id and RootID the root activity id.
type ThreadRef struct {
	Platform Platform `json:"platform"`
	Channel  string   `json:"channel"`
	RootID   string   `json:"root_id"`
}

// IsZero reports whether no thread has been posted yet.
func (t ThreadRef) IsZero() bool { return t.Channel == "" && t.RootID == "" }

// MessageRef points at one message inside a thread, so it can be edited later
// (the progress message, an approval request).
type MessageRef struct {
	Thread ThreadRef `json:"thread"`
	ID     string    `json:"id"`
}

// Incident is one declared incident. Its ID is the short, human form
// "INC-<Number>" used in chat and in SMS.
type Incident struct {
	ID         string        `json:"id"`
	Number     int64         `json:"number"`
	Title      string        `json:"title"`
	Severity   int           `json:"severity"`
	State      IncidentState `json:"state"`
	DeclaredBy Actor         `json:"declared_by"`
	DeclaredAt time.Time     `json:"declared_at"`
	ResolvedAt time.Time     `json:"resolved_at,omitzero"`
	Thread     ThreadRef     `json:"thread"`
}

// MinSeverity and MaxSeverity bound an incident's severity: 1 is the worst.
const (
	MinSeverity     = 1
	MaxSeverity     = 4
	DefaultSeverity = 3
)

// IncidentID formats the short id of incident number n.
func IncidentID(n int64) string { return "INC-" + strconv.FormatInt(n, 10) }

var incidentIDPattern = regexp.MustCompile(`(?i)\bINC-(\d{1,9})\b`)

// ParseIncidentID accepts "INC-42", "inc-42" or "42" and returns the canonical id.
func ParseIncidentID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && len(s) <= 9 {
		return IncidentID(n), nil
	}
	m := incidentIDPattern.FindStringSubmatch(s)
	if m == nil || m[0] != s {
		return "", fmt.Errorf("%q is not an incident id (expected INC-<number>)", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return IncidentID(n), nil
}

// IncidentIDsIn returns every incident id mentioned in free text, in order,
// without repeats ("re INC-42 and inc-7" -> INC-42, INC-7).
func IncidentIDsIn(text string) []string {
	var ids []string
	seen := map[string]bool{}
	for _, m := range incidentIDPattern.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		id := IncidentID(n)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// Actor is whoever did something: a chat user, a phone (failover), or herald.
type Actor struct {
	Platform Platform `json:"platform,omitempty"` // empty for SMS and system actors
	ID       string   `json:"id"`                 // Slack user id, AAD object id, or E.164 phone
	Name     string   `json:"name,omitempty"`
}

// SystemActor is herald acting on its own (expiry, failover replay).
var SystemActor = Actor{ID: "herald", Name: "herald"}

// MaxTitleLength is the longest incident title, in characters: titles go
// into every SMS, where each character counts.
const MaxTitleLength = 150
