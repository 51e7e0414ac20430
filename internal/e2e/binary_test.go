package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
	"github.com/heraldops/herald/internal/redistest"
)

// TestBinaryServesAndStopsOnSIGTERM builds bin/herald the way the acceptance
// suite does, starts it as a process with the contract's environment and the
// contract's config example, drives /incident new over HTTP, and stops it
// with SIGTERM: it must exit 0 and its log must hold no full phone number.
func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := heraldBinary(t)
	example, err := os.ReadFile(filepath.Join("..", "config", "testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(cfg, example, 0o600); err != nil {
		t.Fatal(err)
	}
	redis := redistest.Start(t)
	slack := slackapi.New()
	t.Cleanup(slack.Close)
	twilio := twilioapi.New(twilioapi.Config{})
	t.Cleanup(twilio.Close)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+addr, "HERALD_PUBLIC_URL=http://"+addr, "REDIS_URL="+redis.URL(), "HERALD_DATA_KEY="+crypto.GenerateKey(),
		"SLACK_BOT_TOKEN="+slack.BotToken, "SLACK_SIGNING_SECRET="+signingSecret, "SLACK_API_URL="+slack.APIURL(),
		"TWILIO_ACCOUNT_SID="+twilio.AccountSID, "TWILIO_AUTH_TOKEN="+twilio.AuthToken, "TWILIO_API_URL="+twilio.URL,
		"TWILIO_SMS_FROM="+appSMSFrom, "TWILIO_WHATSAPP_FROM="+appWhatsApp, "LOG_LEVEL=debug")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	a := &heraldApp{t: t, ctx: context.Background(), url: "http://" + addr, slack: slack, twilio: twilio, signer: slackapi.Signer{Secret: signingSecret},
		http: &http.Client{Timeout: 10 * time.Second}}
	a.eventually("the binary ready", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("herald exited at start: %v\n%s", err, logs.String())
		default:
		}
		resp, err := a.http.Get(a.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if code, _ := a.command("U0RESP1", "C0INCIDENTS", "new Checkout down --sev 2"); code != http.StatusOK {
		t.Fatalf("slash command: HTTP %d", code)
	}
	a.eventually("the root message", func() bool { return len(slack.Posts("C0INCIDENTS")) == 1 })
	// a stranger texts in: the log (debug level) must still mask the number
	if code, _ := a.inbound(twilio.InboundSMS("+4930123456789", appSMSFrom, "hello?")); code != http.StatusOK {
		t.Fatalf("inbound: HTTP %d", code)
	}
	deadline := time.Now().Add(waitLimit)
	for len(slack.Posts("C0INCIDENTS")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no triage post in C0INCIDENTS; calls %+v\n%s", slack.Calls("chat.postMessage"), logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("herald exited with %v after SIGTERM\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("herald did not stop within 30s of SIGTERM\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "+4930123456789") || strings.Contains(logs.String(), "4930123456789") {
		t.Errorf("a full phone number reached the log:\n%s", logs.String())
	}
}

// heraldBinary builds bin/herald once for the package's tests that run it
// as a process (the acceptance suite's way), instead of once per test.
func heraldBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "herald-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "herald")
		build := exec.Command("go", "build", "-o", builtBin, "../../cmd/herald")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// removeHeraldBinary deletes what heraldBinary built; TestMain calls it.
func removeHeraldBinary() {
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
}
