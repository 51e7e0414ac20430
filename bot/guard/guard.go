package guard

import (
	"cmp"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Kind is what a finding looks like.
type Kind string

const (
	KindIP         Kind = "ip"
	KindHost       Kind = "host"
	KindEmail      Kind = "email"
	KindSecret     Kind = "secret"
	KindPath       Kind = "path"
	KindStackTrace Kind = "stack_trace"
)

// Noun names the kind as a person says it: "IP address".
func (k Kind) Noun() string {
	switch k {
	case KindIP:
		return "IP address"
	case KindHost:
		return "internal host name"
	case KindEmail:
		return "e-mail address"
	case KindSecret:
		return "password or key"
	case KindPath:
		return "file path"
	case KindStackTrace:
		return "error trace"
	}
	return string(k)
}

// Text is one text an update sends, named by where it goes ("SMS",
// "SMS (de)", "WhatsApp {{1}}"), so a finding can say where it is.
type Text struct {
	Where string
	Body  string
}

// Finding is one match: Match is Body[Start:End] of the text named Where.
type Finding struct {
	Kind  Kind
	Match string
	Where string
	Start int // byte offset in the text
	End   int
}

// Scanner holds what the guard knows about the company.
type Scanner struct {
	// InternalDomains are the company's own DNS domains ("corp.example"):
	// they and every subdomain are internal host names.
	InternalDomains []string
}

// Scan returns every finding in texts, in the texts' order and by position
// within each. Overlapping matches are reported once: the longer one (an
// e-mail address, not also the host name inside it).
func (s Scanner) Scan(texts []Text) []Finding {
	var out []Finding
	hosts := hostPatterns(s.InternalDomains)
	for _, t := range texts {
		out = append(out, scanOne(t, hosts)...)
	}
	return out
}

func scanOne(t Text, hosts []*regexp.Regexp) []Finding {
	var found []Finding
	add := func(k Kind, start, end int) {
		found = append(found, Finding{Kind: k, Match: t.Body[start:end], Where: t.Where, Start: start, End: end})
	}
	for _, r := range ipv4Candidates(t.Body) {
		add(KindIP, r[0], r[1])
	}
	for _, r := range ipv6Candidates(t.Body) {
		add(KindIP, r[0], r[1])
	}
	for _, re := range hosts {
		for _, r := range re.FindAllStringIndex(t.Body, -1) {
			if hostBoundary(t.Body, r[0], r[1]) {
				add(KindHost, r[0], r[1])
			}
		}
	}
	for _, p := range patterns {
		for _, r := range p.re.FindAllStringSubmatchIndex(t.Body, -1) {
			start, end := r[0], r[1]
			if len(r) >= 4 && r[2] >= 0 {
				// The pattern marks the part to report with a group; what is
				// around it only anchors the match (a path after a space).
				start, end = r[2], r[3]
			}
			if p.accept == nil || p.accept(t.Body, start, end) {
				add(p.kind, start, end)
			}
		}
	}
	return dropContained(found)
}

// dropContained keeps, of overlapping findings, the earliest and longest;
// the others are parts of it (the hex run inside a token, the host name
// inside an e-mail address).
func dropContained(found []Finding) []Finding {
	slices.SortStableFunc(found, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(b.End, a.End))
	})
	var out []Finding
	end := -1
	for _, f := range found {
		if f.Start < end {
			continue
		}
		out = append(out, f)
		end = f.End
	}
	return out
}

type pattern struct {
	kind   Kind
	re     *regexp.Regexp
	accept func(s string, start, end int) bool
}

