package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldops/herald/bot/guard"
	slackapi "github.com/slack-go/slack"
)

var guardFindings = []guard.Finding{
	{Kind: guard.KindIP, Match: "10.2.3.4", Where: "SMS", Start: 40, End: 48},
	{Kind: guard.KindHost, Match: "db<1>.corp.example", Where: "SMS", Start: 50, End: 68},
	{Kind: guard.KindIP, Match: "10.2.3.4", Where: "SMS (de)", Start: 30, End: 38},
}

func TestConfirmViewShowsGuardFindingsAsCode(t *testing.T) {
	// given
	p := testPreview()
	p.Findings = guardFindings

	// when
	view, err := confirmView(composeMeta{Incident: "INC-7"}, p)
	if err != nil {
		t.Fatal(err)
	}

	// then the findings come right after the header, each once, escaped
	section, ok := view.Blocks.BlockSet[1].(*slackapi.SectionBlock)
	if !ok {
		t.Fatalf("block 1 is %T, want the guard section", view.Blocks.BlockSet[1])
	}
	got := section.Text.Text
	for _, want := range []string{
		"2 things look internal",
		"• Looks internal: `10.2.3.4` (an IP address)",
		"• Looks internal: `db&lt;1&gt;.corp.example` (one of our server names)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("guard block lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "10.2.3.4") != 1 {
		t.Errorf("a finding in two texts is listed twice:\n%s", got)
	}

	// and without findings there is no such block
	plain, _ := confirmView(composeMeta{Incident: "INC-7"}, testPreview())
	if b, _ := json.Marshal(plain.Blocks); strings.Contains(string(b), "look internal") {
		t.Errorf("guard block without findings")
	}
}
