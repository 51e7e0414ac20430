package httpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/heraldops/herald/internal/logging"
)

// Check reports whether one dependency works; nil means it does. It must
// return promptly when ctx is done.
type Check func(ctx context.Context) error

type check struct {
	name     string
	fn       Check
	required bool
}

// AddReadyCheck adds a check that /readyz requires: while it fails, /readyz
// answers 503 and the load balancer sends this replica no traffic. Use it
// for what every request needs (Redis).
func (s *Server) AddReadyCheck(name string, c Check) { s.addCheck(name, c, true) }

// AddReadyInfo adds a check that /readyz reports but does not require. Use it
// for degraded modes the replica still serves in: when chat is down herald
// runs SMS-only and must keep receiving Twilio webhooks, so "chat" must not
// take replicas out of the load balancer.
func (s *Server) AddReadyInfo(name string, c Check) { s.addCheck(name, c, false) }

func (s *Server) addCheck(name string, c Check, required bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, existing := range s.checks {
		if existing.name == name {
			panic(fmt.Sprintf("httpserver: readiness check %q added twice", name))
		}
	}
	s.checks = append(s.checks, check{name: name, fn: c, required: required})
}

// CheckResult is one check's state in the /readyz body.
type CheckResult struct {
	Status   string `json:"status"` // "ok" or "failing"
	Error    string `json:"error,omitempty"`
	Required bool   `json:"required"`
}

// Readiness is the /readyz body.
type Readiness struct {
	Status string                 `json:"status"` // "ready", "not ready" or "shutting down"
	Checks map[string]CheckResult `json:"checks"`
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	body := s.runChecks(r.Context())
	code := http.StatusOK
	if body.Status != "ready" {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// runChecks runs every check at once, each bounded by CheckTimeout.
func (s *Server) runChecks(ctx context.Context) Readiness {
	s.mu.Lock()
	checks := append([]check(nil), s.checks...)
	s.mu.Unlock()

	results := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
			defer cancel()
			results[i] = CheckResult{Status: "ok", Required: c.required}
			if err := runCheck(cctx, c.fn); err != nil {
				results[i].Status = "failing"
				results[i].Error = logging.MaskText(err.Error())
			}
		}()
	}
	wg.Wait()

	out := Readiness{Status: "ready", Checks: make(map[string]CheckResult, len(checks))}
	for i, c := range checks {
		out.Checks[c.name] = results[i]
		if c.required && results[i].Status != "ok" {
			out.Status = "not ready"
			s.log.Warn().Str("check", c.name).Str("error", results[i].Error).Msg("readiness check failing")
		}
	}
	if s.draining.Load() {
		out.Status = "shutting down"
	}
	return out
}

// runCheck turns a panicking check into a failing one: a readiness probe
// must answer.
func runCheck(ctx context.Context, fn Check) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	return fn(ctx)
}
