package teams_test

import (
	"errors"
	"html"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldops/herald/adapters/teams"
	"github.com/heraldops/herald/bot/command"
	"github.com/heraldops/herald/bot/command/commandtest"
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

// TestParseCommandSharesTheGrammar: every line of the one grammar, sent
// the way Teams sends it (after the bot's <at> mention, HTML-escaped), reads
// as it does in Slack and by SMS.
func TestParseCommandSharesTheGrammar(t *testing.T) {
	for _, tc := range commandtest.Grammar(t) {
		t.Run(tc.In, func(t *testing.T) {
			got, err := teams.ParseCommandForTest("<at>herald</at> "+html.EscapeString(tc.In), "herald")
			tc.Check(t, command.Teams, got, err)
		})
	}
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		text string
		want command.Command
	}{
		{"", command.Command{Name: command.Help}},
		{"help", command.Command{Name: command.Help}},
		{"incident new Database outage --sev 2", command.Command{Name: command.New, Title: "Database outage", Severity: 2}},
		{"/incident new Database outage", command.Command{Name: command.New, Title: "Database outage", Severity: 3}},
		{"new --sev=1 Payments down", command.Command{Name: command.New, Title: "Payments down", Severity: 1}},
		{"NEW API slow -s SEV4", command.Command{Name: command.New, Title: "API slow", Severity: 4}},
		{"incident notify", command.Command{Name: command.Notify}},
		{"notify inc-42", command.Command{Name: command.Notify, IncidentID: "INC-42"}},
		{"status 7", command.Command{Name: command.Status, IncidentID: "INC-7"}},
		{"resolve INC-3", command.Command{Name: command.Resolve, IncidentID: "INC-3"}},
		{"list", command.Command{Name: command.List}},
		{"list all", command.Command{Name: command.List, All: true}},
		{"reply dana We are on it", command.Command{Name: command.Reply, Who: "dana", Text: "We are on it"}},
		{"reply INC-4 dana ok", command.Command{Name: command.Reply, IncidentID: "INC-4", Who: "dana", Text: "ok"}},
		{"reply 42 thanks for waiting", command.Command{Name: command.Reply, Who: "42", Text: "thanks for waiting"}}, // a numeric stakeholder id, not INC-42
		{"<at>herald</at> new R&amp;D down <at>Ana Ruiz</at> knows", command.Command{Name: command.New, Title: "R&D down Ana Ruiz knows", Severity: 3}},
		{"<at>herald</at>&nbsp;failover on", command.Command{Name: command.Failover, On: true}},
	}
	for _, tc := range cases {
		got, err := teams.ParseCommandForTest(tc.text, "herald")
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tc.text, got, err, tc.want)
		}
	}
}

// TestParseCommandRefusals: what is wrong, said in Teams' syntax.
func TestParseCommandRefusals(t *testing.T) {
	cases := map[string]string{
		"frobnicate":            `herald does not know the command "frobnicate"`, // one wording with Slack now
		"new":                   "needs a title",
		"new --sev 2":           "needs a title",
		"new Outage --sev":      "*--sev* needs a severity from 1 to 4",
		"new Outage --sev 5":    `severity "5" is not a number from 1 to 4`,
		"new Outage --sev high": `severity "high"`,
		"status INC-x":          "not an incident id",
		"status INC-1 INC-2":    "at most one incident id",
		"reply dana":            "whom to answer and what",
		"list everything":       "*list* takes nothing or *all*",
	}
	for text, want := range cases {
		_, err := teams.ParseCommandForTest(text, "herald")
		var ue *command.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseCommand(%q) err = %v, want a usage error", text, err)
			continue
		}
		if got := teams.TextUsageErrorForTest(ue); !strings.Contains(got, want) || !strings.Contains(got, "@herald ") || strings.Contains(got, "/incident") {
			t.Errorf("ParseCommand(%q) answer %q, want Teams' syntax and %q", text, got, want)
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
		cmd, err := teams.ParseCommandForTest(text, "herald")
		if err != nil {
			var ue *command.UsageError
			if !errors.As(err, &ue) || teams.TextUsageErrorForTest(ue) == "" {
				t.Fatalf("non-usage error %v", err)
			}
			return
		}
		switch cmd.Name {
		case command.New:
			if strings.TrimSpace(cmd.Title) == "" || cmd.Severity < 1 || cmd.Severity > 4 {
				t.Fatalf("accepted %+v", cmd)
			}
		case command.Reply:
			if cmd.Who == "" || cmd.Text == "" {
				t.Fatalf("accepted %+v", cmd)
			}
		}
		if utf8.ValidString(text) && !utf8.ValidString(cmd.Title) {
			t.Fatalf("title became invalid UTF-8: %q", cmd.Title)
		}
	})
}
