package slackapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/heraldops/herald/internal/fakes/slackapi"
)

func newFake(t *testing.T, opts ...slackapi.Option) *slackapi.Server {
	t.Helper()
	s := slackapi.New(opts...)
	t.Cleanup(s.Close)
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPostMessageThreadAndUpdate(t *testing.T) {
	fake := newFake(t)
	api := fake.Client()
	ctx := ctxT(t)

	// given a root message with blocks
	header := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "INC-1 Database outage", false, false))
	ch, rootTS, err := api.PostMessageContext(ctx, "C0INCIDENTS", slack.MsgOptionText("INC-1", false), slack.MsgOptionBlocks(header))
	if err != nil {
		t.Fatalf("posting root: %v", err)
	}
	if ch != "C0INCIDENTS" || rootTS != "1700000000.000100" {
		t.Fatalf("got channel %q ts %q, want C0INCIDENTS 1700000000.000100", ch, rootTS)
	}
	// when a reply goes into its thread and the reply is edited
	_, replyTS, err := api.PostMessageContext(ctx, "C0INCIDENTS", slack.MsgOptionText("progress: queued", false), slack.MsgOptionTS(rootTS))
	if err != nil {
		t.Fatalf("posting reply: %v", err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C0INCIDENTS", replyTS, slack.MsgOptionText("progress: delivered", false)); err != nil {
		t.Fatalf("updating: %v", err)
	}

	// then the thread holds the edited reply and the root keeps its blocks
	thread := fake.ThreadPosts("C0INCIDENTS", rootTS)
	if len(thread) != 1 || thread[0].Text != "progress: delivered" || thread[0].Edits != 1 {
		t.Fatalf("thread = %+v, want one edited reply", thread)
	}
	root, _ := fake.Message("C0INCIDENTS", rootTS)
	if len(root.Blocks) != 1 || !strings.Contains(root.AllText(), "INC-1 Database outage") {
		t.Fatalf("root blocks = %s", root.RawBlocks)
	}
	if got := len(fake.Updates()); got != 1 {
		t.Fatalf("Updates() = %d, want 1", got)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C0INCIDENTS", "1.2", slack.MsgOptionText("x", false)); err == nil || err.Error() != "message_not_found" {
		t.Fatalf("updating a missing message: err = %v, want message_not_found", err)
	}
}

func TestPostMessageAsJSON(t *testing.T) {
	fake := newFake(t)
	body := `{"channel":"C0JSON","text":"hello","thread_ts":"1700000000.000100","blocks":[{"type":"divider"}]}`
	req, _ := http.NewRequest(http.MethodPost, fake.APIURL()+"chat.postMessage", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+fake.BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("answer ok=%v err=%v", out.OK, err)
	}
	posts := fake.Posts("C0JSON")
	if len(posts) != 1 || posts[0].ThreadTS != "1700000000.000100" || len(posts[0].Blocks) != 1 {
		t.Fatalf("posts = %+v", posts)
	}
}

