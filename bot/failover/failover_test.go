package failover_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/failover"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/bot/replies"
	"github.com/heraldops/herald/bot/thread"
	"github.com/heraldops/herald/bot/workflow"
)

const (
	responderPhone = "+4915112345678"
	approverPhone  = "+4915112345670"
	watcherPhone   = "+4915112345679"
	danaPhone      = "+4915100000001"
	omarPhone      = "+14155550101"
)

// failoverWorld is herald's core wired as internal/app wires it, on
// in-memory ports, with a chat that can be switched off.
type failoverWorld struct {
	t         *testing.T
	ctx       context.Context
	clock     *bottest.Clock
	store     *bottest.Store
	slack     *bottest.Chat
	health    *failover.ChatHealth
	service   *workflow.Service
	relay     *relay.Relay
	replies   *replies.Replies
	failover  *failover.Failover
	poster    *thread.ThreadPoster
	messenger *bottest.Messenger
}

func newFailoverWorld(t *testing.T) *failoverWorld {
	t.Helper()
	ctx := context.Background()
	tpl, errs := bot.ParseTemplate(bot.TemplateSource{Name: "investigating", Fields: []string{"next_update"},
		SMS: "[SEV{{.Severity}}] {{.Title}}: we are investigating. Next update {{.Fields.next_update}}."})
	if errs != nil {
		t.Fatal(errs)
	}
	dir, err := bot.NewDirectory(
		[]bot.Recipient{
			{ID: "dana", Name: "Dana Weber", Phone: danaPhone, Channel: bot.ChannelWhatsApp},
			{ID: "omar", Name: "Omar Haddad", Phone: omarPhone, Channel: bot.ChannelSMS},
		},
		[]bot.Audience{{Name: "executives", ApprovalRequired: true, Members: []string{"dana"}}, {Name: "it-ops", Members: []string{"omar", "dana"}}},
		[]*bot.Template{tpl})
	if err != nil {
		t.Fatal(err)
	}
	roles := bot.Roles{Responders: []string{"U0RESP1"}, Approvers: []string{"U0LEAD1"},
		ResponderPhones: []string{responderPhone}, ApproverPhones: []string{approverPhone}}
	w := &failoverWorld{t: t, ctx: ctx, clock: bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)),
		slack: &bottest.Chat{}, messenger: &bottest.Messenger{}}
	w.store = bottest.NewStore(w.clock)
	w.health = &failover.ChatHealth{Clock: w.clock, Settings: failover.HealthSettings{DownAfter: 10 * time.Second}}
	chat := &thread.ResilientChat{Chat: w.slack, Health: w.health, Outbox: w.store, KV: w.store, Clock: w.clock}
	w.poster = &thread.ThreadPoster{Outbox: w.store, Chat: w.slack, Limiter: w.store, Locker: w.store, KV: w.store, ChatUp: w.health.Up}
	planner := &bot.Planner{Directory: dir, Phones: w.store, Clock: w.clock}
	w.relay = &relay.Relay{Planner: planner, Incidents: w.store, Broadcasts: w.store, Phones: w.store, Queue: w.store,
		Limiter: w.store, Messenger: w.messenger, Chat: chat, Audit: w.store, Dedup: w.store, Clock: w.clock,
		Settings: relay.Settings{SMSPerSecond: -1, WhatsAppPerSecond: -1}}
	w.service = &workflow.Service{Directory: dir, Planner: planner, Incidents: w.store, Broadcasts: w.store, Audit: w.store,
		Chat: chat, Relay: w.relay, Clock: w.clock, Roles: roles, Dedup: w.store,
		Settings: workflow.Settings{IncidentChannel: "C0INCIDENTS"}}
	w.replies = &replies.Replies{Directory: dir, Phones: w.store, Incidents: w.store, Audit: w.store, Poster: w.poster,
		Keywords: &replies.OptOutKeywords{Phones: w.store, Audit: w.store, Clock: w.clock}, Messenger: w.messenger,
		Limiter: w.store, Roles: roles, Clock: w.clock,
		Settings: replies.Settings{Triage: bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0TRIAGE"}}}
	w.failover = &failover.Failover{Health: w.health, Service: w.service, Roles: roles, Messenger: w.messenger,
		Outbox: w.store, Poster: w.poster, KV: w.store, Dedup: w.store, Audit: w.store, Clock: w.clock,
		Watchers: func(context.Context) ([]failover.Watcher, error) {
			return []failover.Watcher{{Name: "Ops Lead", Phone: watcherPhone}}, nil
		}}
	w.health.OnChange = func(mode failover.ChatMode, at time.Time) {
		if err := w.failover.ModeChanged(ctx, mode, at); err != nil {
			t.Errorf("mode change: %v", err)
		}
	}
	return w
}

// inbound plays a phone texting herald: SMS commands first, else a reply.
func (w *failoverWorld) inbound(from, body string) {
	w.t.Helper()
	w.clock.Advance(time.Second)
	in := bot.Inbound{MessageSID: "SM" + strings.ReplaceAll(w.clock.Now().Format("150405.000"), ".", ""), From: from,
		Channel: bot.ChannelSMS, Body: body, ReceivedAt: w.clock.Now()}
	handled, err := w.failover.HandleSMS(w.ctx, in)
	if err != nil {
		w.t.Fatal(err)
	}
	if !handled {
		if err := w.replies.Handle(w.ctx, in); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *failoverWorld) drainRelay() {
	w.t.Helper()
	for {
		jobs, err := w.store.Claim(w.ctx, w.relay.Topic(), "test", 100, time.Millisecond)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(jobs) == 0 {
			return
		}
		for _, j := range jobs {
			if err := w.relay.HandleJob(w.ctx, j); err != nil {
				w.t.Fatal(err)
			}
			_ = w.store.Ack(w.ctx, j.Topic, j.ID)
		}
	}
}

func (w *failoverWorld) sentTo(phone string) []bot.Outbound {
	var out []bot.Outbound
	for _, m := range w.messenger.Sent() {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

// chatFails makes every chat call fail and the health tracker see it.
func (w *failoverWorld) chatDown() {
	w.slack.Fail = errors.New("slack: 503 service unavailable")
	for range 12 {
		w.health.Observe(false)
		w.clock.Advance(time.Second)
	}
	if w.health.Up() {
		w.t.Fatal("chat still considered up after 12s of failures")
	}
}

func (w *failoverWorld) chatUp() {
	w.slack.Fail = nil
	for range 3 {
		w.health.Observe(true)
	}
	if !w.health.Up() {
		w.t.Fatal("chat not back after 3 successes")
	}
}

func (w *failoverWorld) replay() {
	w.t.Helper()
	for range 100 {
		w.clock.Advance(2 * time.Second)
		if err := w.poster.FlushAll(w.ctx); err != nil {
			w.t.Fatal(err)
		}
		if threads, _ := w.store.OutboxThreads(w.ctx); len(threads) == 0 {
			return
		}
	}
	w.t.Fatal("the replay did not finish")
}

func TestFailoverRunsTheIncidentOverSMSAndReplaysIntoTheThread(t *testing.T) {
	w := newFailoverWorld(t)
	ctx := w.ctx
	inc, err := w.service.Declare(ctx, bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1"}, "Checkout down", 2, "C0INCIDENTS")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.RecordContacts(ctx, []bot.Contact{{Phone: danaPhone, IncidentID: inc.ID, At: w.clock.Now()}}, 72*time.Hour); err != nil {
		t.Fatal(err)
	}

	// Slack goes down.
	w.chatDown()

	// A stakeholder's reply reaches the watchers by SMS.
	w.inbound(danaPhone, "Are customers affected?")
	if err := w.failover.SendWatcherDigests(ctx); err != nil {
		t.Fatal(err)
	}
	digests := w.sentTo(watcherPhone)
	if len(digests) != 1 || !strings.Contains(digests[0].Body, "Dana Weber") || !strings.Contains(digests[0].Body, "Are customers affected?") {
		t.Fatalf("watcher digests = %+v, want one with Dana's reply", digests)
	}
	// A second reply right away waits for the next digest window.
	w.inbound(danaPhone, "Please call me")
	_ = w.failover.SendWatcherDigests(ctx)
	if n := len(w.sentTo(watcherPhone)); n != 1 {
		t.Fatalf("watcher got %d digests within 2 minutes, want 1", n)
	}

	// A stranger's NOTIFY is no command: nothing is sent, nothing answered.
	before := len(w.messenger.Sent())
	w.inbound("+4930999999999", "NOTIFY "+inc.ID+" executives investigating next_update=15:00")
	if got := len(w.messenger.Sent()); got != before {
		t.Fatalf("a stranger's NOTIFY made herald send %d messages", got-before)
	}
	if bs, _ := w.store.BroadcastsOf(ctx, inc.ID); len(bs) != 0 {
		t.Fatalf("a stranger's NOTIFY created broadcasts: %+v", bs)
	}

	// A responder's NOTIFY needs approval: the approver gets the preview and a code.
	w.inbound(responderPhone, "NOTIFY "+inc.ID+" executives investigating next_update=14:30 UTC")
	toResponder := w.sentTo(responderPhone)
	if len(toResponder) != 1 || !strings.Contains(toResponder[0].Body, "needs approval") {
		t.Fatalf("responder was told %+v, want that approval is needed", toResponder)
	}
	toApprover := w.sentTo(approverPhone)
	if len(toApprover) != 1 || !strings.Contains(toApprover[0].Body, "Next update 14:30 UTC") {
		t.Fatalf("approver got %+v, want the preview with the code", toApprover)
	}
	code := regexp.MustCompile(`APPROVE (\d{4})`).FindStringSubmatch(toApprover[0].Body)
	if code == nil {
		t.Fatalf("no code in %q", toApprover[0].Body)
	}
	if len(w.sentTo(danaPhone)) != 0 {
		t.Fatal("sent before approval")
	}

	// The approver approves by code: the audience gets it by SMS only.
	w.inbound(approverPhone, "APPROVE "+code[1])
	w.drainRelay()
	toDana := w.sentTo(danaPhone)
	if len(toDana) != 1 || toDana[0].Channel != bot.ChannelSMS || !strings.Contains(toDana[0].Body, "Next update 14:30 UTC") {
		t.Fatalf("Dana got %+v, want the update once by SMS (WhatsApp is her usual channel)", toDana)
	}
	// The code is good once.
	w.inbound(approverPhone, "APPROVE "+code[1])
	w.drainRelay()
	if n := len(w.sentTo(danaPhone)); n != 1 {
		t.Fatalf("Dana got %d messages after a repeated APPROVE, want 1", n)
	}

	// Chat comes back: every kept item is replayed in order, once, then the summary.
	w.chatUp()
	w.replay()
	thread := w.slack.Thread(inc.Thread)
	var texts []string
	for _, p := range thread {
		texts = append(texts, p.Latest().PlainText())
	}
	all := strings.Join(texts, "\n---\n")
	order := []string{"Are customers affected?", "Please call me", "Next update 14:30 UTC", "Chat unreachable 14:00 to 14:00 UTC"}
	last := -1
	for _, want := range order {
		at := strings.Index(all, want)
		if at < 0 || at < last {
			t.Fatalf("replayed thread lacks %q or has it out of order:\n%s", want, all)
		}
		last = at
		if strings.Count(all, want) != 1 && want != "Next update 14:30 UTC" {
			t.Errorf("%q replayed %d times, want once", want, strings.Count(all, want))
		}
	}
	if !strings.Contains(texts[len(texts)-1], "2 stakeholder replies") || !strings.Contains(texts[len(texts)-1], "1 approved notification over SMS") {
		t.Errorf("summary = %q, want the counts of the outage", texts[len(texts)-1])
	}
	if !strings.Contains(all, "Sent while chat was unreachable") {
		t.Error("replayed items are not marked as sent while chat was down")
	}
}

func TestIncidentDeclaredBySMSDuringOutageGetsItsThreadOnRecovery(t *testing.T) {
	w := newFailoverWorld(t)
	w.poster.OnRootPosted = func(ctx context.Context, pending, real bot.ThreadRef) error {
		incs, _ := w.store.Incidents(ctx, false)
		for _, inc := range incs {
			if inc.Thread == pending {
				inc.Thread = real
				return w.store.SaveIncident(ctx, inc)
			}
		}
		return nil
	}
	w.chatDown()
	w.inbound(responderPhone, "NEW Payments failing in EU")
	ans := w.sentTo(responderPhone)
	if len(ans) != 1 || !strings.Contains(ans[0].Body, "INC-1 declared") {
		t.Fatalf("responder got %+v, want INC-1 declared", ans)
	}
	w.inbound(responderPhone, "UPDATE INC-1 Card payments fail for 20% of EU customers")
	w.chatUp()
	w.replay()
	inc, err := w.service.Incident(w.ctx, "INC-1")
	if err != nil || inc.Thread.IsPending() || inc.Thread.IsZero() {
		t.Fatalf("incident thread after recovery = %+v (%v), want a real thread", inc.Thread, err)
	}
	posts := w.slack.Thread(inc.Thread)
	if len(posts) < 2 || !strings.Contains(posts[0].Message.PlainText(), "Card payments fail for 20% of EU customers") {
		t.Fatalf("thread = %+v, want the update then the summary", posts)
	}
}

func TestSMSCommandsSpeakTheOneGrammar(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // in the answer
		wantAudit  bot.AuditAction
	}{
		{"help names the organisation in one segment", "HELP", []string{"Acme Bank"}, "sms.help"},
		{"an unknown word points at HELP", "FROBNICATE", []string{"HELP"}, "sms.unknown"},
		{"a chat-only command is not available by SMS", "RESOLVE INC-1", []string{"not available"}, "sms.resolve"},
		{"new reads the severity flag as chat does", "NEW Checkout down -s 2", []string{"INC-1 declared: Checkout down."}, "sms.new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFailoverWorld(t)
			w.failover.Settings.Organisation = "Acme Bank"
			w.inbound(responderPhone, tt.body)
			sent := w.messenger.Sent()
			if len(sent) == 0 {
				t.Fatal("no answer")
			}
			answer := sent[len(sent)-1]
			for _, s := range tt.want {
				if !strings.Contains(answer.Body, s) {
					t.Errorf("answer to %q lacks %q: %q", tt.body, s, answer.Body)
				}
			}
			if tt.body == "HELP" && bot.CountSMS(answer.Body).Segments != 1 {
				t.Errorf("HELP takes %d segments: %q", bot.CountSMS(answer.Body).Segments, answer.Body)
			}
			if strings.HasPrefix(tt.body, "NEW") {
				inc, err := w.store.Incident(w.ctx, "INC-1")
				if err != nil || inc.Title != "Checkout down" || inc.Severity != 2 {
					t.Errorf("declared %q at SEV%d (%v), want \"Checkout down\" at SEV2", inc.Title, inc.Severity, err)
				}
			}
			trail, _ := w.store.AuditTrail(w.ctx, "")
			if len(trail) == 0 || trail[len(trail)-1].Action != tt.wantAudit {
				t.Errorf("audit trail %v, want last action %s", trail, tt.wantAudit)
			}
		})
	}
}

func TestSMSApprovalIsNotAuditedAgainstAnIncidentNamedAfterItsCode(t *testing.T) {
	w := newFailoverWorld(t)
	w.inbound(approverPhone, "APPROVE 4821")
	trail, _ := w.store.AuditTrail(w.ctx, "")
	for _, e := range trail {
		if e.IncidentID == "INC-4821" {
			t.Errorf("APPROVE 4821 audited against %s", e.IncidentID)
		}
	}
}
