package twilioapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	msgService  = "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	smsFrom     = "+15017122661"
	waFrom      = "whatsapp:+14155238886"
	stakeholder = "+15558675310"
)

var sidPattern = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

// api returns the real twilio-go Messages API pointed at the fake.
func api(s *Server, sid, token string) *openapi.ApiService {
	c := &client.Client{Credentials: client.NewCredentials(sid, token), HTTPClient: s.HTTPClient()}
	c.SetAccountSid(sid)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}).Api
}

func newFake(t *testing.T, cfg Config) (*Server, *openapi.ApiService) {
	t.Helper()
	s := New(cfg)
	t.Cleanup(s.Close)
	return s, api(s, s.AccountSID, s.AuthToken)
}

func restError(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T), want *client.TwilioRestError", err, err)
	}
	return te
}

func TestCreateMessageAnswersLikeTwilio(t *testing.T) {
	tests := []struct {
		name       string
		params     *openapi.CreateMessageParams
		wantStatus string
		wantTo     string
		wantFrom   string
	}{
		{
			name:       "SMS through a Messaging Service is accepted",
			params:     new(openapi.CreateMessageParams).SetTo(stakeholder).SetMessagingServiceSid(msgService).SetBody("[SEV2] DB down"),
			wantStatus: "accepted", wantTo: stakeholder,
		},
		{
			name:       "SMS from a number is queued",
			params:     new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("[SEV2] DB down"),
			wantStatus: "queued", wantTo: stakeholder, wantFrom: smsFrom,
		},
		{
			name: "WhatsApp template keeps the whatsapp: prefix",
			params: new(openapi.CreateMessageParams).SetTo("whatsapp:" + stakeholder).SetFrom(waFrom).
				SetContentSid("HX0000000000000000000000000000000").SetContentVariables(`{"1":"DB down"}`),
			wantStatus: "queued", wantTo: "whatsapp:" + stakeholder, wantFrom: waFrom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, a := newFake(t, Config{})

			got, err := a.CreateMessage(tt.params.SetStatusCallback("https://herald.example/twilio/status"))

			if err != nil {
				t.Fatalf("CreateMessage: %v", err)
			}
			if !sidPattern.MatchString(*got.Sid) {
				t.Errorf("sid = %q, want SM + 32 hex digits", *got.Sid)
			}
			if *got.Status != tt.wantStatus || *got.To != tt.wantTo {
				t.Errorf("status, to = %q, %q; want %q, %q", *got.Status, *got.To, tt.wantStatus, tt.wantTo)
			}
			if from := deref(got.From); from != tt.wantFrom {
				t.Errorf("from = %q, want %q", from, tt.wantFrom)
			}
			if _, err := time.Parse(time.RFC1123Z, *got.DateCreated); err != nil {
				t.Errorf("date_created %q is not RFC 2822: %v", *got.DateCreated, err)
			}
			msgs := s.Messages()
			if len(msgs) != 1 || msgs[0].SID != *got.Sid || msgs[0].StatusCallback != "https://herald.example/twilio/status" {
				t.Fatalf("recorded %+v, want the one message with its StatusCallback", msgs)
			}
			if tt.params.ContentVariables != nil && msgs[0].ContentVariables != *tt.params.ContentVariables {
				t.Errorf("recorded ContentVariables %q", msgs[0].ContentVariables)
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// The created message has exactly the keys of Twilio's own fixture.
func TestCreateResponseHasTheFixturesShape(t *testing.T) {
	s, _ := newFake(t, Config{})
	form := url.Values{"To": {stakeholder}, "From": {smsFrom}, "Body": {"hi"}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID, s.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	readFixtureJSON(t, "message_create_response.json", &want)
	if g, w := sortedKeys(got), sortedKeys(want); strings.Join(g, ",") != strings.Join(w, ",") {
		t.Errorf("keys\n got %v\nwant %v", g, w)
	}
}

func readFixtureJSON(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(Fixture(name), v); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestCreateValidatesLikeTwilio(t *testing.T) {
	tests := []struct {
		name     string
		params   *openapi.CreateMessageParams
		wantCode int
	}{
		{"missing To", new(openapi.CreateMessageParams).SetFrom(smsFrom).SetBody("x"), 21604},
		{"neither From nor MessagingServiceSid", new(openapi.CreateMessageParams).SetTo(stakeholder).SetBody("x"), 21603},
		{"neither Body nor ContentSid", new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom), 21602},
		{"To not a phone number", new(openapi.CreateMessageParams).SetTo("12").SetFrom(smsFrom).SetBody("x"), 21211},
		{"WhatsApp To from an SMS number", new(openapi.CreateMessageParams).SetTo("whatsapp:" + stakeholder).SetFrom(smsFrom).SetBody("x"), 63007},
		{"ContentVariables not JSON", new(openapi.CreateMessageParams).SetTo("whatsapp:" + stakeholder).SetFrom(waFrom).
			SetContentSid("HX0000000000000000000000000000000").SetContentVariables("{1:"), 21656},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, a := newFake(t, Config{})

			_, err := a.CreateMessage(tt.params)

			te := restError(t, err)
			if te.Code != tt.wantCode || te.Status != 400 {
				t.Errorf("got %d/%d, want %d/400", te.Code, te.Status, tt.wantCode)
			}
			if len(s.Messages()) != 0 {
				t.Error("a refused message was recorded")
			}
			if s.RequestCounts()[400] != 1 {
				t.Errorf("request counts %v, want one 400", s.RequestCounts())
			}
		})
	}
}

func TestWrongCredentialsAre401(t *testing.T) {
	s, _ := newFake(t, Config{})
	a := api(s, s.AccountSID, "wrongtoken")

	_, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("x"))

	if te := restError(t, err); te.Status != 401 || te.Code != 20003 {
		t.Errorf("got %d/%d, want 401/20003", te.Status, te.Code)
	}
}

func TestInjectedFaults(t *testing.T) {
	send := func(a *openapi.ApiService, to string) error {
		_, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(to).SetFrom(smsFrom).SetBody("x"))
		return err
	}

	t.Run("per number: 21610 for that number only", func(t *testing.T) {
		s, a := newFake(t, Config{})
		s.FailTo(stakeholder, ErrUnsubscribed)

		err := send(a, stakeholder)
		other := send(a, "+15017122662")

		if te := restError(t, err); te.Code != 21610 || te.Status != 400 || te.MoreInfo != "https://www.twilio.com/docs/errors/21610" {
			t.Errorf("got %+v, want 21610/400 with more_info", te)
		}
		if other != nil {
			t.Errorf("another number failed too: %v", other)
		}
	})

	t.Run("next N: 20429 then success", func(t *testing.T) {
		s, a := newFake(t, Config{})
		s.FailNext(2, ErrTooManyRequests)

		errs := []error{send(a, stakeholder), send(a, stakeholder), send(a, stakeholder)}

		for i := range 2 {
			if te := restError(t, errs[i]); te.Code != 20429 || te.Status != 429 {
				t.Errorf("request %d: got %d/%d, want 20429/429", i, te.Code, te.Status)
			}
		}
		if errs[2] != nil {
			t.Errorf("third request failed: %v", errs[2])
		}
		if c := s.RequestCounts(); c[429] != 2 || c[201] != 1 {
			t.Errorf("request counts %v", c)
		}
	})

	t.Run("503 with a non-JSON body", func(t *testing.T) {
		s, a := newFake(t, Config{})
		s.FailNext(1, ErrServiceUnavailable)

		err := send(a, stakeholder)

		var te *client.TwilioRestError
		if err == nil || errors.As(err, &te) || !strings.Contains(err.Error(), "503") {
			t.Errorf("error = %v, want a decode error naming 503", err)
		}
	})
}

// twilio-go does not expose Retry-After; check the header on the wire.
func TestRetryAfterHeader(t *testing.T) {
	for _, tt := range []struct {
		fault Fault
		want  string
	}{
		{ErrTooManyRequests.WithRetryAfter(7), "7"},
		{ErrTooManyRequests, ""},
	} {
		s, _ := newFake(t, Config{})
		s.FailNext(1, tt.fault)
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json", nil)
		req.SetBasicAuth(s.AccountSID, s.AuthToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != tt.want {
			t.Errorf("status %d Retry-After %q, want 429 %q", resp.StatusCode, resp.Header.Get("Retry-After"), tt.want)
		}
		var e errorBody
		if err := json.Unmarshal(body, &e); err != nil || e.Code != 20429 || e.Status != 429 {
			t.Errorf("body %s, want the 20429 error JSON", body)
		}
	}
}

func TestRateLimitRefusesWhatIsOverIt(t *testing.T) {
	s, a := newFake(t, Config{})
	// A bucket of 3 that practically never refills: exactly 3 get through.
	s.SetRateLimit(0.0001, 3)

	var refused int
	for range 5 {
		_, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("x"))
		if err != nil {
			if te := restError(t, err); te.Code != 20429 {
				t.Fatalf("got %v, want 20429", te)
			}
			refused++
		}
	}

	if refused != 2 || len(s.Messages()) != 3 || s.RequestCounts()[429] != 2 {
		t.Errorf("refused %d, accepted %d, counts %v; want 2 refused, 3 accepted", refused, len(s.Messages()), s.RequestCounts())
	}
}

func TestLatencyIsCutShortByTheClient(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	s.SetLatency(time.Hour)
	c := &client.Client{Credentials: client.NewCredentials(s.AccountSID, s.AuthToken), HTTPClient: s.HTTPClient()}
	c.SetAccountSid(s.AccountSID)
	c.SetTimeout(50 * time.Millisecond)
	a := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}).Api

	_, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("x"))

	var ue *url.Error
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Fatalf("error = %v, want a client timeout", err)
	}
	if len(s.Messages()) != 0 {
		t.Error("a message was accepted although the answer never came")
	}
}

