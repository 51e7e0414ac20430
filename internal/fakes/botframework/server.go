package botframework

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// Defaults the fake answers with. DefaultAppID is the bot id the shared
// fixtures address ("recipient": {"id": "28:<app id>"}) and DefaultTenantID
// their tenant, so the fixtures can be sent as they are.
const (
	DefaultAppID       = "11111111-2222-3333-4444-555555555555"
	DefaultAppPassword = "fake-app-password"
	DefaultTenantID    = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
	// Issuer is the issuer of every token the Bot Connector sends to bots.
	Issuer = "https://api.botframework.com"
	// KeyID names the fake's signing key in its JWKS.
	KeyID = "fake-botframework-key-1"
	// Scope is what a bot asks the token endpoint for.
	Scope = "https://api.botframework.com/.default"
)

// Paths of the fake's Microsoft-side documents.
const (
	MetadataPath = "/v1/.well-known/openidconfiguration"
	JWKSPath     = "/v1/.well-known/keys"
)

// Activity is one connector call herald made, as Teams would have seen it.
type Activity struct {
	Method string // POST or PUT
	// Host is the host herald addressed: the service URL's host when herald
	// came in through Transport.
	Host string
	Path string // as sent, escaped
	// ConversationID is the conversation the call was about (unescaped). For a
	// new thread (Created) it is the new thread's id ("19:...;messageid=N").
	ConversationID string
	// ActivityID is the id the fake gave the new activity, or the one a PUT
	// replaced.
	ActivityID string
	// ReplyTo is the activity id in the path of a reply
	// (POST .../activities/{id}); empty for a plain post.
	ReplyTo string
	// Created is true for POST /v3/conversations (a new channel thread).
	Created bool
	// Parameters is the body of a POST /v3/conversations.
	Parameters *schema.ConversationParameters
	// Activity is the posted activity (for Created: Parameters.Activity).
	Activity schema.Activity
	Raw      json.RawMessage
	Status   int // what the fake answered
	At       time.Time
}

// OK reports whether the fake accepted the call.
func (a Activity) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Card returns the content of the activity's first Adaptive Card attachment,
// or nil.
func (a Activity) Card() map[string]any {
	for _, att := range a.Activity.Attachments {
		if att.ContentType == "application/vnd.microsoft.card.adaptive" {
			if m, ok := att.Content.(map[string]any); ok {
				return m
			}
		}
	}
	return nil
}

// AllText is every piece of visible text in the activity: its text and every
// "text", "title" and "value" string in its cards, joined by newlines. Tests
// assert on it the way a reader would.
func (a Activity) AllText() string {
	parts := []string{a.Activity.Text}
	for _, att := range a.Activity.Attachments {
		collectText(att.Content, &parts)
	}
	return strings.Join(parts, "\n")
}

func collectText(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range []string{"text", "title", "value", "label"} {
			if s, ok := v[k].(string); ok && s != "" {
				*out = append(*out, s)
			}
		}
		for k, c := range v {
			if k != "data" { // submit data is not shown to anyone
				collectText(c, out)
			}
		}
	case []any:
		for _, c := range v {
			collectText(c, out)
		}
	}
}

// Fault is an answer the fake gives instead of doing the work.
type Fault struct {
	Status     int    // 429, 412, 502, 504...
	RetryAfter string // Retry-After header, seconds; empty for none
}

// Server is the fake Bot Framework.
type Server struct {
	AppID       string
	AppPassword string
	// TokenTTL is the lifetime of issued access tokens (default 1 h).
	TokenTTL time.Duration

	srv *httptest.Server
	key *rsa.PrivateKey

	mu          sync.Mutex
	activities  []Activity
	seq         int64
	tokens      map[string]time.Time
	tokenCalls  int
	metaCalls   int
	jwksCalls   int
	faults      []Fault
	changed     chan struct{}
	endorsement []string
}

