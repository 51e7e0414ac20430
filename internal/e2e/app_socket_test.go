package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// Issue 3's "the same flow passes in Socket Mode": herald started with
// SLACK_APP_TOKEN opens the fake's Socket Mode websocket
// (apps.connections.open) and gets its slash commands and interactions as
// envelopes there, acknowledging each with the payload Slack shows.

// startSocketApp is startApp with SLACK_APP_TOKEN set: Socket Mode. It
// returns once herald's websocket is connected.
func startSocketApp(t *testing.T, config string) *heraldApp {
	t.Helper()
	a := startApp(t, config, func(env map[string]string) { env["SLACK_APP_TOKEN"] = slackapi.DefaultAppToken })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.slack.SocketConnected(ctx); err != nil {
		t.Fatalf("herald never opened the Socket Mode websocket: %v", err)
	}
	return a
}

// push sends one envelope over the websocket the way Slack does and returns
// herald's acknowledgement.
func (a *heraldApp) push(typ string, payload []byte, retryAttempt int) slackapi.Ack {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := a.slack.Push(ctx, slackapi.Envelope{Type: typ, Payload: payload, AcceptsResponsePayload: true,
		RetryAttempt: retryAttempt})
	if err != nil {
		a.t.Fatalf("pushing a %s envelope: %v", typ, err)
	}
	ack, err := a.slack.WaitAck(ctx, id)
	if err != nil {
		a.t.Fatalf("no ack for %s envelope %s: %v", typ, id, err)
	}
	return ack
}

