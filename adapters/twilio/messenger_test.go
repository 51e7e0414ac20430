package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

const (
	msgService  = "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	smsFrom     = "+15017122661"
	waFrom      = "whatsapp:+14155238886"
	stakeholder = "+15558675310"
	publicURL   = "https://herald.example.com"
)

func newMessenger(t *testing.T, fake *twilioapi.Server, edit func(*MessengerConfig)) *Messenger {
	t.Helper()
	cfg := MessengerConfig{
		AccountSID:   fake.AccountSID,
		AuthToken:    fake.AuthToken,
		APIURL:       fake.URL,
		SMSFrom:      smsFrom,
		WhatsAppFrom: waFrom,
		PublicURL:    publicURL,
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := NewMessenger(cfg)
	if err != nil {
		t.Fatalf("NewMessenger: %v", err)
	}
	return m
}

func newFake(t *testing.T, cfg twilioapi.Config) *twilioapi.Server {
	t.Helper()
	f := twilioapi.New(cfg)
	t.Cleanup(f.Close)
	return f
}

func TestSendBuildsTheRightTwilioRequest(t *testing.T) {
	tests := []struct {
		name   string
		cfg    func(*MessengerConfig)
		out    bot.Outbound
		expect twilioapi.Message // fields compared: To, From, MessagingServiceSID, Body, ContentSID
		vars   map[string]string // decoded ContentVariables
	}{
		{
			name:   "SMS through the Messaging Service",
			cfg:    func(c *MessengerConfig) { c.MessagingServiceSID = msgService },
			out:    bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "[SEV2] DB down"},
			expect: twilioapi.Message{To: stakeholder, MessagingServiceSID: msgService, Body: "[SEV2] DB down"},
		},
		{
			name:   "SMS from the number",
			out:    bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "[SEV2] DB down"},
			expect: twilioapi.Message{To: stakeholder, From: smsFrom, Body: "[SEV2] DB down"},
		},
		{
			name:   "WhatsApp free-form inside the session window",
			out:    bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, Body: "DB down"},
			expect: twilioapi.Message{To: "whatsapp:" + stakeholder, From: waFrom, Body: "DB down"},
		},
		{
			name: "WhatsApp template outside the window",
			out: bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, ContentSID: "HX0000000000000000000000000000000",
				ContentVariables: map[string]string{"1": "DB \"down\"", "2": "15:00"}},
			expect: twilioapi.Message{To: "whatsapp:" + stakeholder, From: waFrom, ContentSID: "HX0000000000000000000000000000000"},
			vars:   map[string]string{"1": "DB \"down\"", "2": "15:00"},
		},
		{
			name:   "WhatsApp sender configured without its prefix",
			cfg:    func(c *MessengerConfig) { c.WhatsAppFrom = "+14155238886" },
			out:    bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, Body: "DB down"},
			expect: twilioapi.Message{To: "whatsapp:" + stakeholder, From: waFrom, Body: "DB down"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t, twilioapi.Config{})
			m := newMessenger(t, fake, tt.cfg)

			res, err := m.Send(context.Background(), tt.out)

			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := fake.Messages()
			if len(msgs) != 1 {
				t.Fatalf("fake got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if res.SID != got.SID || res.Status != bot.DeliveryQueued {
				t.Errorf("result %+v, want SID %s and queued", res, got.SID)
			}
			if got.To != tt.expect.To || got.From != tt.expect.From || got.MessagingServiceSID != tt.expect.MessagingServiceSID ||
				got.Body != tt.expect.Body || got.ContentSID != tt.expect.ContentSID {
				t.Errorf("sent\n%+v\nwant\n%+v", got, tt.expect)
			}
			if got.StatusCallback != publicURL+"/twilio/status" {
				t.Errorf("StatusCallback = %q", got.StatusCallback)
			}
			if tt.vars != nil {
				var vars map[string]string
				if err := json.Unmarshal([]byte(got.ContentVariables), &vars); err != nil || len(vars) != len(tt.vars) {
					t.Fatalf("ContentVariables %q: %v", got.ContentVariables, err)
				}
				for k, v := range tt.vars {
					if vars[k] != v {
						t.Errorf("variable %s = %q, want %q", k, vars[k], v)
					}
				}
			} else if got.ContentVariables != "" {
				t.Errorf("ContentVariables %q sent with a free-form message", got.ContentVariables)
			}
		})
	}
}

