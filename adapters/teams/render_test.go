package teams_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/adapters/teams"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/guard"
	"github.com/heraldops/herald/bot/workflow"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current renderer")

// golden compares v, as indented JSON, with testdata/<name>.golden.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // golden files are read by people
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it after checking the change):\n%s", path, got)
	}
}

var (
	goldenIncident = bot.Incident{
		ID: "INC-42", Number: 42, Title: "Checkout fails for EU customers", Severity: 2, State: bot.IncidentOpen,
		DeclaredBy: bot.Actor{Platform: bot.PlatformTeams, ID: fixtureUserAAD, Name: "Test User"},
		DeclaredAt: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC),
	}
	goldenPreview = workflow.Preview{
		Draft:            bot.Draft{IncidentID: "INC-42", Audiences: []string{"executives", "it-ops"}, Template: "investigating", Fields: map[string]string{"next_update": "15:30"}},
		Incident:         goldenIncident,
		SMSBody:          "[SEV2] Checkout fails for EU customers: we are investigating. Next update 15:30. Reply to reach the incident team.",
		SMS:              bot.SMSInfo{Encoding: "GSM-7", Characters: 112, Units: 112, Segments: 1},
		BodiesByLocale:   map[string]string{"de": "[SEV2] Checkout fails for EU customers: Wir untersuchen das Problem. Nächstes Update 15:30."},
		WhatsAppTemplate: "HX0000000000000000000000000000000",
		WhatsAppVars:     map[string]string{"1": "Checkout fails for EU customers", "2": "15:30"},
		PerChannel:       map[bot.Channel]int{bot.ChannelWhatsApp: 2, bot.ChannelSMS: 1},
		FreeFormWhatsApp: 1,
		OptedOut:         1,
		Total:            3,
		ApprovalRequired: true,
	}
)

// The messages below are shaped like the core's (bot/texts.go) but written
// out here, so a wording change in the core does not hide a renderer change.
func TestRenderGolden(t *testing.T) {
	cases := map[string]bot.Message{
		"root": {
			Title: "INC-42 · SEV2 · Checkout fails for EU customers",
			Text:  "Incident declared. Work it in this thread.\n*Notify stakeholders* sends an update to their phones (SMS/WhatsApp).",
			Fields: []bot.Field{
				{Label: "Severity", Value: "SEV2 · major"},
				{Label: "State", Value: "open"},
				{Label: "Declared by", Value: "Test User"},
			},
			Context: "Incident INC-42 · /incident help lists every command",
			Actions: []bot.Action{
				{ID: bot.ActionNotify, Label: "Notify stakeholders", Value: "INC-42", Style: bot.StylePrimary},
				{ID: bot.ActionResolve, Label: "Resolve", Value: "INC-42"},
			},
		},
		"approval_request": {
			Title:   "Approval needed: update to executives, it-ops (3 people)",
			Text:    "Test User wants to send this update for INC-42. Read it, then *Approve* to send it now, or *Reject* with a reason.",
			Quote:   "[SEV2] Checkout fails for EU customers: we are investigating. Next update 15:30.",
			Fields:  []bot.Field{{Label: "Recipients", Value: "3 people: 2 WhatsApp, 1 SMS"}, {Label: "SMS", Value: "1 segment, GSM-7, 112 characters"}},
			Context: "INC-42-B1 · expires in 30 min: if nobody decides, nothing is sent",
			Actions: []bot.Action{
				{ID: bot.ActionApprove, Label: "Approve", Value: "INC-42-B1", Style: bot.StylePrimary},
				{ID: bot.ActionReject, Label: "Reject", Value: "INC-42-B1", Style: bot.StyleDanger},
			},
		},
		"progress": {
			Title:   "Sending INC-42-B1 to 3 people",
			Fields:  []bot.Field{{Label: "Delivered", Value: "2"}, {Label: "Sent", Value: "0"}, {Label: "Failed", Value: "1 (63016: fell back to SMS)"}},
			Context: "Updated 14:05 UTC",
		},
		"reply": {
			Title:   "Dana Weber (executives, WhatsApp)",
			Quote:   "Is the [EU shop](http://evil.example) down? 1. call me\n*now*",
			Context: "Answer with /incident reply dana <text>",
		},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) { golden(t, name, teams.Render(m)) })
	}
}