var patterns = []pattern{
	{kind: KindEmail, re: regexp.MustCompile(`(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}`)},

	// Secrets: the well-known token shapes first, then anything that looks
	// random enough to be a key.
	{kind: KindSecret, re: regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{kind: KindSecret, re: regexp.MustCompile(`\bxox[abposr]-[0-9A-Za-z-]{10,}`)},
	{kind: KindSecret, re: regexp.MustCompile(`\bgh[pousr]_[0-9A-Za-z]{36,}\b|\bgithub_pat_[0-9A-Za-z_]{22,}`)},
	{kind: KindSecret, re: regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----`)},
	{kind: KindSecret, re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}`)},
	{kind: KindSecret, re: regexp.MustCompile(`\b[0-9a-fA-F]{32,}\b`)},
	{kind: KindSecret, re: regexp.MustCompile(`[A-Za-z0-9+/]{40,}={0,2}`), accept: looksRandom},

	// Paths: a Unix path is at least two segments starting at a word's
	// start ("/var/log"), so "24/7", "and/or" and the "//" of a URL are not;
	// a Windows path is a drive letter and a backslash, or a UNC share.
	{kind: KindPath, re: regexp.MustCompile(`(?:^|[\s("'=\[])(~?/[A-Za-z0-9_.@+-]+(?:/[A-Za-z0-9_.@+-]+)+/?)`)},
	{kind: KindPath, re: regexp.MustCompile(`\b[A-Za-z]:\\[^\s"'<>|]*|\\\\[A-Za-z0-9_.-]+\\[^\s"'<>|]+`)},

	// Stack traces of the languages services are written in: Go, Java and
	// the JVM, .NET, JavaScript, Python.
	{kind: KindStackTrace, re: regexp.MustCompile(`goroutine \d+ \[[a-zA-Z ]+`)},
	{kind: KindStackTrace, re: regexp.MustCompile(`\bpanic: `)},
	{kind: KindStackTrace, re: regexp.MustCompile(`\bat [\w$.<>/]+ ?\([^()\s]+\.\w+:\d+(?::\d+)?\)`)},
	{kind: KindStackTrace, re: regexp.MustCompile(`Traceback \(most recent call last\)`)},
	{kind: KindStackTrace, re: regexp.MustCompile(`File "[^"]+", line \d+`)},
	{kind: KindStackTrace, re: regexp.MustCompile(`Exception in thread "[^"]*"`)},
}

// looksRandom tells a key from a long word or a run of letters: base64 of
// random bytes mixes upper case, lower case and digits, prose does not.
func looksRandom(s string, start, end int) bool {
	if start > 0 && isWordByte(s[start-1]) || end < len(s) && isWordByte(s[end]) {
		return false
	}
	run := s[start:end]
	return strings.ContainsAny(run, "0123456789") &&
		strings.ContainsAny(run, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		strings.ContainsAny(run, "abcdefghijklmnopqrstuvwxyz")
}

var ipv4Re = regexp.MustCompile(`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`)

// ipv4Candidates finds dotted quads that parse as addresses and stand
// alone: "1.2.3" (a version) has too few parts, "1.2.3.4.5" too many.
func ipv4Candidates(s string) [][]int {
	var out [][]int
	for _, r := range ipv4Re.FindAllStringIndex(s, -1) {
		start, end := r[0], r[1]
		if start > 0 && (isDigit(s[start-1]) || s[start-1] == '.' && start > 1 && isDigit(s[start-2])) {
			continue
		}
		if end < len(s) && (isDigit(s[end]) || s[end] == '.' && end+1 < len(s) && isDigit(s[end+1])) {
			continue
		}
		if a, err := netip.ParseAddr(s[start:end]); err == nil && a.Is4() {
			out = append(out, []int{start, end})
		}
	}
	return out
}

var ipv6Re = regexp.MustCompile(`(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}`)

// ipv6Candidates finds colon runs that net/netip accepts as IPv6: times
// ("14:30", "14:30:05") are not addresses, and a word ending in "e::" is
// not either.
func ipv6Candidates(s string) [][]int {
	var out [][]int
	for _, r := range ipv6Re.FindAllStringIndex(s, -1) {
		start, end := r[0], r[1]
		for end > start && (s[end-1] == '.' || s[end-1] == ':' && (end-start < 2 || s[end-2] != ':')) {
			end-- // sentence punctuation after the address
		}
		if start > 0 && (isWordByte(s[start-1]) || s[start-1] == ':') || end < len(s) && isWordByte(s[end]) {
			continue
		}
		cand := s[start:end]
		if !strings.ContainsAny(cand, "0123456789abcdefABCDEF") {
			continue // "::" alone is punctuation in prose
		}
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() {
			out = append(out, []int{start, end})
		}
	}
	return out
}

// hostPatterns matches each internal domain and its subdomains.
func hostPatterns(domains []string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, d := range domains {
		d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" {
			continue
		}
		out = append(out, regexp.MustCompile(`(?i)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*`+regexp.QuoteMeta(d)))
	}
	return out
}

// hostBoundary rejects a match that is part of a longer name:
// "notcorp.example" or "corp.example.com" are not under corp.example.
func hostBoundary(s string, start, end int) bool {
	if start > 0 && (isWordByte(s[start-1]) || s[start-1] == '-' || s[start-1] == '.') {
		return false
	}
	if end < len(s) && (isWordByte(s[end]) || s[end] == '-') {
		return false
	}
	if end+1 < len(s) && s[end] == '.' && isWordByte(s[end+1]) {
		return false
	}
	return true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isWordByte(b byte) bool {
	return isDigit(b) || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
}