func TestListFiltersAndPages(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 3, 1, 23, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, a := newFake(t, Config{Now: clock})
	send := func(to, body string) {
		t.Helper()
		if _, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(to).SetFrom(smsFrom).SetBody(body)); err != nil {
			t.Fatal(err)
		}
	}
	send(stakeholder, "day 1")
	mu.Lock()
	now = now.Add(2 * time.Hour) // 2 March, 01:00
	mu.Unlock()
	for _, b := range []string{"a", "b", "c", "d", "e"} {
		send(stakeholder, b)
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
	}
	send("+15017122662", "someone else")

	// DateSent> with a time later that day still matches the whole day, as
	// Twilio's day-granular filter does.
	got, err := a.ListMessage(new(openapi.ListMessageParams).SetTo(stakeholder).SetFrom(smsFrom).
		SetDateSentAfter(time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)).SetPageSize(2))

	if err != nil {
		t.Fatalf("ListMessage: %v", err)
	}
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, *m.Body)
	}
	if strings.Join(bodies, ",") != "e,d,c,b,a" {
		t.Errorf("bodies %v, want newest first e..a across pages, nothing from day 1 or to others", bodies)
	}
	if c := s.RequestCounts()[200]; c != 3 {
		t.Errorf("%d list pages fetched, want 3 (page size 2)", c)
	}
}