func TestComposeAndPreviewGolden(t *testing.T) {
	dir := testDirectory(t)
	form := teams.NewComposeForm(dir, goldenIncident, bot.Draft{Audiences: []string{"it-ops"}, Fields: map[string]string{"next_update": "15:30"}},
		map[string]string{"field:next_update": "Fill in next update.", "sms": "The SMS is 11 segments long; the limit is 10."})
	golden(t, "compose", teams.ComposeCard(form))
	golden(t, "preview", teams.PreviewCard(goldenPreview, "preview:f:abc"))
	guarded := goldenPreview
	guarded.Findings = []guard.Finding{
		{Kind: guard.KindIP, Match: "10.2.3.4", Where: "SMS", Start: 40, End: 48},
		{Kind: guard.KindSecret, Match: "AKIAIOSFODNN7EXAMPLE", Where: "WhatsApp {{2}}", Start: 0, End: 20},
	}
	golden(t, "preview_guard", teams.PreviewCard(guarded, "preview:f:abc"))
}

// textRuns collects the text of every TextRun in a card.
func textRuns(v any, out *[]map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		if v["type"] == "TextRun" {
			*out = append(*out, v)
		}
		for _, c := range v {
			textRuns(c, out)
		}
	case []any:
		for _, c := range v {
			textRuns(c, out)
		}
	}
}

// TestRenderKeepsTextLiteral: people's words are shown as typed (no links,
// lists or emphasis made from them), and only the core's *bold* marks
// become bold.
func TestRenderKeepsTextLiteral(t *testing.T) {
	cases := []struct {
		text     string
		runs     []string
		boldRuns []string
	}{
		{"plain", []string{"plain"}, nil},
		{"a *b* c", []string{"a ", "b", " c"}, []string{"b"}},
		{"5 * 3 = 15 * 1", []string{"5 * 3 = 15 * 1"}, nil},
		{"*unclosed", []string{"*unclosed"}, nil},
		{"*a\nb*", []string{"*a\nb*"}, nil},
		{"[x](http://evil) **y** _z_ 1. w", []string{"[x](http://evil) **y** _z_ 1. w"}, nil},
		{"*Approve* or *Reject*", []string{"Approve", " or ", "Reject"}, []string{"Approve", "Reject"}},
		{"a *b *c", []string{"a *b *c"}, nil},
	}
	for _, tc := range cases {
		var runs []map[string]any
		textRuns(teams.Render(bot.Message{Text: tc.text}), &runs)
		var texts, bold []string
		for _, r := range runs {
			texts = append(texts, r["text"].(string))
			if r["weight"] == "Bolder" {
				bold = append(bold, r["text"].(string))
			}
		}
		if !reflect.DeepEqual(texts, tc.runs) || !reflect.DeepEqual(bold, tc.boldRuns) {
			t.Errorf("%q: runs %q bold %q, want %q bold %q", tc.text, texts, bold, tc.runs, tc.boldRuns)
		}
		if got := strings.Join(texts, ""); got != strings.NewReplacer("*Approve*", "Approve", "*Reject*", "Reject", "a *b* c", "a b c").Replace(tc.text) {
			t.Errorf("%q: shown as %q", tc.text, got)
		}
	}
	// A quote is shown exactly, stars included: it is what phones receive.
	var runs []map[string]any
	textRuns(teams.Render(bot.Message{Quote: "Update *now* [x](y)"}), &runs)
	if len(runs) != 1 || runs[0]["text"] != "Update *now* [x](y)" || runs[0]["weight"] != nil {
		t.Errorf("quote rendered as %v", runs)
	}
}

func TestRenderIsValidCardJSON(t *testing.T) {
	card := teams.Render(bot.Message{Title: "t", Actions: []bot.Action{{ID: bot.ActionApprove, Label: "Approve", Value: "B1"}}})
	if card["type"] != "AdaptiveCard" || card["version"] != "1.4" {
		t.Fatalf("card header: %v %v", card["type"], card["version"])
	}
	acts := card["actions"].([]any)
	data := acts[0].(map[string]any)["data"].(map[string]any)
	if data["action"] != "approve" || data["value"] != "B1" {
		t.Fatalf("button data = %v, want {action: approve, value: B1}", data)
	}
}
