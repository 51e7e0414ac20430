package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/ratelimit"
)

// TokenScope is what herald asks for to call the Bot Connector.
const TokenScope = "https://api.botframework.com/.default"

// DefaultTokenURL is the token endpoint for a bot registered in tenant, or
// the multi-tenant Bot Framework tenant when tenant is empty (TEAMS_TOKEN_URL
// overrides it, for sovereign clouds and tests).
func DefaultTokenURL(tenant string) string {
	if tenant == "" {
		tenant = "botframework.com"
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// TokenSource fetches and caches herald's own Bot Connector access token
// (OAuth2 client credentials). The token is reused until five minutes before
// it expires; concurrent callers share one fetch. Unlike msbotbuilder-go's
// client it never dereferences a missing response: an unreachable endpoint
// is an error.
type TokenSource struct {
	URL      string // default DefaultTokenURL("")
	AppID    string
	Password string
	HTTP     *http.Client
	Now      func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (t *TokenSource) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Token returns a valid access token.
func (t *TokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.expires) {
		return t.token, nil
	}
	tokenURL := t.URL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL("")
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {t.AppID},
		"client_secret": {t.Password},
		"scope":         {TokenScope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("building token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := t.HTTP
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching Bot Connector token from %s: %w", tokenURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes))
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"` // a number, or a string in older AAD answers
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	_ = json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("fetching Bot Connector token from %s: HTTP %d %s %s", tokenURL, resp.StatusCode, tr.Error, firstLine(tr.Description))
	}
	secs, _ := strconv.Atoi(strings.Trim(string(tr.ExpiresIn), `"`))
	if secs <= 0 {
		secs = 3600
	}
	margin := min(5*time.Minute, time.Duration(secs)*time.Second/2)
	t.token, t.expires = tr.AccessToken, t.now().Add(time.Duration(secs)*time.Second-margin)
	return t.token, nil
}

// Invalidate forgets token if it is the cached one (the connector said 401).
func (t *TokenSource) Invalidate(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == token {
		t.token = ""
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// ConnectorError is the Bot Connector refusing a call.
type ConnectorError struct {
	Op         string // "create thread", "post", "update"
	Status     int    // HTTP status, 0 when no answer came
	Code       string // the connector's error code, e.g. "TooManyRequests"
	Message    string
	RetryAfter time.Duration
	Err        error // transport error when Status is 0
}

func (e *ConnectorError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("bot connector %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("bot connector %s: HTTP %d %s %s", e.Op, e.Status, e.Code, e.Message)
}

func (e *ConnectorError) Unwrap() error { return e.Err }

// Temporary reports whether Teams asked herald to slow down or its gateway
// failed, so the same call may succeed later: 429 (throttled), 412 (Teams'
// "conversation busy" throttle), 502, 503, 504, or no answer at all.
func (e *ConnectorError) Temporary() bool {
	switch e.Status {
	case 0, http.StatusTooManyRequests, http.StatusPreconditionFailed,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Connector is herald's small Bot Connector REST client. It keeps
// msbotbuilder-go's schema types on the wire but not its client, which has
// no context, returns no activity ids, and crashes when the token endpoint
// is unreachable.
//
// Every call waits for a token from the per-conversation bucket (Teams
// allows about 7 messages per second per conversation; the bucket is shared
// by replicas when Limiter is the Redis one), and retries 429, 412, 502,
// 503, 504 and lost connections with exponential backoff and full jitter,
// honouring Retry-After, up to MaxAttempts.
type Connector struct {
	Tokens *TokenSource
	HTTP   *http.Client // its Transport may reroute hosts (tests)
	// Limiter is the per-conversation rate limit; nil: one in this process.
	Limiter     bot.RateLimiter
	Rate        float64       // messages per second per conversation; default 7
	Burst       int           // default 7
	MaxAttempts int           // default 5
	BaseBackoff time.Duration // default 500 ms
	MaxBackoff  time.Duration // default 10 s
	// OnResult, when set, sees the outcome of every attempt (nil: success),
	// so a health tracker can tell when Teams is down.
	OnResult func(err error)
	// Sleep waits; tests replace it. Default: bot.Sleep.
	Sleep func(ctx context.Context, d time.Duration) error

	limOnce  sync.Once
	localLim bot.RateLimiter
}

func (c *Connector) limiter() bot.RateLimiter {
	if c.Limiter != nil {
		return c.Limiter
	}
	c.limOnce.Do(func() { c.localLim = ratelimit.NewLocalLimiter(nil) })
	return c.localLim
}

func (c *Connector) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return bot.Sleep(ctx, d)
}

// outActivity is what herald sends. msbotbuilder-go's schema.Activity would
// serialise its zero-valued structs and times ("timestamp":
// "0001-01-01T00:00:00Z", "from": {}); this carries only what is set, built
// from the library's own account and attachment types.
type outActivity struct {
	Type         string                      `json:"type"`
	ID           string                      `json:"id,omitempty"`
	Text         string                      `json:"text,omitempty"`
	TextFormat   string                      `json:"textFormat,omitempty"`
	Summary      string                      `json:"summary,omitempty"`
	Attachments  []schema.Attachment         `json:"attachments,omitempty"`
	ReplyToID    string                      `json:"replyToId,omitempty"`
	From         *schema.ChannelAccount      `json:"from,omitempty"`
	Conversation *schema.ConversationAccount `json:"conversation,omitempty"`
	ChannelData  map[string]any              `json:"channelData,omitempty"`
}

// conversationParameters is schema.ConversationParameters without its
// zero-value problem.
type conversationParameters struct {
	IsGroup     bool                   `json:"isGroup"`
	Bot         *schema.ChannelAccount `json:"bot,omitempty"`
	TenantID    string                 `json:"tenantId,omitempty"`
	Activity    outActivity            `json:"activity"`
	ChannelData map[string]any         `json:"channelData"`
}

// CreateThread starts a new reply chain in a Teams channel with act as its
// root and returns the thread's conversation id and the root's activity id.
func (c *Connector) CreateThread(ctx context.Context, serviceURL, channelID, tenantID string, act outActivity) (conversationID, activityID string, err error) {
	params := conversationParameters{
		IsGroup:  true,
		TenantID: tenantID,
		Activity: act,
		ChannelData: map[string]any{
			"channel": map[string]string{"id": channelID},
		},
	}
	if tenantID != "" {
		params.ChannelData["tenant"] = map[string]string{"id": tenantID}
	}
	var res schema.ConversationResourceResponse
	err = c.do(ctx, "create thread", channelID, http.MethodPost, endpoint(serviceURL, "v3/conversations"), params, &res)
	if err != nil {
		return "", "", err
	}
	if res.ActivityID == "" {
		return "", "", &ConnectorError{Op: "create thread", Status: http.StatusOK, Message: "answer carried no activityId"}
	}
	if res.ID == "" {
		res.ID = channelID + ";messageid=" + res.ActivityID
	}
	return res.ID, res.ActivityID, nil
}

// Send posts act into a conversation (for a channel thread, its
// "<channel>;messageid=<root>" id) and returns the new activity's id.
// replyTo, when set, answers that activity.
func (c *Connector) Send(ctx context.Context, serviceURL, conversationID, replyTo string, act outActivity) (string, error) {
	path := "v3/conversations/" + url.PathEscape(conversationID) + "/activities"
	if replyTo != "" {
		path += "/" + url.PathEscape(replyTo)
		act.ReplyToID = replyTo
	}
	var res schema.ResourceResponse
	if err := c.do(ctx, "post", conversationID, http.MethodPost, endpoint(serviceURL, path), act, &res); err != nil {
		return "", err
	}
	return res.ID, nil
}

// Update replaces activity activityID in a conversation (a card's new state).
func (c *Connector) Update(ctx context.Context, serviceURL, conversationID, activityID string, act outActivity) error {
	act.ID = activityID
	path := "v3/conversations/" + url.PathEscape(conversationID) + "/activities/" + url.PathEscape(activityID)
	return c.do(ctx, "update", conversationID, http.MethodPut, endpoint(serviceURL, path), act, nil)
}

func endpoint(serviceURL, path string) string {
	return strings.TrimSuffix(serviceURL, "/") + "/" + path
}

// bucketKey is the rate-limit bucket of a conversation: a channel's threads
// share their channel's.
func bucketKey(conversationID string) string {
	return "teams:conv:" + baseConversation(conversationID)
}

func (c *Connector) do(ctx context.Context, op, conversationID, method, target string, body, into any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding %s activity: %w", op, err)
	}
	rate, burst := c.Rate, c.Burst
	if rate <= 0 {
		rate = 7
	}
	if burst <= 0 {
		burst = 7
	}
	attempts := max(c.MaxAttempts, 1)
	if c.MaxAttempts == 0 {
		attempts = 5
	}
	key := bucketKey(conversationID)
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		wait, err := c.limiter().Reserve(ctx, key, rate, burst)
		if err != nil {
			return fmt.Errorf("reserving a send slot for %s: %w", key, err)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("waiting for a send slot for %s: %w", key, err)
		}
		last = c.once(ctx, op, method, target, payload, into)
		if c.OnResult != nil {
			c.OnResult(last)
		}
		var ce *ConnectorError
		if last == nil || !errors.As(last, &ce) || !ce.Temporary() || attempt == attempts {
			return last
		}
		delay := c.backoff(attempt)
		if ce.RetryAfter > 0 {
			delay = ce.RetryAfter
			// Slow the whole conversation down, for every replica.
			_ = c.limiter().Pause(ctx, key, ce.RetryAfter)
		}
		if err := c.sleep(ctx, delay); err != nil {
			return fmt.Errorf("%w (gave up waiting to retry: %w)", last, err)
		}
	}
	return last
}

// backoff is bot.Backoff with the connector's bounds: exponential with
// full jitter, so replicas retrying the same throttled conversation spread
// out.
func (c *Connector) backoff(attempt int) time.Duration {
	ceiling := c.MaxBackoff
	if ceiling <= 0 {
		ceiling = 10 * time.Second
	}
	return bot.Backoff{Base: c.BaseBackoff, Max: ceiling}.Delay(attempt - 1)
}

func (c *Connector) once(ctx context.Context, op, method, target string, payload []byte, into any) error {
	token, err := c.Tokens.Token(ctx)
	if err != nil {
		return &ConnectorError{Op: op, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("building %s request: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+token)
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("bot connector %s: %w", op, ctx.Err())
		}
		return &ConnectorError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if into != nil && len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, into); err != nil {
				return fmt.Errorf("decoding bot connector %s answer: %w", op, err)
			}
		}
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// A revoked or rotated token: fetch a fresh one next time.
		c.Tokens.Invalidate(token)
	}
	var er struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &er)
	return &ConnectorError{
		Op:         op,
		Status:     resp.StatusCode,
		Code:       er.Error.Code,
		Message:    firstLine(er.Error.Message),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
	}
}

func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(h, 64); err == nil && secs > 0 {
		return min(time.Duration(secs*float64(time.Second)), 2*time.Minute)
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(time.Until(t), 0), 2*time.Minute)
	}
	return 0
}
