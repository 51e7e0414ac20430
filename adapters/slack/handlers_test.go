package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

func TestUnsignedRequestsAre401AndDoNothing(t *testing.T) {
	h := newHarness(t)
	body := slackapi.Fixture("slash_command.form")
	stale := slackapi.Signer{Secret: testSecret, Now: func() time.Time { return time.Now().Add(-6 * time.Minute) }}
	wrong := slackapi.Signer{Secret: "someone-else"}
	endpoints := map[string][]byte{
		"/slack/commands":     body,
		"/slack/interactions": []byte("payload=" + string(blockActions(bot.ActionApprove, "B-7-1"))),
		"/slack/events":       slackapi.Fixture("event_message_in_thread.json"),
	}
	for path, payload := range endpoints {
		tests := []struct {
			name string
			req  func() *http.Request
		}{
			{"no signature", func() *http.Request {
				r, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(string(payload)))
				return r
			}},
			{"wrong secret", func() *http.Request {
				return wrong.Request(h.srv.URL+path, "application/x-www-form-urlencoded", payload)
			}},
			{"stale timestamp", func() *http.Request {
				return stale.Request(h.srv.URL+path, "application/x-www-form-urlencoded", payload)
			}},
			{"body changed after signing", func() *http.Request {
				r := h.signer.Request(h.srv.URL+path, "application/x-www-form-urlencoded", payload)
				tampered := append([]byte(nil), payload...)
				tampered[len(tampered)-2] ^= 1
				r.Body = http.NoBody
				r2, _ := http.NewRequest(http.MethodPost, r.URL.String(), strings.NewReader(string(tampered)))
				r2.Header = r.Header
				return r2
			}},
		}
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				code, _ := h.send(tt.req())
				if code != http.StatusUnauthorized {
					t.Fatalf("HTTP %d, want 401", code)
				}
			})
		}
	}
	if calls := h.slack.Calls(); len(calls) != 0 {
		t.Fatalf("unsigned requests caused Slack calls: %+v", calls)
	}
	if calls := h.wf.Calls(); len(calls) != 0 {
		t.Fatalf("unsigned requests reached the workflow: %v", calls)
	}
	select {
	case m := <-h.threads.got:
		t.Fatalf("unsigned event reached the thread watcher: %+v", m)
	default:
	}
}

func TestMalformedRequestsAre400WithAReason(t *testing.T) {
	h := newHarness(t)
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, path, ctype, body, reason string
	}{
		{"command without user", "/slack/commands", form, "command=%2Fincident&channel_id=C1&text=list", "user_id"},
		{"command body not a form", "/slack/commands", form, "%zz", "not a form"},
		{"interaction without payload", "/slack/interactions", form, "foo=bar", "without a payload"},
		{"interaction payload not JSON", "/slack/interactions", form, "payload=%7Bnope", "not JSON"},
		{"view_submission of someone else's modal (fixture as it is)", "/slack/interactions", form,
			"payload=" + urlEscape(slackapi.Fixture("view_submission.json")), "unknown modal"},
		{"event not JSON", "/slack/events", "application/json", "hello", "not an Events API payload"},
		{"event callback without id", "/slack/events", "application/json", `{"type":"event_callback","event":{"type":"message"}}`, "event_id"},
		{"url_verification without challenge", "/slack/events", "application/json", `{"type":"url_verification"}`, "challenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.send(h.signer.Request(h.srv.URL+tt.path, tt.ctype, []byte(tt.body)))
			if code != http.StatusBadRequest || !strings.Contains(body, tt.reason) {
				t.Fatalf("HTTP %d %q, want 400 mentioning %q", code, body, tt.reason)
			}
		})
	}
	if calls := h.slack.Calls(); len(calls) != 0 {
		t.Fatalf("malformed requests caused Slack calls: %+v", calls)
	}
}

func urlEscape(b []byte) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D").Replace(string(b))
}

