package twilioapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is an error answer the fake gives instead of doing its work.
type Fault struct {
	Status   int    // HTTP status
	Code     int    // Twilio error code
	Message  string // Twilio's message
	MoreInfo string // defaults to https://www.twilio.com/docs/errors/<Code>
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// RawBody, when set, replaces the JSON error body with this text (as an
	// overloaded proxy in front of Twilio answers: HTML or plain text).
	RawBody string
}

// Errors Twilio really answers, for injection.
var (
	// ErrUnsubscribed: the recipient sent STOP (fixtures/twilio/error_21610.json).
	ErrUnsubscribed = Fault{Status: http.StatusBadRequest, Code: 21610, Message: "Attempt to send to unsubscribed recipient"}
	// ErrTooManyRequests: account concurrency exceeded (fixtures/twilio/error_20429.json).
	ErrTooManyRequests = Fault{Status: http.StatusTooManyRequests, Code: 20429, Message: "Too Many Requests"}
	// ErrServiceUnavailable: a 503 with a non-JSON body.
	ErrServiceUnavailable = Fault{Status: http.StatusServiceUnavailable, RawBody: "<html><body><h1>503 Service Unavailable</h1></body></html>\n"}
)

// WithRetryAfter returns a copy of f that also sends Retry-After: seconds.
func (f Fault) WithRetryAfter(seconds int) Fault {
	f.RetryAfter = strconv.Itoa(seconds)
	return f
}

type errorBody struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, f Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.RawBody != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.RawBody))
		return
	}
	more := f.MoreInfo
	if more == "" && f.Code != 0 {
		more = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", f.Code)
	}
	writeJSON(w, f.Status, errorBody{Code: f.Code, Message: f.Message, MoreInfo: more, Status: f.Status})
}

type faultState struct {
	next    []Fault          // answered by the next requests, one each, in order
	byTo    map[string]Fault // keyed by To as sent, or by the bare E.164 number for both channels
	latency time.Duration

	// random faults answer a share of message creations, each in turn
	// (see FailRandomly).
	random []RandomFault
	// maxInFlight > 0 refuses requests beyond that many in flight (see
	// SetMaxInFlight); inFlight counts them.
	maxInFlight int
	inFlight    int

	// A token bucket over message creations: rate per second, holding at
	// most burst tokens.
	rate       float64
	burst      float64
	tokens     float64
	lastRefill time.Time
}

// FailNext makes the next n API requests (any endpoint) answer f.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults.next = append(s.faults.next, f)
	}
}

// FailTo makes every message to `to` answer f. A bare number ("+1555...")
// matches both SMS and WhatsApp; "whatsapp:+1555..." matches WhatsApp only.
// Validation errors still come first, as at Twilio.
func (s *Server) FailTo(to string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.byTo == nil {
		s.faults.byTo = map[string]Fault{}
	}
	s.faults.byTo[to] = f
}

// RandomFault answers Share (0..1) of message creations with Fault.
type RandomFault struct {
	Share float64
	Fault Fault
}

// FailRandomly makes message creations fail at random: each fault answers
// its share, independently of the others (20% 429 and 5% 503: 25% fail).
func (s *Server) FailRandomly(faults ...RandomFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.random = faults
}

func (s *Server) randomFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := rand.Float64()
	for _, f := range s.faults.random {
		if x < f.Share {
			return f.Fault, true
		}
		x -= f.Share
	}
	return Fault{}, false
}

// SetMaxInFlight makes requests beyond n in flight at once answer 429 with
// code 20429 and no Retry-After, as Twilio does per account when too many
// requests are open. n 0 removes the limit.
func (s *Server) SetMaxInFlight(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.maxInFlight = n
}

// enter counts a request in; false if it is one too many (then it is not
// counted, and leave must not be called).
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.maxInFlight > 0 && s.faults.inFlight >= s.faults.maxInFlight {
		return false
	}
	s.faults.inFlight++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.inFlight--
}

// ClearFaults removes every injected fault, latency and rate limit.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faultState{inFlight: s.faults.inFlight} // requests in flight still leave
}

// SetLatency delays every API answer by d (the client's context still cuts it short).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// SetRateLimit lets at most perSecond message creations through per second,
// with bursts of up to burst; the rest answer 429 with code 20429 and
// Retry-After: 1, as Twilio does when an account's queue is over its limit.
// perSecond 0 removes the limit.
func (s *Server) SetRateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if burst < 1 {
		burst = 1
	}
	s.faults.rate = perSecond
	s.faults.burst = float64(burst)
	s.faults.tokens = float64(burst)
	s.faults.lastRefill = time.Now()
}

func (s *Server) takeNextFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults.next) == 0 {
		return Fault{}, false
	}
	f := s.faults.next[0]
	s.faults.next = s.faults.next[1:]
	return f, true
}

func (s *Server) faultFor(to string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.faults.byTo[to]; ok {
		return f, true
	}
	f, ok := s.faults.byTo[strings.TrimPrefix(to, "whatsapp:")]
	return f, ok
}

// allowCreate takes a token from the rate-limit bucket.
func (s *Server) allowCreate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := &s.faults
	if fs.rate <= 0 {
		return true
	}
	now := time.Now()
	fs.tokens += now.Sub(fs.lastRefill).Seconds() * fs.rate
	if fs.tokens > fs.burst {
		fs.tokens = fs.burst
	}
	fs.lastRefill = now
	if fs.tokens < 1 {
		return false
	}
	fs.tokens--
	return true
}

// waitLatency sleeps for the configured latency; false if the request or the
// server ended first.
func (s *Server) waitLatency(ctx context.Context) bool {
	s.mu.Lock()
	d := s.faults.latency
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.bgCtx.Done():
		return false
	}
}
