package twilio

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/heraldops/herald/bot"
)

var (
	_ bot.Messenger     = (*Messenger)(nil)
	_ bot.MessageFinder = (*Messenger)(nil)
)

// DefaultAPIURL is Twilio's REST base URL.
const DefaultAPIURL = "https://api.twilio.com"

// StatusPath is where Twilio posts status callbacks, below the public URL.
const StatusPath = "/twilio/status"

const whatsappPrefix = "whatsapp:"

// The status callback URL's query names the delivery (see bot.Outbound).
const (
	callbackBroadcast = "b"
	callbackRecipient = "r"
)

// MessengerConfig is what the Messenger needs, from the environment
// (TWILIO_*, HERALD_PUBLIC_URL).
type MessengerConfig struct {
	AccountSID string
	AuthToken  string
	// APIURL is the REST base URL; empty means DefaultAPIURL. Tests and
	// `herald demo` point it at a fake.
	APIURL string
	// MessagingServiceSID sends SMS through a Messaging Service (sender pool,
	// opt-out handling at Twilio); it wins over SMSFrom.
	MessagingServiceSID string
	SMSFrom             string // E.164
	WhatsAppFrom        string // "whatsapp:+E164" (a bare +E164 is accepted)
	// PublicURL is herald's external base URL; status callbacks go to
	// PublicURL + StatusPath.
	PublicURL string
	// HTTPClient supplies the transport and timeout; nil means a 10 s
	// timeout over a pooled transport sized for Concurrency.
	HTTPClient *http.Client
	// Concurrency is how many sends run at once (the relay's workers); the
	// default transport keeps that many connections alive (default
	// DefaultConcurrency).
	Concurrency int
}

// Messenger sends SMS and WhatsApp messages through Twilio. It is safe for
// concurrent use.
type Messenger struct {
	cfg            MessengerConfig
	base           *url.URL // nil: Twilio's own URL
	transport      http.RoundTripper
	timeout        time.Duration
	statusCallback string

	// The send path's prebuilt parts (send.go).
	client      *http.Client
	messagesURL string
	authHeader  string
}

var (
	e164       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	alnum      = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	serviceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

// NewMessenger checks the configuration and returns a Messenger. Every
// problem is reported, each naming its environment variable.
func NewMessenger(cfg MessengerConfig) (*Messenger, error) {
	var errs []error
	if !alnum.MatchString(cfg.AccountSID) {
		errs = append(errs, errors.New("TWILIO_ACCOUNT_SID: missing or not alphanumeric"))
	}
	if !alnum.MatchString(cfg.AuthToken) {
		errs = append(errs, errors.New("TWILIO_AUTH_TOKEN: missing or not alphanumeric"))
	}
	if cfg.MessagingServiceSID != "" && !serviceSID.MatchString(cfg.MessagingServiceSID) {
		errs = append(errs, errors.New("TWILIO_MESSAGING_SERVICE_SID: not a Messaging Service SID (MG + 32 hex digits)"))
	}
	if cfg.SMSFrom != "" && !e164.MatchString(cfg.SMSFrom) {
		errs = append(errs, fmt.Errorf("TWILIO_SMS_FROM: %s is not an E.164 number (+<country><number>)", bot.MaskPhone(cfg.SMSFrom)))
	}
	if cfg.MessagingServiceSID == "" && cfg.SMSFrom == "" {
		errs = append(errs, errors.New("TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM: one is needed to send SMS"))
	}
	if cfg.WhatsAppFrom != "" {
		if !strings.HasPrefix(cfg.WhatsAppFrom, whatsappPrefix) {
			cfg.WhatsAppFrom = whatsappPrefix + cfg.WhatsAppFrom
		}
		if !e164.MatchString(strings.TrimPrefix(cfg.WhatsAppFrom, whatsappPrefix)) {
			errs = append(errs, fmt.Errorf("TWILIO_WHATSAPP_FROM: %s is not whatsapp:+E164", maskPhones(cfg.WhatsAppFrom)))
		}
	}
	if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("HERALD_PUBLIC_URL: needed for Twilio status callbacks, as an absolute http(s) URL"))
	}
	m := &Messenger{
		cfg:            cfg,
		transport:      newTransport(cmp.Or(max(cfg.Concurrency, 0), DefaultConcurrency)),
		timeout:        10 * time.Second,
		statusCallback: strings.TrimRight(cfg.PublicURL, "/") + StatusPath,
	}
	if cfg.APIURL != "" && strings.TrimRight(cfg.APIURL, "/") != DefaultAPIURL {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("TWILIO_API_URL: %q is not an absolute http(s) URL", cfg.APIURL))
		}
		m.base = u
	}
	if cfg.HTTPClient != nil {
		if cfg.HTTPClient.Transport != nil {
			m.transport = cfg.HTTPClient.Transport
		}
		m.timeout = cfg.HTTPClient.Timeout
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("twilio configuration: %w", errors.Join(errs...))
	}
	m.messagesURL = messagesURL(m.base, cfg.AccountSID)
	m.authHeader = basicAuth(cfg.AccountSID, cfg.AuthToken)
	m.client = &http.Client{
		Transport: m.transport,
		Timeout:   m.timeout,
		// Twilio's own default: a redirect is an answer, not something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return m, nil
}

