package slackapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Signer signs requests to herald the way Slack does: X-Slack-Signature is
// "v0=" + hex(HMAC-SHA256(signing secret, "v0:{timestamp}:{body}")) and
// X-Slack-Request-Timestamp the Unix time in seconds.
type Signer struct {
	Secret string
	// Now is the signing time; nil means time.Now. Set it in the past to make
	// stale requests.
	Now func() time.Time
}

// Signature computes the v0 signature of body at unix time ts.
func (s Signer) Signature(ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(s.Secret))
	mac.Write([]byte("v0:" + strconv.FormatInt(ts, 10) + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Sign sets the signature headers on req for body (which must be req's body).
func (s Signer) Sign(req *http.Request, body []byte) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := now().Unix()
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", s.Signature(ts, body))
}

// Request builds a signed POST of body to url with the given content type.
func (s Signer) Request(url, contentType string, body []byte) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic("slackapi: building request: " + err.Error()) // only a malformed test URL gets here
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	s.Sign(req, body)
	return req
}

// SlashCommand builds a signed slash command POST from a raw form body (the
// fixture slash_command.form as it is, say).
func (s Signer) SlashCommand(url string, form []byte) *http.Request {
	return s.Request(url, "application/x-www-form-urlencoded", bytes.TrimSpace(form))
}

// Interaction builds a signed interactivity POST: Slack sends the JSON
// payload url-encoded as the form field "payload".
func (s Signer) Interaction(url string, payloadJSON []byte) *http.Request {
	body := []byte("payload=" + urlQueryEscape(payloadJSON))
	return s.Request(url, "application/x-www-form-urlencoded", body)
}

// Event builds a signed Events API POST with a JSON body.
func (s Signer) Event(url string, body []byte) *http.Request {
	return s.Request(url, "application/json", body)
}

func urlQueryEscape(b []byte) string { return url.QueryEscape(string(b)) }