func providerErr(t *testing.T, err error) *bot.ProviderError {
	t.Helper()
	var pe *bot.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want a *bot.ProviderError", err, err)
	}
	return pe
}

func TestSendMapsTwilioErrors(t *testing.T) {
	sms := bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"}
	tests := []struct {
		name           string
		inject         func(*twilioapi.Server)
		wantCode       int
		wantHTTP       int
		wantTemporary  bool
		wantRetryAfter time.Duration
	}{
		{"21610 unsubscribed is final", func(f *twilioapi.Server) { f.FailTo(stakeholder, twilioapi.ErrUnsubscribed) }, 21610, 400, false, 0},
		{"20429 with Retry-After is temporary", func(f *twilioapi.Server) { f.FailNext(1, twilioapi.ErrTooManyRequests.WithRetryAfter(7)) }, 20429, 429, true, 7 * time.Second},
		{"20429 without Retry-After", func(f *twilioapi.Server) { f.FailNext(1, twilioapi.ErrTooManyRequests) }, 20429, 429, true, 0},
		{"503 with an HTML body is temporary", func(f *twilioapi.Server) { f.FailNext(1, twilioapi.ErrServiceUnavailable) }, 0, 503, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t, twilioapi.Config{})
			m := newMessenger(t, fake, nil)
			tt.inject(fake)

			_, err := m.Send(context.Background(), sms)

			pe := providerErr(t, err)
			if pe.Code != tt.wantCode || pe.HTTPStatus != tt.wantHTTP || pe.Temporary() != tt.wantTemporary || pe.RetryAfter != tt.wantRetryAfter {
				t.Errorf("got %+v (temporary %v), want code %d HTTP %d temporary %v retry after %v",
					pe, pe.Temporary(), tt.wantCode, tt.wantHTTP, tt.wantTemporary, tt.wantRetryAfter)
			}
			if strings.Contains(pe.Message, "<") {
				t.Errorf("message %q carries markup", pe.Message)
			}
		})
	}
}

func TestSendOverTheRateLimitIsTemporary(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	m := newMessenger(t, fake, nil)
	fake.SetRateLimit(0.0001, 1) // one token, practically never refilled
	sms := bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"}
	if _, err := m.Send(context.Background(), sms); err != nil {
		t.Fatal(err)
	}

	_, err := m.Send(context.Background(), sms)

	if pe := providerErr(t, err); pe.Code != 20429 || !pe.Temporary() || pe.RetryAfter != time.Second {
		t.Errorf("got %+v, want 20429, temporary, retry after 1s", pe)
	}
}

func TestErrorsNeverQuoteTheNumber(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	m := newMessenger(t, fake, nil)
	fake.FailTo(stakeholder, twilioapi.Fault{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number: " + stakeholder})

	_, err := m.Send(context.Background(), bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"})

	if pe := providerErr(t, err); pe.Code != 21211 {
		t.Fatalf("got %+v", pe)
	}
	if strings.Contains(err.Error(), "8675310") {
		t.Errorf("error text %q shows the number", err)
	}
}

func TestSendWithoutAnAnswer(t *testing.T) {
	t.Run("nothing listening", func(t *testing.T) {
		fake := newFake(t, twilioapi.Config{})
		m := newMessenger(t, fake, nil)
		fake.Close()

		_, err := m.Send(context.Background(), bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"})

		if pe := providerErr(t, err); pe.HTTPStatus != 0 || !pe.Temporary() {
			t.Errorf("got %+v, want HTTP 0, temporary", pe)
		}
		if strings.Contains(err.Error(), "8675310") {
			t.Errorf("error text %q shows the number", err)
		}
	})

	t.Run("the caller gives up", func(t *testing.T) {
		fake := newFake(t, twilioapi.Config{})
		fake.SetLatency(time.Hour)
		m := newMessenger(t, fake, nil)
		// twilio-go itself ignores contexts; the Messenger's transport must not.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()

		_, err := m.Send(ctx, bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"})

		if pe := providerErr(t, err); pe.HTTPStatus != 0 || !pe.Temporary() {
			t.Errorf("got %+v, want HTTP 0, temporary", pe)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not say the context ended", err)
		}
	})
}

func TestSendRefusesWhatTwilioWouldRefuse(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*MessengerConfig)
		out      bot.Outbound
		wantCode int
	}{
		{"not an E.164 number", nil, bot.Outbound{To: "0151 1234567", Channel: bot.ChannelSMS, Body: "x"}, 21211},
		{"empty SMS", nil, bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS}, 21602},
		{"WhatsApp without body or template", nil, bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp}, 21602},
		{"WhatsApp without a sender", func(c *MessengerConfig) { c.WhatsAppFrom = "" }, bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, Body: "x"}, 21603},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t, twilioapi.Config{})
			m := newMessenger(t, fake, tt.cfg)

			_, err := m.Send(context.Background(), tt.out)

			if pe := providerErr(t, err); pe.Code != tt.wantCode || pe.Temporary() {
				t.Errorf("got %+v, want code %d, not temporary", pe, tt.wantCode)
			}
			if n := len(fake.RequestCounts()); n != 0 {
				t.Errorf("the fake got requests: %v", fake.RequestCounts())
			}
		})
	}
}

