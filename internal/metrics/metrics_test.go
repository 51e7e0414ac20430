package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInstrumentHTTPLabelsByRoute(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok") // implicit 200
	})
	mux.HandleFunc("POST /twilio/inbound", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
	})
	mux.HandleFunc("GET /incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(m.InstrumentHTTP(mux))
	defer srv.Close()

	requests := []struct{ method, path string }{
		{"POST", "/slack/commands"},
		{"POST", "/slack/commands"},
		{"POST", "/twilio/inbound"},
		{"GET", "/incidents/INC-1"},
		{"GET", "/incidents/INC-2"}, // same route, not a new series per id
		{"GET", "/no/such/path"},
		{"GET", "/slack/commands"}, // wrong method: 405
	}
	for _, rq := range requests {
		req, _ := http.NewRequest(rq.method, srv.URL+rq.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	tests := []struct {
		route, code string
		want        float64
	}{
		{"POST /slack/commands", "200", 2},
		{"POST /twilio/inbound", "401", 1},
		{"GET /incidents/{id}", "204", 2},
		{RouteUnmatched, "404", 1},
		{RouteUnmatched, "405", 1},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(m.HTTPRequests.WithLabelValues(tt.route, tt.code)); got != tt.want {
			t.Errorf("requests{route=%q,code=%s} = %v, want %v", tt.route, tt.code, got, tt.want)
		}
	}
	if got := testutil.CollectAndCount(m.HTTPRequests); got != len(tests) {
		t.Errorf("got %d request series, want %d (no raw paths as labels)", got, len(tests))
	}
	if got := testutil.CollectAndCount(m.HTTPDuration); got != 4 {
		t.Errorf("got %d duration series, want 4", got)
	}
}

func TestHandlerExportsEveryMetric(t *testing.T) {
	m := New()
	m.SetBuildInfo("v1.2.3")
	m.MessageSent("sms", ResultOK)
	m.DeliveryState("delivered")
	m.QueueJob("relay", ResultOK)
	m.Inbound("whatsapp", "reply")
	m.SetChatUp(false)
	m.BroadcastState("approved")
	m.RateLimitWaited(250 * time.Millisecond)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`herald_messages_sent_total{channel="sms",result="ok"} 1`,
		`herald_messages_sent_total{channel="whatsapp",result="error"} 0`, // pre-created series
		`herald_deliveries_total{state="delivered"} 1`,
		`herald_queue_jobs_total{result="ok",topic="relay"} 1`,
		`herald_inbound_messages_total{channel="whatsapp",kind="reply"} 1`,
		`herald_chat_mode 0`,
		`herald_broadcasts_total{state="approved"} 1`,
		`herald_rate_limit_wait_seconds_bucket{le="0.25"} 1`,
		`herald_build_info{version="v1.2.3"} 1`,
		"# TYPE herald_rate_limit_wait_seconds histogram",
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestChatModeStartsUp(t *testing.T) {
	m := New()
	if got := testutil.ToFloat64(m.ChatMode); got != 1 {
		t.Fatalf("herald_chat_mode = %v at start, want 1", got)
	}
	m.SetChatUp(false)
	m.SetChatUp(true)
	if got := testutil.ToFloat64(m.ChatMode); got != 1 {
		t.Fatalf("herald_chat_mode = %v after recovery, want 1", got)
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.MessageSent("sms", ResultOK)
	m.DeliveryState("sent")
	m.QueueJob("relay", ResultError)
	m.Inbound("sms", "stop")
	m.SetChatUp(true)
	m.BroadcastState("done")
	m.RateLimitWaited(time.Second)
	m.SetBuildInfo("x")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	if got := m.InstrumentHTTP(h); got == nil {
		t.Fatal("nil metrics must pass the handler through")
	}
}

func TestRecorderKeepsFlusher(t *testing.T) {
	m := New()
	flushed := false
	h := m.InstrumentHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the middleware: %v", err)
		}
		flushed = true
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !flushed || !rec.Flushed {
		t.Fatal("the response was not flushed")
	}
}
