package twilioapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sign computes X-Twilio-Signature the way Twilio does for a form POST:
// HMAC-SHA1, keyed with the auth token, over the full URL followed by every
// parameter name and value sorted by name, base64-encoded.
func Sign(authToken, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Callback is one status callback the fake sent.
type Callback struct {
	SID        string
	Status     string
	ErrorCode  int
	URL        string
	HTTPStatus int   // herald's answer, 0 if none
	Err        error // transport error, if any
}

// Callbacks returns every status callback sent so far, in order.
func (s *Server) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Callback(nil), s.callbacks...)
}

// WaitForCallbacks waits until at least n status callbacks were sent.
func (s *Server) WaitForCallbacks(ctx context.Context, n int) ([]Callback, error) {
	err := s.waitUntil(ctx, func() bool { return len(s.callbacks) >= n })
	cbs := s.Callbacks()
	if err != nil {
		return cbs, fmt.Errorf("waiting for %d status callbacks, got %d: %w", n, len(cbs), err)
	}
	return cbs, nil
}

// StatusForm builds the form Twilio posts to a StatusCallback URL for the
// message, shaped like fixtures/twilio/status_callback_*.form. errorCode 0
// leaves ErrorCode out.
func (s *Server) StatusForm(m Message, status string, errorCode int) url.Values {
	f := url.Values{}
	if errorCode != 0 {
		f.Set("ErrorCode", strconv.Itoa(errorCode))
	}
	f.Set("SmsSid", m.SID)
	f.Set("SmsStatus", status)
	f.Set("MessageStatus", status)
	f.Set("To", m.To)
	f.Set("MessageSid", m.SID)
	f.Set("AccountSid", s.AccountSID)
	if m.From != "" {
		f.Set("From", m.From)
	}
	if m.MessagingServiceSID != "" {
		f.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	f.Set("ApiVersion", "2010-04-01")
	if m.WhatsApp() {
		f.Set("ChannelPrefix", "whatsapp")
		f.Set("ChannelToAddress", strings.TrimPrefix(m.To, "whatsapp:"))
		f.Set("ChannelInstallSid", "XE"+strings.Repeat("a", 32))
		switch status {
		case "delivered", "read": // as in the fixtures; Twilio sends no EventType for the others
			f.Set("EventType", strings.ToUpper(status))
		}
	}
	return f
}

// SendStatus records the new status of message sid and posts a signed status
// callback to its StatusCallback URL, as Twilio does. It returns an error if
// the message is unknown, has no callback URL, or herald did not answer 2xx.
func (s *Server) SendStatus(ctx context.Context, sid, status string, errorCode int) error {
	s.mu.Lock()
	r, ok := s.bySID[sid]
	if ok {
		r.Status = status
		r.ErrorCode = errorCode
	}
	var m Message
	if ok {
		m = r.Message
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("status callback for %s: no such message", sid)
	}
	if m.StatusCallback == "" {
		return fmt.Errorf("status callback for %s: the message has no StatusCallback", sid)
	}
	resp, err := s.post(ctx, m.StatusCallback, s.StatusForm(m, status, errorCode))
	cb := Callback{SID: sid, Status: status, ErrorCode: errorCode, URL: m.StatusCallback, Err: err}
	if resp != nil {
		cb.HTTPStatus = resp.StatusCode
	}
	s.mu.Lock()
	s.callbacks = append(s.callbacks, cb)
	s.notifyLocked()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("status callback %s for %s: %w", status, sid, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status callback %s for %s: answered %d", status, sid, resp.StatusCode)
	}
	return nil
}

// AutoStatus makes the fake report on every message it accepts, the way a
// carrier would: queued, sent, delivered (and read for WhatsApp), or queued
// then failed for numbers listed in FailTo.
type AutoStatus struct {
	// Step is the pause before each callback (0: right away).
	Step time.Duration
	// FailTo maps a number (bare: both channels; "whatsapp:+...": WhatsApp
	// only) to the ErrorCode its messages fail with, e.g. 63016 or 30007.
	FailTo map[string]int
	// NoRead leaves out the WhatsApp read receipt.
	NoRead bool
	// Jitter adds up to this much, at random, to each Step, so that a
	// fan-out's ticks do not all move in lockstep (as carriers' do not).
	Jitter time.Duration
}

// SetAutoStatus turns automatic status callbacks on for messages created from
// now on; nil turns them off.
func (s *Server) SetAutoStatus(a *AutoStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a == nil {
		s.auto = nil
		return
	}
	cp := *a
	cp.FailTo = make(map[string]int, len(a.FailTo))
	for k, v := range a.FailTo {
		cp.FailTo[k] = v
	}
	s.auto = &cp
}

func (s *Server) startAutoStatus(a AutoStatus, m Message) {
	type step struct {
		status string
		code   int
	}
	steps := []step{{"queued", 0}, {"sent", 0}, {"delivered", 0}}
	if m.WhatsApp() && !a.NoRead {
		steps = append(steps, step{"read", 0})
	}
	code, fail := a.FailTo[m.To]
	if !fail {
		code, fail = a.FailTo[strings.TrimPrefix(m.To, "whatsapp:")]
	}
	if fail {
		steps = []step{{"queued", 0}, {"failed", code}}
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		for _, st := range steps {
			if d := a.Step + jitter(a.Jitter); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-s.bgCtx.Done():
					t.Stop()
					return
				}
			}
			if s.bgCtx.Err() != nil {
				return
			}
			// Twilio does not retry failed callbacks; the failure is in Callbacks().
			_ = s.SendStatus(s.bgCtx, m.SID, st.status, st.code)
		}
	}()
}

