package bot

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// actorLabel names someone in a message. A phone number (an actor during
// failover) is masked: threads are read by many.
func ActorLabel(a Actor) string {
	if a.Name != "" {
		return a.Name
	}
	if strings.HasPrefix(a.ID, "+") {
		return MaskPhone(a.ID)
	}
	return a.ID
}

// people is "1 person" / "12 people".
func People(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}

// humanDuration is "less than a minute", "30 min", "1h 12m", "3 days".
func HumanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		m := int((d % time.Hour) / time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

func Capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var e164ish = regexp.MustCompile(`\+\d{8,15}`)

// maskPhonesIn masks anything that looks like a phone number in an error
// text before it is shown in chat.
func MaskPhonesIn(s string) string { return e164ish.ReplaceAllStringFunc(s, MaskPhone) }

func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