func TestSlashCommandFixtureDeclares(t *testing.T) {
	h := newHarness(t)
	// the fixture as it is: /incident new Database outage
	code, body := h.send(h.signer.SlashCommand(h.srv.URL+"/slack/commands", slackapi.Fixture("slash_command.form")))
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	var msg slack.Msg
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		t.Fatal(err)
	}
	if msg.ResponseType != "ephemeral" || !strings.Contains(msg.Text, "Declaring *Database outage* (SEV3)") {
		t.Fatalf("ack = %+v", msg)
	}
	got := h.wf.waitCall(t, "declare")
	if got != "declare U00FAKEUSER2 Database outage 3 C00FAKECHAN3" {
		t.Fatalf("workflow call %q", got)
	}
	// declared in another channel than the command's: the person is told where
	c, err := h.slack.WaitFor(h.ctx(), func(c slackapi.Call) bool { return c.Method == "chat.postEphemeral" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Params.Get("channel") != "C00FAKECHAN3" || c.Params.Get("user") != "U00FAKEUSER2" || !strings.Contains(c.Params.Get("text"), "INC-7 declared in <#C0INCIDENTS>") {
		t.Fatalf("ephemeral %v", c.Params)
	}
	h.noErrors()
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		setup    func(*fakeWorkflow)
		wantAck  string // substring of the immediate answer
		wantCall string // workflow call it leads to, "" for none
		wantTell string // substring of a later ephemeral, "" for none
	}{
		{name: "help", text: "help", wantAck: "`new &lt;title&gt; [--sev 1..4]`"},
		{name: "empty is help", text: "", wantAck: "*Usage:*"},
		{name: "unknown subcommand shows usage", text: "frobnicate now", wantAck: `does not know the command "frobnicate"`},
		{name: "bad severity shows new's usage", text: "new DB down --sev 9", wantAck: "/incident new &lt;title&gt; [--sev 1..4]"},
		{name: "new with severity", text: "new DB &amp; cache down --sev 1", wantAck: "Declaring *DB &amp; cache down* (SEV1)", wantCall: "declare U00FAKEUSER2 DB & cache down 1"},
		{name: "refused declare names the role", text: "new DB down",
			setup: func(w *fakeWorkflow) {
				w.declareErr = &bot.ForbiddenError{Role: bot.RoleResponder, Action: "declare an incident"}
			},
			wantAck: "Declaring", wantCall: "declare", wantTell: "only a responder may declare an incident"},
		{name: "status of the newest open incident", text: "status",
			setup:    func(w *fakeWorkflow) { w.open = []bot.Incident{{ID: "INC-7"}} },
			wantAck:  "*B-7-1* · it-ops · investigating · sent by Sam to 2 people · 8 delivered, 1 failed",
			wantCall: "status INC-7"},
		{name: "status with no open incident", text: "status", wantAck: "no open incident"},
		{name: "list", text: "list", setup: func(w *fakeWorkflow) {
			w.open = []bot.Incident{{ID: "INC-7", Title: "DB <down>", Severity: 2, State: bot.IncidentOpen}}
		}, wantAck: "*INC-7* · SEV2 · DB &lt;down&gt; · Open"},
		{name: "list empty", text: "list", wantAck: "No open incidents"},
		{name: "resolve named", text: "resolve inc-7", wantAck: "Resolving INC-7", wantCall: "resolve U00FAKEUSER2 INC-7"},
		{name: "reply without a replier", text: "reply INC-7 dana on it", wantAck: "not available"},
		{name: "failover without a switch", text: "failover on", wantAck: "not available"},
		{name: "a future word is not available yet", text: "reach INC-7", wantAck: "`/incident reach` is not available in Slack yet."},
		{name: "a drill is not declared as a real incident", text: "new Checkout down --drill", wantAck: "`--drill` is not available yet"},
		{name: "declare and -s read as in Teams", text: "declare Checkout down -s 2", wantAck: "Declaring *Checkout down* (SEV2)", wantCall: "declare U00FAKEUSER2 Checkout down 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.setup != nil {
				tt.setup(h.wf)
			}
			ack := h.command(tt.text)
			if !strings.Contains(ack, tt.wantAck) {
				t.Fatalf("ack %q, want it to contain %q", ack, tt.wantAck)
			}
			if tt.wantCall != "" {
				if got := h.wf.waitCall(t, strings.Fields(tt.wantCall)[0]); !strings.HasPrefix(got, tt.wantCall) {
					t.Fatalf("workflow call %q, want %q", got, tt.wantCall)
				}
			}
			if tt.wantTell != "" {
				c, err := h.slack.WaitFor(h.ctx(), func(c slackapi.Call) bool { return c.Method == "chat.postEphemeral" })
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(c.Params.Get("text"), tt.wantTell) {
					t.Fatalf("told %q, want %q", c.Params.Get("text"), tt.wantTell)
				}
			}
		})
	}
}

type fakeReplier struct{ got chan string }

