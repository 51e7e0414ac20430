package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values shared by the recorders, so dashboards can rely on them.
const (
	ResultOK    = "ok"
	ResultError = "error"
	// ResultRetry: a temporary failure that will be tried again (rate
	// limit, provider 5xx).
	ResultRetry = "retry"
	// RouteUnmatched labels requests that matched no route (404, 405):
	// raw paths would let anyone create unbounded label values.
	RouteUnmatched = "unmatched"
)

// Metrics holds herald's own metrics and the registry they are exported from.
// The fields are exported for tests and for packages with needs the
// recorders do not cover; prefer the recorder methods, which accept a nil
// *Metrics.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests    *prometheus.CounterVec   // route, code
	HTTPDuration    *prometheus.HistogramVec // route
	MessagesSent    *prometheus.CounterVec   // channel, result
	Deliveries      *prometheus.CounterVec   // state
	QueueJobs       *prometheus.CounterVec   // topic, result
	InboundMessages *prometheus.CounterVec   // channel, kind
	ChatMode        prometheus.Gauge         // 1 up, 0 failover (SMS only) or down
	Broadcasts      *prometheus.CounterVec   // state
	RateLimitWait   prometheus.Histogram     // seconds a send waited for a rate-limit token
	BuildInfo       *prometheus.GaugeVec     // version, always 1
}

// New creates the registry with the Go runtime and process collectors and
// every herald metric registered on it.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "herald_http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by route pattern. Slack wants an answer within 3 s.",
			// Finer buckets below Slack's 3 s acknowledgement limit.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5, 10},
		}, []string{"route"}),
		MessagesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_messages_sent_total",
			Help: "Messages handed to the provider, by channel (sms, whatsapp) and result (ok, error, retry).",
		}, []string{"channel", "result"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_deliveries_total",
			Help: "Delivery state changes, by the state reached (queued, sent, delivered, read, failed, undelivered, opted_out).",
		}, []string{"state"}),
		QueueJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_queue_jobs_total",
			Help: "Work queue jobs processed, by topic and result (ok, error, retry).",
		}, []string{"topic", "result"}),
		InboundMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_inbound_messages_total",
			Help: "Messages received from phones, by channel and kind (reply, stop, start, command, unknown).",
		}, []string{"channel", "kind"}),
		ChatMode: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_chat_mode",
			Help: "1 while the chat platform is reachable, 0 while herald runs SMS-only (failover) or chat is down.",
		}),
		Broadcasts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_broadcasts_total",
			Help: "Broadcast state changes, by the state reached (pending_approval, approved, rejected, expired, sending, done).",
		}, []string{"state"}),
		RateLimitWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_rate_limit_wait_seconds",
			Help:    "How long a send waited for its sender's rate-limit token.",
			Buckets: []float64{0, .01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60},
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_build_info",
			Help: "Always 1; the version label says which herald build is running.",
		}, []string{"version"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.MessagesSent, m.Deliveries, m.QueueJobs,
		m.InboundMessages, m.ChatMode, m.Broadcasts, m.RateLimitWait, m.BuildInfo,
	)
	// herald starts assuming chat is up; the failover watcher corrects it.
	m.ChatMode.Set(1)
	m.initLabels()
	return m
}

// initLabels creates the well-known series at zero, so that dashboards and
// rate() see them before the first event instead of a missing series.
func (m *Metrics) initLabels() {
	for _, ch := range []string{"sms", "whatsapp"} {
		for _, res := range []string{ResultOK, ResultError, ResultRetry} {
			m.MessagesSent.WithLabelValues(ch, res)
		}
	}
	for _, st := range []string{"queued", "sent", "delivered", "read", "failed", "undelivered", "opted_out"} {
		m.Deliveries.WithLabelValues(st)
	}
	for _, st := range []string{"pending_approval", "approved", "rejected", "expired", "sending", "done"} {
		m.Broadcasts.WithLabelValues(st)
	}
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry:          m.Registry, // counts its own scrape errors
		EnableOpenMetrics: true,
	})
}

// SetBuildInfo records the running version.
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	m.BuildInfo.Reset()
	m.BuildInfo.WithLabelValues(version).Set(1)
}

// MessageSent counts one message handed to the provider.
func (m *Metrics) MessageSent(channel, result string) {
	if m == nil {
		return
	}
	m.MessagesSent.WithLabelValues(channel, result).Inc()
}

// DeliveryState counts a delivery reaching state.
func (m *Metrics) DeliveryState(state string) {
	if m == nil {
		return
	}
	m.Deliveries.WithLabelValues(state).Inc()
}

// QueueJob counts one processed job.
func (m *Metrics) QueueJob(topic, result string) {
	if m == nil {
		return
	}
	m.QueueJobs.WithLabelValues(topic, result).Inc()
}

// Inbound counts one message received from a phone.
func (m *Metrics) Inbound(channel, kind string) {
	if m == nil {
		return
	}
	m.InboundMessages.WithLabelValues(channel, kind).Inc()
}

// SetChatUp records whether chat is reachable (false: failover, SMS only).
func (m *Metrics) SetChatUp(up bool) {
	if m == nil {
		return
	}
	if up {
		m.ChatMode.Set(1)
	} else {
		m.ChatMode.Set(0)
	}
}

// BroadcastState counts a broadcast reaching state.
func (m *Metrics) BroadcastState(state string) {
	if m == nil {
		return
	}
	m.Broadcasts.WithLabelValues(state).Inc()
}

// RateLimitWaited records how long a send waited for a rate-limit token.
func (m *Metrics) RateLimitWaited(d time.Duration) {
	if m == nil {
		return
	}
	m.RateLimitWait.Observe(d.Seconds())
}