// socketCommand is the fixture's slash_commands payload with user, channel
// and text replaced: /incident <text> typed in channel.
func socketCommand(t *testing.T, user, channel, text string) []byte {
	t.Helper()
	var env struct {
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(slackapi.Fixture("socket_mode_slash_command.json"), &env); err != nil {
		t.Fatal(err)
	}
	p := env.Payload
	p["user_id"], p["user_name"], p["channel_id"], p["channel_name"] = user, strings.ToLower(user), channel, "incidents"
	p["text"], p["trigger_id"] = text, newTriggerID()
	b, _ := json.Marshal(p)
	return b
}

// ackText is what an acknowledgement shows the person: a message's text, or
// every text of a response_action view.
func ackText(t *testing.T, ack slackapi.Ack) string {
	t.Helper()
	if ack.Payload == nil {
		return ""
	}
	var m struct {
		Text           string          `json:"text"`
		ResponseType   string          `json:"response_type"`
		ResponseAction string          `json:"response_action"`
		View           json.RawMessage `json:"view"`
	}
	if err := json.Unmarshal(ack.Payload, &m); err != nil {
		t.Fatalf("ack payload %s: %v", ack.Payload, err)
	}
	if m.View != nil {
		return slackapi.View{Raw: m.View}.AllText()
	}
	return m.Text
}

func TestSocketModeFlowDeclareComposeApproveRelay(t *testing.T) {
	t.Parallel()
	a := startSocketApp(t, flowConfig)
	a.twilio.SetAutoStatus(&twilioapi.AutoStatus{Step: 200 * time.Millisecond})

	// declare: the ack is the ephemeral answer, the root message follows
	ack := a.push("slash_commands", socketCommand(t, "U0RESP1", "C0INCIDENTS", "new Checkout down --sev 2"), 0)
	if txt := ackText(t, ack); !strings.Contains(txt, "Checkout down") {
		t.Errorf("the declaration's ack shows %q, want the title", txt)
	}
	a.eventually("the root message", func() bool { return len(a.rootPosts()) == 1 })
	root := a.rootPosts()[0]
	if txt := root.AllText(); !strings.Contains(txt, "INC-1 · SEV2 · Checkout down") {
		t.Fatalf("root message: %s", txt)
	}
	a.waitDeclared(root.AllText())

	// compose: Notify stakeholders opens the modal, the template select
	// adds its field, and the submission's ack carries the preview step
	if ack := a.push("interactive", click(t, "U0RESP1", "C0INCIDENTS", root.TS, "notify", "INC-1"), 0); ack.Payload != nil {
		t.Errorf("a button's ack carries %s, want none", ack.Payload)
	}
	a.eventually("the compose modal", func() bool { return len(a.slack.ViewsOpened()) == 1 })
	step1 := a.slack.ViewsOpened()[0]
	a.push("interactive", chooseTemplate(t, "U0RESP1", step1, "investigating"), 0)
	a.eventually("the template's fields", func() bool { return len(a.slack.Calls("views.update")) == 1 })
	step1, _ = a.slack.View(step1.ID)
	ack = a.push("interactive", submitView(t, "U0RESP1", step1, composeState([]string{"executives", "it-ops"}, "investigating", "15:30 UTC")), 0)
	preview := responseView(t, string(ack.Payload), "V-preview-socket")
	for _, want := range []string{checkoutSMS, "1 segment, GSM-7, 100 characters", "*Total*\n2 people", "Request approval"} {
		if !strings.Contains(preview.AllText(), want) {
			t.Errorf("preview in the ack lacks %q:\n%s", want, preview.AllText())
		}
	}

	// submit: approval requested (executives need it), nothing sent yet
	ack = a.push("interactive", submitView(t, "U0RESP1", preview, nil), 0)
	if done := responseView(t, string(ack.Payload), "V-done").AllText(); !strings.Contains(done, "Approval requested") {
		t.Fatalf("after submitting: %s", done)
	}
	approval := a.threadPost(root, "Approval needed")
	broadcastID := buttonValue(t, approval, "approve")

	// four eyes over the websocket too
	a.push("interactive", click(t, "U0RESP1", "C0INCIDENTS", approval.TS, "approve", broadcastID), 0)
	a.ephemeralTo("U0RESP1", "You cannot approve your own update")
	if n := len(a.twilio.Messages()); n != 0 {
		t.Fatalf("%d messages sent before a second approver approved", n)
	}

	// U0LEAD1 approves; Slack delivers the envelope again (retry_attempt 1)
	// as it does when an ack is late: relayed once
	approve := click(t, "U0LEAD1", "C0INCIDENTS", approval.TS, "approve", broadcastID)
	a.push("interactive", approve, 0)
	a.push("interactive", approve, 1)
	progress := a.threadPost(root, "Relay")
	a.eventually("the final summary", func() bool {
		m, _ := a.slack.Message(progress.Channel, progress.TS)
		return strings.Contains(m.AllText(), "2 of 2 accepted by the provider")
	})
	msgs := a.twilio.Messages()
	if len(msgs) != 2 {
		t.Fatalf("Twilio got %d messages, want 2 (one per person): %+v", len(msgs), msgs)
	}
	if omar := a.twilio.MessagesTo(flowOmarPhone); len(omar) != 1 || omar[0].Body != checkoutSMS {
		t.Errorf("omar's SMS: %+v", omar)
	}
	if dana := a.twilio.MessagesTo("whatsapp:" + flowDanaPhone); len(dana) != 1 {
		t.Errorf("dana got %d WhatsApp messages, want 1", len(dana))
	}

	// all of it over one websocket connection (the fake checks that
	// apps.connections.open got the app-level token)
	if n := a.slack.SocketConnections(); n != 1 {
		t.Errorf("herald opened %d Socket Mode connections, want 1", n)
	}
}

// TestSocketModeKeepsHTTPEndpointsSigned: with Socket Mode on, the HTTP
// endpoints are still there (Slack may be switched back) and still refuse
// what Slack did not sign.
func TestSocketModeKeepsHTTPEndpointsSigned(t *testing.T) {
	t.Parallel()
	a := startSocketApp(t, flowConfig)
	declare := []byte(url.Values{"team_id": {"T0001"}, "channel_id": {"C0INCIDENTS"}, "user_id": {"U0RESP1"},
		"user_name": {"u0resp1"}, "command": {"/incident"}, "text": {"new Forged --sev 1"}, "trigger_id": {newTriggerID()}}.Encode())
	wrong := slackapi.Signer{Secret: "not-the-signing-secret"}
	unsigned := a.signer.SlashCommand(a.url+"/slack/commands", declare)
	unsigned.Header.Del("X-Slack-Signature")
	for name, req := range map[string]*http.Request{
		"command, wrong secret": wrong.SlashCommand(a.url+"/slack/commands", declare),
		"command, unsigned":     unsigned,
		"approval, wrong secret": wrong.Interaction(a.url+"/slack/interactions",
			click(t, "U0LEAD1", "C0INCIDENTS", "1.1", "approve", "INC-1-B1")),
		"event, wrong secret": wrong.Event(a.url+"/slack/events", slackapi.Fixture("event_message_in_thread.json")),
	} {
		if code, body := a.do(req); code != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d %q, want 401", name, code, body)
		}
	}
	// A signed one is served: the endpoint is live, the refusals were the
	// signature's doing. The websocket declares next, and it is INC-2:
	// none of the refused requests made an incident.
	if code, body := a.command("U0RESP1", "C0INCIDENTS", "new Over HTTP --sev 3"); code != http.StatusOK {
		t.Fatalf("a signed command over HTTP: %d %s", code, body)
	}
	a.eventually("the HTTP declaration", func() bool { return len(a.rootPosts()) == 1 })
	a.push("slash_commands", socketCommand(t, "U0RESP1", "C0INCIDENTS", "new Over the websocket --sev 3"), 0)
	a.eventually("the websocket declaration", func() bool { return len(a.rootPosts()) == 2 })
	roots := a.rootPosts()
	if !strings.Contains(roots[0].AllText(), "INC-1 · SEV3 · Over HTTP") || !strings.Contains(roots[1].AllText(), "INC-2 · SEV3 · Over the websocket") {
		t.Fatalf("roots: %q, %q", roots[0].AllText(), roots[1].AllText())
	}
	for _, r := range roots {
		if strings.Contains(r.AllText(), "Forged") {
			t.Errorf("a forged request declared an incident: %s", r.AllText())
		}
	}
}
