package teams_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
	"github.com/heraldops/herald/internal/fakes/botframework"
)

func lastCreated(t *testing.T, acts []botframework.Activity) botframework.Activity {
	t.Helper()
	for i := len(acts) - 1; i >= 0; i-- {
		if acts[i].Created && acts[i].OK() {
			return acts[i]
		}
	}
	t.Fatal("herald started no thread")
	return botframework.Activity{}
}

// posted returns the accepted calls after the first n.
func since(h *harness, n int) []botframework.Activity {
	acc := h.fake.Activities()
	if n > len(acc) {
		return nil
	}
	var out []botframework.Activity
	for _, a := range acc[n:] {
		if a.OK() {
			out = append(out, a)
		}
	}
	return out
}

func findText(acts []botframework.Activity, method, text string) (botframework.Activity, bool) {
	for _, a := range acts {
		if a.Method == method && strings.Contains(a.AllText(), text) {
			return a, true
		}
	}
	return botframework.Activity{}, false
}

func mustFind(t *testing.T, acts []botframework.Activity, method, text string) botframework.Activity {
	t.Helper()
	a, ok := findText(acts, method, text)
	if !ok {
		var seen []string
		for _, x := range acts {
			seen = append(seen, x.Method+" "+x.ConversationID+": "+x.AllText())
		}
		t.Fatalf("no %s with %q among:\n%s", method, text, strings.Join(seen, "\n---\n"))
	}
	return a
}

