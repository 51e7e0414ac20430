package e2e

import (
	"bytes"
	"io"
	"net"
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
)

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBinaryWaitsForRedisAndServesMetricsApart runs bin/herald as a pod
// would when it starts before its Redis: it must say it waits, keep
// waiting instead of exiting, serve once Redis is up, and with
// HERALD_METRICS_ADDR answer /metrics there and not on the webhook port.
func TestBinaryWaitsForRedisAndServesMetricsApart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("needs redis-server")
	}
	bin := heraldBinary(t)
	example, err := os.ReadFile(filepath.Join("..", "config", "testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(cfg, example, 0o600); err != nil {
		t.Fatal(err)
	}
	slack := slackapi.New()
	t.Cleanup(slack.Close)
	twilio := twilioapi.New(twilioapi.Config{})
	t.Cleanup(twilio.Close)

	// given no Redis yet on the address herald is told
	redisAddr, addr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+addr, "HERALD_METRICS_ADDR="+metricsAddr, "HERALD_PUBLIC_URL=http://"+addr,
		"REDIS_URL=redis://"+redisAddr+"/0", "HERALD_DATA_KEY="+crypto.GenerateKey(),
		"SLACK_BOT_TOKEN="+slack.BotToken, "SLACK_SIGNING_SECRET="+signingSecret, "SLACK_API_URL="+slack.APIURL(),
		"TWILIO_ACCOUNT_SID="+twilio.AccountSID, "TWILIO_AUTH_TOKEN="+twilio.AuthToken, "TWILIO_API_URL="+twilio.URL,
		"TWILIO_SMS_FROM="+appSMSFrom, "TWILIO_WHATSAPP_FROM="+appWhatsApp)
	logs := &syncLog{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			select {
			case err := <-exited:
				t.Fatalf("herald exited while waiting for %s: %v\n%s", what, err, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// when it has said twice that it waits, Redis starts
	until("two 'waiting for Redis' lines", func() bool { return strings.Count(logs.String(), "waiting for Redis") >= 2 })
	host, port, _ := net.SplitHostPort(redisAddr)
	redis := exec.Command(redisServer, "--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := redis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = redis.Process.Kill(); _ = redis.Wait() })

	// then herald serves, /metrics only on its own port
	client := &http.Client{Timeout: 5 * time.Second}
	status := func(url string) (int, string) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	until("ready", func() bool { code, _ := status("http://" + addr + "/readyz"); return code == http.StatusOK })
	if code, body := status("http://" + metricsAddr + "/metrics"); code != http.StatusOK || !strings.Contains(body, "herald_build_info") {
		t.Errorf("metrics port: HTTP %d\n%.300s", code, body)
	}
	if code, _ := status("http://" + addr + "/metrics"); code != http.StatusNotFound {
		t.Errorf("webhook port /metrics: HTTP %d, want 404", code)
	}
	if !strings.Contains(logs.String(), "Redis answers; starting") {
		t.Errorf("no line saying Redis answered:\n%s", logs.String())
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
}
