package e2e

import (
	"net/http"
	"strings"
	"testing"
)

func TestServeDeclaresAnIncidentAndRoutesAStrangersReplyToTriage(t *testing.T) {
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
}
