package slack

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text    string
		want    Command
		wantErr string // substring of the UsageError; "" for success
		errCmd  string // the subcommand whose usage the error shows
	}{
		{text: "", want: Command{Name: cmdHelp}},
		{text: "  HELP ", want: Command{Name: cmdHelp}},
		{text: "new Database outage", want: Command{Name: cmdNew, Title: "Database outage", Severity: bot.DefaultSeverity}},
		{text: "new   Database    outage  ", want: Command{Name: cmdNew, Title: "Database outage", Severity: 3}},
		{text: "new Database outage --sev 1", want: Command{Name: cmdNew, Title: "Database outage", Severity: 1}},
		{text: "new --sev=2 Database outage", want: Command{Name: cmdNew, Title: "Database outage", Severity: 2}},
		{text: "new Payments --severity SEV4 down", want: Command{Name: cmdNew, Title: "Payments down", Severity: 4}},
		{text: "New DB &amp; cache &lt;eu&gt;", want: Command{Name: cmdNew, Title: "DB & cache <eu>", Severity: 3}},
		{text: "new <@U123|dana> broke <#C1|prod> see <https://status.example.com|status>", want: Command{Name: cmdNew, Title: "@dana broke #prod see https://status.example.com", Severity: 3}},
		{text: "new Outage in\u00a0EU", want: Command{Name: cmdNew, Title: "Outage in EU", Severity: 3}},
		{text: "new --sevenfold problem", want: Command{Name: cmdNew, Title: "--sevenfold problem", Severity: 3}},
		{text: "new", wantErr: "needs a title", errCmd: cmdNew},
		{text: "new --sev 2", wantErr: "needs a title", errCmd: cmdNew},
		{text: "new DB --sev 5", wantErr: "Severity must be 1 to 4", errCmd: cmdNew},
		{text: "new DB --sev", wantErr: "Severity must be 1 to 4", errCmd: cmdNew},
		{text: "new DB --sev 1 --sev 2", wantErr: "only once", errCmd: cmdNew},
		{text: "new " + strings.Repeat("x", workflow.MaxTitleLength+1), wantErr: "too long", errCmd: cmdNew},
		{text: "notify", want: Command{Name: cmdNotify}},
		{text: "notify INC-42", want: Command{Name: cmdNotify, IncidentID: "INC-42"}},
		{text: "notify inc-42", want: Command{Name: cmdNotify, IncidentID: "INC-42"}},
		{text: "status 42", want: Command{Name: cmdStatus, IncidentID: "INC-42"}},
		{text: "resolve INC-7", want: Command{Name: cmdResolve, IncidentID: "INC-7"}},
		{text: "resolve soon", wantErr: "not an incident id", errCmd: cmdResolve},
		{text: "status INC-1 INC-2", wantErr: "at most one", errCmd: cmdStatus},
		{text: "list", want: Command{Name: cmdList}},
		{text: "list ALL", want: Command{Name: cmdList, All: true}},
		{text: "list open", wantErr: "takes nothing or `all`", errCmd: cmdList},
		{text: "reply dana We are on it", want: Command{Name: cmdReply, Who: "dana", Text: "We are on it"}},
		{text: "reply INC-3 dana   line one  ", want: Command{Name: cmdReply, IncidentID: "INC-3", Who: "dana", Text: "line one"}},
		{text: "reply 42 is the answer", want: Command{Name: cmdReply, Who: "42", Text: "is the answer"}},
		{text: "reply dana", wantErr: "whom to answer and what", errCmd: cmdReply},
		{text: "reply INC-x dana hi", wantErr: "not an incident id", errCmd: cmdReply},
		{text: "failover on", want: Command{Name: cmdFailover, On: true}},
		{text: "failover OFF", want: Command{Name: cmdFailover}},
		{text: "failover", wantErr: "`on` or `off`", errCmd: cmdFailover},
		{text: "deploy prod", wantErr: `does not know the command "deploy"`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := ParseCommand(tt.text)
			if tt.wantErr != "" {
				var ue *UsageError
				if !errors.As(err, &ue) || !strings.Contains(ue.Problem, tt.wantErr) || ue.Command != tt.errCmd {
					t.Fatalf("err = %#v, want a UsageError for %q mentioning %q", err, tt.errCmd, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, seed := range []string{
		"new Database outage", "new DB --sev 2", "new --sev=9 x", "notify INC-1", "status 7", "list all",
		"reply INC-3 dana hi there", "failover on", "help", "", "new <@U1|x> &amp; <#C|y>", "reply", "new --sev",
		"new \u00a0\t x", "resolve INC-999999999999",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCommand(text)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || ue.Problem == "" {
				t.Fatalf("%q: error %v is not a UsageError with a problem", text, err)
			}
			if _, ok := usageOf[ue.Command]; ue.Command != "" && !ok {
				t.Fatalf("%q: usage of unknown command %q", text, ue.Command)
			}
			return
		}
		if _, ok := usageOf[c.Name]; !ok {
			t.Fatalf("%q: parsed to unknown command %q", text, c.Name)
		}
		switch c.Name {
		case cmdNew:
			if c.Title == "" || c.Title != strings.TrimSpace(c.Title) || utf8.RuneCountInString(c.Title) > workflow.MaxTitleLength {
				t.Fatalf("%q: bad title %q", text, c.Title)
			}
			if c.Severity < bot.MinSeverity || c.Severity > bot.MaxSeverity {
				t.Fatalf("%q: severity %d", text, c.Severity)
			}
		case cmdReply:
			if c.Who == "" || c.Text == "" {
				t.Fatalf("%q: reply without who or text: %+v", text, c)
			}
		}
		if c.IncidentID != "" {
			if id, err := bot.ParseIncidentID(c.IncidentID); err != nil || id != c.IncidentID {
				t.Fatalf("%q: incident id %q is not canonical", text, c.IncidentID)
			}
		}
	})
}
