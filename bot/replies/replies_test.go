package replies_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/replies"
	"github.com/heraldops/herald/bot/thread"
)

// helpKeywords answers HELP and swallows STOP, like the relay's handler.
type helpKeywords struct{}

func (helpKeywords) HandleKeyword(_ context.Context, in bot.Inbound) (bool, string, error) {
	switch strings.ToUpper(strings.TrimSpace(in.Body)) {
	case "HELP":
		return true, "herald incident updates. Reply STOP to opt out.", nil
	case "STOP":
		return true, "", nil
	}
	return false, "", nil
}

type repliesFixture struct {
	replies   *replies.Replies
	store     *bottest.Store
	chat      *bottest.Chat
	messenger *bottest.Messenger
	clock     *bottest.Clock
	inc1      bot.Incident
	inc2      bot.Incident
}

const (
	danaPhone = "+4915100000001"
	omarPhone = "+14155550101"
)

func newRepliesFixture(t *testing.T) *repliesFixture {
	t.Helper()
	ctx := context.Background()
	dir, err := bot.NewDirectory(
		[]bot.Recipient{
			{ID: "dana", Name: "Dana Weber", Phone: danaPhone, Channel: bot.ChannelWhatsApp},
			{ID: "omar", Name: "Omar Haddad", Phone: omarPhone, Channel: bot.ChannelSMS},
		},
		[]bot.Audience{{Name: "executives", Members: []string{"dana"}}, {Name: "it-ops", Members: []string{"omar", "dana"}}},
		nil,
	)
	if err != nil {
		t.Fatal(err)
	}
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	chat := &bottest.Chat{}
	f := &repliesFixture{store: store, chat: chat, messenger: &bottest.Messenger{}, clock: clock}
	for i, title := range []string{"Checkout down", "Login slow"} {
		th, _ := chat.PostRoot(ctx, "C0INCIDENTS", bot.Message{Title: title})
		inc := bot.Incident{ID: bot.IncidentID(int64(i + 1)), Number: int64(i + 1), Title: title, State: bot.IncidentOpen, Thread: th}
		if err := store.SaveIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			f.inc1 = inc
		} else {
			f.inc2 = inc
		}
	}
	f.replies = &replies.Replies{
		Directory: dir, Phones: store, Incidents: store, Audit: store,
		Poster:   &thread.ThreadPoster{Outbox: store, Chat: chat, Limiter: store, Locker: store, MaxDigest: 20},
		Keywords: helpKeywords{}, Messenger: f.messenger, Limiter: store, Clock: clock,
		Roles:    bot.Roles{Responders: []string{"U0RESP1"}},
		Settings: replies.Settings{Triage: bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0TRIAGE"}},
	}
	return f
}

func (f *repliesFixture) inbound(from, body string, ch bot.Channel) bot.Inbound {
	f.clock.Advance(time.Second)
	return bot.Inbound{MessageSID: fmt.Sprintf("SM%d", f.clock.Now().UnixNano()), From: from, Channel: ch, Body: body, ReceivedAt: f.clock.Now()}
}

func (f *repliesFixture) flush(t *testing.T, th bot.ThreadRef) {
	t.Helper()
	f.clock.Advance(2 * time.Second) // the per-channel rate allows the next post
	if _, err := f.replies.Poster.Flush(context.Background(), th); err != nil {
		t.Fatal(err)
	}
}

