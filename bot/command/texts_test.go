package command

import (
	"strings"
	"testing"

	"github.com/heraldops/herald/bot"
)

func TestSMSHelpFitsOneSegmentAndNamesTheOrganisation(t *testing.T) {
	tests := []struct {
		org      string
		wantLead string // the SMS starts with this
	}{
		{org: "", wantLead: "herald incidents: "},
		{org: "Acme Corp", wantLead: "Acme Corp incidents: "},
		{org: "  Acme \n Corp ", wantLead: "Acme Corp incidents: "},
		{org: "Müller & Söhne", wantLead: "Müller & Söhne incidents: "},
		{org: "Acme \u201cCloud\u201d \u2013 Ops", wantLead: `Acme "Cloud" - Ops incidents: `},
		{org: "Łódź [Water] Works 🙂", wantLead: "Lodz Water Works incidents: "},
		{org: "Acme Corporation International Holdings GmbH", wantLead: "Acme Corporation incidents: "},
		{org: strings.Repeat("x", 200), wantLead: strings.Repeat("x", smsSegment-septets(smsHelpForm)) + " incidents"},
	}
	for _, tt := range tests {
		t.Run(tt.org, func(t *testing.T) {
			// when
			got := HelpText(SMS, "", tt.org)
			// then
			info := bot.CountSMS(got)
			if info.Encoding != bot.EncodingGSM7 || info.Segments != 1 {
				t.Fatalf("%q is %d %s segments, want one GSM-7 segment", got, info.Segments, info.Encoding)
			}
			if !strings.HasPrefix(got, tt.wantLead) {
				t.Fatalf("%q, want it to start with %q", got, tt.wantLead)
			}
			for _, w := range []string{"STATUS", "NEW", "UPDATE", "NOTIFY", "APPROVE", "REJECT", "HELP"} {
				if !strings.Contains(got, w) {
					t.Fatalf("%q does not name %s", got, w)
				}
			}
		})
	}
}

// TestSeptetsAgreesWithTheCarrierCount: the help is fitted with this
// package's own count; the relay's count (bot.CountSMS) is what carriers bill.
func TestSeptetsAgreesWithTheCarrierCount(t *testing.T) {
	for _, s := range []string{"plain", "[x] {y} ~|\\^€", "Müller £5 ¿", "Łódź", "emoji 🙂", smsHelp("Acme")} {
		info := bot.CountSMS(s)
		n := septets(s)
		if gsm := info.Encoding == bot.EncodingGSM7; gsm != (n >= 0) {
			t.Fatalf("%q: septets %d, carriers count %s", s, n, info.Encoding)
		}
	}
}

func TestEachSurfaceShowsItsOwnSyntax(t *testing.T) {
	tests := []struct {
		surface   Surface
		wantUsage string
		foreign   []string // another surface's syntax, never shown here
	}{
		{Slack, "*Usage:* `/incident new <title> [--sev 1..4]`", []string{"@herald"}},
		{Teams, "*Usage:* *@herald new <title> [--sev 1..4]*", []string{"/incident", "`"}},
		{SMS, "Usage: NEW <title> [--sev 1..4]", []string{"/incident", "@herald", "`", "*"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.surface), func(t *testing.T) {
			if got := Usage(tt.surface, New); got != tt.wantUsage {
				t.Fatalf("usage %q, want %q", got, tt.wantUsage)
			}
			texts := []string{HelpText(tt.surface, "", "Acme")}
			for _, n := range Names() {
				texts = append(texts, HelpText(tt.surface, n, "Acme"), Usage(tt.surface, n), NotAvailable(tt.surface, Command{Name: n}))
			}
			for _, p := range allProblems {
				for _, cmd := range []Name{"", New} {
					texts = append(texts, Explain(tt.surface, &UsageError{Command: cmd, Problem: p, Word: "w"}))
				}
			}
			for _, text := range texts {
				for _, f := range tt.foreign {
					if strings.Contains(text, f) {
						t.Fatalf("%s text shows %q: %s", tt.surface, f, text)
					}
				}
			}
		})
	}
}

// allProblems are the Problem constants, so a new one without its sentence
// fails here.
var allProblems = []Problem{ProblemUnknownCommand, ProblemNoTitle, ProblemTitleTooLong, ProblemBadSeverity,
	ProblemNoValue, ProblemFlagTwice, ProblemFlagTakesNoValue, ProblemBadTag, ProblemBadTime, ProblemNotIncidentID,
	ProblemNoIncidentID, ProblemTooManyWords, ProblemListArgs, ProblemOnOrOff, ProblemNoWhoOrWhat, ProblemNoText,
	ProblemNoTemplate, ProblemBadField, ProblemFieldTwice, ProblemNoCode, ProblemBadCode, ProblemBadTarget,
	ProblemClockNeedsDone, ProblemTagNeedsOneTag}