// NewServer starts a fake with a fresh RSA key; Close it when done (tests:
// t.Cleanup(fake.Close)).
func NewServer() *Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("botframework: generating RSA key: %v", err))
	}
	s := &Server{
		AppID:       DefaultAppID,
		AppPassword: DefaultAppPassword,
		TokenTTL:    time.Hour,
		key:         key,
		tokens:      map[string]time.Time{},
		seq:         1771290200000,
		changed:     make(chan struct{}),
		endorsement: []string{"msteams"},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the fake's base URL.
func (s *Server) URL() string { return s.srv.URL }

// MetadataURL is the OpenID metadata document (TEAMS_OPENID_METADATA_URL).
func (s *Server) MetadataURL() string { return s.srv.URL + MetadataPath }

// TokenURL is the token endpoint (TEAMS_TOKEN_URL).
func (s *Server) TokenURL() string {
	return s.srv.URL + "/" + DefaultTenantID + "/oauth2/v2.0/token"
}

// ServiceURL is a service URL on the fake itself, for activities built in
// tests rather than taken from fixtures.
func (s *Server) ServiceURL() string { return s.srv.URL + "/teams/" }

// Transport sends every request, whatever its host, to the fake, keeping
// path and query. The original host is kept in the Host header, so recorded
// activities show which service URL herald used.
func (s *Server) Transport() http.RoundTripper {
	target, _ := url.Parse(s.srv.URL)
	base := s.srv.Client().Transport
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r2 := r.Clone(r.Context())
		r2.Host = r.URL.Host
		r2.URL.Scheme = target.Scheme
		r2.URL.Host = target.Host
		return base.RoundTrip(r2)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FailNext makes the next connector calls (not token or metadata requests)
// answer with these faults, in order, without doing anything.
func (s *Server) FailNext(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// Activities returns every connector call so far, in order.
func (s *Server) Activities() []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Activity(nil), s.activities...)
}

// Accepted returns the connector calls the fake accepted, in order.
func (s *Server) Accepted() []Activity {
	var out []Activity
	for _, a := range s.Activities() {
		if a.OK() {
			out = append(out, a)
		}
	}
	return out
}

// InThread returns the accepted calls that posted into or updated the reply
// chain of root activity rootID in channel (conversation id without
// ";messageid="), including the root itself.
func (s *Server) InThread(channel, rootID string) []Activity {
	thread := channel + ";messageid=" + rootID
	var out []Activity
	for _, a := range s.Accepted() {
		if a.ConversationID == thread {
			out = append(out, a)
		}
	}
	return out
}

// WaitFor blocks until pred holds for the calls recorded so far, or ctx ends.
func (s *Server) WaitFor(ctx context.Context, pred func([]Activity) bool) error {
	for {
		s.mu.Lock()
		acts := append([]Activity(nil), s.activities...)
		ch := s.changed
		s.mu.Unlock()
		if pred(acts) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for Bot Framework activity: %w", ctx.Err())
		case <-ch:
		}
	}
}

// TokenRequests counts successful token endpoint calls.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// MetadataRequests counts metadata and JWKS fetches.
func (s *Server) MetadataRequests() (metadata, jwks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metaCalls, s.jwksCalls
}

func (s *Server) record(a Activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.At = time.Now()
	s.activities = append(s.activities, a)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) nextID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return strconv.FormatInt(s.seq, 10)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch {
	case r.Method == http.MethodGet && path == MetadataPath:
		s.serveMetadata(w)
	case r.Method == http.MethodGet && path == JWKSPath:
		s.serveJWKS(w)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/oauth2/v2.0/token"):
		s.serveToken(w, r)
	case strings.Contains(path, "/v3/conversations"):
		s.serveConnector(w, r)
	default:
		writeError(w, http.StatusNotFound, "NotFound", "no such endpoint: "+r.Method+" "+path)
	}
}

func (s *Server) serveMetadata(w http.ResponseWriter) {
	s.mu.Lock()
	s.metaCalls++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                Issuer,
		"authorization_endpoint":                "https://invalid.botframework.com",
		"jwks_uri":                              s.srv.URL + JWKSPath,
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

func (s *Server) serveJWKS(w http.ResponseWriter) {
	s.mu.Lock()
	s.jwksCalls++
	endorse := append([]string(nil), s.endorsement...)
	s.mu.Unlock()
	pub := s.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty":          "RSA",
		"use":          "sig",
		"kid":          KeyID,
		"n":            base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":            base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"endorsements": endorse,
	}}})
}

// serveToken is the AAD v2 client_credentials grant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	case r.PostForm.Get("client_id") != s.AppID || r.PostForm.Get("client_secret") != s.AppPassword:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	case r.PostForm.Get("scope") != Scope:
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope must be "+Scope)
		return
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	tok := "fake-bf-access-" + base64.RawURLEncoding.EncodeToString(raw)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.TokenTTL)
	s.tokenCalls++
	ttl := int(s.TokenTTL / time.Second)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     ttl,
		"ext_expires_in": ttl,
		"access_token":   tok,
	})
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

func (s *Server) takeFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}
