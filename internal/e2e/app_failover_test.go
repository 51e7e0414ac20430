package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/app"
	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// Issue 6, through `herald serve`: Slack goes away, herald runs the incident
// over SMS, and the thread gets everything it missed when Slack is back.

const (
	foResponderPhone = "+4915112345678"
	foApproverPhone  = "+4915112345670"
	foWatcherPhone   = "+4915112345679"
	foDanaPhone      = "+4915100000001"
	foOmarPhone      = "+14155550101"
	foStrangerPhone  = "+4930999999999"
	foIncidents      = "C0INCIDENTS"
	foOutageMark     = "Sent while chat was unreachable"
	// foDownAfter is exampleConfig's failover.down_after.
	foDownAfter = 2 * time.Second
)

// foChatCheck is the "chat" entry of /readyz: "ok" or "failing", with the
// reason.
func (a *heraldApp) foChatCheck() (status, reason string) {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+"/readyz", nil)
	code, body := a.do(req)
	var r struct {
		Status string `json:"status"`
		Checks map[string]struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		a.t.Fatalf("/readyz answered %d %q: %v", code, body, err)
	}
	if code != http.StatusOK || r.Status != "ready" {
		// chat is information only: SMS-only replicas must keep getting Twilio's webhooks.
		a.t.Fatalf("/readyz = %d %q, want 200 ready whatever chat does", code, body)
	}
	c, ok := r.Checks["chat"]
	if !ok {
		a.t.Fatalf("/readyz has no chat check: %s", body)
	}
	return c.Status, c.Error
}

// foChatModeMetric is herald_chat_mode as /metrics shows it (1 chat, 0 SMS-only).
func (a *heraldApp) foChatModeMetric() string {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+"/metrics", nil)
	_, body := a.do(req)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "herald_chat_mode "); ok {
			return v
		}
	}
	a.t.Fatalf("/metrics has no herald_chat_mode")
	return ""
}

// foWaitChatMode waits until /readyz and /metrics both show the mode and
// returns how long that took.
func (a *heraldApp) foWaitChatMode(smsOnly bool) time.Duration {
	a.t.Helper()
	start := time.Now()
	want, metric := "ok", "1"
	if smsOnly {
		want, metric = "failing", "0"
	}
	a.eventually("chat check "+want+" and herald_chat_mode "+metric, func() bool {
		st, _ := a.foChatCheck()
		return st == want && a.foChatModeMetric() == metric
	})
	return time.Since(start)
}

// text plays a phone texting herald's SMS number.
func (a *heraldApp) foText(from, body string) {
	a.t.Helper()
	if code, resp := a.inbound(a.twilio.InboundSMS(from, appSMSFrom, body)); code != http.StatusOK {
		a.t.Fatalf("inbound SMS from %s: HTTP %d %q", from, code, resp)
	}
}

// foSMSTo returns the SMS (not WhatsApp) messages herald sent to phone.
func (a *heraldApp) foSMSTo(phone string) []twilioapi.Message {
	var out []twilioapi.Message
	for _, m := range a.twilio.MessagesTo(phone) {
		if !m.WhatsApp() {
			out = append(out, m)
		}
	}
	return out
}