// TestIncidentFlowEndToEnd drives the whole Teams flow against the fake Bot
// Framework: declare by @mention, compose from the root's button, preview,
// send for approval (a double click sends once), the requester refused as
// approver, a second approver approves, the relay gets the broadcast once,
// and a fresh replica posts a stakeholder reply into the incident's reply
// chain from the stored conversation reference alone.
func TestIncidentFlowEndToEnd(t *testing.T) {
	h := newHarness(t)

	// Declare: the fixture's channel message, with a command after the mention.
	if resp := h.send(mention(t, "incident new Database outage --sev 2")); resp.Status != http.StatusOK {
		t.Fatalf("declare answered %d %s", resp.Status, resp.Body)
	}
	root := lastCreated(t, h.fake.Activities())
	if !strings.Contains(root.AllText(), "INC-1") || !strings.Contains(root.AllText(), "Database outage") {
		t.Fatalf("root message does not name the incident: %s", root.AllText())
	}
	if root.Host != "smba.trafficmanager.net" || !strings.HasPrefix(root.Path, "/amer/a1b2c3d4-e5f6-7890-abcd-ef1234567890/v3/conversations") {
		t.Fatalf("root posted to %s%s, want the activity's service URL", root.Host, root.Path)
	}
	if got := root.Parameters.ChannelData["channel"].(map[string]any)["id"]; got != incidentChannel {
		t.Fatalf("root thread started in %v, want the incident channel", got)
	}
	inc, err := h.svc.Incident(context.Background(), "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	wantThread := bot.ThreadRef{Platform: bot.PlatformTeams, Channel: incidentChannel, RootID: root.ActivityID}
	if inc.Thread != wantThread || inc.Severity != 2 || inc.DeclaredBy.ID != fixtureUserAAD {
		t.Fatalf("incident = %+v, want thread %+v, SEV2, declared by the fixture user", inc, wantThread)
	}
	// The person who typed it hears back in the thread they typed in.
	ack := mustFind(t, h.fake.Accepted(), http.MethodPost, "Declared INC-1")
	if ack.ConversationID != incidentChannel+";messageid=1771290107407" {
		t.Fatalf("declare acknowledged in %s, want the thread it was typed in", ack.ConversationID)
	}

	// Compose: the root message's Notify button posts the compose card into the thread.
	n := len(h.fake.Activities())
	notify := buttonData(t, root.Card(), "Notify stakeholders")
	if resp := h.send(click(t, fixtureUserAAD, "Test User", root.ActivityID, root.ActivityID, notify)); resp.Status != http.StatusOK {
		t.Fatalf("notify answered %d", resp.Status)
	}
	compose := mustFind(t, since(h, n), http.MethodPost, "Notify stakeholders · INC-1")
	if compose.ConversationID != incidentChannel+";messageid="+root.ActivityID {
		t.Fatalf("compose card posted in %s, want the incident thread", compose.ConversationID)
	}
	for _, want := range []string{"executives (2 people) · C-level · needs approval", "it-ops (2 people)", "Next update"} {
		if !strings.Contains(compose.AllText(), want) {
			t.Errorf("compose card lacks %q:\n%s", want, compose.AllText())
		}
	}

	// Preview: the card's inputs come back merged into the button's data.
	n = len(h.fake.Activities())
	preview := buttonData(t, compose.Card(), "Preview")
	preview["audiences"] = "executives,it-ops"
	preview["template"] = "investigating"
	preview["field:next_update"] = "15:30"
	if resp := h.send(click(t, fixtureUserAAD, "Test User", root.ActivityID, compose.ActivityID, preview)); resp.Status != http.StatusOK {
		t.Fatalf("preview answered %d", resp.Status)
	}
	previewCard := mustFind(t, since(h, n), http.MethodPut, "Preview · INC-1")
	if previewCard.ActivityID != compose.ActivityID {
		t.Fatalf("preview replaced activity %s, want the compose card %s", previewCard.ActivityID, compose.ActivityID)
	}
	for _, want := range []string{
		"[SEV2] Database outage: we are investigating. Next update 15:30. Reply to reach the incident team.",
		"1 segment, GSM-7",
		"3 people: 2 WhatsApp, 1 SMS",
		"the approved template, filled with “Database outage” and “15:30”",
		"needed: another approver must approve",
	} {
		if !strings.Contains(previewCard.AllText(), want) {
			t.Errorf("preview card lacks %q:\n%s", want, previewCard.AllText())
		}
	}
	if strings.Contains(previewCard.AllText(), "HX0000") {
		t.Errorf("preview card shows the template id instead of what phones show:\n%s", previewCard.AllText())
	}

	// Submit, clicked twice (a double click): one approval request.
	n = len(h.fake.Activities())
	send := buttonData(t, previewCard.Card(), "Request approval")
	for range 2 {
		if resp := h.send(click(t, fixtureUserAAD, "Test User", root.ActivityID, compose.ActivityID, send)); resp.Status != http.StatusOK {
			t.Fatalf("submit answered %d", resp.Status)
		}
	}
	bs, err := h.store.BroadcastsOf(context.Background(), "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].State != bot.BroadcastPendingApproval {
		t.Fatalf("broadcasts after a double click = %+v, want one pending approval", bs)
	}
	approval := mustFind(t, since(h, n), http.MethodPost, "Approval needed")
	if approval.ConversationID != incidentChannel+";messageid="+root.ActivityID {
		t.Fatalf("approval request posted in %s, want the incident thread", approval.ConversationID)
	}
	mustFind(t, since(h, n), http.MethodPut, "Approval requested for INC-1")

	// The requester may not approve their own update.
	n = len(h.fake.Activities())
	approve := buttonData(t, approval.Card(), "Approve")
	h.send(click(t, fixtureUserAAD, "Test User", root.ActivityID, approval.ActivityID, approve))
	mustFind(t, since(h, n), http.MethodPost, "cannot approve your own")
	if got := h.relay.Started(); len(got) != 0 {
		t.Fatalf("relay started on the requester's own approval: %+v", got)
	}

	// Someone without a role may not either.
	n = len(h.fake.Activities())
	h.send(click(t, strangerAAD, "Sam Doe", root.ActivityID, approval.ActivityID, approve))
	mustFind(t, since(h, n), http.MethodPost, "Not allowed")

	// A second approver approves; Teams delivers the click twice.
	n = len(h.fake.Activities())
	second := click(t, secondAAD, "Lee Chen", root.ActivityID, approval.ActivityID, approve)
	for range 2 {
		if resp := h.send(second); resp.Status != http.StatusOK {
			t.Fatalf("approve answered %d", resp.Status)
		}
	}
	started := h.relay.Started()
	if len(started) != 1 || started[0].ID != bs[0].ID || started[0].DecidedBy.ID != secondAAD {
		t.Fatalf("relay got %+v, want broadcast %s once, approved by the second approver", started, bs[0].ID)
	}
	edited := mustFind(t, since(h, n), http.MethodPut, "Approved by Lee Chen")
	if edited.ActivityID != approval.ActivityID {
		t.Fatalf("approval outcome edited activity %s, want the request %s", edited.ActivityID, approval.ActivityID)
	}

	// A fresh replica (new connector, empty token cache, nothing in memory)
	// posts a stakeholder's reply into the incident's reply chain.
	fresh := h.newChat()
	tokensBefore := h.fake.TokenRequests()
	inc, err = h.svc.Incident(context.Background(), "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := fresh.Post(context.Background(), inc.Thread, bot.Message{
		Title: "Dana Weber (executives, WhatsApp)",
		Quote: "Thanks. Do customers see errors?",
	})
	if err != nil {
		t.Fatal(err)
	}
	reply := mustFind(t, h.fake.Accepted(), http.MethodPost, "Do customers see errors?")
	if reply.ConversationID != incidentChannel+";messageid="+root.ActivityID || reply.Host != "smba.trafficmanager.net" {
		t.Fatalf("proactive reply went to %s at %s, want the incident thread at the stored service URL", reply.ConversationID, reply.Host)
	}
	if ref.ID != reply.ActivityID || ref.Thread != inc.Thread {
		t.Fatalf("reply ref = %+v, want activity %s in the incident thread", ref, reply.ActivityID)
	}
	if h.fake.TokenRequests() != tokensBefore+1 {
		t.Fatalf("fresh replica fetched %d tokens, want 1", h.fake.TokenRequests()-tokensBefore)
	}
}

