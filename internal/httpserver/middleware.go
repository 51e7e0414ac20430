package httpserver

import (
	"net/http"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"
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
		rec := &codeRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.code
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
		rec := &codeRecorder{ResponseWriter: w}
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
			if rec.code == 0 {
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// codeRecorder remembers the status code written.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 && code >= 200 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *codeRecorder) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		if c.code == 0 {
			c.code = http.StatusOK
		}
		f.Flush()
	}
}
