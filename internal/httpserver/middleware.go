package httpserver

import (
	"net/http"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/metrics"
)

// probeRoutes are polled every few seconds; logging each would drown the
// log, so they are logged at debug level.
var probeRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// logRequests logs one line per request: route pattern, path, status,
// duration. Query strings are not logged (Twilio webhooks may carry numbers
// in them; the masking writer would catch them, but they are noise anyway).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := metrics.NewStatusRecorder(w)
		next.ServeHTTP(rec, r)
		code := rec.Status()
		if code == 0 {
			code = http.StatusOK
		}
		var ev *zerolog.Event
		switch {
		case code >= 500:
			ev = s.log.Error()
		case probeRoutes[r.Pattern]:
			ev = s.log.Debug()
		default:
			ev = s.log.Info()
		}
		ev.Str("method", r.Method).Str("path", r.URL.Path).Str("route", r.Pattern).
			Int("status", code).Dur("duration", time.Since(start)).Msg("request")
	})
}

// recoverPanics answers 500 when a handler panics, instead of net/http's
// dropped connection, and logs the stack. http.ErrAbortHandler keeps its
// meaning: abort the response silently.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := metrics.NewStatusRecorder(w)
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error().Str("route", r.Pattern).Str("path", r.URL.Path).
				Interface("panic", p).Bytes("stack", debug.Stack()).Msg("handler panicked")
			if rec.Status() == 0 {
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
