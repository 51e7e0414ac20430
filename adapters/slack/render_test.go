package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/bot/replies"
	"github.com/heraldops/herald/bot/workflow"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the renderer")

var (
	declaredAt = time.Date(2026, 3, 1, 14, 2, 0, 0, time.UTC)
	incident   = bot.Incident{
		ID: "INC-42", Number: 42, Title: "Checkout <500s> & slow DB", Severity: 2, State: bot.IncidentOpen,
		DeclaredBy: bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Sam Rivera"}, DeclaredAt: declaredAt,
		Thread: bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0INCIDENTS", RootID: "1700000000.000100"},
	}
	broadcast = bot.Broadcast{
		ID: "B-42-1", State: bot.BroadcastPendingApproval, Total: 3, OptedOut: 1,
		Draft:       bot.Draft{IncidentID: "INC-42", Audiences: []string{"executives", "it-ops"}, Template: "investigating", Fields: map[string]string{"next_update": "15:30 UTC"}},
		RequestedBy: bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Sam Rivera"},
		RequestedAt: declaredAt.Add(10 * time.Minute), ExpiresAt: declaredAt.Add(40 * time.Minute),
	}
	preview = workflow.Preview{
		Draft: broadcast.Draft, Incident: incident,
		SMSBody:          "[SEV2] Checkout <500s> & slow DB: we are investigating. Next update 15:30 UTC.",
		SMS:              bot.CountSMS("[SEV2] Checkout <500s> & slow DB: we are investigating. Next update 15:30 UTC."),
		WhatsAppTemplate: "HX0000000000000000000000000000000",
		PerChannel:       map[bot.Channel]int{bot.ChannelSMS: 1, bot.ChannelWhatsApp: 2},
		FreeFormWhatsApp: 1, OptedOut: 1, Total: 3, ApprovalRequired: true,
	}
)

// The core builds these messages; the golden files are what Slack gets.
func goldenMessages() map[string]bot.Message {
	resolved := incident
	resolved.State, resolved.ResolvedAt = bot.IncidentResolved, declaredAt.Add(72*time.Minute)
	sending := broadcast
	sending.State = bot.BroadcastSending
	return map[string]bot.Message{
		"root":           workflow.RootMessage(incident),
		"approval":       workflow.ApprovalRequestMessage(preview, broadcast),
		"approval_guard": workflow.ApprovalRequestMessage(guardedPreview(), broadcast),
		"progress":       relay.ProgressMessage(sending, bot.Counts{bot.DeliveryDelivered: 1, bot.DeliveryRead: 1, bot.DeliveryFailed: 1}, false),
		"reply": replies.ReplyMessage(bot.PlatformSlack, bot.Reply{
			Inbound: bot.Inbound{MessageSID: "SM1", From: "+4915100000001", Channel: bot.ChannelWhatsApp,
				Body: "Is the <webshop> down? @channel & <!everyone>\n> not a quote"},
			IncidentID: "INC-42", RecipientID: "dana", Name: "Dana Weber", Audiences: []string{"executives"},
		}),
		"resolved": workflow.ResolvedMessage(resolved, bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP2", Name: "Lee Park"}),
	}
}

func TestRenderGolden(t *testing.T) {
	for name, m := range goldenMessages() {
		t.Run(name, func(t *testing.T) {
			// unescaped HTML characters keep the golden files readable
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				Text   string        `json:"text"`
				Blocks []slack.Block `json:"blocks"`
			}{FallbackText(m), Render(m)}); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestRenderGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the renderer's output (rerun with -update if the change is intended):\n%s", path, got)
			}
			// whatever the core writes, Slack must accept the blocks
			var back slack.Blocks
			if err := json.Unmarshal(mustJSON(t, Render(m)), &back); err != nil || len(back.BlockSet) != len(Render(m)) {
				t.Fatalf("blocks do not round-trip through slack-go: %v", err)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRenderEscapesWhatPeopleWrote(t *testing.T) {
	m := bot.Message{
		Title:   "<!channel> & co",
		Text:    "*Bold* stays, <@U123> and <https://evil|click> do not",
		Fields:  []bot.Field{{Label: "A<b", Value: "x>y"}},
		Quote:   "line one\n> line two <!here>",
		Context: "a & b",
		Actions: []bot.Action{{ID: bot.ActionApprove, Label: "Approve", Value: "B-1", Style: bot.StylePrimary}},
	}
	js := string(mustJSON(t, Render(m)))
	for _, bad := range []string{"<!channel>", "<@U123>", "<https://evil|click>", "<!here>", "A<b", "x>y"} {
		if strings.Contains(js, bad) {
			t.Errorf("rendered blocks carry %q unescaped: %s", bad, js)
		}
	}
	for _, want := range []string{
		`"text":"\u003c!channel\u003e \u0026 co"`, // header is plain_text: shown as typed, no escaping needed
		`*Bold* stays, \u0026lt;@U123\u0026gt; and \u0026lt;https://evil|click\u0026gt; do not`,
		`"\u003e line one\n\u003e \u0026gt; line two \u0026lt;!here\u0026gt;"`,
		`"action_id":"approve"`, `"value":"B-1"`, `"style":"primary"`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("rendered blocks lack %s:\n%s", want, js)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a & b", "a &amp; b"},
		{"<@U1>", "&lt;@U1&gt;"},
		{"&amp;", "&amp;amp;"}, // already-escaped text is text too
		{"*bold* _it_ `code`", "*bold* _it_ `code`"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLongTextIsSplitNotLost(t *testing.T) {
	line := strings.Repeat("word & ", 100) // 700 chars, 1000 once escaped
	m := bot.Message{Text: strings.Repeat(line+"\n", 10), Title: strings.Repeat("T", 300)}
	blocks := Render(m)
	var total strings.Builder
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			if n := utf8.RuneCountInString(b.Text.Text); n > maxHeaderChars {
				t.Fatalf("header of %d characters", n)
			}
		case *slack.SectionBlock:
			if n := utf8.RuneCountInString(b.Text.Text); n > maxSectionChars {
				t.Fatalf("section of %d characters", n)
			}
			if strings.HasSuffix(b.Text.Text, "&") || strings.HasSuffix(b.Text.Text, "&amp") {
				t.Fatalf("section cut inside an escape: ...%q", b.Text.Text[len(b.Text.Text)-10:])
			}
			total.WriteString(b.Text.Text)
		}
	}
	if got, want := strings.Count(total.String(), "&amp;"), 1000; got != want {
		t.Fatalf("%d escaped ampersands across sections, want %d (text lost or cut)", got, want)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 5, "abcd…"},
		{"äöüßé", 3, "äö…"}, // characters, not bytes
		{"ab &amp; cd", 6, "ab …"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// guardedPreview is the golden preview with content guard findings.
func guardedPreview() workflow.Preview {
	p := preview
	p.Findings = guardFindings
	return p
}