// InboundSMS builds the form Twilio posts for an incoming SMS
// (fixtures/twilio/inbound_sms.form).
func (s *Server) InboundSMS(from, to, body string) url.Values {
	sid := newSID("SM")
	f := url.Values{}
	f.Set("ToCountry", "US")
	f.Set("SmsMessageSid", sid)
	f.Set("NumMedia", "0")
	f.Set("SmsSid", sid)
	f.Set("SmsStatus", "received")
	f.Set("Body", body)
	f.Set("To", to)
	f.Set("NumSegments", "1")
	f.Set("ReferralNumMedia", "0")
	f.Set("MessageSid", sid)
	f.Set("AccountSid", s.AccountSID)
	f.Set("From", from)
	f.Set("ApiVersion", "2010-04-01")
	return f
}

// InboundWhatsApp builds the form Twilio posts for an incoming WhatsApp text
// (fixtures/twilio/inbound_whatsapp.form). from and to are bare E.164 numbers.
func (s *Server) InboundWhatsApp(from, to, profileName, body string) url.Values {
	f := s.InboundSMS("whatsapp:"+from, "whatsapp:"+to, body)
	f.Set("ProfileName", profileName)
	f.Set("MessageType", "text")
	f.Set("WaId", strings.TrimPrefix(from, "+"))
	return f
}

// SignedInbound builds a signed POST of form to url, ready for a handler's
// ServeHTTP or an http.Client.
func (s *Server) SignedInbound(target string, form url.Values) *http.Request {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		panic(fmt.Sprintf("twilioapi: bad inbound URL %q: %v", target, err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Sign(s.AuthToken, target, form))
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	return req
}

// SendInbound plays a stakeholder's phone: it posts a signed inbound form to
// url and returns herald's answer (body already read into the returned bytes).
func (s *Server) SendInbound(ctx context.Context, target string, form url.Values) (int, []byte, error) {
	resp, err := s.post(ctx, target, form)
	if err != nil {
		return 0, nil, fmt.Errorf("posting inbound message: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("reading the answer to an inbound message: %w", err)
	}
	return resp.StatusCode, body, nil
}

// post sends a signed webhook and drains the answer.
func (s *Server) post(ctx context.Context, target string, form url.Values) (*http.Response, error) {
	req := s.SignedInbound(target, form).WithContext(ctx)
	resp, err := s.webhook.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp, nil
}

func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}