// SenderKey names the sender rate limits are kept for: the Messaging Service
// or the SMS number for SMS, the WhatsApp sender for WhatsApp. These are
// herald's own numbers, not stakeholders'.
func (m *Messenger) SenderKey(ch bot.Channel) string {
	if ch == bot.ChannelWhatsApp {
		return m.cfg.WhatsAppFrom
	}
	if m.cfg.MessagingServiceSID != "" {
		return m.cfg.MessagingServiceSID
	}
	return m.cfg.SMSFrom
}

// Send sends one message. Errors are *bot.ProviderError (wrapped) whenever
// Twilio answered or could not be reached; a message refused before sending
// (bad number, nothing to send, no sender for the channel) is a
// *bot.ProviderError with the code Twilio would have answered and HTTP 400,
// so the relay treats it as the permanent failure it is.
func (m *Messenger) Send(ctx context.Context, out bot.Outbound) (bot.SendResult, error) {
	form, err := m.createForm(out)
	if err != nil {
		return bot.SendResult{}, fmt.Errorf("sending %s message to %s: %w", out.Channel.Label(), bot.MaskPhone(out.To), err)
	}
	msg, err := m.post(ctx, form)
	if err != nil {
		return bot.SendResult{}, fmt.Errorf("sending %s message to %s: %w", out.Channel.Label(), bot.MaskPhone(out.To), err)
	}
	return sendResult(out, msg.SID, msg.Status)
}

// sendWithTwilioGo is the same send through twilio-go: the reference the
// lean path is tested against (TestBothSendPathsPostTheSameForm).
func (m *Messenger) sendWithTwilioGo(ctx context.Context, out bot.Outbound) (bot.SendResult, error) {
	form, err := m.createForm(out)
	if err != nil {
		return bot.SendResult{}, fmt.Errorf("sending %s message to %s: %w", out.Channel.Label(), bot.MaskPhone(out.To), err)
	}
	api, seen := m.api(ctx)
	msg, err := api.CreateMessage(createParams(form))
	if err != nil {
		return bot.SendResult{}, fmt.Errorf("sending %s message to %s: %w", out.Channel.Label(), bot.MaskPhone(out.To), providerError(ctx, err, seen))
	}
	return sendResult(out, deref(msg.Sid), deref(msg.Status))
}

