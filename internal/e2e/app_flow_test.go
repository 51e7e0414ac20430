package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// Issue 3 and 4 acceptance, through `herald serve`: what a responder, an
// approver and the stakeholders' phones see, driven over HTTP the way Slack
// and Twilio drive herald.

// flowConfig is the contract's example with U0RESP1 also an approver, so the
// four-eyes rule (a requester cannot approve their own update) is the one
// that refuses them, not the missing role.
var flowConfig = strings.Replace(exampleConfig, "approvers: [U0LEAD1]", "approvers: [U0LEAD1, U0RESP1]", 1)

const (
	flowDanaPhone = "+4915100000001"
	flowOmarPhone = "+14155550101"
	// The SMS the investigating template gives INC-1 "Checkout down", SEV2,
	// next update 15:30 UTC: what omar's phone shows.
	checkoutSMS = "[SEV2] Checkout down: we are investigating. Next update 15:30 UTC. Reply to reach the incident team."
)

// ---- Slack interaction payloads, in the fixtures' shapes ----
//
// The block and action ids are those of herald's compose modal
// (adapters/slack/modal.go): the view_submission state Slack sends back is
// keyed by them.

func fixtureMap(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(slackapi.Fixture(name), &m); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return m
}

var triggerSeq struct {
	sync.Mutex
	n int
}

func newTriggerID() string {
	triggerSeq.Lock()
	defer triggerSeq.Unlock()
	triggerSeq.n++
	return fmt.Sprintf("10367455086084.10229338706656.%032x", triggerSeq.n)
}

func slackUser(id string) map[string]any {
	name := strings.ToLower(id)
	return map[string]any{"id": id, "username": name, "name": name, "team_id": "T00FAKE00BB"}
}

// click is the block_actions Slack sends when user presses one of herald's
// buttons on a message in channel.
func click(t *testing.T, user, channel, messageTS, actionID, value string) []byte {
	t.Helper()
	m := fixtureMap(t, "block_actions.json")
	m["user"] = slackUser(user)
	m["trigger_id"] = newTriggerID()
	m["channel"] = map[string]any{"id": channel, "name": "incidents"}
	m["container"] = map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel, "is_ephemeral": false}
	msg := m["message"].(map[string]any)
	msg["ts"] = messageTS
	m["actions"] = []any{map[string]any{
		"action_id": actionID, "block_id": "herald", "value": value, "type": "button",
		"text":      map[string]any{"type": "plain_text", "text": actionID},
		"action_ts": strconv.FormatInt(time.Now().Unix(), 10) + ".000100",
	}}
	b, _ := json.Marshal(m)
	return b
}

// viewWithState is a modal as Slack sends it back: the view herald opened
// (from the fake), its id and hash, and what the person entered.
func viewWithState(view slackapi.View, state map[string]any) map[string]any {
	var v map[string]any
	_ = json.Unmarshal(view.Raw, &v)
	v["id"], v["hash"] = view.ID, view.Hash
	v["state"] = map[string]any{"values": state}
	return v
}

// chooseTemplate is the block_actions of the template select
// (dispatch_action) inside the compose modal.
func chooseTemplate(t *testing.T, user string, view slackapi.View, template string) []byte {
	t.Helper()
	m := fixtureMap(t, "block_actions.json")
	delete(m, "channel")
	delete(m, "message")
	m["user"] = slackUser(user)
	m["container"] = map[string]any{"type": "view", "view_id": view.ID}
	m["view"] = viewWithState(view, map[string]any{})
	m["actions"] = []any{map[string]any{
		"type": "static_select", "action_id": "template", "block_id": "template",
		"selected_option": option(template), "action_ts": "1769220166.113300",
	}}
	b, _ := json.Marshal(m)
	return b
}

func option(v string) map[string]any {
	return map[string]any{"text": map[string]any{"type": "plain_text", "text": v}, "value": v}
}