func TestErrors(t *testing.T) {
	fake := newFake(t, slackapi.WithStrictChannels())
	fake.AddChannel(slackapi.Channel{ID: "C0OK", Name: "ok"})
	fake.AddChannel(slackapi.Channel{ID: "C0PRIVATE", Name: "private", Private: true, NotInChannel: true})
	ctx := ctxT(t)

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"wrong token", func() error {
			_, _, err := slack.New("xoxb-wrong", slack.OptionAPIURL(fake.APIURL())).PostMessageContext(ctx, "C0OK", slack.MsgOptionText("x", false))
			return err
		}, "invalid_auth"},
		{"unknown channel", func() error {
			_, _, err := fake.Client().PostMessageContext(ctx, "C0NOPE", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"bot not in channel", func() error {
			_, _, err := fake.Client().PostMessageContext(ctx, "C0PRIVATE", slack.MsgOptionText("x", false))
			return err
		}, "not_in_channel"},
		{"expired trigger", func() error {
			fake.ExpireTrigger("123.456.abc")
			_, err := fake.Client().OpenViewContext(ctx, "123.456.abc", slack.ModalViewRequest{Type: slack.VTModal})
			return err
		}, "expired_trigger_id"},
		{"injected error", func() error {
			fake.FailNext("chat.postMessage", "internal_error", 1)
			_, _, err := fake.Client().PostMessageContext(ctx, "C0OK", slack.MsgOptionText("x", false))
			return err
		}, "internal_error"},
		{"unknown user", func() error {
			_, err := fake.Client().GetUserInfoContext(ctx, "U0NOBODY")
			return err
		}, "user_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
	if n := len(fake.Posts("C0OK")); n != 0 {
		t.Fatalf("failed calls posted %d messages", n)
	}
	// the injected failure was used up: the next post works
	if _, _, err := fake.Client().PostMessageContext(ctx, "C0OK", slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("post after injected failure: %v", err)
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("injected 429 carries Retry-After", func(t *testing.T) {
		fake := newFake(t)
		fake.RateLimitNext("chat.postMessage", 3*time.Second, 1)
		_, _, err := fake.Client().PostMessageContext(ctxT(t), "C0RL", slack.MsgOptionText("x", false))
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
			t.Fatalf("err = %v, want RateLimitedError 3s", err)
		}
	})
	t.Run("per-channel rate is enforced", func(t *testing.T) {
		fake := newFake(t, slackapi.WithChannelRate(1, 2))
		api, ctx := fake.Client(), ctxT(t)
		var limited int
		for range 4 {
			_, _, err := api.PostMessageContext(ctx, "C0BURST", slack.MsgOptionText("x", false))
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) {
				limited++
				if rl.RetryAfter < time.Second {
					t.Fatalf("Retry-After %v, want at least 1s", rl.RetryAfter)
				}
			} else if err != nil {
				t.Fatal(err)
			}
		}
		// the burst of 2 went through, the rest was refused, other channels unaffected
		if limited != 2 || fake.RateLimited() != 2 || len(fake.Posts("C0BURST")) != 2 {
			t.Fatalf("limited %d, RateLimited() %d, posts %d; want 2, 2, 2", limited, fake.RateLimited(), len(fake.Posts("C0BURST")))
		}
		if _, _, err := api.PostMessageContext(ctx, "C0OTHER", slack.MsgOptionText("x", false)); err != nil {
			t.Fatalf("other channel: %v", err)
		}
	})
}

func TestOutages(t *testing.T) {
	t.Run("unavailable answers 503 until it ends", func(t *testing.T) {
		fake := newFake(t)
		fake.SetOutage(slackapi.OutageUnavailable)
		_, _, err := fake.Client().PostMessageContext(ctxT(t), "C0X", slack.MsgOptionText("x", false))
		var sc slack.StatusCodeError
		if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
			t.Fatalf("err = %v, want StatusCodeError 503", err)
		}
		fake.SetOutage(slackapi.OutageNone)
		if _, _, err := fake.Client().PostMessageContext(ctxT(t), "C0X", slack.MsgOptionText("x", false)); err != nil {
			t.Fatalf("after the outage: %v", err)
		}
	})
	t.Run("hang until the client times out", func(t *testing.T) {
		fake := newFake(t)
		fake.SetOutage(slackapi.OutageHang)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, _, err := fake.Client().PostMessageContext(ctx, "C0X", slack.MsgOptionText("x", false))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if len(fake.Posts("C0X")) != 0 {
			t.Fatal("a hung call posted")
		}
	})
	t.Run("outage for a period ends by itself", func(t *testing.T) {
		fake := newFake(t)
		fake.OutageFor(slackapi.OutageUnavailable, 100*time.Millisecond)
		ctx := ctxT(t)
		for {
			_, _, err := fake.Client().PostMessageContext(ctx, "C0X", slack.MsgOptionText("x", false))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("outage never ended: %v", err)
			}
			time.Sleep(20 * time.Millisecond) // polling the fake, not synchronising
		}
		if got := fake.Calls("chat.postMessage"); got[0].Status != http.StatusServiceUnavailable {
			t.Fatalf("first call status %d, want 503", got[0].Status)
		}
	})
}

func TestViews(t *testing.T) {
	fake := newFake(t)
	api, ctx := fake.Client(), ctxT(t)
	modal := slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: "compose", PrivateMetadata: "INC-1",
		Title:  slack.NewTextBlockObject(slack.PlainTextType, "Notify stakeholders", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}},
	}
	opened, err := api.OpenViewContext(ctx, "trigger-1", modal)
	if err != nil {
		t.Fatal(err)
	}
	if opened.ID == "" || opened.Hash == "" || opened.CallbackID != "compose" || opened.PrivateMetadata != "INC-1" {
		t.Fatalf("opened view = %+v", opened.View)
	}
	modal.Title = slack.NewTextBlockObject(slack.PlainTextType, "Preview", false, false)
	if _, err := api.UpdateViewContext(ctx, modal, "", "stale-hash", opened.ID); err == nil || err.Error() != "hash_conflict" {
		t.Fatalf("update with stale hash: %v, want hash_conflict", err)
	}
	if _, err := api.UpdateViewContext(ctx, modal, "", opened.Hash, opened.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PushViewContext(ctx, "trigger-2", modal); err != nil {
		t.Fatal(err)
	}
	now, _ := fake.View(opened.ID)
	if now.Request.Title.Text != "Preview" || !strings.Contains(now.AllText(), "Preview") {
		t.Fatalf("view after update: %+v", now.Request.Title)
	}
	if got := fake.ViewsOpened(); len(got) != 1 || got[0].Request.Title.Text != "Notify stakeholders" || got[0].TriggerID != "trigger-1" {
		t.Fatalf("ViewsOpened = %+v", got)
	}
}