func TestListPageHasTheFixturesShape(t *testing.T) {
	s, a := newFake(t, Config{})
	if _, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("x")); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json?To=%2B15558675310&PageSize=1", nil)
	req.SetBasicAuth(s.AccountSID, s.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	readFixtureJSON(t, "message_list_response.json", &want)
	if g, w := sortedKeys(got), sortedKeys(want); strings.Join(g, ",") != strings.Join(w, ",") {
		t.Errorf("keys\n got %v\nwant %v", g, w)
	}
	if msgs, _ := got["messages"].([]any); len(msgs) != 1 {
		t.Errorf("messages = %v, want one", got["messages"])
	}
}

func TestSignMatchesTwiliosDocumentedExamples(t *testing.T) {
	const docURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	tests := []struct {
		caller string
		want   string
	}{
		// twilio.com/docs/usage/webhooks/webhooks-security, current text.
		{"+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="},
		// The same page's older edition, with other sample numbers.
		{"+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
	}
	for _, tt := range tests {
		params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {tt.caller}, "Digits": {"1234"}, "From": {tt.caller}, "To": {"+18005551212"}}
		if got := Sign("12345", docURL, params); got != tt.want {
			t.Errorf("Sign = %q, want %q", got, tt.want)
		}
	}
}

// webhookSink is a stand-in for herald: it checks signatures with twilio-go
// and keeps what it received.
type webhookSink struct {
	t     *testing.T
	token string
	srv   *httptest.Server
	mu    sync.Mutex
	forms []url.Values
}

func newSink(t *testing.T, token string) *webhookSink {
	k := &webhookSink{t: t, token: token}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		params := map[string]string{}
		for key := range r.PostForm {
			params[key] = r.PostForm.Get(key)
		}
		v := client.NewRequestValidator(k.token)
		if !v.Validate(k.srv.URL+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "bad signature", 401)
			return
		}
		k.mu.Lock()
		k.forms = append(k.forms, r.PostForm)
		k.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *webhookSink) form(i int) url.Values {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i >= len(k.forms) {
		k.t.Fatalf("receiver got %d forms, want at least %d", len(k.forms), i+1)
	}
	return k.forms[i]
}

func (k *webhookSink) statuses() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, f := range k.forms {
		s := f.Get("MessageStatus")
		if c := f.Get("ErrorCode"); c != "" {
			s += "/" + c
		}
		out = append(out, s)
	}
	return out
}

