package slack

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

func testPreview() workflow.Preview {
	return workflow.Preview{
		Incident:         bot.Incident{ID: "INC-7", Title: "Database outage"},
		SMSBody:          "[SEV2] Database outage: we are investigating. Next update 15:30 UTC <soon>.",
		SMS:              bot.SMSInfo{Encoding: "GSM-7", Characters: 76, Units: 76, Segments: 1},
		BodiesByLocale:   map[string]string{"de": "[SEV2] Database outage: wir untersuchen."},
		WhatsAppTemplate: "HX0000000000000000000000000000000",
		WhatsAppVars:     map[string]string{"1": "Database outage"},
		PerChannel:       map[bot.Channel]int{bot.ChannelSMS: 1, bot.ChannelWhatsApp: 1},
		FreeFormWhatsApp: 1,
		OptedOut:         1,
		Total:            2,
		ApprovalRequired: true,
	}
}

// chooseTemplate is the block_actions Slack sends when the template select
// (dispatch_action) changes inside the compose modal.
func chooseTemplate(view slackapi.View, template string) []byte {
	m := fixtureJSON("block_actions.json")
	delete(m, "channel")
	delete(m, "message")
	m["container"] = map[string]any{"type": "view", "view_id": view.ID}
	var v map[string]any
	_ = json.Unmarshal(view.Raw, &v)
	v["id"], v["hash"] = view.ID, view.Hash
	v["state"] = map[string]any{"values": map[string]any{}}
	m["view"] = v
	m["actions"] = []any{map[string]any{
		"type": "static_select", "action_id": blockTemplate, "block_id": blockTemplate,
		"selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": template}, "value": template},
		"action_ts":       "1769220166.113300",
	}}
	b, _ := json.Marshal(m)
	return b
}

func composeState(audiences []string, template, nextUpdate string) map[string]map[string]any {
	var opts []any
	for _, a := range audiences {
		opts = append(opts, map[string]any{"text": map[string]any{"type": "plain_text", "text": a}, "value": a})
	}
	return map[string]map[string]any{
		blockAudiences: {blockAudiences: map[string]any{"type": "multi_static_select", "selected_options": opts}},
		blockTemplate: {blockTemplate: map[string]any{"type": "static_select",
			"selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": template}, "value": template}}},
		fieldPrefix + "next_update": {actionValue: map[string]any{"type": "plain_text_input", "value": nextUpdate}},
		blockNote:                   {actionValue: map[string]any{"type": "plain_text_input", "value": nil}},
	}
}

func decodeSubmissionResponse(t *testing.T, body string) slack.ViewSubmissionResponse {
	t.Helper()
	var resp slack.ViewSubmissionResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	return resp
}

