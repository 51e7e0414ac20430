package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// messageShortcut is the message_action Slack sends when user uses the
// message shortcut callbackID on m: the block_actions fixture's shape (user,
// channel, team, trigger_id, response_url, message) with type
// message_action, callback_id and message_ts in place of actions.
func messageShortcut(t *testing.T, user, callbackID string, m slackapi.Message) []byte {
	t.Helper()
	p := fixtureMap(t, "block_actions.json")
	for _, k := range []string{"actions", "container", "state"} {
		delete(p, k)
	}
	p["type"], p["callback_id"], p["message_ts"], p["action_ts"] = "message_action", callbackID, m.TS, "1769220166.113300"
	p["user"] = slackUser(user)
	p["trigger_id"] = newTriggerID()
	p["channel"] = map[string]any{"id": m.Channel, "name": "incidents"}
	msg := map[string]any{
		"type": "message", "subtype": "bot_message", "user": slackapi.DefaultBotUserID, "bot_id": slackapi.DefaultBotID,
		"ts": m.TS, "thread_ts": m.ThreadTS, "text": m.Text, "blocks": json.RawMessage(m.RawBlocks),
	}
	p["message"] = msg
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServeReplyToStakeholderShortcut is issue 5's message action through
// herald serve: on a stakeholder's reply in the incident thread a responder
// opens *Reply to stakeholder*, types the answer, and it reaches the
// stakeholder over WhatsApp and is echoed in the thread; others are refused.
func TestServeReplyToStakeholderShortcut(t *testing.T) {
	t.Parallel()
	a := startApp(t, exampleConfig)
	if code, _ := a.command("U0RESP1", "C0INCIDENTS", "new Checkout down --sev 2"); code != http.StatusOK {
		t.Fatalf("declare: HTTP %d", code)
	}
	a.eventually("the root message", func() bool { return len(a.slack.Posts("C0INCIDENTS")) == 1 })
	root := a.slack.Posts("C0INCIDENTS")[0]
	a.waitDeclared(root.AllText())

	// herald wrote to dana about INC-1, so her WhatsApp answer finds it.
	a.command("U0RESP1", "C0INCIDENTS", "reply INC-1 dana We are looking into checkout.")
	a.threadPost(root, "answered Dana Weber")
	a.inbound(a.twilio.InboundWhatsApp(tmDanaPhone, strings.TrimPrefix(appWhatsApp, "whatsapp:"), "Dana", "Do customers see errors?"))
	reply := a.threadPost(root, "Do customers see errors?")

	// An approver who is no responder is refused, and no form opens.
	if code, _ := a.interact(messageShortcut(t, "U0LEAD1", "reply_to_stakeholder", reply)); code != http.StatusOK {
		t.Fatalf("shortcut: HTTP %d", code)
	}
	a.ephemeralTo("U0LEAD1", "only a responder may answer a stakeholder")
	if n := len(a.slack.ViewsOpened()); n != 0 {
		t.Fatalf("%d forms opened for a non-responder", n)
	}
	// On the root message it explains what it is for.
	a.interact(messageShortcut(t, "U0RESP1", "reply_to_stakeholder", root))
	a.ephemeralTo("U0RESP1", "This message is not one")

	// A responder answers dana from her reply.
	a.interact(messageShortcut(t, "U0RESP1", "reply_to_stakeholder", reply))
	a.eventually("the answer form", func() bool { return len(a.slack.ViewsOpened()) == 1 })
	form := a.slack.ViewsOpened()[0]
	if !strings.Contains(form.AllText(), "Answer *Dana Weber* about *INC-1*") {
		t.Fatalf("form shows:\n%s", form.AllText())
	}
	code, body := a.interact(submitView(t, "U0RESP1", form, map[string]any{
		"answer": map[string]any{"value": map[string]any{"type": "plain_text_input", "value": "Some do; a fix is rolling out."}},
	}))
	if code != http.StatusOK || !strings.Contains(body, "Answer sent to Dana Weber.") {
		t.Fatalf("submit: HTTP %d %s", code, body)
	}
	// Her 24-hour window is open (she just wrote), so it goes over WhatsApp.
	wa := a.twilio.MessagesTo("whatsapp:" + tmDanaPhone)
	if len(wa) != 1 || wa[0].Body != "Some do; a fix is rolling out." {
		t.Fatalf("dana's WhatsApp messages: %+v", wa)
	}
	echo := a.threadPost(root, "Some do; a fix is rolling out.")
	if !strings.Contains(echo.AllText(), "answered Dana Weber · WhatsApp") || strings.Contains(echo.AllText(), tmDanaPhone) {
		t.Fatalf("echo in the thread: %s", echo.AllText())
	}
}
