package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// InstrumentHTTP counts and times every request served by next, labelled by
// the http.ServeMux pattern that matched ("POST /slack/commands"), or
// RouteUnmatched for 404s and 405s. Wrap the ServeMux itself: the mux records
// the pattern in the request, which this middleware reads once the request is
// served. A nil *Metrics returns next unchanged.
func (m *Metrics) InstrumentHTTP(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := NewStatusRecorder(w)
		defer func() {
			route := r.Pattern
			if route == "" {
				route = RouteUnmatched
			}
			code := rec.Status()
			if code == 0 {
				code = http.StatusOK // nothing written: net/http answers 200
			}
			m.HTTPRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			m.HTTPDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

// StatusRecorder wraps a ResponseWriter and remembers the final status code
// written, for middleware that reports it (this package's request metrics,
// internal/httpserver's request log and panic recovery). Unwrap lets
// http.ResponseController reach the original writer's Flush, deadlines and
// so on.
type StatusRecorder struct {
	http.ResponseWriter
	status int
}

// NewStatusRecorder wraps w.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w}
}

// Status is the final status code written so far: 0 while nothing was
// written (net/http answers 200 if the handler returns so).
func (s *StatusRecorder) Status() int { return s.status }

func (s *StatusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 { // 1xx are interim, the final code follows
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush supports streaming handlers that type-assert http.Flusher.
func (s *StatusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		if s.status == 0 {
			s.status = http.StatusOK
		}
		f.Flush()
	}
}
