package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/app"
	"github.com/heraldops/herald/internal/demo"
)

// run is `herald demo` started in-process on a free port, driven through
// the console's own endpoints as the page drives it.
type run struct {
	t       *testing.T
	url     string
	startup time.Duration
	http    *http.Client
	// inCalls is the time spent in console calls so far: herald's answers
	// to the signed requests they make.
	inCalls time.Duration
}

func startDemo(t *testing.T) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type up struct {
		url  string
		took time.Duration
	}
	ready := make(chan up, 1)
	done := make(chan error, 1)
	logger := zerolog.Nop()
	if testing.Verbose() {
		logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	}
	var out bytes.Buffer
	go func() {
		done <- app.Demo(ctx, app.DemoOptions{Addr: "127.0.0.1:0", Version: "test", Logger: logger, Out: &out,
			Ready: func(url string, took time.Duration) { ready <- up{url, took} }})
	}()
	var r *run
	select {
	case u := <-ready:
		r = &run{t: t, url: u.url, startup: u.took, http: &http.Client{Timeout: 20 * time.Second}}
	case err := <-done:
		cancel()
		t.Fatalf("herald demo stopped at start: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("herald demo not up after 20s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("herald demo returned %v on shutdown", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("herald demo did not stop within 30s")
		}
	})
	if want := "herald demo: open " + r.url + "/"; !strings.Contains(out.String(), want) {
		t.Errorf("herald demo printed %q, want %q", out.String(), want)
	}
	t.Logf("herald demo up in %v", r.startup)
	return r
}

// post calls a console endpoint and decodes its JSON answer into out.
func (r *run) post(path string, body any, out any) int {
	r.t.Helper()
	b, _ := json.Marshal(body)
	start := time.Now()
	defer func() { r.inCalls += time.Since(start) }()
	resp, err := r.http.Post(r.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("POST %s %s: HTTP %d %s", path, b, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("POST %s: %v in %s", path, err, raw)
		}
	}
	return resp.StatusCode
}

func (r *run) state() demo.State {
	r.t.Helper()
	resp, err := r.http.Get(r.url + "/api/state")
	if err != nil {
		r.t.Fatalf("GET /api/state: %v", err)
	}
	defer resp.Body.Close()
	var s demo.State
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		r.t.Fatalf("decoding /api/state: %v", err)
	}
	return s
}

// waitState polls the console's state until cond holds (20 s at most) and
// returns the state that satisfied it.
func (r *run) waitState(what string, cond func(demo.State) bool) demo.State {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := r.state()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// text is what a reader of a message sees: its fallback text and every
// "text" in its blocks.
func text(m demo.SlackMessage) string {
	parts := []string{m.Text}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				parts = append(parts, s)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var blocks any
	_ = json.Unmarshal(m.Blocks, &blocks)
	walk(blocks)
	return strings.Join(parts, "\n")
}

func viewText(m *demo.ModalState) string {
	if m == nil {
		return ""
	}
	return text(demo.SlackMessage{Blocks: m.View})
}

// findMessage returns the first message in the channel containing want.
func findMessage(s demo.State, want string) (demo.SlackMessage, bool) {
	for _, m := range s.Channel.Messages {
		if strings.Contains(text(m), want) {
			return m, true
		}
	}
	return demo.SlackMessage{}, false
}

func hasEphemeral(s demo.State, user, want string) bool {
	for _, e := range s.Channel.Ephemerals {
		if e.User == user && strings.Contains(text(demo.SlackMessage{Text: e.Text, Blocks: e.Blocks}), want) {
			return true
		}
	}
	return false
}

func phone(s demo.State, id string) demo.PhoneState {
	for _, p := range s.Phones {
		if p.ID == id {
			return p
		}
	}
	return demo.PhoneState{}
}

// received are the messages herald sent to a phone.
func received(p demo.PhoneState) []demo.Bubble {
	var out []demo.Bubble
	for _, b := range p.Bubbles {
		if b.Dir == "in" {
			out = append(out, b)
		}
	}
	return out
}

func anyBubble(p demo.PhoneState, want string) bool {
	for _, b := range received(p) {
		if strings.Contains(b.Body, want) {
			return true
		}
	}
	return false
}

// BenchmarkDemoStartup measures `herald demo` from the call to the moment
// the console answers: simulators, in-process store, herald's wiring and
// its readiness check.
func BenchmarkDemoStartup(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan time.Duration, 1)
		done := make(chan error, 1)
		go func() {
			done <- app.Demo(ctx, app.DemoOptions{Addr: "127.0.0.1:0", Logger: zerolog.Nop(),
				Ready: func(_ string, took time.Duration) { ready <- took }})
		}()
		select {
		case took := <-ready:
			b.ReportMetric(float64(took.Microseconds())/1000, "ms-to-ready")
		case err := <-done:
			b.Fatalf("herald demo stopped at start: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