func TestEveryNameAndProblemHasItsWords(t *testing.T) {
	for _, n := range Names() {
		if forms[n] == "" || descriptions[n] == "" {
			t.Errorf("%s has no usage form or description", n)
		}
	}
	for _, p := range allProblems {
		if _, ok := problems[p]; !ok {
			t.Errorf("problem %q has no sentence", p)
		}
	}
	if len(problems) != len(allProblems) {
		t.Errorf("%d sentences for %d problems", len(problems), len(allProblems))
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		surface Surface
		err     *UsageError
		want    []string // substrings, in order
	}{
		{Slack, &UsageError{Problem: ProblemUnknownCommand, Word: "frobnicate"},
			[]string{`herald does not know the command "frobnicate".`, "*Usage:* `/incident <command>`", "`new <title> [--sev 1..4]`", "`failover on|off`"}},
		{Teams, &UsageError{Problem: ProblemUnknownCommand, Word: "frobnicate"},
			[]string{`herald does not know the command "frobnicate".`, "incident commands", "*new <title> [--sev 1..4]*"}},
		{SMS, &UsageError{Problem: ProblemUnknownCommand, Word: "FROB"},
			[]string{`herald does not know the command "FROB". Text HELP for the commands.`}},
		{Slack, &UsageError{Command: New, Problem: ProblemBadSeverity, Word: "9"},
			[]string{`The severity "9" is not a number from 1 to 4 (1 is the worst).`, "\n*Usage:* `/incident new <title> [--sev 1..4]`"}},
		{Teams, &UsageError{Command: List, Problem: ProblemListArgs},
			[]string{"*list* takes nothing or *all*.", "*Usage:* *@herald list [all]*"}},
		{SMS, &UsageError{Command: Notify, Problem: ProblemNoTemplate},
			[]string{"Say which audience and which template. Usage: NOTIFY INC-n <audience> <template> [field=value ...]"}},
		{SMS, &UsageError{Command: New, Problem: ProblemNoValue, Word: "--sev"},
			[]string{"--sev needs a severity from 1 to 4. Usage: NEW"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.surface)+" "+tt.err.Error(), func(t *testing.T) {
			got := Explain(tt.surface, tt.err)
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%q\nwant, in order, %q", got, tt.want)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestOffersAndNotAvailable(t *testing.T) {
	tests := []struct {
		surface Surface
		line    string
		offered bool
		want    string // NotAvailable's answer when not offered
	}{
		{Slack, "new DB down --sev 2", true, ""},
		{Slack, "failover on", true, ""},
		{Teams, "failover on", false, "*@herald failover* is not available in Teams yet."},
		{Slack, "reach INC-1", false, "`/incident reach` is not available in Slack yet."},
		{SMS, "RESOLVE INC-1", false, "RESOLVE is not available by SMS yet."},
		{SMS, "LIST", true, ""},
		{Teams, "new Drill --drill", false, "*--drill* is not available yet: declare without it."},
		{SMS, "NEW Leak --tag security --detected 20m --drill", false, "--drill, --tag and --detected are not available yet: declare without them."},
		{Slack, "notify INC-1 executives investigating", false, "Notifying in one line is for SMS while chat is down; here `/incident notify INC-1` opens the form."},
		{Slack, "notify INC-1", true, ""},
		{SMS, "NOTIFY INC-1 executives investigating", true, ""},
		{Teams, "update INC-1 fixed", false, "*UPDATE INC-n <text>* is an SMS command for when chat is down; here, post the update in the incident's thread."},
		{Slack, "approve 1234", false, "`APPROVE <code>` is an SMS command for when chat is down"},
		{SMS, "APPROVE 1234", true, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.surface)+" "+tt.line, func(t *testing.T) {
			c, err := Parse(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if got := Offers(tt.surface, c); got != tt.offered {
				t.Fatalf("Offers = %v, want %v", got, tt.offered)
			}
			if !tt.offered && !strings.Contains(NotAvailable(tt.surface, c), tt.want) {
				t.Fatalf("NotAvailable = %q, want %q", NotAvailable(tt.surface, c), tt.want)
			}
		})
	}
}

func TestHelpListsWhatTheSurfaceOffers(t *testing.T) {
	slack := HelpText(Slack, "", "")
	teams := HelpText(Teams, "", "")
	if !strings.Contains(slack, "`failover on|off`") || strings.Contains(teams, "failover") {
		t.Fatalf("Slack offers failover, Teams does not:\n%s\n%s", slack, teams)
	}
	if got := HelpText(Teams, Failover, ""); !strings.Contains(got, "(not available in Teams yet)") {
		t.Fatalf("help on a command Teams does not offer: %q", got)
	}
	if got := HelpText(SMS, Notify, ""); got != "Usage: NOTIFY INC-n <audience> <template> [field=value ...]: send stakeholders an update" {
		t.Fatalf("SMS help on notify: %q", got)
	}
}
