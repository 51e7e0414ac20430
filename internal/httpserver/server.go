package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/metrics"
)

// Defaults for Options' zero values.
const (
	DefaultAddr              = ":8080"
	DefaultDrainTimeout      = 20 * time.Second
	DefaultCheckTimeout      = 2 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	// Webhook handlers answer fast (Slack allows 3 s); these bound slow or
	// stuck clients, not handlers.
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 120 * time.Second
	maxHeaderBytes      = 64 << 10
)

// Options configures a Server. Zero values take the defaults above.
type Options struct {
	Addr    string           // HERALD_ADDR, default ":8080"
	Logger  zerolog.Logger   // request log and server errors
	Metrics *metrics.Metrics // nil: no /metrics and no request metrics
	// MetricsAddr (HERALD_METRICS_ADDR), when set, moves /metrics off Addr
	// to a listener of its own: the webhook port faces the internet through
	// an ingress, the metrics port only the cluster's Prometheus.
	MetricsAddr string

	// DrainTimeout bounds how long shutdown waits for in-flight requests
	// before cutting them off.
	DrainTimeout time.Duration
	// ShutdownDelay keeps serving for a while after shutdown began, with
	// /readyz already answering 503, so load balancers stop sending new
	// requests before the listener closes. Default 0.
	ShutdownDelay time.Duration
	// CheckTimeout bounds each readiness check.
	CheckTimeout time.Duration

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// Server is herald's HTTP server. Create it with New, Register handlers and
// readiness checks, then Run it.
type Server struct {
	opts     Options
	log      zerolog.Logger
	mux      *http.ServeMux
	handler  http.Handler
	draining atomic.Bool

	mu     sync.Mutex
	checks []check
}

// New builds a server with /healthz, /readyz and (when Metrics is set)
// /metrics already registered.
func New(o Options) *Server {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	o.DrainTimeout = orDefault(o.DrainTimeout, DefaultDrainTimeout)
	o.CheckTimeout = orDefault(o.CheckTimeout, DefaultCheckTimeout)
	o.ReadHeaderTimeout = orDefault(o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	o.ReadTimeout = orDefault(o.ReadTimeout, DefaultReadTimeout)
	o.WriteTimeout = orDefault(o.WriteTimeout, DefaultWriteTimeout)
	o.IdleTimeout = orDefault(o.IdleTimeout, DefaultIdleTimeout)

	s := &Server{opts: o, log: o.Logger.With().Str("component", "http").Logger(), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if o.Metrics != nil && o.MetricsAddr == "" {
		s.mux.Handle("GET /metrics", o.Metrics.Handler())
	}
	// Panics are recovered innermost, so the request log and the metrics
	// see the 500 they turn into.
	s.handler = o.Metrics.InstrumentHTTP(s.logRequests(s.recoverPanics(s.mux)))
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Register routes requests matching pattern to h. Patterns are
// http.ServeMux patterns with method and wildcards ("POST /slack/commands",
// "GET /incidents/{id}"); a request for a known path with another method
// gets 405, an unknown path 404. Like ServeMux.Handle it panics on an
// invalid or conflicting pattern: that is a wiring mistake.
func (s *Server) Register(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// Handler returns the whole handler chain (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the configured listen address.
func (s *Server) Addr() string { return s.opts.Addr }

// Run listens on the configured address (and on MetricsAddr when set) and
// serves until ctx is cancelled, then shuts down gracefully (see Serve).
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	if s.opts.MetricsAddr == "" || s.opts.Metrics == nil {
		return s.Serve(ctx, ln)
	}
	mln, err := lc.Listen(ctx, "tcp", s.opts.MetricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listening for metrics on %s: %w", s.opts.MetricsAddr, err)
	}
	return s.ServeWithMetrics(ctx, ln, mln)
}

// ServeWithMetrics is Serve with /metrics alone on mln. Scrapes are not
// counted as requests: they are not traffic an operator pages on.
func (s *Server) ServeWithMetrics(ctx context.Context, ln, mln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.opts.Metrics.Handler())
	msrv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(errorLogWriter{s.log}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- msrv.Serve(mln) }()
	s.log.Info().Str("addr", mln.Addr().String()).Msg("metrics listening")
	err := s.Serve(ctx, ln)
	// Closed only after the drain, so the last scrapes still see it.
	msrv.Close()
	if merr := <-served; err == nil && !errors.Is(merr, http.ErrServerClosed) {
		err = fmt.Errorf("serving metrics on %s: %w", mln.Addr(), merr)
	}
	return err
}

// Serve serves on ln until ctx is cancelled. Then it answers /readyz with
// 503, waits ShutdownDelay, stops accepting connections and waits up to
// DrainTimeout for in-flight requests to finish. It returns nil after a
// clean drain, an error if serving failed or the drain timed out (remaining
// connections are then closed). Requests' contexts are not cancelled by
// ctx, so that in-flight work can complete.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          log.New(errorLogWriter{s.log}, "", 0),
	}
	s.draining.Store(false)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("HTTP server listening")

	select {
	case err := <-served:
		return fmt.Errorf("serving HTTP on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	s.draining.Store(true)
	if d := s.opts.ShutdownDelay; d > 0 {
		s.log.Info().Dur("delay", d).Msg("shutting down: readiness off, still serving")
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-served:
			t.Stop()
			return fmt.Errorf("serving HTTP on %s: %w", ln.Addr(), err)
		}
	}
	s.log.Info().Dur("drain_timeout", s.opts.DrainTimeout).Msg("shutting down: draining in-flight requests")
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(drainCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP on %s: %w", ln.Addr(), serveErr)
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("draining HTTP requests within %s: %w", s.opts.DrainTimeout, err)
	}
	s.log.Info().Msg("HTTP server stopped")
	return nil
}

// errorLogWriter sends net/http's own complaints (TLS handshakes, bad
// requests, handler panics) to the structured log.
type errorLogWriter struct{ log zerolog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	w.log.Warn().Msg(msg)
	return len(p), nil
}
