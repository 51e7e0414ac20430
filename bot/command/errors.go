package command

import "fmt"

// Problem is what is wrong with a command line. The set is closed; each has
// its sentence in texts.go.
type Problem string

// The problems.
const (
	ProblemUnknownCommand   Problem = "unknown command"
	ProblemNoTitle          Problem = "no title"
	ProblemTitleTooLong     Problem = "title too long"
	ProblemBadSeverity      Problem = "bad severity"
	ProblemNoValue          Problem = "flag without value"
	ProblemFlagTwice        Problem = "flag given twice"
	ProblemFlagTakesNoValue Problem = "flag takes no value"
	ProblemBadTag           Problem = "bad tag"
	ProblemBadTime          Problem = "bad time"
	ProblemNotIncidentID    Problem = "not an incident id"
	ProblemNoIncidentID     Problem = "incident id needed"
	ProblemTooManyWords     Problem = "too many words"
	ProblemListArgs         Problem = "list takes all or nothing"
	ProblemOnOrOff          Problem = "on or off"
	ProblemNoWhoOrWhat      Problem = "reply needs who and what"
	ProblemNoText           Problem = "update needs text"
	ProblemNoTemplate       Problem = "notify needs audience and template"
	ProblemBadField         Problem = "bad field"
	ProblemFieldTwice       Problem = "field given twice"
	ProblemNoCode           Problem = "code needed"
	ProblemBadCode          Problem = "bad code"
	ProblemBadTarget        Problem = "bad cancel target"
	ProblemClockNeedsDone   Problem = "clock needs done and a name"
	ProblemTagNeedsOneTag   Problem = "tag needs one tag"
)

// UsageError says why a command line was not understood. Its fields are
// what a person is told (texts.go renders them per surface with Explain);
// Error is for logs only.
type UsageError struct {
	// Command is the command that was meant, whose usage to show; "" when
	// the command word itself is unknown (then all commands are shown).
	Command Name
	// Problem is what is wrong.
	Problem Problem
	// Word is the word at fault as typed, shortened to at most maxWord
	// characters (an unknown command, a bad id, severity, tag or field), or
	// the flag that lacks a value; "" when no single word is to blame.
	Word string
}

func (e *UsageError) Error() string {
	name := string(e.Command)
	if name == "" {
		name = "?"
	}
	if e.Word != "" {
		return fmt.Sprintf("command %s: %s: %q", name, e.Problem, e.Word)
	}
	return fmt.Sprintf("command %s: %s", name, e.Problem)
}

// maxWord bounds the typed word an error repeats, so a pasted paragraph is
// not echoed back whole (an SMS answer costs per segment).
const maxWord = 30

func usageError(cmd Name, p Problem, word string) *UsageError {
	return &UsageError{Command: cmd, Problem: p, Word: shorten(word, maxWord)}
}

// shorten cuts s to at most n characters, marking the cut with "...".
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