// TestRefusesBadTokens: activities without a valid Bot Connector token get
// 401, and nothing happens: no incident, no reference stored, no connector
// call.
func TestRefusesBadTokens(t *testing.T) {
	cases := []struct {
		name string
		opts []botframework.TokenOption
	}{
		{"unsigned", []botframework.TokenOption{botframework.Unsigned()}},
		{"not a JWT", []botframework.TokenOption{botframework.WithRawAuthorization("Bearer not.a.token")}},
		{"no Bearer", []botframework.TokenOption{botframework.WithRawAuthorization("Basic dXNlcjpwYXNz")}},
		{"signed by a stranger", []botframework.TokenOption{botframework.SignedByStranger()}},
		{"wrong audience", []botframework.TokenOption{botframework.WithAudience("someone-elses-bot")}},
		{"wrong issuer", []botframework.TokenOption{botframework.WithIssuer("https://sts.windows.net/evil/")}},
		{"expired", []botframework.TokenOption{botframework.Expired()}},
		{"token for another service URL", []botframework.TokenOption{botframework.WithServiceURL("https://attacker.example/")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			resp := h.send(mention(t, "incident new Database outage --sev 2"), tc.opts...)
			if resp.Status != http.StatusUnauthorized {
				t.Fatalf("answered %d %s, want 401", resp.Status, resp.Body)
			}
			if acts := h.fake.Activities(); len(acts) != 0 {
				t.Fatalf("herald called the connector %d times", len(acts))
			}
			if incs, _ := h.store.Incidents(context.Background(), false); len(incs) != 0 {
				t.Fatalf("incident declared: %+v", incs)
			}
			if _, err := h.store.Get(context.Background(), "teams:ref:"+incidentChannel); !errors.Is(err, bot.ErrNotFound) {
				t.Fatalf("conversation reference stored from an unauthenticated activity (err %v)", err)
			}
		})
	}
}

func TestAnswers400ToMalformedSignedActivities(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tok := h.fake.Token(fixtureService)
	for _, body := range []string{`{"type": "message",`, `{"type":"message","channelId":"msteams","serviceUrl":"` + fixtureService + `"}`} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: answered %d, want 400", body, resp.StatusCode)
		}
	}
	if len(h.fake.Activities()) != 0 {
		t.Fatal("herald answered a malformed activity in Teams")
	}
}