func TestUsersAndConversations(t *testing.T) {
	fake := newFake(t)
	fake.AddUser(slackapi.User{ID: "U0LEAD", Name: "lead", RealName: "Ops Lead", Phone: "+49 151 1234567"})
	fake.AddChannel(slackapi.Channel{ID: "C0WATCH", Name: "incidents", Members: []string{"U1", "U2", "U3"}})
	api, ctx := fake.Client(), ctxT(t)

	u, err := api.GetUserInfoContext(ctx, "U0LEAD")
	if err != nil || u.Profile.Phone != "+49 151 1234567" || u.RealName != "Ops Lead" {
		t.Fatalf("user = %+v, err %v", u, err)
	}
	auth, err := api.AuthTestContext(ctx)
	if err != nil || auth.UserID != slackapi.DefaultBotUserID {
		t.Fatalf("auth.test = %+v, %v", auth, err)
	}
	var members []string
	cursor := ""
	for {
		page, next, err := api.GetUsersInConversationContext(ctx, &slack.GetUsersInConversationParameters{ChannelID: "C0WATCH", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(members, ",") != "U1,U2,U3" {
		t.Fatalf("members = %v", members)
	}
	info, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C0WATCH"})
	if err != nil || info.Name != "incidents" {
		t.Fatalf("conversations.info = %+v, %v", info, err)
	}
}

func TestEphemeralAndWaitFor(t *testing.T) {
	fake := newFake(t)
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() {
		_, err := fake.Client().PostEphemeralContext(ctx, "C0E", "U0ME", slack.MsgOptionText("only you", false))
		done <- err
	}()
	call, err := fake.WaitFor(ctx, func(c slackapi.Call) bool { return c.Method == "chat.postEphemeral" })
	if err != nil {
		t.Fatal(err)
	}
	if call.Params.Get("user") != "U0ME" || call.Params.Get("text") != "only you" {
		t.Fatalf("call params = %v", call.Params)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e := fake.Ephemerals(); len(e) != 1 || e[0].User != "U0ME" {
		t.Fatalf("ephemerals = %+v", e)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := fake.WaitFor(short, func(c slackapi.Call) bool { return c.Method == "never" }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor on nothing: %v", err)
	}
}

func TestSignerVerifiesWithSlackGo(t *testing.T) {
	signer := slackapi.Signer{Secret: "8f742231b10e8888abcd99yyyzzz85a5"}
	body := slackapi.Fixture("slash_command.form")
	req := signer.SlashCommand("http://herald/slack/commands", body)

	sv, err := slack.NewSecretsVerifier(req.Header, signer.Secret)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = sv.Write([]byte(strings.TrimSpace(string(body))))
	if err := sv.Ensure(); err != nil {
		t.Fatalf("slack-go rejects the fake's signature: %v", err)
	}

	stale := slackapi.Signer{Secret: signer.Secret, Now: func() time.Time { return time.Now().Add(-6 * time.Minute) }}
	if _, err := slack.NewSecretsVerifier(stale.SlashCommand("http://h/", body).Header, signer.Secret); err == nil {
		t.Fatal("a 6-minute-old signature was accepted")
	}
	wrong := slackapi.Signer{Secret: "not-the-secret"}.SlashCommand("http://h/", body)
	sv, _ = slack.NewSecretsVerifier(wrong.Header, signer.Secret)
	_, _ = sv.Write([]byte(strings.TrimSpace(string(body))))
	if sv.Ensure() == nil {
		t.Fatal("a signature with the wrong secret was accepted")
	}
}

func TestSocketModeWithSlackGo(t *testing.T) {
	fake := newFake(t, slackapi.WithPingInterval(100*time.Millisecond))
	api := slack.New(fake.BotToken, slack.OptionAPIURL(fake.APIURL()), slack.OptionAppLevelToken(fake.AppToken))
	client := socketmode.New(api)
	ctx, cancel := context.WithCancel(ctxT(t))
	runDone := make(chan error, 1)
	go func() { runDone <- client.RunContext(ctx) }()
	defer func() { cancel(); <-runDone }()

	// the app acks every slash command with an ephemeral answer
	go func() {
		for {
			select {
			case evt := <-client.Events:
				if evt.Type == socketmode.EventTypeSlashCommand {
					cmd := evt.Data.(slack.SlashCommand)
					_ = client.Ack(*evt.Request, map[string]string{"text": "got " + cmd.Text})
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	if err := fake.PushRaw(ctx, slackapi.Fixture("socket_mode_slash_command.json")); err != nil {
		t.Fatal(err)
	}
	ack, err := fake.WaitAck(ctx, "1d3c79ab-0ffb-41f3-a080-d19e85f53649")
	if err != nil {
		t.Fatal(err)
	}
	if string(ack.Payload) != `{"text":"got new Database outage"}` {
		t.Fatalf("ack payload = %s", ack.Payload)
	}
	if fake.SocketConnections() != 1 {
		t.Fatalf("connections = %d, want 1", fake.SocketConnections())
	}
}

func TestSocketModeWrongAppToken(t *testing.T) {
	fake := newFake(t)
	api := slack.New(fake.BotToken, slack.OptionAPIURL(fake.APIURL()), slack.OptionAppLevelToken("xapp-wrong"))
	err := socketmode.New(api).RunContext(ctxT(t))
	if err == nil || err.Error() != "invalid_auth" {
		t.Fatalf("err = %v, want invalid_auth", err)
	}
}
