package twilio

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
)

// The send path posts Messages.json itself rather than through twilio-go.
// At thousands of messages a second twilio-go's per-call work shows: it
// parses the URL, builds a client and credentials per call, and decodes the
// whole Message resource, while herald needs two fields of it. Here the URL
// and the Authorization header are built once, the form is the one
// twilio-go would send (TestBothSendPathsPostTheSameForm proves it), and
// only sid and status are decoded. The rest of the REST API (FindSent, and
// anything added later) stays on twilio-go.

// userAgent names herald's sender the way twilio-go names itself.
var userAgent = "herald-twilio (" + runtime.GOOS + " " + runtime.GOARCH + ") go/" + runtime.Version()

// maxAnswer bounds what is read of an answer; Twilio's are about 1 KB.
const maxAnswer = 64 << 10

// DefaultConcurrency sizes the connection pool when MessengerConfig gives
// no Concurrency.
const DefaultConcurrency = 32

// newTransport is a pooled transport that keeps one idle connection per
// concurrent sender, so a fan-out reuses its TLS connections instead of
// opening one per message (http.DefaultTransport keeps two per host).
func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          concurrency * 2,
		MaxIdleConnsPerHost:   concurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// createdMessage is what herald reads of a created Message.
type createdMessage struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}

// restError is Twilio's error body.
type restError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// messagesURL is the Messages resource under base (nil: Twilio's own).
func messagesURL(base *url.URL, account string) string {
	root := DefaultAPIURL
	if base != nil {
		root = base.Scheme + "://" + base.Host + strings.TrimRight(base.Path, "/")
	}
	return root + "/2010-04-01/Accounts/" + url.PathEscape(account) + "/Messages.json"
}

// post creates one message. Errors are *bot.ProviderError, classified.
func (m *Messenger) post(ctx context.Context, form url.Values) (createdMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.messagesURL, strings.NewReader(form.Encode()))
	if err != nil {
		return createdMessage{}, fmt.Errorf("building the request: %w", err)
	}
	req.Header = http.Header{
		"Authorization": {m.authHeader},
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Accept":        {"application/json"},
		"User-Agent":    {userAgent},
	}
	resp, err := m.client.Do(req)
	if err != nil {
		// Never answered: refused connection, timeout, or ctx ended. Whether
		// Twilio took the message is unknown.
		pe := classified(&bot.ProviderError{Message: "no answer from Twilio: " + maskPhones(err.Error())})
		if ctx.Err() != nil {
			return createdMessage{}, fmt.Errorf("%w: %w", pe, ctx.Err())
		}
		return createdMessage{}, pe
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_, _ = io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
	resp.Body.Close()
	status := resp.StatusCode
	switch {
	case status >= 200 && status < 300:
		var msg createdMessage
		if readErr != nil || json.Unmarshal(body, &msg) != nil {
			return createdMessage{}, &bot.ProviderError{Kind: bot.FailureUnknown, Provider: ProviderName,
				Message: fmt.Sprintf("unreadable answer from Twilio (HTTP %d)", status)}
		}
		return msg, nil
	case status < 400:
		// A redirect is an answer, not something to follow (as twilio-go):
		// the outcome is as unknown as with no answer.
		return createdMessage{}, &bot.ProviderError{Kind: bot.FailureUnknown, Provider: ProviderName,
			Message: fmt.Sprintf("unexpected answer from Twilio (HTTP %d)", status)}
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	var te restError
	if json.Unmarshal(body, &te) == nil && (te.Code != 0 || te.Message != "") {
		return createdMessage{}, classified(&bot.ProviderError{Code: te.Code, HTTPStatus: status, Message: maskPhones(te.Message), RetryAfter: retryAfter})
	}
	// A body that is not Twilio's JSON: a proxy's HTML page, a bare 503.
	msg := strings.TrimSpace(string(body[:min(len(body), 512)]))
	if msg == "" || strings.HasPrefix(msg, "<") {
		msg = http.StatusText(status)
	}
	return createdMessage{}, classified(&bot.ProviderError{HTTPStatus: status, Message: maskPhones(msg), RetryAfter: retryAfter})
}
