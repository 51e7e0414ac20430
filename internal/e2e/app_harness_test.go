package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/app"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/fakes/botframework"
	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
	"github.com/heraldops/herald/internal/redistest"
)

// exampleConfig is ARCHITECTURE.md's config example, with a triage channel.
const exampleConfig = `slack:
  incident_channel: C0INCIDENTS
  triage_channel: C0TRIAGE
roles:
  responders: [U0RESP1, U0RESP2]
  approvers: [U0LEAD1]
  responder_phones: ["+4915112345678"]
  approver_phones: ["+4915112345670"]
watchers:
  - {name: Ops Lead, phone: "+4915112345679"}
recipients:
  - {id: dana, name: Dana Weber, phone: "+4915100000001", channel: whatsapp, locale: de}
  - {id: omar, name: Omar Haddad, phone: "+14155550101", channel: sms}
audiences:
  - {name: executives, description: C-level, approval: required, members: [dana]}
  - {name: it-ops, members: [omar, dana]}
templates:
  - name: investigating
    fields: [next_update]
    sms: "[SEV{{.Severity}}] {{.Title}}: we are investigating. Next update {{.Fields.next_update}}. Reply to reach the incident team."
    whatsapp: {content_sid: HX0000000000000000000000000000000, variables: {"1": "{{.Title}}", "2": "{{.Fields.next_update}}"}}
failover:
  down_after: 2s
  watcher_digest_interval: 2m
`

const (
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	appSMSFrom    = "+15005550006"
	appWhatsApp   = "whatsapp:+14155238886"
)

// heraldApp is `herald serve` running in-process exactly as in production,
// driven over HTTP the way Slack and Twilio drive it: a real redis-server,
// the fake Slack and the fake Twilio behind the real client libraries.
type heraldApp struct {
	t      *testing.T
	ctx    context.Context
	url    string
	slack  *slackapi.Server
	twilio *twilioapi.Server
	redis  *redistest.Server
	signer slackapi.Signer
	done   chan error
	stop   context.CancelFunc
	http   *http.Client
	// env is this replica's environment, read by Serve (and by the one-shot
	// commands a test runs beside it) instead of the process's, so that
	// tests with their own herald run in parallel.
	env map[string]string
}

// getenv reads a's environment, as os.Getenv reads the process's.
func (a *heraldApp) getenv(name string) string { return a.env[name] }

// envWith is a copy of env with the given changes.
func envWith(env map[string]string, tweak ...func(env map[string]string)) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	for _, f := range tweak {
		f(out)
	}
	return out
}

// freeAddr is a loopback address nothing listens on. It is taken below
// the kernel's ephemeral range (where the outgoing connections of tests
// running in parallel take their local ports, and could take this one
// before herald listens on it); startApp tries another if it is taken anyway.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 50 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000)))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startApp starts herald with the contract's environment. tweak may change
// the environment before start.
func startApp(t *testing.T, config string, tweak ...func(env map[string]string)) *heraldApp {
	t.Helper()
	a := &heraldApp{t: t, ctx: context.Background(), redis: redistest.Start(t), signer: slackapi.Signer{Secret: signingSecret},
		http: &http.Client{Timeout: 10 * time.Second}}
	a.slack = slackapi.New()
	t.Cleanup(a.slack.Close)
	a.twilio = twilioapi.New(twilioapi.Config{})
	t.Cleanup(a.twilio.Close)
	addr := freeAddr(t)
	a.url = "http://" + addr
	env := map[string]string{
		"HERALD_ADDR": addr, "HERALD_PUBLIC_URL": a.url, "REDIS_URL": a.redis.URL(),
		"HERALD_DATA_KEY": crypto.GenerateKey(),
		"SLACK_BOT_TOKEN": a.slack.BotToken, "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": a.slack.APIURL(),
		"TWILIO_ACCOUNT_SID": a.twilio.AccountSID, "TWILIO_AUTH_TOKEN": a.twilio.AuthToken, "TWILIO_API_URL": a.twilio.URL,
		"TWILIO_SMS_FROM": appSMSFrom, "TWILIO_WHATSAPP_FROM": appWhatsApp, "LOG_LEVEL": "warn",
	}
	a.env = envWith(env, tweak...)
	a.serveOnFreeAddr(config, "herald")
	return a
}

// serveOnFreeAddr is serve, on another free address if the one in a's
// environment was taken before herald could listen on it (a's public URL
// follows, unless a test set its own).
func (a *heraldApp) serveOnFreeAddr(config, label string) {
	a.t.Helper()
	for attempt := 1; ; attempt++ {
		err := a.tryServe(config, label)
		if err == nil {
			return
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			a.t.Fatalf("%s: herald serve stopped at start: %v", label, err)
		}
		addr := freeAddr(a.t)
		if a.env["HERALD_PUBLIC_URL"] == a.url {
			a.env["HERALD_PUBLIC_URL"] = "http://" + addr
		}
		a.env["HERALD_ADDR"], a.url = addr, "http://"+addr
	}
}

