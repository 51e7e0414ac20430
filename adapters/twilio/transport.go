package twilio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// twilio-go sends every request with context.Background() and keeps the HTTP
// response to itself when it fails: no cancellation from the caller, no
// Retry-After, no status for a non-JSON error body. herald needs all three,
// so each call gets its own small http.Client whose transport (callTransport)
// puts the caller's ctx on the request, points it at TWILIO_API_URL when set,
// and writes down what the answer looked like (exchange).

// exchange is what one API call's last HTTP answer looked like.
type exchange struct {
	mu         sync.Mutex
	status     int           // 0: no answer at all
	retryAfter time.Duration // from Retry-After
	errBody    string        // start of a non-2xx body, for errors twilio-go cannot decode
}

func (e *exchange) snapshot() (status int, retryAfter time.Duration, errBody string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status, e.retryAfter, e.errBody
}

type callTransport struct {
	ctx  context.Context
	base *url.URL // nil: leave the URL as twilio-go built it
	next http.RoundTripper
	seen *exchange
}

func (t *callTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(t.ctx)
	if t.base != nil {
		r2.URL.Scheme = t.base.Scheme
		r2.URL.Host = t.base.Host
		r2.Host = t.base.Host
		if p := strings.TrimRight(t.base.Path, "/"); p != "" {
			// A fake mounted under a prefix (herald demo): keep Twilio's path below it.
			r2.URL.Path = p + r2.URL.Path
			r2.URL.RawPath = ""
		}
	}
	resp, err := t.next.RoundTrip(r2)
	if err != nil {
		return nil, err
	}
	t.seen.mu.Lock()
	defer t.seen.mu.Unlock()
	t.seen.status = resp.StatusCode
	t.seen.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	t.seen.errBody = ""
	if resp.StatusCode >= 400 {
		// Keep the start of the body for the error text, and hand twilio-go
		// the whole body unchanged so it can still decode a JSON error.
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.seen.errBody = strings.TrimSpace(string(head))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	}
	return resp, nil
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
