package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"gopkg.in/yaml.v3"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/replies"
	"github.com/heraldops/herald/bot/thread"
	"github.com/heraldops/herald/bot/workflow"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// The fixture's user (U00FAKEUSER2) and channel are who uses the shortcut
// and where.
const (
	actionUser    = "U00FAKEUSER2"
	actionChannel = "C00FAKECHAN2"
)

// answerCall is one Replier.Answer call.
type answerCall struct {
	By, Incident, Who, Text string
}

// recordingReplier is bot.Replies as the front end sees it.
type recordingReplier struct {
	mu    sync.Mutex
	calls []answerCall
	err   error
}

func (r *recordingReplier) Answer(_ context.Context, by bot.Actor, inc bot.Incident, who, text string) (bot.Recipient, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, answerCall{by.ID, inc.ID, who, text})
	if r.err != nil {
		return bot.Recipient{}, r.err
	}
	names := map[string]string{"dana": "Dana Weber", "omar": "Omar Haddad"}
	return bot.Recipient{ID: who, Name: names[who]}, nil
}

func (r *recordingReplier) Calls() []answerCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]answerCall(nil), r.calls...)
}

// actionWorld is the front end with a Replier, an incident whose thread is
// in the fake Slack, and herald's Chat posting into that thread.
type actionWorld struct {
	*harness
	rep  *recordingReplier
	chat *Chat
	inc  bot.Incident
}

func newActionWorld(t *testing.T) *actionWorld {
	t.Helper()
	w := &actionWorld{rep: &recordingReplier{}}
	w.harness = newHarness(t, func(c *Config) {
		c.Replier = w.rep
		c.IsResponder = func(by bot.Actor) bool { return by.ID == actionUser }
	})
	w.chat = NewChat(w.slack.Client(), ChatOptions{PostsPerSecond: 1000}) // pacing has its own test
	th, err := w.chat.PostRoot(w.ctx(), actionChannel, workflow.RootMessage(bot.Incident{ID: "INC-7", Title: "Database outage", Severity: 2, State: bot.IncidentOpen}))
	if err != nil {
		t.Fatal(err)
	}
	w.inc = bot.Incident{ID: "INC-7", Title: "Database outage", State: bot.IncidentOpen, Thread: th}
	w.wf.open = []bot.Incident{{ID: "INC-3", Thread: bot.ThreadRef{Platform: bot.PlatformSlack, Channel: actionChannel, RootID: "1.000001"}}, w.inc}
	return w
}

// post posts m into the incident thread (or, with th given, there) as herald
// would, and returns the message as Slack keeps it.
func (w *actionWorld) post(m bot.Message, th ...bot.ThreadRef) slackapi.Message {
	w.t.Helper()
	thread := w.inc.Thread
	if len(th) > 0 {
		thread = th[0]
	}
	ref, err := w.chat.Post(w.ctx(), thread, m)
	if err != nil {
		w.t.Fatal(err)
	}
	msg, ok := w.slack.Message(thread.Channel, ref.ID)
	if !ok {
		w.t.Fatalf("posted message %s not in the fake", ref.ID)
	}
	return msg
}

// messageAction is the message_action payload Slack sends when user uses a
// message shortcut on m: the shape of the block_actions fixture (user,
// channel, team, trigger_id, response_url, message), with
// type message_action, callback_id and message_ts instead of actions.
func messageAction(t *testing.T, callbackID, user string, m slackapi.Message) []byte {
	t.Helper()
	p := fixtureJSON("block_actions.json")
	for _, k := range []string{"actions", "container", "state"} {
		delete(p, k)
	}
	p["type"], p["callback_id"], p["message_ts"], p["action_ts"] = "message_action", callbackID, m.TS, "1769220166.113300"
	p["trigger_id"] = "10367455086084.10229338706656." + strings.ReplaceAll(m.TS, ".", "")
	p["user"].(map[string]any)["id"] = user
	p["channel"].(map[string]any)["id"] = m.Channel
	msg := map[string]any{
		"type": "message", "subtype": "bot_message", "user": slackapi.DefaultBotUserID, "bot_id": slackapi.DefaultBotID,
		"ts": m.TS, "text": m.Text, "blocks": json.RawMessage(m.RawBlocks),
	}
	if m.ThreadTS != "" {
		msg["thread_ts"] = m.ThreadTS
	}
	p["message"] = msg
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *actionWorld) use(user string, m slackapi.Message) {
	w.t.Helper()
	if code, body := w.interact(messageAction(w.t, CallbackReplyToStakeholder, user, m)); code != http.StatusOK || body != "" {
		w.t.Fatalf("message action answered HTTP %d %q, want an empty 200", code, body)
	}
}

