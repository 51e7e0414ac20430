package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heraldops/herald/internal/fakes/botframework"
)

// Issue 7 acceptance through `herald serve`: Microsoft Teams driven the way
// the Bot Connector drives herald (signed activities from the shared
// fixtures), with the relay going out through the fake Twilio and
// stakeholders' replies coming back into the incident's reply chain.

// Ids from the shared Teams fixtures: the channel the mention was typed in
// (herald's Teams incident channel) and its user.
const (
	tmChannel     = "19:d441d38c655c47a085215b2726e76927@thread.tacv2"
	tmUserAAD     = "00000000-1111-2222-3333-444444444444" // "Test User", a responder and approver
	tmSecondAAD   = "99999999-8888-7777-6666-555555555555" // a second approver
	tmDanaPhone   = "+4915100000001"
	tmOmarPhone   = "+14155550101"
	tmCheckoutSMS = "[SEV2] Checkout down: we are investigating. Next update 15:30 UTC. Reply to reach the incident team."
)

// tmConfig is the contract's example with the fixture users as responders
// and approvers and the fixture channel as the Teams incident channel.
var tmConfig = strings.NewReplacer(
	"responders: [U0RESP1, U0RESP2]", "responders: [U0RESP1, U0RESP2, "+tmUserAAD+", "+tmSecondAAD+"]",
	"approvers: [U0LEAD1]", "approvers: [U0LEAD1, "+tmUserAAD+", "+tmSecondAAD+"]",
).Replace(exampleConfig) + "teams:\n  incident_channel: \"" + tmChannel + "\"\n"

var tmActivitySeq atomic.Int64

// tmFixture is a shared Teams fixture as a new activity: a fresh id, and
// the fake's service URL (the fixtures name Microsoft's host, which herald
// serve would really call; the stored conversation reference is what
// carries it to later proactive posts). edit changes it further.
func (a *teamsApp) tmFixture(name string, edit func(act map[string]any)) map[string]any {
	a.t.Helper()
	var act map[string]any
	if err := json.Unmarshal(botframework.Fixture(name), &act); err != nil {
		a.t.Fatal(err)
	}
	act["id"] = fmt.Sprintf("f:e2e-activity-%d", tmActivitySeq.Add(1))
	act["serviceUrl"] = a.bf.ServiceURL()
	if edit != nil {
		edit(act)
	}
	return act
}

// tmMention is the channel mention fixture with command typed after the
// mention.
func (a *teamsApp) tmMention(command string) map[string]any {
	return a.tmFixture("channel_message_mention.json", func(act map[string]any) {
		act["text"] = "<at>Chat SDK Demo</at> " + command
	})
}

// tmClick is the card-submit fixture: person aad clicking a button (its data
// merged with the card's inputs in value) on card cardID in the thread of
// root.
func (a *teamsApp) tmClick(aad, name, root, cardID string, value map[string]any) map[string]any {
	return a.tmFixture("card_submit_message.json", func(act map[string]any) {
		act["replyToId"] = cardID
		act["value"] = value
		act["conversation"].(map[string]any)["id"] = tmChannel + ";messageid=" + root
		from := act["from"].(map[string]any)
		from["aadObjectId"], from["name"] = aad, name
	})
}

// tmSend sends an activity and wants a 200.
func (a *teamsApp) tmSend(what string, act map[string]any) {
	a.t.Helper()
	if resp := a.activity(act); resp.Status != http.StatusOK {
		a.t.Fatalf("%s: HTTP %d %s", what, resp.Status, resp.Body)
	}
}

// tmWait waits for an accepted connector call by method whose visible text
// has every one of want, among the calls after the first n.
func (a *teamsApp) tmWait(n int, method string, want ...string) botframework.Activity {
	a.t.Helper()
	var found botframework.Activity
	a.eventually(fmt.Sprintf("a Teams %s with %q", method, want), func() bool {
		acts := a.bf.Activities()
		for _, act := range acts[min(n, len(acts)):] {
			if act.OK() && act.Method == method && containsAll(act.AllText(), want) {
				found = act
				return true
			}
		}
		return false
	})
	return found
}