func TestFindSent(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setNow := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }

	for _, service := range []string{"", msgService} {
		name := "from number"
		if service != "" {
			name = "through Messaging Service"
		}
		t.Run(name, func(t *testing.T) {
			fake := newFake(t, twilioapi.Config{Now: clock})
			m := newMessenger(t, fake, func(c *MessengerConfig) { c.MessagingServiceSID = service })
			ctx := context.Background()
			sms := bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"}
			setNow(time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC))
			if _, err := m.Send(ctx, sms); err != nil {
				t.Fatal(err)
			}
			setNow(time.Date(2025, 3, 2, 10, 30, 0, 0, time.UTC))
			later, err := m.Send(ctx, sms)
			if err != nil {
				t.Fatal(err)
			}
			// Someone else's message, and a WhatsApp message to the same person.
			if _, err := m.Send(ctx, bot.Outbound{To: "+15017122662", Channel: bot.ChannelSMS, Body: "x"}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Send(ctx, bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, Body: "x"}); err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				since   time.Time
				ch      bot.Channel
				wantSID string
			}{
				{time.Date(2025, 3, 2, 10, 15, 0, 0, time.UTC), bot.ChannelSMS, later.SID},
				{time.Date(2025, 3, 2, 10, 30, 0, 400e6, time.UTC), bot.ChannelSMS, later.SID}, // same second as date_created
				{time.Date(2025, 3, 2, 10, 45, 0, 0, time.UTC), bot.ChannelSMS, ""},            // same day, but nothing since
				{time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC), bot.ChannelSMS, ""},
			}
			for _, tc := range tests {
				res, found, err := m.FindSent(ctx, stakeholder, tc.ch, tc.since)
				if err != nil {
					t.Fatalf("FindSent(%v): %v", tc.since, err)
				}
				if found != (tc.wantSID != "") || res.SID != tc.wantSID {
					t.Errorf("FindSent(since %v) = %+v, %v; want SID %q", tc.since.Format(time.TimeOnly), res, found, tc.wantSID)
				}
				if found && res.Status != bot.DeliveryQueued {
					t.Errorf("status %q, want queued", res.Status)
				}
			}
		})
	}
}

func TestFindSentReportsProviderErrors(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	m := newMessenger(t, fake, nil)
	fake.FailNext(1, twilioapi.ErrTooManyRequests.WithRetryAfter(2))

	_, found, err := m.FindSent(context.Background(), stakeholder, bot.ChannelSMS, time.Now())

	if pe := providerErr(t, err); found || pe.Code != 20429 || pe.RetryAfter != 2*time.Second {
		t.Errorf("got %+v found=%v", pe, found)
	}
}

