package teams_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldops/herald/adapters/teams"
)

func TestStripMention(t *testing.T) {
	cases := []struct{ text, bot, want string }{
		// The shared fixture's text, as Teams sends it.
		{"<at>Chat SDK Demo</at> Hey", "Chat SDK Demo", "Hey"},
		{"<at>herald</at> incident new DB down --sev 2", "herald", "incident new DB down --sev 2"},
		{"<at>herald</at>&nbsp;status", "herald", "status"},
		{"new Page <at>Ana Ruiz</at> is out <at>herald</at>", "herald", "new Page Ana Ruiz is out"},
		{"<at>herald</at> new R&amp;D down", "", "new R&D down"},
		{"status", "herald", "status"}, // personal chat: no mention
	}
	for _, tc := range cases {
		if got := teams.StripMention(tc.text, tc.bot); got != tc.want {
			t.Errorf("StripMention(%q, %q) = %q, want %q", tc.text, tc.bot, got, tc.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		text string
		want teams.Command
	}{
		{"", teams.Command{Name: "help"}},
		{"help", teams.Command{Name: "help"}},
		{"incident new Database outage --sev 2", teams.Command{Name: "new", Title: "Database outage", Severity: 2}},
		{"/incident new Database outage", teams.Command{Name: "new", Title: "Database outage", Severity: 3}},
		{"new --sev=1 Payments down", teams.Command{Name: "new", Title: "Payments down", Severity: 1}},
		{"NEW API slow -s SEV4", teams.Command{Name: "new", Title: "API slow", Severity: 4}},
		{"incident notify", teams.Command{Name: "notify"}},
		{"notify inc-42", teams.Command{Name: "notify", IncidentID: "INC-42"}},
		{"status 7", teams.Command{Name: "status", IncidentID: "INC-7"}},
		{"resolve INC-3", teams.Command{Name: "resolve", IncidentID: "INC-3"}},
		{"list", teams.Command{Name: "list"}},
		{"list all", teams.Command{Name: "list", All: true}},
		{"reply dana We are on it", teams.Command{Name: "reply", Who: "dana", Text: "We are on it"}},
		{"reply INC-4 dana ok", teams.Command{Name: "reply", IncidentID: "INC-4", Who: "dana", Text: "ok"}},
		{"reply 42 thanks for waiting", teams.Command{Name: "reply", Who: "42", Text: "thanks for waiting"}}, // a numeric stakeholder id, not INC-42
	}
	for _, tc := range cases {
		got, err := teams.ParseCommand(tc.text)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tc.text, got, err, tc.want)
		}
	}
}

func TestParseCommandRefusals(t *testing.T) {
	cases := map[string]string{
		"frobnicate":            `unknown command "frobnicate"`,
		"new":                   "new needs a title",
		"new --sev 2":           "new needs a title",
		"new Outage --sev":      "--sev needs a number",
		"new Outage --sev 5":    `severity "5" is not a number from 1 to 4`,
		"new Outage --sev high": `severity "high"`,
		"status INC-x":          "not an incident id",
		"status INC-1 INC-2":    "at most an incident id",
		"reply dana":            "reply needs who and what",
		"list everything":       "list takes no arguments",
	}
	for text, want := range cases {
		_, err := teams.ParseCommand(text)
		if !errors.Is(err, teams.ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCommand(%q) err = %v, want usage error with %q", text, err, want)
		}
	}
}

// FuzzParseCommand: whatever people type, parsing never panics, and what it
// accepts is well-formed.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"<at>Chat SDK Demo</at> Hey", "incident new DB --sev 2", "reply INC-1 dana hi", "new --sev", "list all", "\u00a0status 4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := teams.ParseCommand(teams.StripMention(text, "herald"))
		if err != nil {
			if !errors.Is(err, teams.ErrUsage) {
				t.Fatalf("non-usage error %v", err)
			}
			return
		}
		switch cmd.Name {
		case "new":
			if strings.TrimSpace(cmd.Title) == "" || cmd.Severity < 1 || cmd.Severity > 4 {
				t.Fatalf("accepted %+v", cmd)
			}
		case "reply":
			if cmd.Who == "" || cmd.Text == "" {
				t.Fatalf("accepted %+v", cmd)
			}
		case "help", "notify", "status", "resolve", "list":
		default:
			t.Fatalf("unknown command %q accepted", cmd.Name)
		}
		if utf8.ValidString(text) && !utf8.ValidString(cmd.Title) {
			t.Fatalf("title became invalid UTF-8: %q", cmd.Title)
		}
	})
}
