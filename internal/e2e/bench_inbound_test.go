package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	redisadapter "github.com/heraldops/herald/adapters/redis"
	"github.com/heraldops/herald/internal/app"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
	"github.com/heraldops/herald/internal/redistest"
)

// BenchmarkInbound measures what Twilio sees of herald under a burst of
// stakeholder messages: signed inbound webhooks over loopback HTTP to
// `herald serve` (its HTTP server and middleware, the X-Twilio-Signature
// check, the form parser and the durable enqueue to a real redis-server),
// 32 at a time. Herald's workers run as in production and work the queue
// meanwhile. One op is one webhook answered 200.
//
//	go test -run '^$' -bench Inbound -benchtime 20000x ./internal/e2e/
func BenchmarkInbound(b *testing.B) {
	const concurrency = 32
	target, twilio, redis := startServeForBench(b)
	rdb := redis.Client(b)
	// entries-added counts every job ever enqueued; acked jobs leave the
	// stream, so its length would not tell.
	enqueued := func() int64 {
		info, err := rdb.XInfoStream(context.Background(), redisadapter.DefaultPrefix+"q:inbound").Result()
		if err != nil {
			return 0 // not created yet
		}
		return info.EntriesAdded
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, IdleConnTimeout: time.Minute,
	}}
	b.Cleanup(client.CloseIdleConnections)

	b.Run("concurrency_32", func(b *testing.B) {
		// Twilio's side of the work (forms and signatures) is done before
		// the clock starts: only herald's answer is timed.
		type webhook struct{ body, signature string }
		hooks := make([]webhook, b.N)
		for i := range hooks {
			form := twilio.InboundSMS(benchSenders[i%len(benchSenders)], appSMSFrom, "Is checkout back? We still see errors at the till.")
			hooks[i] = webhook{body: form.Encode(), signature: twilioapi.Sign(twilio.AuthToken, target, form)}
		}
		latencies := make([]time.Duration, b.N)
		before := enqueued()
		var next atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(hooks[i].body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Twilio-Signature", hooks[i].signature)
					t0 := time.Now()
					resp, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					latencies[i] = time.Since(t0)
					if err != nil || resp.StatusCode != http.StatusOK {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d webhooks were not answered 200", n, b.N)
		}
		if got := enqueued() - before; got != int64(b.N) {
			b.Fatalf("%d webhooks answered 200 but %d jobs enqueued", b.N, got)
		}
		slices.Sort(latencies)
		p99 := latencies[min(len(latencies)-1, len(latencies)*99/100)]
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	})
}

// benchSenders are numbers herald never messaged: their messages go to
// triage, the most common case in a burst from the public.
var benchSenders = []string{"+4930123456701", "+4930123456702", "+4930123456703", "+4930123456704", "+4930123456705"}

// startServeForBench starts `herald serve` the way startApp does, for a
// benchmark: the contract's environment, a real redis-server, the fakes.
// It returns the inbound webhook URL, the fake Twilio and the redis-server.
func startServeForBench(b *testing.B) (string, *twilioapi.Server, *redistest.Server) {
	b.Helper()
	redis := redistest.Start(b)
	slack := slackapi.New()
	b.Cleanup(slack.Close)
	twilio := twilioapi.New(twilioapi.Config{})
	b.Cleanup(twilio.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	base := "http://" + addr
	cfgPath := filepath.Join(b.TempDir(), "herald.yaml")
	if err := os.WriteFile(cfgPath, []byte(exampleConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	for k, v := range map[string]string{
		"HERALD_ADDR": addr, "HERALD_PUBLIC_URL": base, "REDIS_URL": redis.URL(), "HERALD_DATA_KEY": crypto.GenerateKey(),
		"SLACK_BOT_TOKEN": slack.BotToken, "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": slack.APIURL(),
		"TWILIO_ACCOUNT_SID": twilio.AccountSID, "TWILIO_AUTH_TOKEN": twilio.AuthToken, "TWILIO_API_URL": twilio.URL,
		"TWILIO_SMS_FROM": appSMSFrom, "TWILIO_WHATSAPP_FROM": appWhatsApp, "LOG_LEVEL": "warn",
	} {
		b.Setenv(k, v)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{ConfigPath: cfgPath, Version: "bench", Logger: zerolog.New(io.Discard)})
	}()
	b.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("herald serve returned %v on shutdown", err)
			}
		case <-time.After(30 * time.Second):
			b.Error("herald serve did not shut down within 30s")
		}
	})
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			b.Fatalf("herald serve stopped at start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatal("herald not ready after 15s")
		}
	}
	return base + "/twilio/inbound", twilio, redis
}