func sendResult(out bot.Outbound, sid, status string) (bot.SendResult, error) {
	res := bot.SendResult{SID: sid, Status: bot.DeliveryQueued}
	if st, ok := MapStatus(status); ok {
		res.Status = st
	}
	if res.SID == "" {
		return bot.SendResult{}, fmt.Errorf("sending %s message to %s: %w", out.Channel.Label(), bot.MaskPhone(out.To),
			&bot.ProviderError{Kind: bot.FailureUnknown, Provider: ProviderName, Message: "Twilio accepted the message but returned no SID"})
	}
	return res, nil
}

func refused(code int, msg string) *bot.ProviderError {
	return classified(&bot.ProviderError{Code: code, HTTPStatus: http.StatusBadRequest, Message: msg})
}

// createForm checks a message and builds the form Twilio's Messages
// resource takes.
func (m *Messenger) createForm(out bot.Outbound) (url.Values, error) {
	if !e164.MatchString(out.To) {
		return nil, refused(21211, "the recipient is not an E.164 number")
	}
	callback := m.statusCallback
	if out.BroadcastID != "" && out.RecipientID != "" {
		// Twilio signs the callback URL with its query, so these come back
		// as trustworthy as the rest of the callback.
		callback += "?" + url.Values{callbackBroadcast: {out.BroadcastID}, callbackRecipient: {out.RecipientID}}.Encode()
	}
	form := url.Values{"StatusCallback": {callback}}
	switch out.Channel {
	case bot.ChannelSMS:
		if out.Body == "" {
			return nil, refused(21602, "an SMS needs a body")
		}
		form.Set("To", out.To)
		form.Set("Body", out.Body)
		if m.cfg.MessagingServiceSID != "" {
			form.Set("MessagingServiceSid", m.cfg.MessagingServiceSID)
		} else {
			form.Set("From", m.cfg.SMSFrom)
		}
	case bot.ChannelWhatsApp:
		if m.cfg.WhatsAppFrom == "" {
			return nil, refused(21603, "no WhatsApp sender configured (TWILIO_WHATSAPP_FROM)")
		}
		form.Set("To", whatsappPrefix+out.To)
		form.Set("From", m.cfg.WhatsAppFrom)
		switch {
		case out.Body != "":
			// Inside the 24-hour session window: free-form text.
			form.Set("Body", out.Body)
		case out.ContentSID != "":
			// Outside it: an approved template.
			form.Set("ContentSid", out.ContentSID)
			if len(out.ContentVariables) > 0 {
				vars, err := json.Marshal(out.ContentVariables)
				if err != nil {
					return nil, fmt.Errorf("encoding WhatsApp template variables: %w", err)
				}
				form.Set("ContentVariables", string(vars))
			}
		default:
			return nil, refused(21602, "a WhatsApp message needs a body or a template")
		}
	default:
		return nil, refused(21211, fmt.Sprintf("unknown channel %q", out.Channel))
	}
	return form, nil
}

// createParams is the form as twilio-go's parameters.
func createParams(form url.Values) *openapi.CreateMessageParams {
	p := new(openapi.CreateMessageParams)
	set := map[string]func(string) *openapi.CreateMessageParams{
		"To": p.SetTo, "From": p.SetFrom, "MessagingServiceSid": p.SetMessagingServiceSid, "Body": p.SetBody,
		"StatusCallback": p.SetStatusCallback, "ContentSid": p.SetContentSid, "ContentVariables": p.SetContentVariables,
	}
	for k := range form {
		set[k](form.Get(k))
	}
	return p
}

// findPageSize and findLimit bound the look-up: a reconciliation looks for a
// handful of messages to one number from one sender since a few minutes ago.
const (
	findPageSize = 50
	findLimit    = 200
)