func TestReplyRouting(t *testing.T) {
	tests := []struct {
		name      string
		from      string
		body      string
		wantTitle string
		wantInc   int // 0: triage
		wantCtx   string
	}{
		{"most recent incident wins", danaPhone, "Thanks, keep us posted", "Dana Weber · executives, it-ops · WhatsApp", 2, "could also be about INC-1"},
		{"incident id in the text wins", danaPhone, "About INC-1: are payments affected?", "Dana Weber · executives, it-ops · WhatsApp", 1, "could also be about INC-2"},
		{"unknown sender goes to triage masked", "+4930123456789", "who is this?", "+49301*****89 · WhatsApp", 0, "Not linked to an incident"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given: dana was messaged about INC-1, then about INC-2
			f := newRepliesFixture(t)
			ctx := context.Background()
			now := f.clock.Now()
			err := f.store.RecordContacts(ctx, []bot.Contact{
				{Phone: danaPhone, IncidentID: "INC-1", At: now.Add(-2 * time.Hour)},
				{Phone: danaPhone, IncidentID: "INC-2", At: now.Add(-1 * time.Hour)},
			}, 72*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			// when
			if err := f.replies.Handle(ctx, f.inbound(tt.from, tt.body, bot.ChannelWhatsApp)); err != nil {
				t.Fatal(err)
			}
			// then
			th := f.replies.Settings.Triage
			switch tt.wantInc {
			case 1:
				th = f.inc1.Thread
			case 2:
				th = f.inc2.Thread
			}
			f.flush(t, th)
			posts := f.chat.Thread(th)
			if len(posts) != 1 {
				t.Fatalf("thread %v got %d posts, want 1", th, len(posts))
			}
			m := posts[0].Message
			if m.Title != tt.wantTitle || m.Quote != tt.body || !strings.Contains(m.Context, tt.wantCtx) {
				t.Errorf("post = %+v; want title %q, quote %q, context containing %q", m, tt.wantTitle, tt.body, tt.wantCtx)
			}
			if strings.Contains(m.PlainText(), "+4930123456789") {
				t.Errorf("a stranger's full number reached the thread: %q", m.PlainText())
			}
		})
	}
}

func TestReplyOutsideWindowGoesToTriage(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	_ = f.store.RecordContacts(ctx, []bot.Contact{{Phone: omarPhone, IncidentID: "INC-1", At: f.clock.Now()}}, 200*time.Hour)
	f.clock.Advance(73 * time.Hour)
	if err := f.replies.Handle(ctx, f.inbound(omarPhone, "still broken?", bot.ChannelSMS)); err != nil {
		t.Fatal(err)
	}
	f.flush(t, f.replies.Settings.Triage)
	posts := f.chat.Thread(f.replies.Settings.Triage)
	if len(posts) != 1 || posts[0].Message.Title != "Omar Haddad · it-ops · SMS" {
		t.Fatalf("triage posts = %+v, want Omar's reply", posts)
	}
}