// tmCount counts the accepted calls with every one of want in their text.
func (a *teamsApp) tmCount(method string, want ...string) int {
	n := 0
	for _, act := range a.bf.Accepted() {
		if act.Method == method && containsAll(act.AllText(), want) {
			n++
		}
	}
	return n
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// tmButton finds the data of the card's Action.Submit titled title (also in
// ShowCard sub-cards), as a fresh map.
func tmButton(t *testing.T, card map[string]any, title string) map[string]any {
	t.Helper()
	var find func(actions []any) map[string]any
	find = func(actions []any) map[string]any {
		for _, x := range actions {
			m, _ := x.(map[string]any)
			if m["title"] == title && m["type"] == "Action.Submit" {
				out := map[string]any{}
				for k, v := range m["data"].(map[string]any) {
					out[k] = v
				}
				return out
			}
			if sub, ok := m["card"].(map[string]any); ok {
				if acts, ok := sub["actions"].([]any); ok {
					if d := find(acts); d != nil {
						return d
					}
				}
			}
		}
		return nil
	}
	acts, _ := card["actions"].([]any)
	d := find(acts)
	if d == nil {
		t.Fatalf("no button %q on card %v", title, card)
	}
	return d
}

// tmDeclare declares an incident by @mention and returns its root message
// (the new reply chain in the incident channel).
func (a *teamsApp) tmDeclare(title, id string) botframework.Activity {
	a.t.Helper()
	n := len(a.bf.Activities())
	a.tmSend("declare", a.tmMention("incident new "+title+" --sev 2"))
	root := a.tmWait(n, http.MethodPost, id, title)
	if !root.Created || !strings.HasPrefix(root.ConversationID, tmChannel+";messageid=") {
		a.t.Fatalf("root of %s: created %v in %s, want a new thread in the incident channel", id, root.Created, root.ConversationID)
	}
	a.waitDeclared(id)
	return root
}

func TestServeTeamsFlowDeclareComposeApproveRelayAndReplyAfterRestart(t *testing.T) {
	t.Parallel()
	a := startTeamsApp(t, tmConfig, false)

	// Declare: the root message starts a reply chain in the incident channel.
	root := a.tmDeclare("Checkout down", "INC-1")
	if !strings.Contains(root.AllText(), "SEV2") || root.Host != strings.TrimPrefix(a.bf.URL(), "http://") {
		t.Fatalf("root message %q posted at %s", root.AllText(), root.Host)
	}
	thread := root.ConversationID

	// Notify → compose card in the thread.
	n := len(a.bf.Activities())
	a.tmSend("notify", a.tmClick(tmUserAAD, "Test User", root.ActivityID, root.ActivityID, tmButton(t, root.Card(), "Notify stakeholders")))
	compose := a.tmWait(n, http.MethodPost, "Notify stakeholders · INC-1", "executives", "it-ops")
	if compose.ConversationID != thread {
		t.Fatalf("compose card in %s, want the incident thread %s", compose.ConversationID, thread)
	}

	// Preview: the exact SMS, its segments, the counts per channel.
	n = len(a.bf.Activities())
	preview := tmButton(t, compose.Card(), "Preview")
	preview["audiences"], preview["template"], preview["field:next_update"] = "executives,it-ops", "investigating", "15:30 UTC"
	a.tmSend("preview", a.tmClick(tmUserAAD, "Test User", root.ActivityID, compose.ActivityID, preview))
	previewCard := a.tmWait(n, http.MethodPut, "Preview · INC-1")
	for _, want := range []string{tmCheckoutSMS, "1 segment, GSM-7, 100 characters", "2 people: 1 WhatsApp, 1 SMS",
		"the approved template, filled with “Checkout down” and “15:30 UTC”", "needed: another approver must approve"} {
		if !strings.Contains(previewCard.AllText(), want) {
			t.Errorf("preview card lacks %q:\n%s", want, previewCard.AllText())
		}
	}

	// Submit, double-clicked: one approval request.
	n = len(a.bf.Activities())
	submit := tmButton(t, previewCard.Card(), "Request approval")
	for range 2 {
		a.tmSend("submit", a.tmClick(tmUserAAD, "Test User", root.ActivityID, compose.ActivityID, submit))
	}
	approval := a.tmWait(n, http.MethodPost, "Approval needed")
	if approval.ConversationID != thread {
		t.Fatalf("approval request in %s, want the incident thread", approval.ConversationID)
	}
	if got := a.tmCount(http.MethodPost, "Approval needed"); got != 1 {
		t.Fatalf("%d approval requests after a double click, want 1", got)
	}

	// The requester may not approve their own update.
	n = len(a.bf.Activities())
	approve := tmButton(t, approval.Card(), "Approve")
	a.tmSend("self-approval", a.tmClick(tmUserAAD, "Test User", root.ActivityID, approval.ActivityID, approve))
	a.tmWait(n, http.MethodPost, "cannot approve your own")
	if msgs := a.twilio.Messages(); len(msgs) != 0 {
		t.Fatalf("sent on the requester's own approval: %+v", msgs)
	}

	// A second approver approves, and the click arrives twice.
	n = len(a.bf.Activities())
	second := a.tmClick(tmSecondAAD, "Lee Chen", root.ActivityID, approval.ActivityID, approve)
	a.tmSend("approve", second)
	second["id"] = fmt.Sprintf("f:e2e-activity-%d", tmActivitySeq.Add(1)) // a second, separate click
	a.tmSend("approve again", second)
	if edited := a.tmWait(n, http.MethodPut, "Approved by Lee Chen"); edited.ActivityID != approval.ActivityID {
		t.Fatalf("approval outcome edited %s, want the request %s", edited.ActivityID, approval.ActivityID)
	}
	a.eventually("one message per person through Twilio", func() bool { return len(a.twilio.Messages()) >= 2 })
	// The relay reports its progress in the incident thread.
	if progress := a.tmWait(n, http.MethodPost, "INC-1-B1", "2 recipients"); progress.ConversationID != thread {
		t.Fatalf("progress posted in %s, want the incident thread", progress.ConversationID)
	}
	dana, omar := a.twilio.MessagesTo(tmDanaPhone), a.twilio.MessagesTo(tmOmarPhone)
	if len(dana) != 1 || !dana[0].WhatsApp() || dana[0].ContentSID != "HX0000000000000000000000000000000" {
		t.Fatalf("dana got %+v, want one WhatsApp template message", dana)
	}
	if len(omar) != 1 || omar[0].WhatsApp() || omar[0].Body != tmCheckoutSMS {
		t.Fatalf("omar got %+v, want the SMS once", omar)
	}
	if all := a.twilio.Messages(); len(all) != 2 {
		t.Fatalf("%d messages sent, want 2", len(all))
	}

	// herald restarts (a new process: nothing in memory); the stakeholder's
	// reply still lands in the incident's reply chain, proactively, from the
	// conversation reference kept in Redis.
	b := a.restart(tmConfig)
	n = len(b.bf.Activities())
	if code, _ := b.inbound(b.twilio.InboundWhatsApp(tmDanaPhone, strings.TrimPrefix(appWhatsApp, "whatsapp:"), "Dana", "Do customers see errors?")); code != http.StatusOK {
		t.Fatalf("inbound: HTTP %d", code)
	}
	reply := b.tmWait(n, http.MethodPost, "Do customers see errors?", "Dana Weber", "Answer with @herald reply dana") // Teams' syntax, not Slack's
	if reply.ConversationID != thread || reply.Created {
		t.Fatalf("reply posted in %s (new thread %v), want the incident thread %s", reply.ConversationID, reply.Created, thread)
	}

	// The responder answers from Teams; the answer goes out over WhatsApp
	// (her window is open now) and is echoed in the thread.
	n = len(b.bf.Activities())
	b.tmSend("reply", b.tmFixture("channel_message_mention.json", func(act map[string]any) {
		act["text"] = "<at>Chat SDK Demo</at> incident reply dana Yes, some do. Fix by 16:00."
		act["conversation"].(map[string]any)["id"] = thread
	}))
	b.tmWait(n, http.MethodPost, "Test User answered Dana Weber · WhatsApp", "Yes, some do. Fix by 16:00.")
	if got := b.twilio.MessagesTo("whatsapp:" + tmDanaPhone); len(got) != 2 || got[1].Body != "Yes, some do. Fix by 16:00." {
		t.Fatalf("dana's WhatsApp messages: %+v", got)
	}
}

// TestServeTeamsRefusesUnsignedActivities: 401 and no connector call for
// activities without a valid Bot Connector token; triage goes to Teams.
func TestServeTeamsRefusesUnsignedActivities(t *testing.T) {
	t.Parallel()
	a := startTeamsApp(t, tmConfig, false)
	for name, opt := range map[string]botframework.TokenOption{
		"unsigned":             botframework.Unsigned(),
		"signed by a stranger": botframework.SignedByStranger(),
		"for another bot":      botframework.WithAudience("22222222-3333-4444-5555-666666666666"),
		"expired":              botframework.Expired(),
	} {
		if resp := a.activity(a.tmMention("incident new Checkout down --sev 2"), opt); resp.Status != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, resp.Status)
		}
	}
	if acts := a.bf.Activities(); len(acts) != 0 {
		t.Fatalf("herald called the connector %d times for refused activities", len(acts))
	}
	// Nothing was declared: the first real incident is INC-1.
	a.tmDeclare("Checkout down", "INC-1")

	// With Teams the only platform, a stranger's text goes to triage: a new
	// post in the Teams incident channel, the number masked.
	n := len(a.bf.Activities())
	a.inbound(a.twilio.InboundSMS("+4930123456789", appSMSFrom, "who is this?"))
	triage := a.tmWait(n, http.MethodPost, "who is this?")
	if triage.ConversationID != tmChannel || !strings.Contains(triage.AllText(), "+49301*****89") || strings.Contains(triage.AllText(), "+4930123456789") {
		t.Fatalf("triage post in %s shows %q, want the incident channel and the number masked", triage.ConversationID, triage.AllText())
	}
}