// ephemeralTo waits for the ephemeral message user is shown.
func (w *actionWorld) ephemeralTo(user string) string {
	w.t.Helper()
	c, err := w.slack.WaitFor(w.ctx(), func(c slackapi.Call) bool {
		return c.Method == "chat.postEphemeral" && c.Params.Get("user") == user
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return c.Params.Get("text")
}

func (w *actionWorld) submit(view slackapi.View, who, text string) slack.ViewSubmissionResponse {
	w.t.Helper()
	state := map[string]map[string]any{blockAnswer: {actionValue: map[string]any{"type": "plain_text_input", "value": text}}}
	if who != "" {
		state[blockWho] = map[string]any{blockWho: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": who}}}
	}
	code, body := w.interact(viewSubmission(view, state))
	if code != http.StatusOK {
		w.t.Fatalf("submit: HTTP %d %s", code, body)
	}
	var resp slack.ViewSubmissionResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		w.t.Fatalf("submit answered %q: %v", body, err)
	}
	return resp
}

func danaReply(body string) bot.Reply {
	return bot.Reply{
		Inbound:     bot.Inbound{MessageSID: "SM1", From: "+4915100000001", Channel: bot.ChannelWhatsApp, Body: body, ReceivedAt: time.Now()},
		IncidentID:  "INC-7",
		RecipientID: "dana", Name: "Dana Weber", Audiences: []string{"executives"},
	}
}

func TestReplyToStakeholderAnswersTheReplyInItsThread(t *testing.T) {
	w := newActionWorld(t)
	post := w.post(replies.ReplyMessage(bot.PlatformSlack, danaReply("Do customers see errors? & when is it fixed?")))

	w.use(actionUser, post)
	opened := w.slack.ViewsOpened()
	if len(opened) != 1 || opened[0].Request.CallbackID != callbackAnswer {
		t.Fatalf("views opened: %+v", opened)
	}
	view := opened[0]
	var meta answerMeta
	if err := json.Unmarshal([]byte(view.Request.PrivateMetadata), &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Incident != "INC-7" || !slices.Equal(meta.Who, []string{"dana"}) || meta.Channel != actionChannel {
		t.Fatalf("modal metadata %+v, want INC-7, dana, the channel", meta)
	}
	if txt := view.AllText(); !strings.Contains(txt, "Answer *Dana Weber* about *INC-7*") || strings.Contains(txt, textWhoLabel) {
		t.Fatalf("modal shows:\n%s", txt)
	}

	// Empty: nothing is sent, the input says why.
	if resp := w.submit(view, "", "   "); resp.ResponseAction != slack.RAErrors || resp.Errors[blockAnswer] != textAnswerEmpty {
		t.Fatalf("empty answer: %+v", resp)
	}
	resp := w.submit(view, "", "Yes, checkout fails for some. Fix expected by 16:00.")
	if resp.ResponseAction != slack.RAUpdate || !strings.Contains(viewText(t, resp.View), "Answer sent to Dana Weber.") {
		t.Fatalf("submit: %+v", resp)
	}
	want := []answerCall{{actionUser, "INC-7", "dana", "Yes, checkout fails for some. Fix expected by 16:00."}}
	if got := w.rep.Calls(); !slices.Equal(got, want) {
		t.Fatalf("answers %+v, want %+v", got, want)
	}
	w.noErrors()
}

func viewText(t *testing.T, v *slack.ModalViewRequest) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReplyToStakeholderOnADigestAsksWhom(t *testing.T) {
	w := newActionWorld(t)
	omar := bot.Reply{
		Inbound:     bot.Inbound{MessageSID: "SM2", From: "+14155550101", Channel: bot.ChannelSMS, Body: "ok thanks", ReceivedAt: time.Now()},
		IncidentID:  "INC-7",
		RecipientID: "omar", Name: "Omar Haddad", Audiences: []string{"it-ops"},
	}
	// Two replies that arrived together are posted as one digest.
	digest := thread.Digest([]bot.OutboxItem{
		{ID: "reply:SM1", Kind: "reply", Message: replies.ReplyMessage(bot.PlatformSlack, danaReply("Any news?"))},
		{ID: "reply:SM2", Kind: "reply", Message: replies.ReplyMessage(bot.PlatformSlack, omar)},
	})
	w.use(actionUser, w.post(digest))
	view := w.slack.ViewsOpened()[0]
	if txt := view.AllText(); !strings.Contains(txt, "Dana Weber") || !strings.Contains(txt, "Omar Haddad") || !strings.Contains(txt, textWhoLabel) {
		t.Fatalf("modal of a digest shows:\n%s", txt)
	}
	if resp := w.submit(view, "", "hello"); resp.ResponseAction != slack.RAErrors || resp.Errors[blockWho] == "" {
		t.Fatalf("nobody chosen: %+v", resp)
	}
	if resp := w.submit(view, "lena", "hello"); resp.ResponseAction != slack.RAErrors || resp.Errors[blockWho] == "" {
		t.Fatalf("someone not in the post chosen: %+v", resp)
	}
	w.submit(view, "omar", "Thanks Omar, we will call.")
	if got := w.rep.Calls(); len(got) != 1 || got[0].Who != "omar" || got[0].Incident != "INC-7" {
		t.Fatalf("answers %+v, want one to omar about INC-7", got)
	}
}

func TestReplyToStakeholderRefusals(t *testing.T) {
	t.Run("someone who is not a responder", func(t *testing.T) {
		w := newActionWorld(t)
		w.use("U0STRANGER", w.post(replies.ReplyMessage(bot.PlatformSlack, danaReply("Any news?"))))
		if got := w.ephemeralTo("U0STRANGER"); !strings.Contains(got, "only a responder may answer a stakeholder") {
			t.Fatalf("told %q", got)
		}
		if len(w.slack.ViewsOpened()) != 0 {
			t.Fatal("a modal opened for a non-responder")
		}
	})
	t.Run("a message that is not a stakeholder reply", func(t *testing.T) {
		w := newActionWorld(t)
		w.use(actionUser, w.post(bot.Message{Title: "Approved by Lee", Text: "INC-7-B1 is on its way."}))
		if got := w.ephemeralTo(actionUser); !strings.Contains(got, "This message is not one") {
			t.Fatalf("told %q", got)
		}
		if len(w.slack.ViewsOpened()) != 0 {
			t.Fatal("a modal opened on a message that is no reply")
		}
	})
	t.Run("a reply in triage, outside any incident", func(t *testing.T) {
		w := newActionWorld(t)
		rep := danaReply("Hello?")
		rep.IncidentID = ""
		w.use(actionUser, w.post(replies.ReplyMessage(bot.PlatformSlack, rep), bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0TRIAGE"}))
		if got := w.ephemeralTo(actionUser); !strings.Contains(got, "not in an incident thread") || !strings.Contains(got, "/incident reply INC-n dana &lt;text&gt;") {
			t.Fatalf("told %q", got)
		}
	})
	t.Run("the Replier refuses on submit", func(t *testing.T) {
		w := newActionWorld(t)
		w.use(actionUser, w.post(replies.ReplyMessage(bot.PlatformSlack, danaReply("Any news?"))))
		w.rep.err = &bot.ValidationError{Problems: map[string]string{"who": `no stakeholder called "dana"`}}
		resp := w.submit(w.slack.ViewsOpened()[0], "", "hello")
		if resp.ResponseAction != slack.RAErrors || !strings.Contains(resp.Errors[blockAnswer], `no stakeholder called "dana"`) {
			t.Fatalf("refusal: %+v", resp)
		}
	})
	t.Run("another shortcut is none of herald's business", func(t *testing.T) {
		w := newActionWorld(t)
		w.interact(messageAction(t, "someone_elses_shortcut", actionUser, w.post(replies.ReplyMessage(bot.PlatformSlack, danaReply("x")))))
		_ = w.fe.Close(context.Background())
		if len(w.slack.ViewsOpened()) != 0 || len(w.slack.Ephemerals()) != 0 {
			t.Fatal("herald reacted to another shortcut")
		}
	})
}

func TestStakeholdersIn(t *testing.T) {
	dana := replies.ReplyMessage(bot.PlatformSlack, danaReply("Any news?"))
	// A stakeholder types the hint into their reply to get someone else
	// answered: only the post's own hint counts.
	spoof := replies.ReplyMessage(bot.PlatformSlack, danaReply("Answer with /incident reply omar <text>\nAnswer with /incident reply omar <text>"))
	routed := danaReply("re INC-7")
	routed.OtherCandidates = []string{"INC-3"}
	stranger := replies.ReplyMessage(bot.PlatformSlack, bot.Reply{Inbound: bot.Inbound{From: "+4930123456789", Channel: bot.ChannelSMS, Body: "who is this?"}})
	cases := []struct {
		name string
		m    bot.Message
		want []string
	}{
		{"a reply", dana, []string{"dana"}},
		{"a reply routed among several incidents", replies.ReplyMessage(bot.PlatformSlack, routed), []string{"dana"}},
		{"a reply quoting the hint", spoof, []string{"dana"}},
		{"a stranger (not in the directory)", stranger, nil},
		{"a digest of the same person twice", thread.Digest([]bot.OutboxItem{{Message: dana}, {Message: dana}}), []string{"dana"}},
		{"a root message", workflow.RootMessage(bot.Incident{ID: "INC-7", Title: "Checkout down", Severity: 2}), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// As Slack hands the message back: the posted text and blocks.
			posted := slack.Message{Msg: slack.Msg{Text: FallbackText(tc.m), Blocks: slack.Blocks{BlockSet: Render(tc.m)}}}
			if got := StakeholdersIn(posted); !slices.Equal(got, tc.want) {
				t.Errorf("from the text: %v, want %v", got, tc.want)
			}
			posted.Text = ""
			if got := StakeholdersIn(posted); !slices.Equal(got, tc.want) && !strings.Contains(tc.name, "digest") {
				t.Errorf("from the blocks: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAppManifestHasTheReplyShortcut keeps the manifest's message shortcut
// in step with the callback id the front end answers to.
func TestAppManifestHasTheReplyShortcut(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			Shortcuts []struct {
				Name        string `yaml:"name"`
				Type        string `yaml:"type"`
				CallbackID  string `yaml:"callback_id"`
				Description string `yaml:"description"`
			} `yaml:"shortcuts"`
		} `yaml:"features"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Features.Shortcuts {
		if s.CallbackID == CallbackReplyToStakeholder {
			if s.Type != "message" || s.Name != textAnswerTitle || s.Description == "" || len(s.Description) > 150 {
				t.Fatalf("shortcut %+v: want a message shortcut named %q with a short description", s, textAnswerTitle)
			}
			return
		}
	}
	t.Fatalf("the manifest has no shortcut with callback_id %s: %+v", CallbackReplyToStakeholder, m.Features.Shortcuts)
}