// TestConversationUpdateStoresReference: when herald is added to a team, the
// reference (service URL) is stored, so herald can later post there without
// having been spoken to.
func TestConversationUpdateStoresReference(t *testing.T) {
	h := newHarness(t)
	act := fixture(t, "conversation_update_bot_added.json", nil)
	if resp := h.send(act); resp.Status != http.StatusOK {
		t.Fatalf("answered %d", resp.Status)
	}
	ref, err := h.handler.Refs.Reference(context.Background(), "19:efa9296d959346209fea44151c742e73@thread.skype")
	if err != nil {
		t.Fatal(err)
	}
	if ref.ServiceURL != "https://smba.trafficmanager.net/amer-client-ss.msg/" || ref.Bot.ID != "28:f5d48856-5b42-41a0-8c3a-c5f944b679b0" {
		t.Fatalf("stored reference = %+v", ref)
	}
	if len(h.fake.Activities()) != 0 {
		t.Fatal("herald posted on being added; it should stay quiet")
	}
}

// TestRedeliveredCommandActsOnce: the Bot Connector may deliver an activity
// again (same id); herald declares once.
func TestRedeliveredCommandActsOnce(t *testing.T) {
	h := newHarness(t)
	act := mention(t, "new Checkout fails")
	h.send(act)
	h.send(act)
	incs, err := h.store.Incidents(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].Severity != bot.DefaultSeverity {
		t.Fatalf("incidents = %+v, want one at the default severity", incs)
	}
}

func TestCommandsAnswerInTheirConversation(t *testing.T) {
	h := newHarness(t)
	h.send(mention(t, "incident new Payments down --sev 1"))
	cases := []struct{ command, want string }{
		{"help", "incident commands"},
		{"list", "INC-1"},
		{"status INC-1", "INC-1"},
		{"incident frobnicate", `herald does not know the command "frobnicate"`}, // one wording with Slack now
		{"failover on", "is not available in Teams yet"},
		{"new Drill run --drill", "is not available yet: declare without it"},
		{"new --sev 9 Oops", "severity \"9\" is not a number from 1 to 4"},
		{"status INC-77", "Not found"},
		{"reply dana hello", "not available"},
	}
	for _, tc := range cases {
		n := len(h.fake.Activities())
		h.send(mention(t, tc.command))
		got := mustFind(t, since(h, n), http.MethodPost, tc.want)
		if !strings.HasPrefix(got.ConversationID, incidentChannel+";messageid=") {
			t.Errorf("%q answered in %s", tc.command, got.ConversationID)
		}
	}
}

func TestPersonalChatNeedsNoMention(t *testing.T) {
	h := newHarness(t)
	h.send(mention(t, "new Search is slow"))
	// A personal chat message (the invoke fixture's conversation), no mention.
	act := fixture(t, "adaptive_card_action_invoke.json", func(a map[string]any) {
		a["type"], a["text"], a["id"] = "message", "status", nextActivityID()
		delete(a, "value")
		delete(a, "name")
	})
	n := len(h.fake.Activities())
	if resp := h.send(act); resp.Status != http.StatusOK {
		t.Fatalf("answered %d", resp.Status)
	}
	got := mustFind(t, since(h, n), http.MethodPost, "Search is slow")
	if !strings.HasPrefix(got.ConversationID, "a:17vxw6") {
		t.Fatalf("answered in %s, want the personal chat", got.ConversationID)
	}
}

// TestInvokeActionsAnswerInline: Action.Execute arrives as an invoke and is
// answered in the HTTP response (Teams shows the card or message from it).
func TestInvokeActionsAnswerInline(t *testing.T) {
	h := newHarness(t)
	h.send(mention(t, "new Login broken --sev 2"))

	// The fixture as it is: an action herald does not know is acknowledged.
	resp := h.send(fixture(t, "adaptive_card_action_invoke.json", nil))
	if resp.Status != http.StatusOK {
		t.Fatalf("answered %d", resp.Status)
	}
	var ir struct {
		StatusCode int    `json:"statusCode"`
		Type       string `json:"type"`
		Value      any    `json:"value"`
	}
	if err := json.Unmarshal(resp.Body, &ir); err != nil || ir.StatusCode != 200 {
		t.Fatalf("invoke response %s (%v), want statusCode 200", resp.Body, err)
	}

	// A preview through Action.Execute comes back as the new card.
	act := fixture(t, "adaptive_card_action_invoke.json", func(a map[string]any) {
		a["id"] = nextActivityID()
		a["value"].(map[string]any)["action"].(map[string]any)["data"] = map[string]any{
			"action": "compose.preview", "value": "INC-1",
			"audiences": "it-ops", "template": "investigating", "field:next_update": "in 30 minutes",
		}
	})
	resp = h.send(act)
	if err := json.Unmarshal(resp.Body, &ir); err != nil {
		t.Fatal(err)
	}
	card, _ := json.Marshal(ir.Value)
	if ir.Type != "application/vnd.microsoft.card.adaptive" || !strings.Contains(string(card), "Next update in 30 minutes") {
		t.Fatalf("invoke answered %s", resp.Body)
	}
}

