package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/logging"
	"github.com/heraldops/herald/internal/metrics"
)

// syncBuffer is a log sink tests can read while the server writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// started runs s on a free local port and returns its base URL, a cancel
// func that begins shutdown, and a channel with Serve's result.
func started(t *testing.T, s *Server) (url string, stop context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		errc <- s.Serve(ctx, ln)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	return "http://" + ln.Addr().String(), cancel, errc
}

func newServer(t *testing.T, o Options) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	log, err := logging.New(logs, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	o.Logger = log
	return New(o), logs
}

func get(t *testing.T, method, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestRouting(t *testing.T) {
	s, _ := newServer(t, Options{Metrics: metrics.New()})
	s.Register("POST /slack/commands", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ack")
	}))
	url, _, _ := started(t, s)

	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"HEAD", "/healthz", 200, ""},
		{"POST", "/slack/commands", 200, "ack"},
		{"GET", "/slack/commands", 405, ""},
		{"POST", "/healthz", 405, ""},
		{"GET", "/nope", 404, ""},
		{"GET", "/readyz", 200, `"status":"ready"`},
		{"GET", "/metrics", 200, "herald_chat_mode 1"},
	}
	for _, tt := range tests {
		code, body, hdr := get(t, tt.method, url+tt.path)
		if code != tt.wantCode {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, code, tt.wantCode)
		}
		if !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s %s: body %q lacks %q", tt.method, tt.path, body, tt.wantBody)
		}
		if code == 405 && hdr.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without an Allow header", tt.method, tt.path)
		}
	}
}

func TestMetricsEndpointAbsentWithoutMetrics(t *testing.T) {
	s, _ := newServer(t, Options{})
	url, _, _ := started(t, s)
	if code, _, _ := get(t, "GET", url+"/metrics"); code != 404 {
		t.Fatalf("/metrics without Metrics: %d, want 404", code)
	}
}

func readiness(t *testing.T, url string) (int, Readiness) {
	t.Helper()
	code, body, hdr := get(t, "GET", url+"/readyz")
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("readyz Content-Type %q", ct)
	}
	var r Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("readyz body is not JSON: %v\n%s", err, body)
	}
	return code, r
}

func TestReadyzFlipsWithChecks(t *testing.T) {
	s, logs := newServer(t, Options{CheckTimeout: 200 * time.Millisecond})
	var redisDown, chatDown atomic.Bool
	s.AddReadyCheck("redis", func(ctx context.Context) error {
		if redisDown.Load() {
			return errors.New("dial tcp 10.0.0.5:6379: connection refused")
		}
		return nil
	})
	s.AddReadyInfo("chat", func(ctx context.Context) error {
		if chatDown.Load() {
			return errors.New("failover: slack unreachable, SMS only; watcher +4915112345678")
		}
		return nil
	})
	url, _, _ := started(t, s)

	// given everything works
	code, r := readiness(t, url)
	if code != 200 || r.Status != "ready" || r.Checks["redis"].Status != "ok" || r.Checks["chat"].Status != "ok" {
		t.Fatalf("all ok: got %d %+v", code, r)
	}

	// when chat is down, the replica stays ready: it must keep taking Twilio webhooks
	chatDown.Store(true)
	code, r = readiness(t, url)
	if code != 200 || r.Checks["chat"].Status != "failing" || r.Checks["chat"].Required {
		t.Fatalf("chat down: got %d %+v", code, r)
	}
	if strings.Contains(r.Checks["chat"].Error, "4915112345678") || !strings.Contains(r.Checks["chat"].Error, "+49151*****78") {
		t.Errorf("check error not masked: %q", r.Checks["chat"].Error)
	}

	// when Redis is down, the replica is not ready
	redisDown.Store(true)
	code, r = readiness(t, url)
	if code != 503 || r.Status != "not ready" || r.Checks["redis"].Status != "failing" || !r.Checks["redis"].Required {
		t.Fatalf("redis down: got %d %+v", code, r)
	}
	if !strings.Contains(r.Checks["redis"].Error, "connection refused") {
		t.Errorf("redis error not reported: %+v", r.Checks["redis"])
	}
	if !strings.Contains(logs.String(), "readiness check failing") {
		t.Error("a failing required check is not logged")
	}

	// and back
	redisDown.Store(false)
	if code, _ := readiness(t, url); code != 200 {
		t.Fatalf("redis back: %d", code)
	}
}

func TestReadyzBoundsHangingAndPanickingChecks(t *testing.T) {
	s, _ := newServer(t, Options{CheckTimeout: 50 * time.Millisecond})
	s.AddReadyCheck("hangs", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	s.AddReadyCheck("panics", func(ctx context.Context) error { panic("boom") })
	url, _, _ := started(t, s)
	code, r := readiness(t, url)
	if code != 503 {
		t.Fatalf("status %d, want 503", code)
	}
	if e := r.Checks["hangs"].Error; !strings.Contains(e, "deadline exceeded") {
		t.Errorf("hanging check: %q", e)
	}
	if e := r.Checks["panics"].Error; !strings.Contains(e, "boom") {
		t.Errorf("panicking check: %q", e)
	}
}

func TestDuplicateCheckNamePanics(t *testing.T) {
	s := New(Options{})
	s.AddReadyCheck("redis", func(context.Context) error { return nil })
	defer func() {
		if recover() == nil {
			t.Fatal("adding a check name twice must panic (wiring mistake)")
		}
	}()
	s.AddReadyInfo("redis", func(context.Context) error { return nil })
}

// slowHandler blocks each request until release is closed, after saying it
// has started.
func slowHandler(startedc chan<- struct{}, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startedc <- struct{}{}
		<-release
		io.WriteString(w, "finished")
	})
}

