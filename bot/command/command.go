package command

import (
	"time"
)

// Name is a command's canonical name: what the line asks for, whatever
// alias was typed. The set is closed; Parse never returns any other.
type Name string

// The commands, in the order help lists them. Reach to Clock are the
// contract's future words: they parse now so that a front end can answer
// "not available yet" instead of "unknown command". Update, Approve and
// Reject are the SMS-only verbs of failover; chat has the thread and its
// buttons for them.
const (
	New       Name = "new"
	Notify    Name = "notify"
	Status    Name = "status"
	List      Name = "list"
	Resolve   Name = "resolve"
	Reply     Name = "reply"
	Update    Name = "update"
	Approve   Name = "approve"
	Reject    Name = "reject"
	Reach     Name = "reach"
	Cancel    Name = "cancel"
	Scheduled Name = "scheduled"
	Tag       Name = "tag"
	Clock     Name = "clock"
	Failover  Name = "failover"
	Help      Name = "help"
)

// Names lists every command in help order.
func Names() []Name {
	return []Name{New, Notify, Status, List, Resolve, Reply, Update, Approve, Reject,
		Reach, Cancel, Scheduled, Tag, Clock, Failover, Help}
}

// aliases maps every accepted spelling of a command word (lower case) to its
// name. The one place an alias is decided: declare is what Teams users were
// taught, ? is what people type when lost, INFO is the carriers' other help
// keyword on SMS.
var aliases = map[string]Name{
	"declare": New,
	"?":       Help,
	"info":    Help,
}

// lookup returns the command a typed word names.
func lookup(word string) (Name, bool) {
	w := Name(lowerASCII(word))
	if n, ok := aliases[string(w)]; ok {
		return n, true
	}
	for _, n := range Names() {
		if n == w {
			return n, true
		}
	}
	return "", false
}

// IncidentTag is a tag on an incident: the built-in ones start regulatory
// clocks (GDPR Art. 33 for personal-data, NIS2 Art. 23 for nis2); configured
// clocks may add their own (dora), so the set is open and only its form is
// checked: lower-case letters, digits and inner hyphens.
type IncidentTag string

// The built-in tags.
const (
	TagPersonalData IncidentTag = "personal-data"
	TagSecurity     IncidentTag = "security"
	TagNIS2         IncidentTag = "nis2"
)

// Moment is a time as typed after --detected: exactly one of its fields is
// set. Parsing has no clock, so a wall-clock time or an age stays as given
// and Resolve turns it into an instant when the front end acts on it.
type Moment struct {
	At    time.Time     // an RFC 3339 instant: 2026-12-03T14:05:00Z
	Clock string        // a wall-clock time "15:04" today, in the installation's time zone
	Ago   time.Duration // an age: "20m" or "20m ago" is twenty minutes before the command
}

// IsZero reports whether no time was given.
func (m Moment) IsZero() bool { return m.At.IsZero() && m.Clock == "" && m.Ago == 0 }

// Resolve returns the instant m means for a command given at now, reading a
// wall-clock time in loc (nil: UTC). A wall-clock time later than now is
// yesterday's: something detected cannot lie in the future. The zero Moment
// resolves to the zero time.
func (m Moment) Resolve(now time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	switch {
	case !m.At.IsZero():
		return m.At
	case m.Ago > 0:
		return now.Add(-m.Ago)
	case m.Clock != "":
		hm, err := time.Parse("15:04", m.Clock)
		if err != nil {
			return time.Time{}
		}
		local := now.In(loc)
		t := time.Date(local.Year(), local.Month(), local.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
		if t.After(now) {
			t = t.AddDate(0, 0, -1)
		}
		return t
	}
	return time.Time{}
}

// Command is one parsed command line. Only the fields of its Name are set;
// every id in it is canonical (INC-42), every text is as the person typed it.
type Command struct {
	Name Name

	// IncidentID is the incident the command is about, "" when not given
	// (chat then means the newest open incident of the channel; SMS STATUS
	// lists them all). notify, status, resolve, reply, update, reach,
	// scheduled and cancel may name one; tag and clock must; ParseSMS
	// requires it of update and notify.
	IncidentID string

	// new
	Title    string        // single-spaced, never empty
	Severity int           // bot.MinSeverity..bot.MaxSeverity, bot.DefaultSeverity when not given
	Drill    bool          // --drill: a flagged test run (not acted on yet)
	Tags     []IncidentTag // --tag (repeatable, or comma-separated), and tag's one tag (not acted on yet)
	Detected Moment        // --detected (not acted on yet)

	// reply, update
	Who  string // reply: a recipient id or name
	Text string // reply, update: the rest of the line, inner spacing and newlines kept

	// notify in one line, as SMS has no form to fill:
	// notify INC-n <audience[,audience]> <template> [field=value ...]
	Audiences []string
	Template  string
	Fields    map[string]string // never nil when Template is set; a value runs on to the next field=, spaces kept single

	// approve, reject
	Code   string // the approval code the approvers were texted
	Reason string // reject: why, "" when not given

	All       bool   // list all: resolved incidents too
	On        bool   // failover on (false: off)
	Target    string // cancel: the broadcast or scheduled update, "" for the latest
	ClockName string // clock INC-n done <name>: which clock is done
	Topic     Name   // help <command>: the command to explain, "" for all
}

// Flag is one of new's flags, as help and refusals show it.
type Flag string

// The flags of new.
const (
	FlagSeverity Flag = "--sev"
	FlagDrill    Flag = "--drill"
	FlagTag      Flag = "--tag"
	FlagDetected Flag = "--detected"
)

// OptionsGiven lists the flags of new, beyond --sev, that the line carried
// (--drill, --tag, --detected). A front end that does not act on one yet
// refuses the whole line with NotAvailable rather than drop it: declaring a
// real incident when a drill was asked for is worse than declaring nothing.
func (c Command) OptionsGiven() []Flag {
	if c.Name != New {
		return nil
	}
	var out []Flag
	if c.Drill {
		out = append(out, FlagDrill)
	}
	if len(c.Tags) > 0 {
		out = append(out, FlagTag)
	}
	if !c.Detected.IsZero() {
		out = append(out, FlagDetected)
	}
	return out
}

// lowerASCII lower-cases ASCII letters only, so a command word typed with
// odd Unicode never matches a command by case folding tricks.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