// TestPanicsAreContained: a panic while handling an activity costs that
// activity a 500, not the process.
func TestPanicsAreContained(t *testing.T) {
	h := newHarness(t)
	h.handler.Workflow = panickingWorkflow{h.svc}
	if resp := h.send(mention(t, "new Boom")); resp.Status != http.StatusInternalServerError {
		t.Fatalf("answered %d, want 500", resp.Status)
	}
	h.handler.Workflow = h.svc
	if resp := h.send(mention(t, "new Still here")); resp.Status != http.StatusOK {
		t.Fatalf("after a panic herald answered %d", resp.Status)
	}
}

type panickingWorkflow struct{ *workflow.Service }

func (panickingWorkflow) Declare(context.Context, bot.Actor, string, int, string) (bot.Incident, error) {
	panic("boom")
}

// TestRejectNeedsReason: Reject opens an inline reason field; without a
// reason nothing is rejected, with one the request is.
func TestRejectNeedsReason(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.send(mention(t, "new API errors --sev 2"))
	inc, _ := h.svc.Incident(ctx, "INC-1")
	b, err := h.svc.Submit(ctx, bot.Actor{Platform: bot.PlatformTeams, ID: fixtureUserAAD, Name: "Test User"},
		bot.Draft{IncidentID: "INC-1", Audiences: []string{"executives"}, Template: "investigating", Fields: map[string]string{"next_update": "soon"}})
	if err != nil {
		t.Fatal(err)
	}
	reject := buttonData(t, teamsCard(t, h, b.Approval.ID), "Reject")
	n := len(h.fake.Activities())
	h.send(click(t, secondAAD, "Lee Chen", inc.Thread.RootID, b.Approval.ID, reject))
	mustFind(t, since(h, n), http.MethodPost, "give a reason")
	if got, _ := h.store.Broadcast(ctx, b.ID); got.State != bot.BroadcastPendingApproval {
		t.Fatalf("rejected without a reason: %s", got.State)
	}
	reject["reason"] = "Wrong ETA"
	h.send(click(t, secondAAD, "Lee Chen", inc.Thread.RootID, b.Approval.ID, reject))
	if got, _ := h.store.Broadcast(ctx, b.ID); got.State != bot.BroadcastRejected || got.Reason != "Wrong ETA" {
		t.Fatalf("after reject with a reason: %s %q", got.State, got.Reason)
	}
}

// teamsCard returns the card of the activity the fake knows by id.
func teamsCard(t *testing.T, h *harness, id string) map[string]any {
	t.Helper()
	for _, a := range h.fake.Accepted() {
		if a.ActivityID == id && a.Card() != nil {
			return a.Card()
		}
	}
	t.Fatalf("no card with activity id %s", id)
	return nil
}

// TestTransientConnectorFailuresAreRetried: Teams throttles (429 with
// Retry-After, 412) and its gateway fails (502, 504); the root message still
// gets posted, once.
func TestTransientConnectorFailuresAreRetried(t *testing.T) {
	h := newHarness(t)
	h.fake.FailNext(
		botframework.Fault{Status: 429, RetryAfter: "1"},
		botframework.Fault{Status: 412},
		botframework.Fault{Status: 502},
		botframework.Fault{Status: 504},
	)
	h.send(mention(t, "new Flaky"))
	var created int
	for _, a := range h.fake.Accepted() {
		if a.Created {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("root message posted %d times, want 1", created)
	}
	if inc, err := h.svc.Incident(context.Background(), "INC-1"); err != nil || inc.Thread.RootID == "" {
		t.Fatalf("incident %+v (%v) has no thread", inc, err)
	}
}