type result struct {
	code int
	body string
	err  error
}

func fetch(url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- result{code: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

// waitRefused polls until the server refuses new connections.
func waitRefused(t *testing.T, url string) {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("server still accepts connections after shutdown began")
}

func TestInFlightRequestCompletesAfterCancel(t *testing.T) {
	s, _ := newServer(t, Options{DrainTimeout: 20 * time.Second})
	startedc, release := make(chan struct{}), make(chan struct{})
	s.Register("GET /slow", slowHandler(startedc, release))
	url, stop, done := started(t, s)

	// given a request in flight
	res := fetch(url + "/slow")
	<-startedc

	// when shutdown begins
	stop()
	waitRefused(t, url)
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}

	// then the request still completes, and Serve returns cleanly after it
	close(release)
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after a clean drain: %v", err)
	}
}

func TestDrainTimeoutCutsOffStuckRequests(t *testing.T) {
	s, _ := newServer(t, Options{DrainTimeout: 100 * time.Millisecond})
	startedc, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s.Register("GET /stuck", slowHandler(startedc, release))
	url, stop, done := started(t, s)

	res := fetch(url + "/stuck")
	<-startedc
	stop()
	err := <-done
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v, want a drain deadline error", err)
	}
	if r := <-res; r.err == nil {
		t.Fatalf("stuck request was not cut off: %+v", r)
	}
}

func TestShutdownDelayTurnsReadinessOffFirst(t *testing.T) {
	s, _ := newServer(t, Options{ShutdownDelay: 2 * time.Second})
	url, stop, done := started(t, s)
	stop()
	// During the delay the server still answers, but not ready.
	deadline := time.Now().Add(2 * time.Second)
	var r Readiness
	var code int
	for time.Now().Before(deadline) {
		if code, r = readiness(t, url); code == 503 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code != 503 || r.Status != "shutting down" {
		t.Fatalf("readyz during shutdown delay: %d %+v", code, r)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestPanicBecomes500AndIsLoggedAndCounted(t *testing.T) {
	m := metrics.New()
	s, logs := newServer(t, Options{Metrics: m})
	s.Register("POST /twilio/inbound", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("nil map")
	}))
	url, _, _ := started(t, s)
	resp, err := http.Post(url+"/twilio/inbound", "application/x-www-form-urlencoded", strings.NewReader("From=%2B4915112345678"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	if got := testutil.ToFloat64(m.HTTPRequests.WithLabelValues("POST /twilio/inbound", "500")); got != 1 {
		t.Errorf("500 counted %v times, want 1", got)
	}
	out := logs.String()
	if !strings.Contains(out, "handler panicked") || !strings.Contains(out, `"status":500`) {
		t.Errorf("panic not logged:\n%s", out)
	}
}

func TestRequestLogLevels(t *testing.T) {
	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	s := New(Options{Logger: log})
	s.Register("POST /slack/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url, _, _ := started(t, s)
	get(t, "GET", url+"/healthz")
	get(t, "POST", url+"/slack/events?token=x")
	out := logs.String()
	if strings.Contains(out, `"route":"GET /healthz"`) {
		t.Error("probe requests logged at info level")
	}
	if !strings.Contains(out, `"route":"POST /slack/events"`) || strings.Contains(out, "token=x") {
		t.Errorf("webhook request log wrong (want route, no query):\n%s", out)
	}
}

func TestRunReportsListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(Options{Addr: ln.Addr().String()}) // already taken
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listening on "+ln.Addr().String()) {
		t.Fatalf("Run on a taken port = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	s := New(Options{})
	if s.Addr() != ":8080" || s.opts.DrainTimeout != 20*time.Second || s.opts.ReadHeaderTimeout == 0 {
		t.Fatalf("defaults not applied: %+v", s.opts)
	}
}

// With MetricsAddr, /metrics answers on its own listener only: the webhook
// port an ingress exposes has none, and the metrics port has nothing else.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	s, _ := newServer(t, Options{Metrics: metrics.New(), MetricsAddr: "127.0.0.1:0"})
	s.Register("POST /slack/commands", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeWithMetrics(ctx, ln, mln) }()
	web, mon := "http://"+ln.Addr().String(), "http://"+mln.Addr().String()

	for _, c := range []struct {
		url      string
		wantCode int
	}{
		{web + "/metrics", 404},
		{web + "/healthz", 200},
		{mon + "/metrics", 200},
		{mon + "/healthz", 404},
		{mon + "/slack/commands", 404},
	} {
		if code, _, _ := get(t, "GET", c.url); code != c.wantCode {
			t.Errorf("GET %s: %d, want %d", c.url, code, c.wantCode)
		}
	}
	if _, body, _ := get(t, "GET", mon+"/metrics"); !strings.Contains(body, "herald_chat_mode 1") {
		t.Errorf("metrics port body lacks herald's metrics:\n%.300s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeWithMetrics: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := net.Dial("tcp", mln.Addr().String()); err == nil {
		t.Error("metrics listener still open after shutdown")
	}
}

func TestRunReportsMetricsListenErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := New(Options{Addr: "127.0.0.1:0", Metrics: metrics.New(), MetricsAddr: taken.Addr().String()})
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listening for metrics on "+taken.Addr().String()) {
		t.Fatalf("Run with a taken metrics port = %v", err)
	}
}