func (r *fakeReplier) Answer(_ context.Context, by bot.Actor, inc bot.Incident, who, text string) (bot.Recipient, error) {
	r.got <- by.ID + " " + inc.ID + " " + who + " " + text
	if who == "nobody" {
		return bot.Recipient{}, &bot.ValidationError{Problems: map[string]string{"who": `no stakeholder called "nobody"`}}
	}
	return bot.Recipient{ID: who, Name: "Dana Weber"}, nil
}

type fakeSwitch struct{ got chan bool }

func (s *fakeSwitch) SetFailover(_ context.Context, _ bot.Actor, on bool) error {
	s.got <- on
	return nil
}

func TestReplyAndFailoverCommands(t *testing.T) {
	rep := &fakeReplier{got: make(chan string, 2)}
	sw := &fakeSwitch{got: make(chan bool, 1)}
	h := newHarness(t, func(c *Config) { c.Replier, c.Failover = rep, sw })

	if ack := h.command("reply INC-7 dana We are on it &amp; will call"); !strings.Contains(ack, "Sending your answer to dana") {
		t.Fatalf("ack %q", ack)
	}
	if got := <-rep.got; got != "U00FAKEUSER2 INC-7 dana We are on it & will call" {
		t.Fatalf("answer %q", got)
	}
	if _, err := h.slack.WaitFor(h.ctx(), func(c slackapi.Call) bool {
		return c.Method == "chat.postEphemeral" && c.Params.Get("text") == "Answer sent to Dana Weber."
	}); err != nil {
		t.Fatal(err)
	}
	h.command("reply INC-7 nobody hello")
	<-rep.got
	if _, err := h.slack.WaitFor(h.ctx(), func(c slackapi.Call) bool {
		return c.Method == "chat.postEphemeral" && strings.Contains(c.Params.Get("text"), "no stakeholder called")
	}); err != nil {
		t.Fatal(err)
	}

	if ack := h.command("failover on"); !strings.Contains(ack, "SMS-only") {
		t.Fatalf("ack %q", ack)
	}
	if on := <-sw.got; !on {
		t.Fatal("failover switched off, want on")
	}
}

func TestBusyPoolSaysSoAtOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Workers, c.QueueSize = 1, 1 })
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	// occupy the only worker, then the only queue slot
	h.fe.enqueue("block", func(context.Context) error { close(started); <-release; return nil })
	<-started
	if !h.fe.enqueue("block", func(context.Context) error { <-release; return nil }) {
		t.Fatal("the queue slot was not free")
	}
	if ack := h.command("new DB down"); ack != textBusy {
		t.Fatalf("ack %q, want the busy answer", ack)
	}
}

func TestURLVerificationFixture(t *testing.T) {
	h := newHarness(t)
	code, body := h.send(h.signer.Event(h.srv.URL+"/slack/events", slackapi.Fixture("url_verification.json")))
	if code != http.StatusOK || body != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("HTTP %d %q", code, body)
	}
}

func TestThreadMessageEventOnceDespiteRetries(t *testing.T) {
	h := newHarness(t)
	event := slackapi.Fixture("event_message_in_thread.json")
	for retry := range 3 {
		req := h.signer.Event(h.srv.URL+"/slack/events", event)
		if retry > 0 {
			req.Header.Set("X-Slack-Retry-Num", string(rune('0'+retry)))
			req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		if code, body := h.send(req); code != http.StatusOK {
			t.Fatalf("attempt %d: HTTP %d %s", retry, code, body)
		}
	}
	got := <-h.threads.got
	want := ThreadMessage{
		Thread: bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C08REALCHAN1", RootID: "1775407823.782829"},
		TS:     "1775407883.655979", By: bot.Actor{Platform: bot.PlatformSlack, ID: "U08REALUSER1"}, Text: "ping?",
	}
	if got != want {
		t.Fatalf("thread message %+v, want %+v", got, want)
	}
	// the pool has had time to run any duplicate: close waits for it
	if err := h.fe.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case dup := <-h.threads.got:
		t.Fatalf("retry handled twice: %+v", dup)
	default:
	}
}

func TestBotsOwnThreadPostsAreIgnored(t *testing.T) {
	h := newHarness(t)
	var m map[string]any
	_ = json.Unmarshal(slackapi.Fixture("event_message_in_thread.json"), &m)
	m["event_id"] = "Ev-bot-post"
	m["event"].(map[string]any)["bot_id"] = "B0HERALDBOT"
	body, _ := json.Marshal(m)
	if code, _ := h.send(h.signer.Event(h.srv.URL+"/slack/events", body)); code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	_ = h.fe.Close(context.Background())
	select {
	case got := <-h.threads.got:
		t.Fatalf("herald's own post was passed on: %+v", got)
	default:
	}
}