func TestReplyWithMediaKeepsEveryAttachment(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	_ = f.store.RecordContacts(ctx, []bot.Contact{{Phone: danaPhone, IncidentID: "INC-1", At: f.clock.Now()}}, 72*time.Hour)
	in := f.inbound(danaPhone, "see photo", bot.ChannelWhatsApp)
	in.Media = []bot.Media{
		{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", ContentType: "image/jpeg"},
		{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", ContentType: "application/pdf"},
	}
	if err := f.replies.Handle(ctx, in); err != nil {
		t.Fatal(err)
	}
	f.flush(t, f.inc1.Thread)
	text := f.chat.Thread(f.inc1.Thread)[0].Message.Text
	for _, md := range in.Media {
		if !strings.Contains(text, md.URL) || !strings.Contains(text, md.ContentType) {
			t.Errorf("attachment %s missing from %q", md.URL, text)
		}
	}
	open, _ := f.store.OpenSessions(ctx, []string{danaPhone}, f.clock.Now())
	if !open[danaPhone] {
		t.Error("an inbound WhatsApp message did not open the session window")
	}
}

func TestKeywordsAreNotPostedAndAutoAnswersAreCapped(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	for range 6 {
		if err := f.replies.Handle(ctx, f.inbound(omarPhone, "help", bot.ChannelSMS)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.replies.Handle(ctx, f.inbound(omarPhone, "STOP", bot.ChannelSMS)); err != nil {
		t.Fatal(err)
	}
	if got := len(f.messenger.Sent()); got != 3 {
		t.Errorf("herald answered HELP %d times in a burst, want 3 (the per-number cap)", got)
	}
	if threads, _ := f.store.OutboxThreads(ctx); len(threads) != 0 {
		t.Errorf("keywords reached a thread outbox: %v", threads)
	}
}

func TestBurstOfRepliesIsPostedAsDigestsInOrder(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	_ = f.store.RecordContacts(ctx, []bot.Contact{{Phone: danaPhone, IncidentID: "INC-1", At: f.clock.Now()}}, 72*time.Hour)
	for i := range 45 {
		if err := f.replies.Handle(ctx, f.inbound(danaPhone, fmt.Sprintf("reply number %02d", i), bot.ChannelWhatsApp)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		f.flush(t, f.inc1.Thread)
	}
	posts := f.chat.Thread(f.inc1.Thread)
	if len(posts) != 3 {
		t.Fatalf("45 replies became %d posts, want 3 digests of at most 20", len(posts))
	}
	all := ""
	for _, p := range posts {
		all += p.Message.PlainText() + "\n"
	}
	last := -1
	for i := range 45 {
		at := strings.Index(all, fmt.Sprintf("reply number %02d", i))
		if at < 0 || at < last {
			t.Fatalf("reply %d missing or out of order in the digests", i)
		}
		last = at
	}
}

func TestFailedPostStaysInOutbox(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	_ = f.store.RecordContacts(ctx, []bot.Contact{{Phone: omarPhone, IncidentID: "INC-2", At: f.clock.Now()}}, 72*time.Hour)
	if err := f.replies.Handle(ctx, f.inbound(omarPhone, "is it fixed?", bot.ChannelSMS)); err != nil {
		t.Fatal(err)
	}
	f.chat.Fail = errors.New("slack: 503")
	f.clock.Advance(2 * time.Second)
	if _, err := f.replies.Poster.Flush(ctx, f.inc2.Thread); err == nil {
		t.Fatal("flush reported success while chat failed")
	}
	f.chat.Fail = nil
	f.flush(t, f.inc2.Thread)
	if posts := f.chat.Thread(f.inc2.Thread); len(posts) != 1 || posts[0].Message.Quote != "is it fixed?" {
		t.Fatalf("after chat recovered the thread has %+v, want the kept reply once", posts)
	}
}

func TestAnswerBack(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	responder := bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Rita"}

	// Outside the WhatsApp window the answer goes by SMS.
	if _, err := f.replies.Answer(ctx, responder, f.inc1, "dana", "We are on it."); err != nil {
		t.Fatal(err)
	}
	// After Dana wrote on WhatsApp, the answer may be free-form WhatsApp.
	if err := f.replies.Handle(ctx, f.inbound(danaPhone, "Any news?", bot.ChannelWhatsApp)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.replies.Answer(ctx, responder, f.inc1, "Dana Weber", "Fixed at 14:10."); err != nil {
		t.Fatal(err)
	}
	sent := f.messenger.Sent()
	if len(sent) != 2 || sent[0].Channel != bot.ChannelSMS || sent[1].Channel != bot.ChannelWhatsApp || sent[1].To != danaPhone || sent[1].Body != "Fixed at 14:10." {
		t.Fatalf("sent = %+v, want SMS then WhatsApp to Dana", sent)
	}
	_, err := f.replies.Answer(ctx, bot.Actor{ID: "U0STRANGER"}, f.inc1, "dana", "hi")
	var forbidden *bot.ForbiddenError
	if !errors.As(err, &forbidden) || forbidden.Role != bot.RoleResponder {
		t.Errorf("non-responder answer: err = %v, want a refusal naming the responder role", err)
	}
	f.flush(t, f.inc1.Thread)
	posts := f.chat.Thread(f.inc1.Thread)
	if len(posts) != 1 || !strings.Contains(posts[0].Message.PlainText(), "Rita answered Dana Weber · SMS") {
		t.Fatalf("thread = %+v, want the echo of both answers", posts)
	}
}

func TestReplyWithNowhereToGoIsAuditedNotStuck(t *testing.T) {
	f := newRepliesFixture(t)
	f.replies.Settings.Triage = bot.ThreadRef{} // no triage channel configured
	ctx := context.Background()
	if err := f.replies.Handle(ctx, f.inbound("+4930123456789", "who is this?", bot.ChannelSMS)); err != nil {
		t.Fatal(err)
	}
	if threads, _ := f.store.OutboxThreads(ctx); len(threads) != 0 {
		t.Fatalf("an unpostable reply waits in an outbox forever: %v", threads)
	}
	trail, _ := f.store.AuditTrail(ctx, "")
	if len(trail) != 1 || trail[0].Action != "reply.unrouted" || trail[0].Actor.ID != "+49301*****89" {
		t.Fatalf("audit = %+v, want the unrouted reply with the number masked", trail)
	}
}

// refusingChat refuses every post into one channel for good.
type refusingChat struct {
	*bottest.Chat
	channel string
}

var errChannelGone = errors.New("channel_not_found")

func (c refusingChat) Post(ctx context.Context, th bot.ThreadRef, m bot.Message) (bot.MessageRef, error) {
	if th.Channel == c.channel {
		return bot.MessageRef{}, errChannelGone
	}
	return c.Chat.Post(ctx, th, m)
}

func TestRepliesToAThreadChatRefusesForGoodMoveToTriage(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	f.replies.Poster.Chat = refusingChat{Chat: f.chat, channel: "C0INCIDENTS"}
	f.replies.Poster.Refused = func(err error) bool { return errors.Is(err, errChannelGone) }
	f.replies.Poster.Fallback = f.replies.Settings.Triage
	_ = f.store.RecordContacts(ctx, []bot.Contact{{Phone: omarPhone, IncidentID: "INC-1", At: f.clock.Now()}}, 72*time.Hour)
	if err := f.replies.Handle(ctx, f.inbound(omarPhone, "is it fixed?", bot.ChannelSMS)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Second)
	if _, err := f.replies.Poster.Flush(ctx, f.inc1.Thread); !errors.Is(err, errChannelGone) {
		t.Fatalf("flush: %v, want the refusal reported", err)
	}
	if left, _ := f.store.OutboxPeek(ctx, f.inc1.Thread, 10); len(left) != 0 {
		t.Fatalf("the refused reply still blocks the incident's outbox: %+v", left)
	}
	f.flush(t, f.replies.Settings.Triage)
	posts := f.chat.Thread(f.replies.Settings.Triage)
	if len(posts) != 1 || posts[0].Message.Quote != "is it fixed?" || !strings.Contains(posts[0].Message.Context, "Could not be posted in its incident thread") {
		t.Fatalf("triage = %+v, want the reply with why it is there", posts)
	}
}

func TestAFloodingNumberIsPostedTogetherAtMostOnceAMinute(t *testing.T) {
	f := newRepliesFixture(t)
	ctx := context.Background()
	f.replies.Poster.Dedup = f.store
	f.replies.Settings.FloodBurst = 10
	_ = f.store.RecordContacts(ctx, []bot.Contact{{Phone: omarPhone, IncidentID: "INC-1", At: f.clock.Now()}}, 72*time.Hour)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if err := f.replies.Handle(ctx, f.inbound(omarPhone, fmt.Sprintf("Out of office %02d", i), bot.ChannelSMS)); err != nil {
				t.Fatal(err)
			}
		}
	}
	posted := func() string {
		all := ""
		for _, p := range f.chat.Thread(f.inc1.Thread) {
			all += p.Message.PlainText() + "\n"
		}
		return all
	}
	// given: an auto-responder sends 30 messages within seconds, while the
	// poster runs every two seconds
	send(0, 15)
	for range 3 {
		f.flush(t, f.inc1.Thread)
	}
	send(15, 30)
	for range 10 {
		f.flush(t, f.inc1.Thread)
	}
	// then: the first ten were posted as they came, then one flood digest;
	// the rest waits for the next minute
	all := posted()
	for i := range 30 {
		if got := strings.Contains(all, fmt.Sprintf("Out of office %02d", i)); got != (i < 15) {
			t.Errorf("message %d posted = %v in the first minute, want %v", i, got, i < 15)
		}
	}
	if !strings.Contains(all, "sends very many messages") {
		t.Errorf("the flood digest does not say why the messages come together:\n%s", all)
	}
	// when a minute has passed, everything is there, in order
	f.clock.Advance(time.Minute)
	f.flush(t, f.inc1.Thread)
	all = posted()
	last := -1
	for i := range 30 {
		at := strings.Index(all, fmt.Sprintf("Out of office %02d", i))
		if at < last {
			t.Fatalf("message %d missing or out of order:\n%s", i, all)
		}
		last = at
	}
}
