package twilio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/heraldops/herald/bot"
)

// InboundPath is where Twilio posts incoming messages, below the public URL.
const InboundPath = "/twilio/inbound"

// maxWebhookBody bounds what a webhook may send: Twilio's forms are a few
// kilobytes (a 1600-character body and up to 10 media URLs).
const maxWebhookBody = 64 << 10

// emptyTwiML answers an inbound message without replying to it: herald
// replies, if at all, through the REST API after the core has routed it.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// RequireSignature lets a request through to next only if its
// X-Twilio-Signature is Twilio's signature of publicURL + the request's path
// and query, with the form parameters, under authToken or one of
// previousTokens (keep the old token here while rotating it). Anything else
// gets 401 and next is not called.
//
// The URL is built from publicURL, not from the request's Host: behind a
// proxy or load balancer the Host herald sees is not the one Twilio signed.
//
// next finds the form already parsed in r.PostForm and r.Form, and r.Body
// can be read again.
func RequireSignature(authToken, publicURL string, next http.Handler, previousTokens ...string) http.Handler {
	if authToken == "" {
		panic("twilio.RequireSignature: empty auth token")
	}
	base, err := url.Parse(publicURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		panic("twilio.RequireSignature: public URL " + publicURL + " is not an absolute URL")
	}
	prefix := strings.TrimRight(publicURL, "/")
	var validators []client.RequestValidator
	for _, tok := range append([]string{authToken}, previousTokens...) {
		if tok != "" {
			validators = append(validators, client.NewRequestValidator(tok))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig := r.Header.Get("X-Twilio-Signature")
		if sig == "" {
			http.Error(w, "missing X-Twilio-Signature", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "could not read the request body", http.StatusBadRequest)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			// Not a form: it cannot carry a valid form signature.
			http.Error(w, "invalid X-Twilio-Signature", http.StatusUnauthorized)
			return
		}
		params := make(map[string]string, len(form))
		for k, v := range form {
			params[k] = v[0]
		}
		signedURL := prefix + r.URL.RequestURI()
		valid := false
		for _, v := range validators {
			if v.Validate(signedURL, params, sig) {
				valid = true
				break
			}
		}
		if !valid {
			http.Error(w, "invalid X-Twilio-Signature", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.PostForm = form
		r.Form = make(url.Values, len(form))
		for k, v := range r.URL.Query() {
			r.Form[k] = append(r.Form[k], v...)
		}
		for k, v := range form {
			r.Form[k] = append(r.Form[k], v...)
		}
		next.ServeHTTP(w, r)
	})
}

// InboundHandler answers Twilio's incoming-message webhook: it parses the
// form (400 with the reason if malformed), hands the message to sink (which
// must store or enqueue it durably; 500 if it fails, so Twilio tries again),
// and answers with empty TwiML at once. Wrap it in RequireSignature.
func InboundHandler(sink func(context.Context, bot.Inbound) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := postForm(w, r)
		if !ok {
			return
		}
		in, err := ParseInbound(form, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := sink(r.Context(), in); err != nil {
			http.Error(w, "could not accept the message; please retry", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, emptyTwiML)
	})
}

// StatusHandler answers Twilio's status callbacks: parse (400 with the
// reason), hand to sink (500 if it fails), 204. Wrap it in RequireSignature.
func StatusHandler(sink func(context.Context, bot.StatusUpdate) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := postForm(w, r)
		if !ok {
			return
		}
		u, err := ParseStatus(form, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The callback URL's query is part of what Twilio signed.
		q := r.URL.Query()
		u.BroadcastID, u.RecipientID = q.Get(callbackBroadcast), q.Get(callbackRecipient)
		if err := sink(r.Context(), u); err != nil {
			http.Error(w, "could not record the status; please retry", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// postForm returns the POSTed form, parsed by RequireSignature or here.
func postForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return nil, false
	}
	if r.PostForm == nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the body is not a form", http.StatusBadRequest)
			return nil, false
		}
	}
	return r.PostForm, true
}