func TestSendStatusPostsASignedCallback(t *testing.T) {
	s, a := newFake(t, Config{})
	sink := newSink(t, s.AuthToken)
	m, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo("whatsapp:" + stakeholder).SetFrom(waFrom).
		SetBody("x").SetStatusCallback(sink.srv.URL + "/twilio/status?b=B-1"))
	if err != nil {
		t.Fatal(err)
	}

	err = s.SendStatus(context.Background(), *m.Sid, "failed", 63016)

	if err != nil {
		t.Fatalf("SendStatus: %v", err)
	}
	f := sink.form(0)
	if f.Get("MessageSid") != *m.Sid || f.Get("MessageStatus") != "failed" || f.Get("ErrorCode") != "63016" ||
		f.Get("To") != "whatsapp:"+stakeholder || f.Get("ChannelPrefix") != "whatsapp" {
		t.Errorf("form %v", f)
	}
	if got, _ := s.Message(*m.Sid); got.Status != "failed" || got.ErrorCode != 63016 {
		t.Errorf("stored message %+v, want failed/63016", got)
	}

	// A callback signed with another token is refused by the receiver.
	other := newSink(t, "another-token")
	m2, _ := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("x").SetStatusCallback(other.srv.URL + "/twilio/status"))
	if err := s.SendStatus(context.Background(), *m2.Sid, "sent", 0); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("SendStatus to a receiver with another token: %v, want 401", err)
	}
}

func TestAutoStatusPlaysTheCarrier(t *testing.T) {
	s, a := newFake(t, Config{})
	sink := newSink(t, s.AuthToken)
	failing := "+15017122669"
	s.SetAutoStatus(&AutoStatus{FailTo: map[string]int{failing: 30007}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, to := range []string{"whatsapp:" + stakeholder, stakeholder, failing} {
		from := smsFrom
		if strings.HasPrefix(to, "whatsapp:") {
			from = waFrom
		}
		if _, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(to).SetFrom(from).SetBody("x").SetStatusCallback(sink.srv.URL + "/twilio/status")); err != nil {
			t.Fatal(err)
		}
	}

	cbs, err := s.WaitForCallbacks(ctx, 4+3+2)
	if err != nil {
		t.Fatal(err)
	}
	perMessage := map[string][]string{}
	for _, cb := range cbs {
		if cb.Err != nil || cb.HTTPStatus != 204 {
			t.Errorf("callback %+v not accepted", cb)
		}
		m, _ := s.Message(cb.SID)
		st := cb.Status
		if cb.ErrorCode != 0 {
			st += "/30007"
		}
		perMessage[m.To] = append(perMessage[m.To], st)
	}
	want := map[string]string{
		"whatsapp:" + stakeholder: "queued,sent,delivered,read",
		stakeholder:               "queued,sent,delivered",
		failing:                   "queued,failed/30007",
	}
	for to, w := range want {
		if g := strings.Join(perMessage[to], ","); g != w {
			t.Errorf("%s: callbacks %s, want %s", to, g, w)
		}
	}
	if n := len(sink.statuses()); n != 9 {
		t.Errorf("receiver verified %d callbacks, want 9", n)
	}
}

func TestInboundIsSignedLikeTwilio(t *testing.T) {
	s, _ := newFake(t, Config{})
	sink := newSink(t, s.AuthToken)
	form := s.InboundWhatsApp(stakeholder, "+14155238886", "Dana Weber", "ACK INC-42")

	status, _, err := s.SendInbound(context.Background(), sink.srv.URL+"/twilio/inbound", form)

	if err != nil || status != 204 {
		t.Fatalf("SendInbound: %d %v", status, err)
	}
	got := sink.form(0)
	if got.Get("From") != "whatsapp:"+stakeholder || got.Get("Body") != "ACK INC-42" || got.Get("ProfileName") != "Dana Weber" || got.Get("MessageSid") == "" {
		t.Errorf("form %v", got)
	}

	// SignedInbound is the same request, for a handler called directly.
	req := s.SignedInbound("https://herald.example/twilio/inbound", form)
	v := client.NewRequestValidator(s.AuthToken)
	if !v.ValidateBody("https://herald.example/twilio/inbound", []byte(form.Encode()), req.Header.Get("X-Twilio-Signature")) {
		t.Error("SignedInbound's signature does not validate")
	}
}

func TestWaitForMessagesHonoursContext(t *testing.T) {
	s, a := newFake(t, Config{})
	go func() {
		_, _ = a.CreateMessage(new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("x"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if msgs, err := s.WaitForMessages(ctx, 1); err != nil || len(msgs) != 1 {
		t.Fatalf("WaitForMessages(1) = %d, %v", len(msgs), err)
	}

	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := s.WaitForMessages(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForMessages(2) = %v, want deadline exceeded", err)
	}
}