// responseView turns a response_action update into the view Slack would now
// show, for the next submission.
func responseView(t *testing.T, body string, id string) slackapi.View {
	t.Helper()
	var raw struct {
		View json.RawMessage `json:"view"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil || raw.View == nil {
		t.Fatalf("no view in %q", body)
	}
	return slackapi.View{ID: id, Hash: "h-" + id, Raw: raw.View}
}

func TestComposeFlow(t *testing.T) {
	h := newHarness(t)
	h.wf.preview = testPreview()

	// given /incident notify INC-7: the modal opens at once, no message
	if ack := h.command("notify INC-7"); ack != "" {
		t.Fatalf("ack %q, want none", ack)
	}
	opened := h.slack.ViewsOpened()
	if len(opened) != 1 || opened[0].TriggerID != "10520020890661.10229338706656.2e2188a074adf3bf9f8456b30180f405" {
		t.Fatalf("opened %+v", opened)
	}
	step1 := opened[0]
	text := step1.AllText()
	for _, want := range []string{"executives · 1 person · approval", "it-ops · 2 people", "investigating", "resolved", textChooseTemplate, "INC-7"} {
		if !strings.Contains(text, want) {
			t.Errorf("compose modal lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Next update") {
		t.Error("fields shown before a template is chosen")
	}

	// when the responder picks a template, the modal grows its fields
	if code, _ := h.interact(chooseTemplate(step1, "investigating")); code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	upd, err := h.slack.WaitForMethod(h.ctx(), "views.update", 1)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Params.Get("view_id") != step1.ID || upd.Params.Get("hash") != step1.Hash {
		t.Fatalf("views.update of %q hash %q, want %q %q", upd.Params.Get("view_id"), upd.Params.Get("hash"), step1.ID, step1.Hash)
	}
	step1, _ = h.slack.View(step1.ID)
	if !strings.Contains(step1.AllText(), "Next update") || !strings.Contains(step1.AllText(), textNoteLabel) {
		t.Fatalf("template fields not shown:\n%s", step1.AllText())
	}

	// and submits: the preview replaces the form
	code, body := h.interact(viewSubmission(step1, composeState([]string{"executives", "it-ops"}, "investigating", "15:30 UTC")))
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	if got := h.wf.waitCall(t, "preview"); got != "preview U00FAKEUSER2 INC-7 investigating executives,it-ops" {
		t.Fatalf("call %q", got)
	}
	resp := decodeSubmissionResponse(t, body)
	if resp.ResponseAction != slack.RAUpdate || resp.View == nil || resp.View.CallbackID != callbackConfirm {
		t.Fatalf("response %+v", resp)
	}
	step2 := responseView(t, body, "V-step2")
	preview := step2.AllText()
	for _, want := range []string{
		"[SEV2] Database outage: we are investigating. Next update 15:30 UTC <soon>.", // exactly, in plain_text
		"1 segment, GSM-7, 76 characters",
		"wir untersuchen",
		"*WhatsApp:* the SMS text above (everyone wrote to herald within 24 hours)",
		"*Opted out (skipped)*\n1", "*Total*\n2 people",
		"an approver other than you must approve", textRequestButton,
	} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %q:\n%s", want, preview)
		}
	}
	if strings.Contains(preview, "HX0000") || strings.Contains(preview, "free-form") {
		t.Errorf("preview shows a template id or jargon instead of what phones show:\n%s", preview)
	}

	// then confirming sends the exact draft
	code, body = h.interact(viewSubmission(step2, nil))
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	h.wf.waitCall(t, "submit U00FAKEUSER2 INC-7")
	d := h.wf.submitted[0]
	if d.Template != "investigating" || strings.Join(d.Audiences, ",") != "executives,it-ops" || d.Fields["next_update"] != "15:30 UTC" || d.Note != "" {
		t.Fatalf("submitted %+v", d)
	}
	resp = decodeSubmissionResponse(t, body)
	if resp.ResponseAction != slack.RAUpdate || !strings.Contains(responseView(t, body, "V-done").AllText(), "B-7-1 is on its way to 2 people") {
		t.Fatalf("final response %s", body)
	}
	h.noErrors()
}

func TestComposeProblemsGoOnTheInputs(t *testing.T) {
	h := newHarness(t)
	h.wf.previewFn = func(d bot.Draft) (workflow.Preview, error) {
		if d.Template == "resolved" {
			return workflow.Preview{}, &bot.ValidationError{Problems: map[string]string{"audiences": "choose at least one audience"}}
		}
		return workflow.Preview{Problems: map[string]string{
			"field:next_update": "next_update is empty",
			"sms":               "the SMS would be 4 segments (at most 3)", // no input for it
		}}, nil
	}
	h.command("notify INC-7")
	step1 := h.slack.ViewsOpened()[0]
	h.interact(chooseTemplate(step1, "investigating"))
	if _, err := h.slack.WaitForMethod(h.ctx(), "views.update", 1); err != nil {
		t.Fatal(err)
	}
	step1, _ = h.slack.View(step1.ID)

	_, body := h.interact(viewSubmission(step1, composeState([]string{"it-ops"}, "investigating", "")))
	resp := decodeSubmissionResponse(t, body)
	if resp.ResponseAction != slack.RAErrors {
		t.Fatalf("response %s", body)
	}
	want := map[string]string{
		"field:next_update": "next_update is empty",
		blockAudiences:      "the SMS would be 4 segments (at most 3)",
	}
	if len(resp.Errors) != len(want) {
		t.Fatalf("errors %v, want %v", resp.Errors, want)
	}
	for k, v := range want {
		if resp.Errors[k] != v {
			t.Fatalf("errors %v, want %v", resp.Errors, want)
		}
	}

	_, body = h.interact(viewSubmission(step1, composeState(nil, "resolved", "")))
	if resp := decodeSubmissionResponse(t, body); resp.Errors[blockAudiences] != "choose at least one audience" {
		t.Fatalf("response %s", body)
	}
}

func TestConfirmProblemsGoBackToTheForm(t *testing.T) {
	h := newHarness(t)
	h.wf.preview = testPreview()
	h.wf.submitErr = &bot.ValidationError{Problems: map[string]string{"audiences": "executives was removed from the config"}}
	h.command("notify INC-7")
	step1 := h.slack.ViewsOpened()[0]
	h.interact(chooseTemplate(step1, "investigating"))
	if _, err := h.slack.WaitForMethod(h.ctx(), "views.update", 1); err != nil {
		t.Fatal(err)
	}
	step1, _ = h.slack.View(step1.ID)
	_, body := h.interact(viewSubmission(step1, composeState([]string{"executives"}, "investigating", "15:30")))
	step2 := responseView(t, body, "V-step2")

	_, body = h.interact(viewSubmission(step2, nil))
	resp := decodeSubmissionResponse(t, body)
	if resp.ResponseAction != slack.RAUpdate || resp.View.CallbackID != callbackCompose {
		t.Fatalf("response %s", body)
	}
	back := responseView(t, body, "V-back")
	if txt := back.AllText(); !strings.Contains(txt, "executives was removed from the config") {
		t.Fatalf("problems not shown:\n%s", txt)
	}
	// what was entered is still there
	if !strings.Contains(string(back.Raw), `"initial_value":"15:30"`) || !strings.Contains(string(back.Raw), `"initial_options":[{"text":{"type":"plain_text","text":"executives · 1 person · approval","emoji":false},"value":"executives"}]`) {
		t.Fatalf("draft not pre-filled: %s", back.Raw)
	}
}

func TestSlowSubmitAnswersInTimeAndReportsLater(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Budget = 100 * time.Millisecond })
	h.wf.preview = testPreview()
	h.command("notify INC-7")
	step1 := h.slack.ViewsOpened()[0]
	h.interact(chooseTemplate(step1, "investigating"))
	if _, err := h.slack.WaitForMethod(h.ctx(), "views.update", 1); err != nil {
		t.Fatal(err)
	}
	step1, _ = h.slack.View(step1.ID)
	_, body := h.interact(viewSubmission(step1, composeState([]string{"it-ops"}, "investigating", "15:30")))
	step2 := responseView(t, body, "V-step2")

	h.wf.block = make(chan struct{})
	_, body = h.interact(viewSubmission(step2, nil))
	if !strings.Contains(responseView(t, body, "V-slow").AllText(), textSlow) {
		t.Fatalf("response %s", body)
	}
	close(h.wf.block) // the service finishes after the modal was answered
	c, err := h.slack.WaitFor(h.ctx(), func(c slackapi.Call) bool { return c.Method == "chat.postEphemeral" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Params.Get("channel") != "C00FAKECHAN3" || !strings.Contains(c.Params.Get("text"), "B-7-1 is on its way") {
		t.Fatalf("later report %v", c.Params)
	}
}

func TestNotifyButtonOpensTheModal(t *testing.T) {
	h := newHarness(t)
	if code, _ := h.interact(blockActions(bot.ActionNotify, "INC-9")); code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	opened := h.slack.ViewsOpened()
	if len(opened) != 1 || opened[0].TriggerID != "10367455086084.10229338706656.e675a0c0dacc24a1f7b84a7a426d1197" {
		t.Fatalf("opened %+v", opened)
	}
	meta, err := decodeMeta(opened[0].Request.PrivateMetadata)
	if err != nil || meta.Incident != "INC-9" || meta.Channel != "C00FAKECHAN2" {
		t.Fatalf("metadata %+v %v", meta, err)
	}
}

func TestInputErrors(t *testing.T) {
	view := slack.View{Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewInputBlock("audiences", plain("a"), nil, slack.NewPlainTextInputBlockElement(nil, "value")),
		slack.NewInputBlock("note", plain("n"), nil, slack.NewPlainTextInputBlockElement(nil, "value")),
		slack.NewSectionBlock(mrkdwn("x"), nil, nil),
	}}}
	tests := []struct {
		name     string
		problems map[string]string
		want     map[string]string
	}{
		{"on their inputs", map[string]string{"note": "too long"}, map[string]string{"note": "too long"}},
		{"stray ones join the fallback", map[string]string{"audiences": "none", "sms": "4 segments", "template": "unknown"},
			map[string]string{"audiences": "none 4 segments unknown"}},
		{"nothing", nil, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inputErrors(view, tt.problems, "audiences")
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}
