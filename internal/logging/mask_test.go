package logging

import (
	"regexp"
	"strings"
	"testing"
)

func TestMaskText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain E.164", "to +4915112345678 now", "to +49151*****78 now"},
		{"config example", "+4915100000001", "+49151*****01"},
		{"US number", "+14155550101", "+14155*****01"},
		{"whatsapp address", "from whatsapp:+4915112345678", "from whatsapp:+49151*****78"},
		{"inside JSON string", `{"to":"+4915112345678","n":1}`, `{"to":"+49151*****78","n":1}`},
		{"URL-encoded form", "To=%2B4915112345678&From=whatsapp%3A%2B14155550101", "To=%2B49151*****78&From=whatsapp%3A%2B14155*****01"},
		{"lower-case percent escape", "To=%2b4915112345678", "To=%2b49151*****78"},
		{"JSON unicode escape", `"\u002b4915112345678"`, `"\u002b49151*****78"`},
		{"grouped as people write it", "call +1 (415) 555-0101 please", "call +14155*****01 please"},
		{"two numbers", "+4915112345678,+4915187654321", "+49151*****78,+49151*****21"},
		{"shortest number keeps four digits hidden", "+2901234", "+2*****34"},
		{"too short to be a phone", "offset +01:00 and +123456", "offset +01:00 and +123456"},
		{"no plus: ids and timestamps untouched", "ts=1700000000.123456 sid=SM0123456789", "ts=1700000000.123456 sid=SM0123456789"},
		{"trailing separator kept", "+4915112345678. Next", "+49151*****78. Next"},
		{"lone prefixes", "+ % %2 \\u00 \\", "+ % %2 \\u00 \\"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskText(tt.in); got != tt.want {
				t.Errorf("MaskText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// leakedRuns returns the digit runs of 8 or more that follow an
// international prefix in in and still appear in out, ignoring runs that
// also occur in in without a prefix (those are not phone numbers to mask).
func leakedRuns(in, out string) []string {
	prefixed := regexp.MustCompile(`(?:\+|%2[bB]|\\u002[bB])([0-9]{8,})`)
	var leaks []string
	for _, m := range prefixed.FindAllStringSubmatch(in, -1) {
		run := m[1]
		total := strings.Count(in, run)
		withPrefix := strings.Count(in, "+"+run) + strings.Count(in, "%2B"+run) + strings.Count(in, "%2b"+run) +
			strings.Count(in, `\u002b`+run) + strings.Count(in, `\u002B`+run)
		if total > withPrefix {
			continue // the same digits also appear unprefixed, legitimately kept
		}
		if strings.Contains(out, run) {
			leaks = append(leaks, run)
		}
	}
	return leaks
}

func FuzzMaskText(f *testing.F) {
	for _, s := range []string{
		"+4915112345678",
		`{"level":"info","to":"whatsapp:+4915112345678","message":"sent"}`,
		"Body=Hi&From=%2B14155550101&To=whatsapp%3A%2B4915100000001",
		"+1 (415) 555-0101",
		`\u002b4915112345678`,
		"+++%2B%2b%%\\u002b",
		"+12345678901234567890123456789",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := MaskText(in) // must not panic
		if leaks := leakedRuns(in, out); len(leaks) > 0 {
			t.Fatalf("MaskText(%q) = %q still contains %q", in, out, leaks)
		}
		if again := MaskText(out); again != out {
			t.Fatalf("masking is not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}
