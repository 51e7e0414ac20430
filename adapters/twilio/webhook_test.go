package twilio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// recorder is a next handler that notes what reached it.
type recorder struct {
	called bool
	form   url.Values
	body   string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.called = true
	b, _ := io.ReadAll(r.Body)
	rec.body = string(b)
	rec.form = r.PostForm
	w.WriteHeader(http.StatusOK)
}

func signedRequest(target, token string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", twilioapi.Sign(token, target, form))
	return r
}

// Twilio's worked example (twilio.com/docs/usage/webhooks/webhooks-security):
// auth token 12345, this URL and these parameters. The expected signatures
// were recomputed independently (Python hmac) before being written here:
// GvWf1cFY... for the current edition's numbers, 0/KCTR6D... for the older one.
func TestRequireSignatureAcceptsTwiliosDocumentedExample(t *testing.T) {
	tests := []struct {
		caller, signature string
	}{
		{"+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="},
		{"+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
	}
	for _, tt := range tests {
		form := url.Values{
			"CallSid": {"CA1234567890ABCDE"}, "Caller": {tt.caller}, "Digits": {"1234"},
			"From": {tt.caller}, "To": {"+18005551212"},
		}
		// herald sees the request on its own host (behind a proxy); the
		// signature is over the public URL.
		r := httptest.NewRequest(http.MethodPost, "http://10.0.0.7:8080/myapp.php?foo=1&bar=2", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", tt.signature)
		next := &recorder{}
		w := httptest.NewRecorder()

		RequireSignature("12345", "https://mycompany.com", next).ServeHTTP(w, r)

		if w.Code != http.StatusOK || !next.called {
			t.Fatalf("%s: answered %d (%s), next called %v", tt.signature, w.Code, w.Body, next.called)
		}
		if next.form.Get("Digits") != "1234" || next.body != form.Encode() {
			t.Errorf("next saw form %v body %q; want the parsed form and the body again", next.form, next.body)
		}
	}
}

func TestRequireSignatureRefuses(t *testing.T) {
	const token, previous = "currenttoken", "previoustoken"
	const target = publicURL + "/twilio/inbound"
	form := twilioapi.FixtureForm("inbound_sms.form")
	tampered := twilioapi.FixtureForm("inbound_sms.form")
	tampered.Set("Body", "STOP")

	tests := []struct {
		name     string
		req      func() *http.Request
		wantCode int
	}{
		{"good signature", func() *http.Request { return signedRequest(target, token, form) }, 200},
		{"previous token during rotation", func() *http.Request { return signedRequest(target, previous, form) }, 200},
		{"missing signature", func() *http.Request {
			r := signedRequest(target, token, form)
			r.Header.Del("X-Twilio-Signature")
			return r
		}, 401},
		{"another account's token", func() *http.Request { return signedRequest(target, "sometoken", form) }, 401},
		{"body changed after signing", func() *http.Request {
			r := signedRequest(target, token, form)
			r.Body = io.NopCloser(strings.NewReader(tampered.Encode()))
			return r
		}, 401},
		{"signed for another URL", func() *http.Request {
			r := signedRequest("https://evil.example/twilio/inbound", token, form)
			r.URL.Host, r.Host = "herald.example.com", "herald.example.com"
			return r
		}, 401},
		{"signed for another path", func() *http.Request {
			r := signedRequest(publicURL+"/twilio/status", token, form)
			r.URL.Path = "/twilio/inbound"
			return r
		}, 401},
		{"garbage signature", func() *http.Request {
			r := signedRequest(target, token, form)
			r.Header.Set("X-Twilio-Signature", "not base64 at all")
			return r
		}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &recorder{}
			w := httptest.NewRecorder()

			RequireSignature(token, publicURL+"/", next, previous).ServeHTTP(w, tt.req())

			if w.Code != tt.wantCode {
				t.Errorf("answered %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.wantCode)
			}
			if next.called != (tt.wantCode == 200) {
				t.Errorf("next called = %v", next.called)
			}
		})
	}
}

// sinks collects what the handlers hand over, and can fail on demand.
type sinks struct {
	mu       sync.Mutex
	inbound  []bot.Inbound
	statuses []bot.StatusUpdate
	fail     error
}

func newSinks() *sinks { return &sinks{} }

func (s *sinks) inboundCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inbound)
}

func (s *sinks) in(_ context.Context, in bot.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.inbound = append(s.inbound, in)
	return nil
}

func (s *sinks) status(_ context.Context, u bot.StatusUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.statuses = append(s.statuses, u)
	return nil
}

// herald is the webhook side of herald as internal/app wires it.
func herald(t *testing.T, token string, k *sinks) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.Handle("POST "+InboundPath, RequireSignature(token, srv.URL, InboundHandler(k.in)))
	mux.Handle("POST "+StatusPath, RequireSignature(token, srv.URL, StatusHandler(k.status)))
	return srv
}

