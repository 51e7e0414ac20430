package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/app"
)

func TestServeDeclaresAnIncidentAndRoutesAStrangersReplyToTriage(t *testing.T) {
	t.Parallel()
	a := startApp(t, exampleConfig)

	code, _ := a.command("U0RESP1", "C0INCIDENTS", "new Checkout down --sev 2")
	if code != http.StatusOK {
		t.Fatalf("slash command: HTTP %d", code)
	}
	a.eventually("the root message", func() bool { return len(a.slack.Posts("C0INCIDENTS")) == 1 })
	root := a.slack.Posts("C0INCIDENTS")[0]
	if !strings.Contains(root.AllText(), "INC-1") || !strings.Contains(root.AllText(), "Checkout down") {
		t.Fatalf("root message: %s", root.AllText())
	}

	code, body := a.inbound(a.twilio.InboundSMS("+4930123456789", appSMSFrom, "who is this?"))
	if code != http.StatusOK || !strings.Contains(body, "<Response></Response>") {
		t.Fatalf("inbound: HTTP %d %q", code, body)
	}
	a.eventually("the triage post", func() bool { return len(a.slack.Posts("C0TRIAGE")) == 1 })
	if txt := a.slack.Posts("C0TRIAGE")[0].AllText(); !strings.Contains(txt, "+49301*****89") || strings.Contains(txt, "+4930123456789") {
		t.Fatalf("triage post shows %q, want the number masked", txt)
	}

	// herald audit prints what happened, with the stranger masked.
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(cfg, []byte(exampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := app.Audit(context.Background(), app.AuditOptions{ConfigPath: cfg, Logger: zerolog.Nop(), Out: &out, Getenv: a.getenv}); err != nil {
		t.Fatal(err)
	}
	trail := out.String()
	for _, want := range []string{"INC-1  incident.declare  U0RESP1", "reply.receive  +49301*****89"} {
		if !strings.Contains(trail, want) {
			t.Errorf("audit trail lacks %q:\n%s", want, trail)
		}
	}
	if strings.Contains(trail, "+4930123456789") {
		t.Errorf("audit trail shows a full phone number:\n%s", trail)
	}
}

// The contract's config example, exactly as ARCHITECTURE.md prints it (its
// stakeholders.csv is not beside it), starts herald and serves /incident.
func TestServeStartsWithTheContractsExampleAsItIs(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile(filepath.Join("..", "config", "testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, string(example))
	if code, _ := a.command("U0RESP1", "C0INCIDENTS", "new Checkout down"); code != http.StatusOK {
		t.Fatalf("slash command: HTTP %d", code)
	}
	a.eventually("the root message", func() bool { return len(a.slack.Posts("C0INCIDENTS")) == 1 })
}