func TestSenderKey(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	byNumber := newMessenger(t, fake, nil)
	byService := newMessenger(t, fake, func(c *MessengerConfig) { c.MessagingServiceSID = msgService })

	for _, tc := range []struct {
		m    *Messenger
		ch   bot.Channel
		want string
	}{
		{byNumber, bot.ChannelSMS, smsFrom},
		{byService, bot.ChannelSMS, msgService},
		{byService, bot.ChannelWhatsApp, waFrom},
	} {
		if got := tc.m.SenderKey(tc.ch); got != tc.want {
			t.Errorf("SenderKey(%s) = %q, want %q", tc.ch, got, tc.want)
		}
	}
}

func TestAPIURLUnderAPrefix(t *testing.T) {
	// herald demo may mount the fake below a path on its own listener.
	fake := newFake(t, twilioapi.Config{})
	mux := http.NewServeMux()
	mux.Handle("/fake/twilio/", http.StripPrefix("/fake/twilio", fake))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	m := newMessenger(t, fake, func(c *MessengerConfig) { c.APIURL = srv.URL + "/fake/twilio/" })

	if _, err := m.Send(context.Background(), bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(fake.Messages()) != 1 {
		t.Error("the message did not reach the fake")
	}
}

func TestNewMessengerNamesEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		cfg  MessengerConfig
		want []string
	}{
		{"nothing", MessengerConfig{}, []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM", "HERALD_PUBLIC_URL"}},
		{"bad values", MessengerConfig{AccountSID: "AC1", AuthToken: "tok", MessagingServiceSID: "XX1", SMSFrom: "0151", WhatsAppFrom: "whatsapp:abc",
			PublicURL: "herald.example.com", APIURL: "::"}, []string{"TWILIO_MESSAGING_SERVICE_SID:", "TWILIO_SMS_FROM", "TWILIO_WHATSAPP_FROM", "HERALD_PUBLIC_URL", "TWILIO_API_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMessenger(tt.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestMapStatusCoversTwiliosStatuses(t *testing.T) {
	want := map[string]bot.DeliveryState{
		"queued": bot.DeliveryQueued, "accepted": bot.DeliveryQueued, "scheduled": bot.DeliveryQueued, "sending": bot.DeliveryQueued,
		"sent": bot.DeliverySent, "delivered": bot.DeliveryDelivered, "read": bot.DeliveryRead,
		"undelivered": bot.DeliveryUndelivered, "failed": bot.DeliveryFailed, "canceled": bot.DeliveryFailed,
	}
	for status, w := range want {
		if got, ok := MapStatus(status); !ok || got != w {
			t.Errorf("MapStatus(%q) = %q, %v; want %q", status, got, ok, w)
		}
	}
	for _, status := range []string{"received", "receiving", "", "DELIVERED"} {
		if _, ok := MapStatus(status); ok {
			t.Errorf("MapStatus(%q) accepted", status)
		}
	}
}

func TestClassifyMapsTwilioToNeutralKinds(t *testing.T) {
	tests := []struct {
		http, code int
		want       bot.FailureKind
	}{
		{429, 20429, bot.FailureRateLimited},
		{429, 0, bot.FailureRateLimited},
		{400, 63018, bot.FailureRateLimited},
		{400, 21610, bot.FailureUnsubscribed},
		{400, 63016, bot.FailureChannelUnreachable},
		{400, 63003, bot.FailureChannelUnreachable},
		{200, 63024, bot.FailureChannelUnreachable},
		{503, 0, bot.FailureTemporary},
		{500, 20500, bot.FailureTemporary},
		{0, 0, bot.FailureUnknown},
		{400, 21211, bot.FailurePermanent},
		{200, 30007, bot.FailurePermanent},
		{200, 0, bot.FailurePermanent}, // undelivered without a code
	}
	for _, tt := range tests {
		if got := Classify(tt.http, tt.code); got != tt.want {
			t.Errorf("Classify(HTTP %d, %d) = %s, want %s", tt.http, tt.code, got, tt.want)
		}
	}
}

func TestSendErrorsCarryKindAndProvider(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	m := newMessenger(t, fake, nil)
	fake.FailTo(stakeholder, twilioapi.ErrUnsubscribed)

	_, err := m.Send(context.Background(), bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"})

	pe := providerErr(t, err)
	if pe.Kind != bot.FailureUnsubscribed || pe.Reference() != "Twilio 21610" {
		t.Errorf("got kind %s reference %q, want unsubscribed, Twilio 21610", pe.Kind, pe.Reference())
	}
}
