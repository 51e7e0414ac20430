package workflow

import (
	"fmt"
	"strings"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/guard"
)

// The content guard's words, shared by every front end. They are read by a
// responder or an approver in the middle of an incident: say what was found
// and what it is, not which rule matched.

// FindingLine is one guard finding as a person reads it: Lead, then Match
// (the text as it would be sent; each renderer highlights it), then Tail.
// "Looks internal: " + "10.2.3.4" + " (an IP address)".
type FindingLine struct {
	Lead, Match, Tail string
}

// String is the line without highlighting, for SMS and logs.
func (l FindingLine) String() string { return l.Lead + "“" + l.Match + "”" + l.Tail }

// Bold is the line with the match in the neutral message's *bold* marks.
func (l FindingLine) Bold() string { return l.Lead + "*" + l.Match + "*" + l.Tail }

// FindingLines says each distinct finding once: a field used in the SMS, in
// every locale and in the WhatsApp template is one thing to remove.
func FindingLines(findings []guard.Finding) []FindingLine {
	type key struct {
		kind  guard.Kind
		match string
	}
	seen := map[key]bool{}
	var out []FindingLine
	for _, f := range findings {
		match := strings.TrimSpace(f.Match)
		k := key{f.Kind, match}
		if seen[k] || match == "" {
			continue
		}
		seen[k] = true
		lead, tail := findingWords(f.Kind)
		out = append(out, FindingLine{Lead: lead, Match: match, Tail: tail})
	}
	return out
}

func findingWords(k guard.Kind) (lead, tail string) {
	switch k {
	case guard.KindIP:
		return "Looks internal: ", " (an IP address)"
	case guard.KindHost:
		return "Looks internal: ", " (one of our server names)"
	case guard.KindEmail:
		return "Looks internal: ", " (an e-mail address)"
	case guard.KindSecret:
		return "Looks secret: ", " (like a password, token or key)"
	case guard.KindPath:
		return "Looks internal: ", " (a file path on a server)"
	case guard.KindStackTrace:
		return "Looks internal: ", " (part of an error trace)"
	}
	return "Looks internal: ", ""
}

// GuardHeading introduces the findings in a preview.
func GuardHeading(n int) string {
	if n == 1 {
		return "Check before sending: this goes to people outside the company, and 1 thing looks internal. Remove it unless they must read it."
	}
	return fmt.Sprintf("Check before sending: this goes to people outside the company, and %d things look internal. Remove them unless they must read them.", n)
}

// GuardApprovalHeading introduces the findings in the approval request.
func GuardApprovalHeading(n int) string {
	if n == 1 {
		return "*Check before approving:* this goes to people outside the company, and 1 thing looks internal:"
	}
	return fmt.Sprintf("*Check before approving:* this goes to people outside the company, and %d things look internal:", n)
}

// problemGuardBlocked is the refusal when guard.block is on. The findings
// come first and the words are few: Slack shows about 150 characters of an
// error on the form.
func problemGuardBlocked(lines []FindingLine) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = "“" + l.Match + "”" + l.Tail
	}
	return "Remove before sending outside the company: " + strings.Join(parts, ", ") + "."
}

// guardAuditSummary is the audit trail's note that the findings were shown:
// "2 guard findings: IP address, internal host name".
func guardAuditSummary(findings []guard.Finding) string {
	lines := FindingLines(findings)
	if len(lines) == 0 {
		return ""
	}
	var kinds []string
	seen := map[guard.Kind]bool{}
	for _, f := range findings {
		if !seen[f.Kind] {
			seen[f.Kind] = true
			kinds = append(kinds, f.Kind.Noun())
		}
	}
	return fmt.Sprintf("%s: %s", bot.Plural(len(lines), "guard finding", "guard findings"), strings.Join(kinds, ", "))
}
