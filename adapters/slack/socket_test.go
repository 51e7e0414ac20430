package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// TestSocketModeFeedsTheSameHandlers runs the front end over the fake's
// Socket Mode websocket: a slash command, a compose submission and an event,
// each acknowledged with the payload Slack needs.
func TestSocketModeFeedsTheSameHandlers(t *testing.T) {
	h := newHarness(t)
	h.wf.preview = testPreview()
	api := slack.New(h.slack.BotToken, slack.OptionAPIURL(h.slack.APIURL()), slack.OptionAppLevelToken(h.slack.AppToken))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.fe.RunSocketMode(runCtx, NewSocketClient(api)) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunSocketMode: %v", err)
		}
	}()

	// the fixture envelope as it is: /incident new Database outage
	if err := h.slack.PushRaw(ctx, slackapi.Fixture("socket_mode_slash_command.json")); err != nil {
		t.Fatal(err)
	}
	ack, err := h.slack.WaitAck(ctx, "1d3c79ab-0ffb-41f3-a080-d19e85f53649")
	if err != nil {
		t.Fatal(err)
	}
	var msg slack.Msg
	if err := json.Unmarshal(ack.Payload, &msg); err != nil || msg.ResponseType != "ephemeral" || !strings.Contains(msg.Text, "Declaring *Database outage*") {
		t.Fatalf("ack payload %s (%v)", ack.Payload, err)
	}
	if got := h.wf.waitCall(t, "declare"); got != "declare U111 Database outage 3 C111" {
		t.Fatalf("call %q", got)
	}

	// a compose modal's submission gets its response_action in the ack
	h.command("notify INC-7") // opens the modal (over HTTP: the same front end)
	step1 := h.slack.ViewsOpened()[0]
	state := composeState([]string{"it-ops"}, "investigating", "15:30")
	payload := viewSubmission(step1, state)
	id, err := h.slack.Push(ctx, slackapi.Envelope{Type: "interactive", Payload: payload, AcceptsResponsePayload: true})
	if err != nil {
		t.Fatal(err)
	}
	ack, err = h.slack.WaitAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var resp slack.ViewSubmissionResponse
	if err := json.Unmarshal(ack.Payload, &resp); err != nil || resp.ResponseAction != slack.RAUpdate || resp.View.CallbackID != callbackConfirm {
		t.Fatalf("ack payload %s (%v)", ack.Payload, err)
	}

	// an event is acknowledged without payload and handled once, even when
	// Slack sends it again
	for attempt := range 2 {
		id, err := h.slack.Push(ctx, slackapi.Envelope{Type: "events_api", Payload: slackapi.Fixture("event_message_in_thread.json"), RetryAttempt: attempt})
		if err != nil {
			t.Fatal(err)
		}
		if ack, err := h.slack.WaitAck(ctx, id); err != nil || ack.Payload != nil {
			t.Fatalf("event ack %+v (%v)", ack, err)
		}
	}
	select {
	case m := <-h.threads.got:
		if m.Text != "ping?" || m.Thread.RootID != "1775407823.782829" {
			t.Fatalf("thread message %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("the event never reached the thread watcher")
	}

	// a button click in a thread: acknowledged empty, acted on
	id, err = h.slack.Push(ctx, slackapi.Envelope{Type: "interactive", Payload: blockActions(bot.ActionResolve, "INC-7")})
	if err != nil {
		t.Fatal(err)
	}
	if ack, err := h.slack.WaitAck(ctx, id); err != nil || ack.Payload != nil {
		t.Fatalf("button ack %+v (%v)", ack, err)
	}
	h.wf.waitCall(t, "resolve U00FAKEUSER2 INC-7")

	_ = h.fe.Close(ctx)
	select {
	case m := <-h.threads.got:
		t.Fatalf("the repeated event was handled twice: %+v", m)
	default:
	}
}

func TestSocketModeWithAWrongAppTokenStops(t *testing.T) {
	h := newHarness(t)
	api := slack.New(h.slack.BotToken, slack.OptionAPIURL(h.slack.APIURL()), slack.OptionAppLevelToken("xapp-wrong"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := h.fe.RunSocketMode(ctx, NewSocketClient(api))
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("err %v, want invalid_auth", err)
	}
}