// FindSent looks for a message herald sent to `to` on ch at or after since,
// and returns the newest. Twilio filters by date_sent at day granularity, so
// the time is checked here against date_created.
func (m *Messenger) FindSent(ctx context.Context, to string, ch bot.Channel, since time.Time) (bot.SendResult, bool, error) {
	params := new(openapi.ListMessageParams).
		SetDateSentAfter(since.UTC().Truncate(24 * time.Hour)).
		SetPageSize(findPageSize).
		SetLimit(findLimit)
	wantService := ""
	switch ch {
	case bot.ChannelWhatsApp:
		params.SetTo(whatsappPrefix + to).SetFrom(m.cfg.WhatsAppFrom)
	default:
		params.SetTo(to)
		if m.cfg.MessagingServiceSID != "" {
			// The service picks the From number, so match on the service.
			wantService = m.cfg.MessagingServiceSID
		} else {
			params.SetFrom(m.cfg.SMSFrom)
		}
	}
	api, seen := m.api(ctx)
	msgs, err := api.ListMessage(params)
	if err != nil {
		return bot.SendResult{}, false, fmt.Errorf("listing %s messages to %s: %w", ch.Label(), bot.MaskPhone(to), providerError(ctx, err, seen))
	}
	var best bot.SendResult
	var bestAt time.Time
	found := false
	for _, msg := range msgs {
		if !strings.HasPrefix(deref(msg.Direction), "outbound") {
			continue
		}
		if wantService != "" && deref(msg.MessagingServiceSid) != wantService {
			continue
		}
		created, err := time.Parse(time.RFC1123Z, deref(msg.DateCreated))
		if err != nil || created.Before(since.Truncate(time.Second)) {
			continue
		}
		if found && !created.After(bestAt) {
			continue
		}
		st, ok := MapStatus(deref(msg.Status))
		if !ok {
			st = bot.DeliveryQueued
		}
		best, bestAt, found = bot.SendResult{SID: deref(msg.Sid), Status: st}, created, true
	}
	return best, found, nil
}

// api builds a twilio-go Messages API for one call (cheap: a few structs).
// Its transport carries ctx and records the HTTP answer for error mapping.
func (m *Messenger) api(ctx context.Context) (*openapi.ApiService, *exchange) {
	seen := &exchange{}
	hc := &http.Client{
		Transport: &callTransport{ctx: ctx, base: m.base, next: m.transport, seen: seen},
		Timeout:   m.timeout,
		// Twilio's own default: a redirect is an answer, not something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c := &client.Client{Credentials: client.NewCredentials(m.cfg.AccountSID, m.cfg.AuthToken), HTTPClient: hc}
	c.SetAccountSid(m.cfg.AccountSID)
	return openapi.NewApiServiceWithClient(c), seen
}

// providerError turns what twilio-go returned, plus what the transport saw,
// into the core's *bot.ProviderError.
func providerError(ctx context.Context, err error, seen *exchange) error {
	status, retryAfter, body := seen.snapshot()
	var te *client.TwilioRestError
	switch {
	case errors.As(err, &te):
		httpStatus := te.Status
		if httpStatus == 0 {
			httpStatus = status
		}
		return classified(&bot.ProviderError{Code: te.Code, HTTPStatus: httpStatus, Message: maskPhones(te.Message), RetryAfter: retryAfter})
	case status >= 400:
		// A body twilio-go could not decode: a proxy's HTML page, a bare 503.
		msg := body
		if msg == "" || strings.HasPrefix(msg, "<") {
			msg = http.StatusText(status)
		}
		return classified(&bot.ProviderError{HTTPStatus: status, Message: maskPhones(msg), RetryAfter: retryAfter})
	case status == 0:
		// Never answered: refused connection, timeout, or ctx ended. Whether
		// Twilio took the message is unknown; HTTP 0 says exactly that.
		pe := classified(&bot.ProviderError{Message: "no answer from Twilio: " + maskPhones(err.Error())})
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", pe, ctx.Err())
		}
		return pe
	default:
		// Answered 2xx/3xx but unreadable: the outcome is as unknown as with no answer.
		return &bot.ProviderError{Kind: bot.FailureUnknown, Provider: ProviderName, Message: fmt.Sprintf("unreadable answer from Twilio (HTTP %d): %s", status, maskPhones(err.Error()))}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
