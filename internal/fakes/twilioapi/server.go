package twilioapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Default credentials, shaped like real ones (twilio-go refuses credentials
// that are not alphanumeric).
const (
	DefaultAccountSID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	DefaultAuthToken  = "0123456789abcdef0123456789abcdef"
)

// Config sets up a Server. Zero values get sensible defaults.
type Config struct {
	AccountSID string // DefaultAccountSID if empty
	AuthToken  string // DefaultAuthToken if empty
	// Now stamps messages (date_created, date_sent). Defaults to time.Now.
	// Latency and the rate limit always use the wall clock.
	Now func() time.Time
	// WebhookClient posts status callbacks and inbound messages. Defaults to a
	// client with a 10 s timeout.
	WebhookClient *http.Client
}

// Server is a running fake Twilio REST API. All methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234; use it as
	// TWILIO_API_URL.
	URL        string
	AccountSID string
	AuthToken  string

	srv     *httptest.Server
	conns   atomic.Int64 // connections opened (httptest server only)
	now     func() time.Time
	webhook *http.Client

	// Background work (automatic status callbacks) stops with the server.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever something is recorded
	messages  []*record     // every accepted message, in creation order
	bySID     map[string]*record
	requests  map[int]int // API requests answered, by HTTP status
	callbacks []Callback
	faults    faultState
	auto      *AutoStatus
}

// New starts a fake Twilio API on a free local port. Close it when done.
func New(cfg Config) *Server {
	s := newServer(cfg)
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// Connections counts the TCP connections clients opened to the server.
func (s *Server) Connections() int64 { return s.conns.Load() }

func newServer(cfg Config) *Server {
	if cfg.AccountSID == "" {
		cfg.AccountSID = DefaultAccountSID
	}
	if cfg.AuthToken == "" {
		cfg.AuthToken = DefaultAuthToken
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		AccountSID: cfg.AccountSID,
		AuthToken:  cfg.AuthToken,
		now:        cfg.Now,
		webhook:    cfg.WebhookClient,
		bgCtx:      ctx,
		bgCancel:   cancel,
		changed:    make(chan struct{}),
		bySID:      map[string]*record{},
		requests:   map[int]int{},
	}
}

// Close stops background callbacks, waits for them, and shuts the server down.
func (s *Server) Close() {
	s.bgCancel()
	s.bg.Wait()
	if s.srv != nil {
		s.srv.Close()
	}
}

// HTTPClient returns a client whose requests to https://api.twilio.com (or any
// host) are sent to this server instead, keeping the path. Give it to
// twilio-go: twilio.NewRestClientWithParams(twilio.ClientParams{Client:
// &client.Client{Credentials: ..., HTTPClient: s.HTTPClient()}}).
func (s *Server) HTTPClient() *http.Client {
	base, _ := url.Parse(s.URL)
	return &http.Client{
		Transport: rewriteTransport{base: base, next: http.DefaultTransport},
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type rewriteTransport struct {
	base *url.URL
	next http.RoundTripper
}

func (t rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = t.base.Scheme
	r2.URL.Host = t.base.Host
	r2.Host = t.base.Host
	return t.next.RoundTrip(r2)
}

// ServeHTTP answers the Twilio REST API. It is exported so `herald demo` can
// mount the fake on its own listener instead of an httptest server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	s.serve(rec, r)
	s.mu.Lock()
	s.requests[rec.status()]++
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// /2010-04-01/Accounts/{AccountSid}/Messages.json
	// /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "2010-04-01" || parts[1] != "Accounts" {
		writeError(w, notFound(r.URL.Path))
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AccountSID || pass != s.AuthToken {
		writeError(w, Fault{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
		return
	}
	if parts[2] != s.AccountSID {
		writeError(w, notFound(r.URL.Path))
		return
	}
	// Read the body first: the HTTP server only notices a client hanging up
	// once the body is consumed, and the latency wait must end when it does.
	if err := r.ParseForm(); err != nil {
		writeError(w, Fault{Status: http.StatusBadRequest, Code: 20001, Message: "Could not parse the request"})
		return
	}
	if !s.enter() {
		writeError(w, ErrTooManyRequests)
		return
	}
	defer s.leave()
	if !s.waitLatency(r.Context()) {
		return // the client gave up
	}
	if f, ok := s.takeNextFault(); ok {
		writeError(w, f)
		return
	}
	switch {
	case len(parts) == 4 && parts[3] == "Messages.json" && r.Method == http.MethodPost:
		s.createMessage(w, r)
	case len(parts) == 4 && parts[3] == "Messages.json" && r.Method == http.MethodGet:
		s.listMessages(w, r)
	case len(parts) == 5 && parts[3] == "Messages" && strings.HasSuffix(parts[4], ".json") && r.Method == http.MethodGet:
		s.fetchMessage(w, strings.TrimSuffix(parts[4], ".json"))
	case len(parts) >= 4 && strings.HasPrefix(parts[3], "Messages"):
		writeError(w, Fault{Status: http.StatusMethodNotAllowed, Code: 20004, Message: "Method not allowed"})
	default:
		writeError(w, notFound(r.URL.Path))
	}
}

func notFound(path string) Fault {
	return Fault{Status: http.StatusNotFound, Code: 20404, Message: "The requested resource " + path + " was not found"}
}

// RequestCounts returns how many API requests were answered with each HTTP
// status (201, 400, 429...).
func (s *Server) RequestCounts() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// notifyLocked wakes every waiter; callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitUntil blocks until cond (checked under s.mu) is true or ctx ends.
func (s *Server) waitUntil(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) status() int {
	if r.code == 0 {
		// Nothing written: the client went away during the latency wait.
		return 499
	}
	return r.code
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newSID makes a Twilio-style SID: two-letter prefix and 32 hex digits.
func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