// shutdown stops herald as SIGTERM would and checks it stopped cleanly.
func (a *heraldApp) shutdown() {
	if a.stop == nil {
		return
	}
	a.stop()
	a.stop = nil
	select {
	case err := <-a.done:
		if err != nil {
			a.t.Errorf("herald serve returned %v on shutdown", err)
		}
	case <-time.After(30 * time.Second):
		a.t.Error("herald serve did not shut down within 30s")
	}
}

func (a *heraldApp) do(req *http.Request) (int, string) {
	a.t.Helper()
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// command types /incident <text> in a channel as user.
func (a *heraldApp) command(user, channel, text string) (int, string) {
	form := url.Values{
		"token": {"unused"}, "team_id": {"T0001"}, "team_domain": {"example"}, "channel_id": {channel},
		"channel_name": {"incidents"}, "user_id": {user}, "user_name": {strings.ToLower(user)}, "command": {"/incident"},
		"text": {text}, "response_url": {a.slack.URL() + "/commands/1234/5678"}, "trigger_id": {fmt.Sprintf("13345224609.738474920.%d", time.Now().UnixNano())},
		"api_app_id": {"A123456"},
	}
	return a.do(a.signer.SlashCommand(a.url+"/slack/commands", []byte(form.Encode())))
}

// interact sends an interaction payload (block_actions, view_submission).
func (a *heraldApp) interact(payload []byte) (int, string) {
	return a.do(a.signer.Interaction(a.url+"/slack/interactions", payload))
}

// inbound plays a phone texting herald's number, signed like Twilio.
func (a *heraldApp) inbound(form url.Values) (int, string) {
	a.t.Helper()
	code, body, err := a.twilio.SendInbound(a.ctx, a.url+"/twilio/inbound", form)
	if err != nil {
		a.t.Fatal(err)
	}
	return code, string(body)
}

// waitLimit bounds every wait for something herald does. It is not a speed
// check: tests run in parallel on small machines, and only a herald that
// never gets there should hit it.
const waitLimit = 60 * time.Second

// eventually polls cond until it holds or waitLimit passes.
func (a *heraldApp) eventually(what string, cond func() bool) {
	a.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			a.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

var incidentIDIn = regexp.MustCompile(`INC-\d+`)

// waitDeclared waits until herald has finished declaring the incident named
// in root's text: Declare posts the root message, then saves the incident
// with its thread and audits the declaration. A test that acts in the
// thread as soon as the root message shows could otherwise find herald
// between the two, for as long as a busy machine keeps it there.
func (a *heraldApp) waitDeclared(root string) {
	a.t.Helper()
	id := incidentIDIn.FindString(root)
	if id == "" {
		a.t.Fatalf("no incident id in the root message %q", root)
	}
	cfg := filepath.Join(a.t.TempDir(), "herald.yaml")
	if err := os.WriteFile(cfg, []byte(exampleConfig), 0o600); err != nil {
		a.t.Fatal(err)
	}
	a.eventually(id+"'s declaration in the audit trail", func() bool {
		var out bytes.Buffer
		err := app.Audit(a.ctx, app.AuditOptions{ConfigPath: cfg, IncidentID: id, Logger: zerolog.Nop(), Out: &out, Getenv: a.getenv})
		if err != nil {
			a.t.Fatalf("herald audit %s: %v", id, err)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "  incident.declare  ") && !strings.Contains(line, "not posted") {
				return true
			}
		}
		return false
	})
}

// startReplica starts a second `herald serve` beside a, as another pod of the
// same install would run: the same REDIS_URL, HERALD_DATA_KEY, fake Slack and
// fake Twilio, its own listen address. HERALD_PUBLIC_URL stays a's, as behind
// a load balancer. It is stopped like a when the test ends; stop it earlier
// with shutdown (as SIGTERM would). tweak may change its environment.
func (a *heraldApp) startReplica(config string, tweak ...func(env map[string]string)) *heraldApp {
	t := a.t
	t.Helper()
	addr := freeAddr(t)
	b := &heraldApp{t: t, ctx: context.Background(), redis: a.redis, slack: a.slack, twilio: a.twilio,
		signer: a.signer, http: a.http, url: "http://" + addr,
		env: envWith(a.env, append([]func(map[string]string){func(env map[string]string) { env["HERALD_ADDR"] = addr }}, tweak...)...)}
	b.serveOnFreeAddr(config, "replica 2")
	return b
}

// serve starts `herald serve` for b with config and waits until it is ready;
// label names it in verbose logs and failures.
func (b *heraldApp) serve(config, label string) {
	b.t.Helper()
	if err := b.tryServe(config, label); err != nil {
		b.t.Fatalf("%s: herald serve stopped at start: %v", label, err)
	}
}

// tryServe starts `herald serve` for b and waits until it is ready; the
// error is Serve's if it stopped at start.
func (b *heraldApp) tryServe(config, label string) error {
	t := b.t
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, b.stop = context.WithCancel(context.Background())
	b.done = make(chan error, 1)
	logger := zerolog.New(io.Discard)
	if testing.Verbose() {
		logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Str("herald", label).Logger()
	}
	done := b.done
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{ConfigPath: cfgPath, Version: "e2e", Logger: logger, Getenv: b.getenv})
	}()
	t.Cleanup(b.shutdown)
	var failed error
	b.eventually(label+" ready", func() bool {
		select {
		case failed = <-done:
			b.stop() // nothing left to shut down
			b.stop = nil
			return true
		default:
		}
		resp, err := b.http.Get(b.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if failed == nil && b.stop == nil {
		failed = errors.New("stopped without an error")
	}
	return failed
}

// startAppWith is startApp with a fake Slack built with slackOpts, e.g.
// slackapi.WithChannelRate(1, 1) to make it answer 429 as Slack does when
// herald posts too fast. (startApp's own fake goes unused.)
func startAppWith(t *testing.T, config string, slackOpts []slackapi.Option, tweak ...func(env map[string]string)) *heraldApp {
	t.Helper()
	fake := slackapi.New(slackOpts...)
	t.Cleanup(fake.Close)
	a := startApp(t, config, append(tweak, func(env map[string]string) {
		env["SLACK_API_URL"], env["SLACK_BOT_TOKEN"] = fake.APIURL(), fake.BotToken
	})...)
	a.slack = fake
	return a
}

// restart stops a as SIGTERM would and starts `herald serve` again in its
// place: the same address (so HERALD_PUBLIC_URL and Twilio's signatures
// still fit), environment, redis-server and fakes, as a pod restarted by
// Kubernetes. config is the config file the new process reads.
func (a *heraldApp) restart(config string) *heraldApp {
	a.t.Helper()
	a.shutdown()
	b := &heraldApp{t: a.t, ctx: a.ctx, url: a.url, redis: a.redis, slack: a.slack, twilio: a.twilio,
		signer: a.signer, http: a.http, env: a.env}
	b.serve(config, "restarted herald")
	return b
}

// ---- Microsoft Teams ----

// teamsApp is herald serve with Microsoft Teams configured: the fake Bot
// Framework (internal/fakes/botframework) serves the OpenID metadata and
// signing keys (TEAMS_OPENID_METADATA_URL), the token endpoint
// (TEAMS_TOKEN_URL) and the connector; activities reach /teams/messages
// signed as the Bot Connector signs them.
type teamsApp struct {
	*heraldApp
	bf *botframework.Server
}

// startTeamsApp starts herald with Teams configured, and Slack too when
// withSlack is set (else the Slack variables are empty: Teams is the only
// chat platform). config should set teams.incident_channel.
func startTeamsApp(t *testing.T, config string, withSlack bool) *teamsApp {
	t.Helper()
	bf := botframework.NewServer()
	t.Cleanup(bf.Close)
	a := startApp(t, config, func(env map[string]string) {
		env["TEAMS_APP_ID"], env["TEAMS_APP_PASSWORD"] = bf.AppID, bf.AppPassword
		env["TEAMS_TENANT_ID"] = botframework.DefaultTenantID
		env["TEAMS_OPENID_METADATA_URL"], env["TEAMS_TOKEN_URL"] = bf.MetadataURL(), bf.TokenURL()
		if !withSlack {
			env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"], env["SLACK_API_URL"] = "", "", ""
		}
	})
	return &teamsApp{heraldApp: a, bf: bf}
}

// restart is heraldApp.restart keeping the Bot Framework fake.
func (a *teamsApp) restart(config string) *teamsApp {
	return &teamsApp{heraldApp: a.heraldApp.restart(config), bf: a.bf}
}

// activity posts a Teams activity to /teams/messages with a token signed
// for it as the Bot Connector does; opts make bad tokens.
func (a *teamsApp) activity(act any, opts ...botframework.TokenOption) botframework.Response {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := a.bf.SendActivity(ctx, a.url+"/teams/messages", act, opts...)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp
}