func TestBlockActionFixtureOfAnotherAppDoesNothing(t *testing.T) {
	h := newHarness(t)
	code, body := h.interact(slackapi.Fixture("block_actions.json"))
	if code != http.StatusOK || body != "" {
		t.Fatalf("HTTP %d %q, want an empty 200", code, body)
	}
	_ = h.fe.Close(context.Background())
	if len(h.slack.Calls()) != 0 || len(h.wf.Calls()) != 0 {
		t.Fatalf("calls: slack %v workflow %v", h.slack.Calls(), h.wf.Calls())
	}
}

func TestApproveButton(t *testing.T) {
	t.Run("approver approves", func(t *testing.T) {
		h := newHarness(t)
		if code, _ := h.interact(blockActions(bot.ActionApprove, "B-7-1")); code != http.StatusOK {
			t.Fatalf("HTTP %d", code)
		}
		if got := h.wf.waitCall(t, "approve"); got != "approve U00FAKEUSER2 B-7-1" {
			t.Fatalf("call %q", got)
		}
		_ = h.fe.Close(context.Background())
		if e := h.slack.Ephemerals(); len(e) != 0 {
			t.Fatalf("an approver was told %+v", e)
		}
	})
	t.Run("someone else is refused ephemerally", func(t *testing.T) {
		h := newHarness(t)
		h.wf.approveErr = &bot.ForbiddenError{Role: bot.RoleApprover, Action: "approve an update"}
		h.interact(blockActions(bot.ActionApprove, "B-7-1"))
		c, err := h.slack.WaitFor(h.ctx(), func(c slackapi.Call) bool { return c.Method == "chat.postEphemeral" })
		if err != nil {
			t.Fatal(err)
		}
		if c.Params.Get("channel") != "C00FAKECHAN2" || c.Params.Get("user") != "U00FAKEUSER2" ||
			!strings.Contains(c.Params.Get("text"), "only an approver may approve an update") {
			t.Fatalf("refusal %v", c.Params)
		}
	})
	t.Run("a second click on a decided update", func(t *testing.T) {
		h := newHarness(t)
		h.wf.approveErr = &bot.DecidedError{BroadcastID: "B-7-1", State: bot.BroadcastApproved, By: bot.Actor{ID: "U0LEE", Name: "Lee"}}
		h.interact(blockActions(bot.ActionApprove, "B-7-1"))
		if _, err := h.slack.WaitFor(h.ctx(), func(c slackapi.Call) bool {
			return c.Method == "chat.postEphemeral" && strings.Contains(c.Params.Get("text"), "B-7-1 was already approved by Lee")
		}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRejectFlow(t *testing.T) {
	h := newHarness(t)
	if code, _ := h.interact(blockActions(bot.ActionReject, "B-7-1")); code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	opened := h.slack.ViewsOpened()
	if len(opened) != 1 || opened[0].Request.CallbackID != callbackReject {
		t.Fatalf("opened %+v", opened)
	}
	submit := func(reason string) (int, string) {
		return h.interact(viewSubmission(opened[0], map[string]map[string]any{
			blockReason: {actionValue: map[string]any{"type": "plain_text_input", "value": reason}},
		}))
	}
	code, body := submit("Wrong audience")
	if code != http.StatusOK || body != "" {
		t.Fatalf("HTTP %d %q, want an empty 200 (modal closes)", code, body)
	}
	if got := h.wf.waitCall(t, "reject"); got != "reject U00FAKEUSER2 B-7-1 Wrong audience" {
		t.Fatalf("call %q", got)
	}

	h.wf.rejectErr = &bot.ForbiddenError{Role: bot.RoleApprover, Action: "reject an update"}
	_, body = submit("again")
	var resp slack.ViewSubmissionResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.ResponseAction != slack.RAErrors || !strings.Contains(resp.Errors[blockReason], "only an approver may reject") {
		t.Fatalf("response %+v", resp)
	}
}

func TestNotifyWithExpiredTrigger(t *testing.T) {
	h := newHarness(t)
	form := commandForm("notify INC-7")
	h.slack.ExpireTrigger("10520020890661.10229338706656.2e2188a074adf3bf9f8456b30180f405")
	_, body := h.send(h.signer.SlashCommand(h.srv.URL+"/slack/commands", form))
	if !strings.Contains(body, "took too long") {
		t.Fatalf("answer %q", body)
	}
}
