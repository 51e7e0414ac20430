package command

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the texts")

// TestTextsGolden: every word about commands, per surface, in one file to
// read and review (testdata/texts.<surface>.golden; go test -update
// rewrites them). A change to any text shows up in the diff.
func TestTextsGolden(t *testing.T) {
	for _, s := range []Surface{Slack, Teams, SMS} {
		t.Run(string(s), func(t *testing.T) {
			got := catalogue(s)
			path := filepath.Join("testdata", "texts."+string(s)+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Fatalf("texts for %s differ from %s (go test -update rewrites it):\n%s", s, path, got)
			}
		})
	}
}

func catalogue(s Surface) string {
	var b strings.Builder
	section := func(title string) { b.WriteString("\n== " + title + "\n") }
	section("help")
	b.WriteString(HelpText(s, "", "Acme Corp") + "\n")
	section("help <command>")
	for _, n := range Names() {
		b.WriteString(HelpText(s, n, "Acme Corp") + "\n")
	}
	section("not available")
	for _, n := range Names() {
		if c := (Command{Name: n}); !Offers(s, c) {
			b.WriteString(NotAvailable(s, c) + "\n")
		}
	}
	b.WriteString(NotAvailable(s, Command{Name: New, Drill: true, Tags: []IncidentTag{TagSecurity}}) + "\n")
	section("refusals")
	for _, e := range sampleRefusals {
		b.WriteString(Explain(s, &e) + "\n")
	}
	return b.String()
}

// sampleRefusals: each problem with a command it comes with.
var sampleRefusals = []UsageError{
	{Command: New, Problem: ProblemNoTitle},
	{Command: New, Problem: ProblemTitleTooLong},
	{Command: New, Problem: ProblemBadSeverity, Word: "9"},
	{Command: New, Problem: ProblemNoValue, Word: string(FlagSeverity)},
	{Command: New, Problem: ProblemNoValue, Word: string(FlagTag)},
	{Command: New, Problem: ProblemNoValue, Word: string(FlagDetected)},
	{Command: New, Problem: ProblemFlagTwice, Word: string(FlagSeverity)},
	{Command: New, Problem: ProblemFlagTakesNoValue, Word: string(FlagDrill)},
	{Command: New, Problem: ProblemBadTag, Word: "Not_A_Tag"},
	{Command: New, Problem: ProblemBadTime, Word: "yesterday"},
	{Command: Status, Problem: ProblemNotIncidentID, Word: "soon"},
	{Command: Update, Problem: ProblemNoIncidentID},
	{Command: Status, Problem: ProblemTooManyWords},
	{Command: Cancel, Problem: ProblemTooManyWords},
	{Command: List, Problem: ProblemListArgs},
	{Command: Failover, Problem: ProblemOnOrOff},
	{Command: Reply, Problem: ProblemNoWhoOrWhat},
	{Command: Update, Problem: ProblemNoText},
	{Command: Notify, Problem: ProblemNoTemplate},
	{Command: Notify, Problem: ProblemBadField, Word: "stray"},
	{Command: Notify, Problem: ProblemFieldTwice, Word: "eta"},
	{Command: Reject, Problem: ProblemNoCode},
	{Command: Approve, Problem: ProblemBadCode, Word: "48-21"},
	{Command: Cancel, Problem: ProblemBadTarget, Word: "<all>"},
	{Command: Clock, Problem: ProblemClockNeedsDone},
	{Command: Tag, Problem: ProblemTagNeedsOneTag},
	{Problem: ProblemUnknownCommand, Word: "frobnicate"},
}

func TestSampleRefusalsCoverEveryProblem(t *testing.T) {
	seen := map[Problem]bool{}
	for _, e := range sampleRefusals {
		seen[e.Problem] = true
	}
	for _, p := range allProblems {
		if !seen[p] {
			t.Errorf("no sample refusal for %q in the golden texts", p)
		}
	}
}