func TestInboundHandler(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	k := newSinks()
	srv := herald(t, fake.AuthToken, k)
	ctx := context.Background()

	for _, name := range twilioapi.FixtureNames("inbound_*.form") {
		t.Run(name, func(t *testing.T) {
			before := time.Now()
			status, body, err := fake.SendInbound(ctx, srv.URL+InboundPath, twilioapi.FixtureForm(name))
			if err != nil {
				t.Fatal(err)
			}
			if status != 200 || string(body) != `<?xml version="1.0" encoding="UTF-8"?><Response></Response>` {
				t.Errorf("answered %d %q, want 200 and empty TwiML", status, body)
			}
			k.mu.Lock()
			got := k.inbound[len(k.inbound)-1]
			k.mu.Unlock()
			if got.MessageSID == "" || got.From != "+15017122661" || got.ReceivedAt.Before(before) {
				t.Errorf("sink got %+v", got)
			}
		})
	}

	t.Run("TwiML content type", func(t *testing.T) {
		req := fake.SignedInbound(srv.URL+InboundPath, fake.InboundSMS("+15017122661", "+15558675310", "ACK INC-42"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
			t.Errorf("Content-Type %q, want text/xml", ct)
		}
	})

	t.Run("signed but malformed is 400 with the reason", func(t *testing.T) {
		n := k.inboundCount()
		status, body, err := fake.SendInbound(ctx, srv.URL+InboundPath, edit("inbound_sms.form", map[string]string{"From": "0151"}))
		if err != nil {
			t.Fatal(err)
		}
		if status != 400 || !strings.Contains(string(body), "From is not an E.164 phone number") {
			t.Errorf("answered %d %q", status, body)
		}
		if k.inboundCount() != n {
			t.Error("a malformed message reached the sink")
		}
	})

	t.Run("unsigned is 401 and reaches nothing", func(t *testing.T) {
		n := k.inboundCount()
		resp, err := http.PostForm(srv.URL+InboundPath, twilioapi.FixtureForm("inbound_sms.form"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := k.inboundCount(); resp.StatusCode != 401 || got != n {
			t.Errorf("answered %d, sink got %d new", resp.StatusCode, got-n)
		}
	})

	t.Run("sink failure is 500 so Twilio retries", func(t *testing.T) {
		k.mu.Lock()
		k.fail = errors.New("redis down")
		k.mu.Unlock()
		defer func() { k.mu.Lock(); k.fail = nil; k.mu.Unlock() }()
		status, body, err := fake.SendInbound(ctx, srv.URL+InboundPath, twilioapi.FixtureForm("inbound_sms.form"))
		if err != nil {
			t.Fatal(err)
		}
		if status != 500 || strings.Contains(string(body), "redis") {
			t.Errorf("answered %d %q, want 500 without internals", status, body)
		}
	})
}

func TestStatusHandlerFixtures(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	k := newSinks()
	srv := herald(t, fake.AuthToken, k)

	for _, name := range twilioapi.FixtureNames("status_callback_*.form") {
		req := fake.SignedInbound(srv.URL+StatusPath, twilioapi.FixtureForm(name))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("%s: answered %d, want 204", name, resp.StatusCode)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var states []string
	for _, u := range k.statuses {
		states = append(states, string(u.Status))
	}
	if strings.Join(states, ",") != "delivered,failed,read" {
		t.Errorf("sink got %v", states)
	}
}

// The whole loop: herald sends through the fake, the fake plays the carrier
// and calls back, herald's status endpoint checks the signature and hands
// the updates to the core.
func TestStatusCallbacksForWhatWasSent(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	k := newSinks()
	srv := herald(t, fake.AuthToken, k)
	m := newMessenger(t, fake, func(c *MessengerConfig) { c.PublicURL = srv.URL })
	fake.SetAutoStatus(&twilioapi.AutoStatus{FailTo: map[string]int{"+15017122669": 30007}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	wa, err := m.Send(ctx, bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, Body: "DB down"})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := m.Send(ctx, bot.Outbound{To: "+15017122669", Channel: bot.ChannelSMS, Body: "DB down"})
	if err != nil {
		t.Fatal(err)
	}
	cbs, err := fake.WaitForCallbacks(ctx, 4+2)
	if err != nil {
		t.Fatal(err)
	}
	for _, cb := range cbs {
		if cb.HTTPStatus != http.StatusNoContent {
			t.Errorf("herald answered %+v", cb)
		}
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	per := map[string][]string{}
	for _, u := range k.statuses {
		s := string(u.Status)
		if u.ErrorCode != 0 {
			s += "/" + strconv.Itoa(u.ErrorCode)
		}
		per[u.SID] = append(per[u.SID], s)
		if u.SID == wa.SID && (u.Channel != bot.ChannelWhatsApp || u.To != stakeholder) {
			t.Errorf("WhatsApp update %+v", u)
		}
	}
	if got := strings.Join(per[wa.SID], ","); got != "queued,sent,delivered,read" {
		t.Errorf("WhatsApp message: %s", got)
	}
	if got := strings.Join(per[bad.SID], ","); got != "queued,failed/30007" {
		t.Errorf("failing SMS: %s", got)
	}
}