// foWaitSMS waits until phone got an SMS containing want and returns it.
func (a *heraldApp) foWaitSMS(phone, want string) twilioapi.Message {
	a.t.Helper()
	var found twilioapi.Message
	a.eventually("an SMS to "+phone+" with "+want, func() bool {
		for _, m := range a.foSMSTo(phone) {
			if strings.Contains(m.Body, want) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// foDeclare types /incident new and returns the root message's ts.
func (a *heraldApp) foDeclare(title string) string {
	a.t.Helper()
	before := len(a.slack.Posts(foIncidents))
	if code, body := a.command("U0RESP1", foIncidents, "new "+title+" --sev 2"); code != http.StatusOK {
		a.t.Fatalf("/incident new: HTTP %d %s", code, body)
	}
	a.eventually("the root message", func() bool { return len(a.slack.Posts(foIncidents)) > before })
	root := a.slack.Posts(foIncidents)[before]
	a.waitDeclared(root.AllText())
	return root.TS
}

// foWriteConfig writes cfg where the one-shot commands can read it.
func foWriteConfig(t *testing.T, cfg string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// foSendFromTerminal runs `herald send` with the serving replica's environment,
// so its recipients are contacts of the incident (their replies find it).
func (a *heraldApp) foSendFromTerminal(incidentID, audience, nextUpdate string) {
	t := a.t
	t.Helper()
	var out bytes.Buffer
	code := app.Send(context.Background(), app.SendOptions{ConfigPath: foWriteConfig(t, exampleConfig),
		Audiences: []string{audience}, Template: "investigating", Vars: map[string]string{"next_update": nextUpdate},
		IncidentID: incidentID, Logger: zerolog.Nop(), Out: &out, Getenv: a.getenv})
	if code != 0 {
		t.Fatalf("herald send exited %d:\n%s", code, out.String())
	}
}

// foThreadTexts is what a reader of the thread sees, one entry per post.
func foThreadTexts(s *slackapi.Server, channel, ts string) []string {
	var out []string
	for _, m := range s.ThreadPosts(channel, ts) {
		out = append(out, m.AllText())
	}
	return out
}

var foApproveCode = regexp.MustCompile(`APPROVE (\d{4})`)

func TestFailoverRunsTheIncidentOverSMSWhileSlackIsDownAndReplaysTheThread(t *testing.T) {
	t.Parallel()
	a := startApp(t, exampleConfig)
	rootTS := a.foDeclare("Checkout down")
	a.foSendFromTerminal("INC-1", "it-ops", "14:00 UTC")
	a.foWaitSMS(foOmarPhone, "Next update 14:00 UTC")
	before := len(a.slack.ThreadPosts(foIncidents, rootTS))

	// Slack's edge answers 503, then stops answering at all. herald only
	// learns of it through its own calls: the stakeholder reply it tries
	// to post, and its own probe when nothing else calls Slack.
	outageStart := time.Now()
	a.slack.SetOutage(slackapi.OutageUnavailable)
	a.foText(foOmarPhone, "Are customers affected?")
	time.AfterFunc(time.Second, func() { a.slack.SetOutage(slackapi.OutageHang) })
	a.foWaitChatMode(true)
	smsOnlySeen := time.Now()
	// The promise in the README: SMS-only after failover.down_after of
	// failures, counted from the first one. How soon after down_after is the
	// health tracker's decision on an injected clock (bot/failover,
	// TestChatHealthGoesDownAfterSustainedFailureAndUpAfterSuccesses) and the
	// probe pace (internal/app, TestTimingsFollowDownAfter); here, where real
	// time runs as fast as the machine allows, only what no slow machine can
	// break: not before down_after, and the outage dated from its start.
	if took := smsOnlySeen.Sub(outageStart); took < foDownAfter {
		t.Errorf("herald went SMS-only %v after Slack went down, before down_after (%v)", took, foDownAfter)
	}
	_, reason := a.foChatCheck()
	if !strings.Contains(reason, "SMS-only") {
		t.Errorf("/readyz chat reason = %q, want it to say herald runs SMS-only", reason)
	}
	if since, ok := foSince(reason); !ok || since.Before(outageStart.Truncate(time.Second)) || since.After(smsOnlySeen.Add(-foDownAfter)) {
		t.Errorf("/readyz chat reason = %q, want SMS-only since Slack's first failure (between %s and %s)",
			reason, outageStart.UTC().Format(time.RFC3339), smsOnlySeen.Add(-foDownAfter).UTC().Format(time.RFC3339))
	}

	// The stakeholder's reply reaches the watchers by SMS.
	digest := a.foWaitSMS(foWatcherPhone, "Are customers affected?")
	if !strings.Contains(digest.Body, "Omar Haddad") {
		t.Errorf("watcher digest %q does not say who wrote", digest.Body)
	}

	// A responder asks to notify the executives; that needs approval, and the
	// approver phone gets the exact text with a one-time code.
	a.foText(foResponderPhone, "NOTIFY INC-1 executives investigating next_update=14:30")
	a.foWaitSMS(foResponderPhone, "needs approval")
	req := a.foWaitSMS(foApproverPhone, "Next update 14:30")
	code := foApproveCode.FindStringSubmatch(req.Body)
	if code == nil {
		t.Fatalf("approval request %q has no code", req.Body)
	}
	if n := len(a.twilio.MessagesTo(foDanaPhone)); n != 1 { // the WhatsApp of the terminal send
		t.Fatalf("Dana got %d messages before the approval, want only the earlier WhatsApp", n)
	}

	// A stranger's NOTIFY is a stakeholder message, never a command.
	a.foText(foStrangerPhone, "NOTIFY INC-1 executives investigating next_update=15:00")

	// The approver approves: Dana, whose channel is WhatsApp, gets it by SMS.
	a.foText(foApproverPhone, "APPROVE "+code[1])
	toDana := a.foWaitSMS(foDanaPhone, "Next update 14:30")
	if toDana.WhatsApp() {
		t.Errorf("Dana got the approved update over WhatsApp during failover")
	}
	a.foWaitSMS(foApproverPhone, "INC-1") // the approver's confirmation

	// Slack comes back.
	outageEnd := time.Now()
	a.slack.SetOutage(slackapi.OutageNone)
	a.foWaitChatMode(false)
	a.eventually("the outage summary in the thread", func() bool {
		texts := foThreadTexts(a.slack, foIncidents, rootTS)
		return len(texts) > before && strings.Contains(texts[len(texts)-1], "Back in chat")
	})
	summarySeen := time.Now()
	// The stranger's text ends up in triage once chat is back: only then is
	// it certain that herald handled it.
	a.eventually("the stranger's text in triage", func() bool {
		for _, m := range a.slack.Posts("C0TRIAGE") {
			if strings.Contains(m.AllText(), "next_update=15:00") {
				return true
			}
		}
		return false
	})
	if got := a.twilio.MessagesTo(foStrangerPhone); len(got) != 0 {
		t.Errorf("the stranger got an answer: %+v", got)
	}
	if got := a.twilio.MessagesTo(foDanaPhone); len(got) != 2 {
		t.Errorf("Dana got %d messages, want 2 (the WhatsApp before, the approved SMS): the stranger's NOTIFY must send nothing", len(got))
	}

	// The thread has every missed item once, in order, marked, and the
	// summary last.
	texts := foThreadTexts(a.slack, foIncidents, rootTS)[before:]
	all := strings.Join(texts, "\n---\n")
	last := -1
	for _, want := range []string{"Are customers affected?", "Notification INC-1", "Back in chat"} {
		at := foPostWith(texts, want)
		if len(at) != 1 {
			t.Fatalf("%q is in %d replayed posts, want exactly one:\n%s", want, len(at), all)
		}
		if at[0] < last {
			t.Fatalf("%q is out of order:\n%s", want, all)
		}
		last = at[0]
	}
	for i, txt := range texts[:len(texts)-1] {
		if !strings.Contains(txt, foOutageMark) {
			t.Errorf("replayed post %d is not marked as sent while chat was down:\n%s", i, txt)
		}
	}
	summary := texts[len(texts)-1]
	for _, want := range []string{"1 stakeholder reply", "1 approved notification over SMS"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q lacks %q", summary, want)
		}
	}
	// The outage is reported from Slack's first failure (not from when
	// herald declared it) to its return: the first failure came after
	// outageStart and down_after before herald was seen SMS-only; the
	// return after outageEnd and before the summary was seen.
	span := regexp.MustCompile(`Chat unreachable (\d\d:\d\d) to (\d\d:\d\d) UTC`).FindStringSubmatch(summary)
	if span == nil || !foMinuteIn(span[1], outageStart, smsOnlySeen.Add(-foDownAfter)) || !foMinuteIn(span[2], outageEnd, summarySeen) {
		t.Errorf("summary %q, want the outage from %s to %s UTC", summary, outageStart.UTC().Format("15:04:05"), outageEnd.UTC().Format("15:04:05"))
	}
}

// foMinuteIn reports whether hhmm is the UTC minute of a time in [from, to].
func foMinuteIn(hhmm string, from, to time.Time) bool {
	for m := from.UTC().Truncate(time.Minute); !m.After(to); m = m.Add(time.Minute) {
		if hhmm == m.Format("15:04") {
			return true
		}
	}
	return false
}

// foSince reads the time in /readyz's "running SMS-only since <RFC 3339>".
func foSince(reason string) (time.Time, bool) {
	_, at, ok := strings.Cut(reason, " since ")
	if !ok {
		return time.Time{}, false
	}
	since, err := time.Parse(time.RFC3339, strings.TrimSpace(at))
	return since, err == nil
}

// foPostWith returns the indexes of the posts that contain want.
func foPostWith(texts []string, want string) []int {
	var at []int
	for i, txt := range texts {
		if strings.Contains(txt, want) {
			at = append(at, i)
		}
	}
	return at
}

func TestFailoverDoesNotFlipFlopWhileSlackFlaps(t *testing.T) {
	t.Parallel()
	fake := slackapi.New()
	t.Cleanup(fake.Close)
	proxy := newFoSlackProxy(t, fake)
	// down_after 10s rather than 2s: herald's probe of Slack may take a
	// third of down_after before it counts as a failure, and a busy machine
	// can make a healthy answer that late; this test is about flapping.
	cfg := strings.Replace(exampleConfig, "down_after: 2s", "down_after: 10s", 1)
	a := startApp(t, cfg, func(env map[string]string) { env["SLACK_API_URL"] = proxy.apiURL() })
	a.slack = fake
	rootTS := a.foDeclare("Checkout down")
	a.foSendFromTerminal("INC-1", "it-ops", "14:00 UTC")
	a.foWaitSMS(foOmarPhone, "Next update 14:00 UTC")

	// Slack flaps: two calls in every four fail with a 503, while
	// stakeholders keep writing, so herald keeps calling it. The flapping
	// goes by calls, not by seconds, so that a busy machine (fewer calls per
	// second) sees the same pattern; the same flapping over time, on an
	// injected clock, is bot/failover's TestChatHealthDoesNotFlipFlopWhenChatFlaps.
	proxy.flap.Store(true)
	var modes []string // herald_chat_mode as sampled, changes only
	var sent []string
	for i := 0; i < 36 || proxy.flapped.Load() < 6; i++ {
		if i > 600 {
			t.Fatalf("herald made only %d failing calls to Slack while stakeholders wrote", proxy.flapped.Load())
		}
		if i%3 == 0 && len(sent) < 26 {
			body := "reply " + string(rune('A'+len(sent)))
			a.foText(foOmarPhone, body)
			sent = append(sent, body)
		}
		if m := a.foChatModeMetric(); len(modes) == 0 || modes[len(modes)-1] != m {
			modes = append(modes, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxy.flap.Store(false)
	t.Logf("herald_chat_mode while Slack flapped (%d failed calls): %v", proxy.flapped.Load(), modes)
	if len(modes) != 1 || modes[0] != "1" {
		t.Errorf("herald_chat_mode went %v while Slack flapped, want it to stay 1 (chat)", modes)
	}

	// When Slack is stable again every reply is in the thread once, and
	// none of them was kept as if chat had been down.
	a.foWaitChatMode(false)
	a.eventually("every reply in the thread", func() bool {
		texts := foThreadTexts(a.slack, foIncidents, rootTS)
		for _, s := range sent {
			if len(foPostWith(texts, s+"\n")) == 0 {
				return false
			}
		}
		return true
	})
	texts := foThreadTexts(a.slack, foIncidents, rootTS)
	for _, s := range sent {
		if n := len(foPostWith(texts, s+"\n")); n != 1 {
			t.Errorf("%q is in %d posts, want one", s, n)
		}
	}
	for _, want := range []string{foOutageMark, "Back in chat"} {
		if at := foPostWith(texts, want); len(at) != 0 {
			t.Errorf("%d posts say %q: herald declared an outage while Slack flapped", len(at), want)
		}
	}
}

func TestFailoverCanBeForcedForEveryReplicaAndOnlyByResponders(t *testing.T) {
	t.Parallel()
	a := startApp(t, exampleConfig)
	b := a.startReplica(exampleConfig)
	cfg := foWriteConfig(t, exampleConfig)
	failover := func(mode string) string {
		t.Helper()
		var out bytes.Buffer
		if err := app.Failover(context.Background(), app.FailoverOptions{ConfigPath: cfg, Mode: mode, Logger: zerolog.Nop(), Out: &out, Getenv: a.getenv}); err != nil {
			t.Fatalf("herald failover %s: %v", mode, err)
		}
		return out.String()
	}
	both := func(smsOnly bool) {
		t.Helper()
		for _, r := range []*heraldApp{a, b} {
			// The README promises every replica within 5 s: each reads the
			// shared override at every housekeeping tick, which is at most
			// 5 s (internal/app, TestTimingsFollowDownAfter).
			r.foWaitChatMode(smsOnly)
		}
	}

	// herald failover on|status|off from a terminal.
	if out := failover(app.FailoverStatus); !strings.Contains(out, "automatic") {
		t.Errorf("status before: %q", out)
	}
	failover(app.FailoverOn)
	both(true)
	if out := failover(app.FailoverStatus); !strings.Contains(out, "forced: sms-only") {
		t.Errorf("status while on: %q", out)
	}
	failover(app.FailoverOff)
	both(false)

	// From Slack: only a responder may switch.
	ephemeralTo := func(user string) string {
		t.Helper()
		var txt string
		a.eventually("an answer to "+user, func() bool {
			for _, m := range a.slack.Ephemerals() {
				if m.User == user && !strings.Contains(m.AllText(), "…") {
					txt = m.AllText()
					return true
				}
			}
			return false
		})
		return txt
	}
	if code, _ := a.command("U0LEAD1", foIncidents, "failover on"); code != http.StatusOK {
		t.Fatalf("/incident failover on: HTTP %d", code)
	}
	if txt := ephemeralTo("U0LEAD1"); !strings.Contains(txt, "Not allowed") {
		t.Errorf("a non-responder was told %q, want a refusal", txt)
	}
	if out := failover(app.FailoverStatus); !strings.Contains(out, "automatic") {
		t.Errorf("a non-responder's /incident failover on changed the mode: %q", out)
	}
	if st, _ := b.foChatCheck(); st != "ok" {
		t.Errorf("a non-responder's /incident failover on took replica 2 to %s", st)
	}

	if code, _ := a.command("U0RESP1", foIncidents, "failover on"); code != http.StatusOK {
		t.Fatalf("/incident failover on: HTTP %d", code)
	}
	if txt := ephemeralTo("U0RESP1"); !strings.Contains(txt, "SMS-only mode") {
		t.Errorf("the responder was told %q", txt)
	}
	both(true)
	if code, _ := b.command("U0RESP2", foIncidents, "failover off"); code != http.StatusOK {
		t.Fatalf("/incident failover off: HTTP %d", code)
	}
	both(false)
}

// foSlackProxy stands between one replica and the fake Slack, to play what
// the network can do to that replica alone.
type foSlackProxy struct {
	srv *httptest.Server
	// unavailable answers every call 503, as Slack's edge does in an outage,
	// for this replica only.
	unavailable atomic.Bool
	// flap answers two calls in every four 503 (flapped counts them).
	flap    atomic.Bool
	calls   atomic.Int64
	flapped atomic.Int64
	// holdNextPost passes the next chat.postMessage to Slack, then keeps
	// Slack's answer from the replica until release is closed or the
	// replica gives up; held is closed when that happens.
	holdNextPost atomic.Bool
	held         chan struct{}
	release      chan struct{}
}

func newFoSlackProxy(t *testing.T, fake *slackapi.Server) *foSlackProxy {
	target, _ := url.Parse(fake.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &foSlackProxy{held: make(chan struct{}), release: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.unavailable.Load() || (p.flap.Load() && p.calls.Add(1)%4 < 2 && p.flapped.Add(1) > 0) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "<html><body><h1>Slack is having trouble</h1></body></html>")
			return
		}
		if strings.Trim(r.URL.Path, "/") != "chat.postMessage" {
			rp.ServeHTTP(w, r)
			return
		}
		if !p.holdNextPost.CompareAndSwap(true, false) {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r) // Slack has the message now
		close(p.held)
		select {
		case <-p.release:
		case <-r.Context().Done():
			return // the replica gave up waiting: it never learns Slack took it
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *foSlackProxy) apiURL() string { return p.srv.URL + "/" }

func TestFailoverReplayFinishesOnceWhenAReplicaStopsMidReplay(t *testing.T) {
	t.Parallel()
	fake := slackapi.New()
	t.Cleanup(fake.Close)
	proxyA, proxyB := newFoSlackProxy(t, fake), newFoSlackProxy(t, fake)
	a := startApp(t, exampleConfig, func(env map[string]string) { env["SLACK_API_URL"] = proxyA.apiURL() })
	a.slack = fake
	rootTS := a.foDeclare("Checkout down")
	b := a.startReplica(exampleConfig, func(env map[string]string) { env["SLACK_API_URL"] = proxyB.apiURL() })

	// Slack goes down for both replicas.
	proxyA.unavailable.Store(true)
	proxyB.unavailable.Store(true)
	a.foWaitChatMode(true)
	b.foWaitChatMode(true)

	// The responder keeps the thread going by SMS: 45 updates, more than two
	// digests' worth, so the replay takes several posts.
	const n = 45
	for i := range n {
		a.foText(foResponderPhone, fmt.Sprintf("UPDATE INC-1 step %02d done", i))
		a.eventually("the responder's confirmation", func() bool { return len(a.foSMSTo(foResponderPhone)) == i+1 })
	}

	// Slack answers replica 2 first. Its first replay post reaches Slack,
	// and replica 2 stops (a rolling deploy's SIGTERM) before it hears
	// Slack's answer. Then Slack answers replica 1, which finishes the replay.
	proxyB.holdNextPost.Store(true)
	proxyB.unavailable.Store(false)
	select {
	case <-proxyB.held:
	case <-time.After(waitLimit):
		t.Fatal("replica 2 never replayed anything")
	}
	b.stop()
	close(proxyB.release)
	b.shutdown()
	proxyA.unavailable.Store(false)

	a.eventually("the summary closing the replay", func() bool {
		texts := foThreadTexts(fake, foIncidents, rootTS)
		return len(texts) > 0 && strings.Contains(texts[len(texts)-1], "Back in chat")
	})
	texts := foThreadTexts(fake, foIncidents, rootTS)
	last := -1
	for i := range n {
		want := fmt.Sprintf("step %02d done", i)
		at := foPostWith(texts, want)
		if len(at) != 1 {
			t.Errorf("%q is in %d posts, want exactly one", want, len(at))
			continue
		}
		if at[0] < last {
			t.Errorf("%q is out of order", want)
		}
		last = at[0]
	}
	if got := len(foPostWith(texts, "Back in chat")); got != 1 {
		t.Errorf("%d summaries, want 1", got)
	}
}
