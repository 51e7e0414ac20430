package command

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldops/herald/bot"
)

// FuzzParse: command lines are outside input (anyone in the workspace, any
// registered phone). Whatever is typed, parsing never panics, refuses only
// with a *UsageError that every surface can put into words, and what it
// accepts is well-formed.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "help", "? new", "new Database outage", "declare DB -s 2", "new x --sev=9", "new --tag a,,b --detected 20m ago --drill x",
		"new x \u2014sev 2", "new x --detected 2026-12-03T14:05:00Z", "notify INC-1 a,b t k=v more", "status 7", "list all",
		"reply INC-3 dana hi  there", "UPDATE 42 text\nline", "APPROVE 1234", "REJECT 1234 why", "cancel b-1-2",
		"tag INC-3 nis2", "clock INC-3 done DORA initial", "failover on", "incident incident", "resolve INC-999999999999",
		"new \u00a0\t x", "reply", "new --sev",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		sms, smsErr := ParseSMS(text)
		if err != nil {
			checkRefusal(t, text, err)
			if smsErr == nil {
				t.Fatalf("%q: SMS accepts what chat refuses", text)
			}
			return
		}
		checkCommand(t, text, c)
		if smsErr != nil {
			checkRefusal(t, text, smsErr)
		} else if !reflect.DeepEqual(c, sms) {
			t.Fatalf("%q: SMS reads %+v, chat %+v", text, sms, c)
		}
		for _, s := range []Surface{Slack, Teams, SMS} {
			if !Offers(s, c) && NotAvailable(s, c) == "" {
				t.Fatalf("%q: no answer on %s", text, s)
			}
		}
	})
}

func checkRefusal(t *testing.T, text string, err error) {
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("%q: error %v is not a UsageError", text, err)
	}
	if _, ok := problems[ue.Problem]; !ok {
		t.Fatalf("%q: problem %q has no sentence", text, ue.Problem)
	}
	if ue.Command != "" && forms[ue.Command] == "" {
		t.Fatalf("%q: usage of unknown command %q", text, ue.Command)
	}
	if utf8.RuneCountInString(ue.Word) > maxWord {
		t.Fatalf("%q: echoes %d characters", text, utf8.RuneCountInString(ue.Word))
	}
	for _, s := range []Surface{Slack, Teams, SMS} {
		if Explain(s, ue) == "" {
			t.Fatalf("%q: nothing to say on %s", text, s)
		}
	}
}

func checkCommand(t *testing.T, text string, c Command) {
	if forms[c.Name] == "" {
		t.Fatalf("%q: parsed to unknown command %q", text, c.Name)
	}
	if c.IncidentID != "" {
		if id, err := bot.ParseIncidentID(c.IncidentID); err != nil || id != c.IncidentID {
			t.Fatalf("%q: incident id %q is not canonical", text, c.IncidentID)
		}
	}
	switch c.Name {
	case New:
		if c.Title == "" || c.Title != strings.Join(strings.Fields(c.Title), " ") || utf8.RuneCountInString(c.Title) > bot.MaxTitleLength {
			t.Fatalf("%q: bad title %q", text, c.Title)
		}
		if c.Severity < bot.MinSeverity || c.Severity > bot.MaxSeverity {
			t.Fatalf("%q: severity %d", text, c.Severity)
		}
	case Reply:
		if c.Who == "" || c.Text == "" {
			t.Fatalf("%q: reply without who or text: %+v", text, c)
		}
	case Update:
		if c.Text == "" {
			t.Fatalf("%q: update without text", text)
		}
	case Approve, Reject:
		if !isCode(c.Code) || c.Code == "" {
			t.Fatalf("%q: code %q", text, c.Code)
		}
	case Notify:
		if c.Template != "" && len(c.Audiences) == 0 {
			t.Fatalf("%q: notify without audience", text)
		}
	}
	for _, tag := range c.Tags {
		if !tagPattern.MatchString(string(tag)) {
			t.Fatalf("%q: tag %q", text, tag)
		}
	}
}
