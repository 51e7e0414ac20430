package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/app"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
	"github.com/heraldops/herald/internal/redistest"
)

// `herald send`, the contract's terminal relay for when chat is down: the
// same engine as herald serve, driven by app.Send with the contract's
// environment, against a real redis-server, the fake Twilio and the fake
// Slack.

// sendEnv is an install with nothing serving: what an operator's terminal
// has when they run herald send.
type sendEnv struct {
	t      *testing.T
	redis  *redistest.Server
	twilio *twilioapi.Server
	slack  *slackapi.Server
	config string
	env    map[string]string // what the operator's shell exports
}

func newSendEnv(t *testing.T) *sendEnv {
	t.Helper()
	e := &sendEnv{t: t, redis: redistest.Start(t), twilio: twilioapi.New(twilioapi.Config{}), slack: slackapi.New()}
	t.Cleanup(e.twilio.Close)
	t.Cleanup(e.slack.Close)
	e.config = filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(e.config, []byte(exampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e.env = map[string]string{
		"HERALD_PUBLIC_URL": "https://herald.example.com", "REDIS_URL": e.redis.URL(), "HERALD_DATA_KEY": crypto.GenerateKey(),
		"SLACK_BOT_TOKEN": e.slack.BotToken, "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": e.slack.APIURL(),
		"TWILIO_ACCOUNT_SID": e.twilio.AccountSID, "TWILIO_AUTH_TOKEN": e.twilio.AuthToken, "TWILIO_API_URL": e.twilio.URL,
		"TWILIO_SMS_FROM": appSMSFrom, "TWILIO_WHATSAPP_FROM": appWhatsApp,
	}
	return e
}

// send runs `herald send --audience <audiences> --template investigating
// [--var k=v] [--sms-only]` and returns its exit code and what it printed.
func (e *sendEnv) send(vars map[string]string, smsOnly bool, audiences ...string) (int, string) {
	return runSend(e.t, func(name string) string { return e.env[name] }, e.config, "", vars, smsOnly, audiences...)
}

// runSend runs herald send with the environment getenv reads.
func runSend(t *testing.T, getenv func(string) string, config, incident string, vars map[string]string, smsOnly bool, audiences ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := app.Send(ctx, app.SendOptions{ConfigPath: config, Audiences: audiences, Template: "investigating",
		Vars: vars, SMSOnly: smsOnly, IncidentID: incident, Logger: zerolog.Nop(), Out: &out, Getenv: getenv})
	return code, out.String()
}

// terminalSMS is what the investigating template renders for the incident
// herald send declares when none is open.
const terminalSMS = "[SEV3] Update sent from the terminal: we are investigating. Next update 14:00 UTC. Reply to reach the incident team."

var sendSummary = regexp.MustCompile(`(?m)^INC-\d+-T\d+: (\d+) of (\d+) accepted by the provider \(\d+ delivered, \d+ read\), (\d+) failed(.*)$`)

func TestSendRelaysToAnAudienceAndReports(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	code, out := e.send(map[string]string{"next_update": "14:00 UTC"}, false, "it-ops")
	if code != 0 {
		t.Fatalf("herald send exited %d:\n%s", code, out)
	}
	// the plan first, then progress, then the summary
	if !strings.Contains(out, `sending "investigating" to 2 recipients (1 SMS, 1 WhatsApp), 0 opted out`) {
		t.Errorf("no plan line:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^  \d+ of 2 still to send, 0 failed$`).MatchString(out) {
		t.Errorf("no progress line:\n%s", out)
	}
	m := sendSummary.FindStringSubmatch(out)
	if m == nil || m[1] != "2" || m[2] != "2" || m[3] != "0" {
		t.Fatalf("summary missing or wrong:\n%s", out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), m[0]) {
		t.Errorf("the summary is not the last line:\n%s", out)
	}
	// one message per person, on their channel
	if omar := e.twilio.MessagesTo(flowOmarPhone); len(omar) != 1 || omar[0].Body != terminalSMS || omar[0].From != appSMSFrom {
		t.Errorf("omar's SMS: %+v", omar)
	}
	dana := e.twilio.MessagesTo("whatsapp:" + flowDanaPhone)
	if len(dana) != 1 || dana[0].ContentSID != "HX0000000000000000000000000000000" || dana[0].From != appWhatsApp {
		t.Errorf("dana's WhatsApp: %+v", dana)
	}
	if n := len(e.twilio.Messages()); n != 2 {
		t.Errorf("Twilio got %d messages, want 2", n)
	}
}

func TestSendReportsAPermanentFailureWithItsCodeAndExits1(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	e.twilio.FailTo(flowOmarPhone, twilioapi.ErrUnsubscribed)
	code, out := e.send(map[string]string{"next_update": "14:00 UTC"}, false, "it-ops")
	if code != 1 {
		t.Fatalf("herald send exited %d with a failed recipient, want 1:\n%s", code, out)
	}
	m := sendSummary.FindStringSubmatch(out)
	if m == nil || m[1] != "1" || m[3] != "1" || !strings.Contains(m[4], "21610") {
		t.Fatalf("summary does not report the one failure with its code 21610:\n%s", out)
	}
	if n := len(e.twilio.MessagesTo("whatsapp:" + flowDanaPhone)); n != 1 {
		t.Errorf("dana got %d WhatsApp messages: one failure must not stop the others", n)
	}
}

func TestSendSMSOnlyTextsWhatsAppRecipients(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	code, out := e.send(map[string]string{"next_update": "14:00 UTC"}, true, "executives", "it-ops")
	if code != 0 {
		t.Fatalf("herald send --sms-only exited %d:\n%s", code, out)
	}
	if !strings.Contains(out, "to 2 recipients (2 SMS, 0 WhatsApp)") {
		t.Errorf("plan line does not say SMS only:\n%s", out)
	}
	for _, m := range e.twilio.Messages() {
		if m.WhatsApp() || m.ContentSID != "" {
			t.Errorf("--sms-only sent a WhatsApp message: %+v", m)
		}
	}
	dana := e.twilio.MessagesTo(flowDanaPhone)
	if len(dana) != 1 || dana[0].Body != terminalSMS || dana[0].From != appSMSFrom {
		t.Fatalf("dana (WhatsApp recipient) with --sms-only: %+v, want one SMS with the text", dana)
	}
	if n := len(e.twilio.Messages()); n != 2 {
		t.Errorf("Twilio got %d messages, want 2 (dana is in both audiences: once)", n)
	}
}

func TestSendRefusesAMissingTemplateFieldBeforeAnythingHappens(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	good := map[string]string{"next_update": "14:00 UTC"}
	for _, tc := range []struct {
		name     string
		vars     map[string]string
		audience string
		want     string
	}{
		{"no --var", nil, "it-ops", "template investigating needs --var next_update=..."},
		{"empty value", map[string]string{"next_update": "  "}, "it-ops", "template investigating needs --var next_update=..."},
		{"misspelt field", map[string]string{"next_updat": "14:00 UTC"}, "it-ops", "template investigating needs --var next_update=..."},
		{"unknown audience", good, "it-opps", `unknown audience "it-opps"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := e.send(tc.vars, false, tc.audience)
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("the refusal does not say %q:\n%s", tc.want, out)
			}
			if strings.Contains(out, "sending") {
				t.Errorf("refused after starting to send:\n%s", out)
			}
		})
	}
	if n := len(e.twilio.Messages()); n != 0 {
		t.Fatalf("refused sends sent %d messages", n)
	}
	// Nothing was kept either: a refused send declares no incident (a
	// phantom "Update sent from the terminal" would be the newest open
	// incident, shown in /incident list and picked by the next send).
	keys, err := e.redis.Client(t).Keys(context.Background(), "*inc*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("refused sends left incident records behind: %v", keys)
	}
}

// TestSendWhileSlackIsDownStillSends: herald serve declared INC-1 in Slack;
// then Slack stops answering and someone runs herald send for INC-1 from a
// terminal, which is what the command is for. Stakeholders are texted
// without waiting on Slack, and the progress message is kept for the thread.
func TestSendWhileSlackIsDownStillSends(t *testing.T) {
	t.Parallel()
	a := startApp(t, exampleConfig)
	a.foDeclare("Checkout down")
	a.slack.SetOutage(slackapi.OutageHang)
	a.foWaitChatMode(true)

	start := time.Now()
	type result struct {
		code int
		out  string
	}
	done := make(chan result, 1)
	go func() {
		code, out := runSend(t, a.getenv, foWriteConfig(t, exampleConfig), "INC-1", map[string]string{"next_update": "14:00 UTC"}, false, "it-ops")
		done <- result{code, out}
	}()
	omar := a.foWaitSMS(flowOmarPhone, "Next update 14:00 UTC")
	if !strings.Contains(omar.Body, "Checkout down") {
		t.Errorf("omar's SMS is not about INC-1: %q", omar.Body)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("herald send still running %v after Slack went down", time.Since(start))
	}
	if r.code != 0 || sendSummary.FindString(r.out) == "" {
		t.Fatalf("herald send exited %d:\n%s", r.code, r.out)
	}
	if !strings.Contains(r.out, "SMS-only: chat is unreachable") {
		t.Errorf("herald send does not say chat is down:\n%s", r.out)
	}
	t.Logf("herald send with Slack hanging took %v", time.Since(start))

	// Slack comes back: the serving replica replays the progress message,
	// in its last version (the summary), into INC-1's thread, marked.
	a.slack.SetOutage(slackapi.OutageNone)
	progress := a.threadPost(a.rootPosts()[0], "2 of 2 accepted by the provider")
	if !strings.Contains(progress.AllText(), foOutageMark) {
		t.Errorf("the replayed progress message is not marked as sent during the outage:\n%s", progress.AllText())
	}
}

// Without TWILIO_WHATSAPP_FROM herald still starts and sends: people who
// prefer WhatsApp get the update by SMS.
func TestWithoutAWhatsAppSenderWhatsAppRecipientsGetSMS(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	e.env["TWILIO_WHATSAPP_FROM"] = ""
	code, out := e.send(map[string]string{"next_update": "14:00 UTC"}, false, "executives", "it-ops")
	if code != 0 {
		t.Fatalf("herald send exited %d:\n%s", code, out)
	}
	dana := e.twilio.MessagesTo(flowDanaPhone)
	if len(dana) != 1 || dana[0].WhatsApp() || dana[0].Body != terminalSMS {
		t.Fatalf("dana without a WhatsApp sender: %+v, want one SMS with the text", dana)
	}
	a := startApp(t, exampleConfig, func(env map[string]string) { env["TWILIO_WHATSAPP_FROM"] = "" })
	if code, _ := a.command("U0RESP1", "C0INCIDENTS", "new Checkout down"); code != 200 {
		t.Fatalf("herald serve without a WhatsApp sender: slash command HTTP %d", code)
	}
}