// TestServeSlackAndTeamsKeepRepliesOnTheirPlatform: with both platforms
// configured, an incident declared in Slack gets its stakeholders' replies
// in Slack, one declared in Teams in Teams.
func TestServeSlackAndTeamsKeepRepliesOnTheirPlatform(t *testing.T) {
	t.Parallel()
	a := startTeamsApp(t, tmConfig, true)

	if code, _ := a.command("U0RESP1", "C0INCIDENTS", "new Payments slow --sev 3"); code != http.StatusOK {
		t.Fatalf("slash command: HTTP %d", code)
	}
	a.eventually("the Slack root message", func() bool { return len(a.slack.Posts("C0INCIDENTS")) == 1 })
	slackRoot := a.slack.Posts("C0INCIDENTS")[0]
	if !strings.Contains(slackRoot.AllText(), "INC-1") {
		t.Fatalf("Slack root: %s", slackRoot.AllText())
	}
	a.waitDeclared(slackRoot.AllText())
	teamsRoot := a.tmDeclare("Checkout down", "INC-2")
	if got := a.tmCount(http.MethodPost, "INC-1"); got != 0 {
		t.Fatalf("the Slack incident reached Teams %d times", got)
	}

	// Each platform's responder writes to a stakeholder about their incident,
	// which is what the stakeholder's reply is then routed by.
	if code, _ := a.command("U0RESP1", "C0INCIDENTS", "reply INC-1 omar We are looking into slow payments."); code != http.StatusOK {
		t.Fatalf("slash command: HTTP %d", code)
	}
	n := len(a.bf.Activities())
	a.tmSend("reply", a.tmMention("incident reply INC-2 dana We are looking into checkout."))
	a.tmWait(n, http.MethodPost, "answered Dana Weber", "We are looking into checkout.")
	a.threadPost(slackRoot, "answered Omar Haddad")
	a.eventually("both answers sent", func() bool { return len(a.twilio.Messages()) == 2 })

	a.inbound(a.twilio.InboundSMS(tmOmarPhone, appSMSFrom, "Is it card payments only?"))
	a.inbound(a.twilio.InboundWhatsApp(tmDanaPhone, strings.TrimPrefix(appWhatsApp, "whatsapp:"), "Dana", "Which regions?"))

	a.threadPost(slackRoot, "Is it card payments only?")
	reply := a.tmWait(0, http.MethodPost, "Which regions?")
	if reply.ConversationID != teamsRoot.ConversationID {
		t.Fatalf("dana's reply in %s, want INC-2's thread %s", reply.ConversationID, teamsRoot.ConversationID)
	}
	if got := a.tmCount(http.MethodPost, "Is it card payments only?"); got != 0 {
		t.Fatal("omar's reply about the Slack incident went to Teams")
	}
	for _, m := range a.slack.Posts("C0INCIDENTS") {
		if strings.Contains(m.AllText(), "Which regions?") {
			t.Fatal("dana's reply about the Teams incident went to Slack")
		}
	}
}