// composeState is step 1's inputs: audiences, template, next_update.
func composeState(audiences []string, template, nextUpdate string) map[string]any {
	opts := make([]any, 0, len(audiences))
	for _, a := range audiences {
		opts = append(opts, option(a))
	}
	return map[string]any{
		"audiences":         map[string]any{"audiences": map[string]any{"type": "multi_static_select", "selected_options": opts}},
		"template":          map[string]any{"template": map[string]any{"type": "static_select", "selected_option": option(template)}},
		"field:next_update": map[string]any{"value": map[string]any{"type": "plain_text_input", "value": nextUpdate}},
	}
}

// submitView is the view_submission of view with state, by user.
func submitView(t *testing.T, user string, view slackapi.View, state map[string]any) []byte {
	t.Helper()
	m := fixtureMap(t, "view_submission.json")
	m["user"] = slackUser(user)
	m["view"] = viewWithState(view, state)
	b, _ := json.Marshal(m)
	return b
}

// responseView is the view a response_action "update" answer shows next.
func responseView(t *testing.T, body, id string) slackapi.View {
	t.Helper()
	var resp struct {
		ResponseAction string          `json:"response_action"`
		View           json.RawMessage `json:"view"`
		Errors         map[string]any  `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.ResponseAction != "update" || resp.View == nil {
		t.Fatalf("want a response_action update with a view, got %q", body)
	}
	return slackapi.View{ID: id, Hash: "h-" + id, Raw: resp.View}
}

// ---- driving herald ----

// declare types /incident new as a responder and returns the root message.
func (a *heraldApp) slackDeclare(user, text string, nth int) slackapi.Message {
	a.t.Helper()
	if code, body := a.command(user, "C0INCIDENTS", text); code != http.StatusOK {
		a.t.Fatalf("/incident %s: HTTP %d %s", text, code, body)
	}
	a.eventually("root message "+strconv.Itoa(nth), func() bool { return len(a.rootPosts()) >= nth })
	root := a.rootPosts()[nth-1]
	a.waitDeclared(root.AllText())
	return root
}

// roots are the top-level messages in the incident channel.
func (a *heraldApp) rootPosts() []slackapi.Message {
	var out []slackapi.Message
	for _, m := range a.slack.Posts("C0INCIDENTS") {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			out = append(out, m)
		}
	}
	return out
}

// compose presses Notify stakeholders on root as user, fills the modal in and
// returns the preview step (the modal's second view) and its text.
func (a *heraldApp) slackCompose(user string, root slackapi.Message, incidentID string, audiences []string) (slackapi.View, string) {
	a.t.Helper()
	before := len(a.slack.ViewsOpened())
	if code, body := a.interact(click(a.t, user, "C0INCIDENTS", root.TS, "notify", incidentID)); code != http.StatusOK {
		a.t.Fatalf("Notify: HTTP %d %s", code, body)
	}
	a.eventually("the compose modal", func() bool { return len(a.slack.ViewsOpened()) > before })
	step1 := a.slack.ViewsOpened()[before]
	if txt := step1.AllText(); !strings.Contains(txt, "executives · 1 person · approval") || !strings.Contains(txt, "it-ops · ") {
		a.t.Fatalf("compose modal does not offer the audiences with their sizes:\n%s", txt)
	}
	updates := len(a.slack.Calls("views.update"))
	if code, _ := a.interact(chooseTemplate(a.t, user, step1, "investigating")); code != http.StatusOK {
		a.t.Fatalf("choosing the template: HTTP %d", code)
	}
	a.eventually("the template's fields", func() bool { return len(a.slack.Calls("views.update")) > updates })
	step1, _ = a.slack.View(step1.ID)
	if !strings.Contains(step1.AllText(), "Next update") {
		a.t.Fatalf("the modal does not ask for the template's field:\n%s", step1.AllText())
	}
	code, body := a.interact(submitView(a.t, user, step1, composeState(audiences, "investigating", "15:30 UTC")))
	if code != http.StatusOK {
		a.t.Fatalf("Preview: HTTP %d %s", code, body)
	}
	step2 := responseView(a.t, body, "V-preview-"+incidentID)
	return step2, step2.AllText()
}

// send presses the preview's submit button and returns the modal's last words.
func (a *heraldApp) slackSend(user string, preview slackapi.View) string {
	a.t.Helper()
	code, body := a.interact(submitView(a.t, user, preview, nil))
	if code != http.StatusOK {
		a.t.Fatalf("submitting the update: HTTP %d %s", code, body)
	}
	return responseView(a.t, body, "V-done").AllText()
}

// thread is the incident thread under root, as it stands.
func (a *heraldApp) threadOf(root slackapi.Message) []slackapi.Message {
	return a.slack.ThreadPosts(root.Channel, root.TS)
}

// threadPost waits for the first thread post containing want.
func (a *heraldApp) threadPost(root slackapi.Message, want string) slackapi.Message {
	a.t.Helper()
	var found slackapi.Message
	a.eventually("a thread post with "+strconv.Quote(want), func() bool {
		for _, m := range a.threadOf(root) {
			if strings.Contains(m.AllText(), want) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// ephemeralTo waits for a message only user sees, containing want.
func (a *heraldApp) ephemeralTo(user, want string) string {
	a.t.Helper()
	var text string
	a.eventually("an ephemeral answer to "+user+" with "+strconv.Quote(want), func() bool {
		for _, m := range a.slack.Ephemerals() {
			if m.User == user && strings.Contains(m.AllText(), want) {
				text = m.AllText()
				return true
			}
		}
		return false
	})
	return text
}

// buttonValue finds the value of the button with actionID in a message.
func buttonValue(t *testing.T, m slackapi.Message, actionID string) string {
	t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	_ = json.Unmarshal([]byte(m.RawBlocks), &blocks)
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value
			}
		}
	}
	t.Fatalf("no %s button in %s", actionID, m.RawBlocks)
	return ""
}

// TestServeSlackFlowDeclareComposeApproveRelay is issue 3's done-means: a
// responder declares and composes for two overlapping audiences, the preview
// shows exactly what phones get, a second approver approves (double click
// and a Slack retry: relayed once), every person gets one message on their
// channel, and Twilio's status callbacks turn the thread's progress message
// into the final summary.
func TestServeSlackFlowDeclareComposeApproveRelay(t *testing.T) {
	t.Parallel()
	a := startApp(t, flowConfig)
	a.twilio.SetAutoStatus(&twilioapi.AutoStatus{Step: 300 * time.Millisecond})

	// A non-responder is refused, told which role it takes; no incident.
	a.command("U0STRANGER", "C0INCIDENTS", "new Checkout down --sev 2")
	if txt := a.ephemeralTo("U0STRANGER", "Not allowed"); !strings.Contains(txt, "only a responder may declare an incident") {
		t.Fatalf("refusal does not name the role: %q", txt)
	}
	if n := len(a.rootPosts()); n != 0 {
		t.Fatalf("a refused declaration posted %d root message(s)", n)
	}

	// declare
	root := a.slackDeclare("U0RESP1", "new Checkout down --sev 2", 1)
	if txt := root.AllText(); !strings.Contains(txt, "INC-1 · SEV2 · Checkout down") || !strings.Contains(txt, "Notify stakeholders") {
		t.Fatalf("root message: %s", txt)
	}

	// compose: both audiences, dana is in both
	preview, txt := a.slackCompose("U0RESP1", root, "INC-1", []string{"executives", "it-ops"})
	for _, want := range []string{
		checkoutSMS, // the exact body
		"1 segment, GSM-7, 100 characters",
		"*WhatsApp:* the approved template, filled with “Checkout down” and “15:30 UTC”", // dana's window is closed
		"*SMS*\n1", "*WhatsApp*\n1", "*Total*\n2 people", // dana once, not twice
		"Request approval",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("preview lacks %q:\n%s", want, txt)
		}
	}
	if done := a.slackSend("U0RESP1", preview); !strings.Contains(done, "Approval requested") {
		t.Fatalf("after submitting: %s", done)
	}
	approval := a.threadPost(root, "Approval needed")
	if txt := approval.AllText(); !strings.Contains(txt, "executives, it-ops (2 people)") || !strings.Contains(txt, checkoutSMS) {
		t.Fatalf("approval request: %s", txt)
	}
	broadcastID := buttonValue(t, approval, "approve")
	if len(a.twilio.Messages()) != 0 {
		t.Fatal("something was sent before approval")
	}

	// the requester's own approval is refused (four eyes); so is a non-approver's
	a.interact(click(t, "U0RESP1", "C0INCIDENTS", approval.TS, "approve", broadcastID))
	a.ephemeralTo("U0RESP1", "You cannot approve your own update")
	a.interact(click(t, "U0RESP2", "C0INCIDENTS", approval.TS, "approve", broadcastID))
	a.ephemeralTo("U0RESP2", "only an approver may approve")

	// U0LEAD1 double-clicks, and Slack retries one of the clicks
	approve := click(t, "U0LEAD1", "C0INCIDENTS", approval.TS, "approve", broadcastID)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := a.signer.Interaction(a.url+"/slack/interactions", approve)
			if i == 2 {
				req.Header.Set("X-Slack-Retry-Num", "1")
				req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
			}
			codes[i], _ = a.do(req)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("approve click %d: HTTP %d", i, c)
		}
	}
	a.ephemeralTo("U0LEAD1", "already approved by")

	// relayed: the progress message ends as the final summary once Twilio
	// reported delivered (omar) and read (dana)
	progress := a.threadPost(root, "Relay")
	a.eventually("the final summary", func() bool {
		m, _ := a.slack.Message(progress.Channel, progress.TS)
		return strings.Contains(m.AllText(), "2 of 2 accepted by the provider (1 delivered, 1 read), 0 failed")
	})
	final, _ := a.slack.Message(progress.Channel, progress.TS)
	if !strings.Contains(final.AllText(), "Relayed "+broadcastID+" to 2 recipients") || final.Edits == 0 {
		t.Fatalf("progress message was not edited into the summary (%d edits): %s", final.Edits, final.AllText())
	}
	if txt := a.threadPost(root, "Approved by").AllText(); !strings.Contains(txt, "u0lead1") {
		t.Errorf("approval request not replaced by the decision: %s", txt)
	}

	// exactly one message per person, on their channel
	msgs := a.twilio.Messages()
	if len(msgs) != 2 {
		t.Fatalf("Twilio got %d messages, want 2 (one per person): %+v", len(msgs), msgs)
	}
	dana, omar := a.twilio.MessagesTo("whatsapp:"+flowDanaPhone), a.twilio.MessagesTo(flowOmarPhone)
	if len(dana) != 1 || len(omar) != 1 {
		t.Fatalf("dana got %d WhatsApp messages, omar %d SMS; want 1 each", len(dana), len(omar))
	}
	if m := dana[0]; m.From != appWhatsApp || m.Body != "" || m.ContentSID != "HX0000000000000000000000000000000" ||
		!jsonEqual(m.ContentVariables, `{"1":"Checkout down","2":"15:30 UTC"}`) {
		t.Errorf("dana's WhatsApp (window closed) is not the approved template: %+v", m)
	}
	if m := omar[0]; m.From != appSMSFrom || m.Body != checkoutSMS {
		t.Errorf("omar's SMS: %+v", m)
	}
	for _, m := range msgs {
		// Issue 12: the query names the delivery, so callbacks need no SID look-up.
		if base, q, _ := strings.Cut(m.StatusCallback, "?"); base != a.url+"/twilio/status" || !strings.HasPrefix(q, "b=INC-1-B1&r=") {
			t.Errorf("message to %s has StatusCallback %q, want %q?b=INC-1-B1&r=...", m.To, m.StatusCallback, a.url+"/twilio/status")
		}
	}
	for _, cb := range a.twilio.Callbacks() {
		if cb.HTTPStatus/100 != 2 {
			t.Errorf("herald answered the status callback %s of %s with %d", cb.Status, cb.SID, cb.HTTPStatus)
		}
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// TestServeRefusesBadSlackRequests: a request Slack did not sign, or signed
// too long ago, gets 401 and does nothing; a well-signed but malformed one
// gets 400 with a reason.
func TestServeRefusesBadSlackRequests(t *testing.T) {
	t.Parallel()
	a := startApp(t, flowConfig)
	declare := url.Values{"team_id": {"T0001"}, "channel_id": {"C0INCIDENTS"}, "user_id": {"U0RESP1"}, "user_name": {"u0resp1"},
		"command": {"/incident"}, "text": {"new Checkout down --sev 2"}, "trigger_id": {newTriggerID()}}
	body := []byte(declare.Encode())
	stale := slackapi.Signer{Secret: signingSecret, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
	wrong := slackapi.Signer{Secret: "not-the-signing-secret"}
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"wrong secret", wrong.SlashCommand(a.url+"/slack/commands", body), http.StatusUnauthorized},
		{"stale timestamp", stale.SlashCommand(a.url+"/slack/commands", body), http.StatusUnauthorized},
		{"no signature", func() *http.Request {
			r := a.signer.SlashCommand(a.url+"/slack/commands", body)
			r.Header.Del("X-Slack-Signature")
			return r
		}(), http.StatusUnauthorized},
		{"body changed after signing", func() *http.Request {
			r := a.signer.SlashCommand(a.url+"/slack/commands", body)
			tampered := strings.Replace(string(body), "U0RESP1", "U0RESP2", 1)
			return withBody(r, tampered)
		}(), http.StatusUnauthorized},
		{"forged approval", wrong.Interaction(a.url+"/slack/interactions", click(t, "U0LEAD1", "C0INCIDENTS", "1.1", "approve", "INC-1-B1")), http.StatusUnauthorized},
		{"interaction without payload", a.signer.Request(a.url+"/slack/interactions", "application/x-www-form-urlencoded", []byte("nothing=here")), http.StatusBadRequest},
		{"payload is not JSON", a.signer.Request(a.url+"/slack/interactions", "application/x-www-form-urlencoded", []byte("payload=%7Bnot+json")), http.StatusBadRequest},
		{"command without user", a.signer.SlashCommand(a.url+"/slack/commands", []byte("command=%2Fincident&channel_id=C0INCIDENTS&text=list")), http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, reason := a.do(tc.req)
			if code != tc.want {
				t.Fatalf("HTTP %d %q, want %d", code, reason, tc.want)
			}
			if code == http.StatusBadRequest && strings.TrimSpace(reason) == "" {
				t.Error("400 without a reason")
			}
		})
	}
	// A well-signed command afterwards is served (the refusals were not
	// luck), and it is INC-1: none of the refused requests made an incident.
	root := a.slackDeclare("U0RESP1", "new Checkout down --sev 2", 1)
	if !strings.Contains(root.AllText(), "INC-1 ·") {
		t.Fatalf("first served declaration is not INC-1: %s", root.AllText())
	}
	for _, c := range a.slack.Calls() {
		switch c.Method {
		case "chat.postMessage", "chat.postEphemeral", "auth.test":
		case "conversations.members", "users.info":
			// herald's own watcher phone cache, refreshed soon after start
			// whatever requests come in (how soon depends on the machine).
		default:
			t.Errorf("unexpected Slack call %s", c.Method)
		}
	}
	if n := len(a.slack.Calls("chat.postMessage")); n != 1 {
		t.Errorf("%d chat.postMessage calls, want only the accepted declaration's", n)
	}
}

func withBody(r *http.Request, body string) *http.Request {
	out, _ := http.NewRequest(r.Method, r.URL.String(), strings.NewReader(body))
	out.Header = r.Header.Clone()
	return out
}

// TestServeRelayFallsBackAndReportsFailures is issue 4 through serve: dana's
// WhatsApp is refused with 63016 and reaches her by SMS, once; omar's number
// unsubscribed (21610) and shows as failed with its code in the summary; a
// forged status callback is refused and changes nothing.
func TestServeRelayFallsBackAndReportsFailures(t *testing.T) {
	t.Parallel()
	a := startApp(t, flowConfig)
	a.twilio.SetAutoStatus(&twilioapi.AutoStatus{})
	a.twilio.FailTo("whatsapp:"+flowDanaPhone, twilioapi.Fault{Status: http.StatusBadRequest, Code: 63016,
		Message: "Failed to send freeform message because you are outside the allowed window."})
	a.twilio.FailTo(flowOmarPhone, twilioapi.ErrUnsubscribed)

	root := a.slackDeclare("U0RESP1", "new Checkout down --sev 2", 1)
	preview, txt := a.slackCompose("U0RESP1", root, "INC-1", []string{"it-ops"})
	if !strings.Contains(txt, "Send now") {
		t.Fatalf("it-ops needs no approval, but the preview says:\n%s", txt)
	}
	if done := a.slackSend("U0RESP1", preview); !strings.Contains(done, "on its way to 2 people") {
		t.Fatalf("after sending: %s", done)
	}

	progress := a.threadPost(root, "Relay")
	want := "1 of 2 accepted by the provider (1 delivered, 0 read), 1 failed (unsubscribed (STOP) ×1; Twilio 21610 ×1)"
	a.eventually("the final summary", func() bool {
		m, _ := a.slack.Message(progress.Channel, progress.TS)
		return strings.Contains(m.AllText(), want)
	})
	final, _ := a.slack.Message(progress.Channel, progress.TS)
	if !strings.Contains(final.AllText(), "Failed: unsubscribed (STOP) ×1; Twilio 21610 ×1") {
		t.Errorf("summary does not say why omar failed: %s", final.AllText())
	}

	// dana: no WhatsApp accepted, exactly one SMS with the text
	if wa := a.twilio.MessagesTo("whatsapp:" + flowDanaPhone); len(wa) != 0 {
		t.Errorf("Twilio accepted %d WhatsApp messages to dana despite 63016", len(wa))
	}
	sms := a.twilio.MessagesTo(flowDanaPhone)
	if len(sms) != 1 || sms[0].Body != checkoutSMS || sms[0].From != appSMSFrom {
		t.Fatalf("dana's fallback: %+v, want one SMS with the update", sms)
	}
	if n := len(a.twilio.MessagesTo(flowOmarPhone)); n != 0 {
		t.Errorf("Twilio accepted %d messages to the unsubscribed omar", n)
	}

	// A status callback not signed by Twilio: 401, and dana's delivered SMS
	// stays delivered.
	forged := a.twilio.StatusForm(sms[0], "failed", 30007)
	req, _ := http.NewRequest(http.MethodPost, a.url+"/twilio/status", strings.NewReader(forged.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioapi.Sign("0000000000000000000000000000000f", a.url+"/twilio/status", forged))
	if code, _ := a.do(req); code != http.StatusUnauthorized {
		t.Fatalf("forged status callback: HTTP %d, want 401", code)
	}
	_, status := a.command("U0RESP1", "C0INCIDENTS", "status INC-1")
	if !strings.Contains(status, "1 delivered, 1 failed") {
		t.Fatalf("after a forged callback /incident status says %s", status)
	}
	after, _ := a.slack.Message(progress.Channel, progress.TS)
	if after.AllText() != final.AllText() {
		t.Errorf("a forged callback changed the summary:\n%s\n->\n%s", final.AllText(), after.AllText())
	}
}
