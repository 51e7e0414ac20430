package botframework

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenSpec is what a signed activity token says and who signs it.
type tokenSpec struct {
	issuer     string
	audience   string
	serviceURL string
	issuedAt   time.Time
	expiresAt  time.Time
	key        *rsa.PrivateKey
	keyID      string
	none       bool // send no Authorization header at all
	raw        string
}

// TokenOption changes one thing about the token SendActivity signs, to make
// the bad tokens herald must refuse.
type TokenOption func(*tokenSpec)

// WithAudience signs the token for another bot.
func WithAudience(aud string) TokenOption { return func(t *tokenSpec) { t.audience = aud } }

// WithIssuer signs the token as another issuer.
func WithIssuer(iss string) TokenOption { return func(t *tokenSpec) { t.issuer = iss } }

// WithServiceURL puts another serviceurl claim in the token than the
// activity's serviceUrl (a token lifted from one activity and replayed with
// another).
func WithServiceURL(u string) TokenOption { return func(t *tokenSpec) { t.serviceURL = u } }

// Expired signs a token that expired ten minutes ago.
func Expired() TokenOption {
	return func(t *tokenSpec) {
		t.issuedAt = time.Now().Add(-70 * time.Minute)
		t.expiresAt = time.Now().Add(-10 * time.Minute)
	}
}

// SignedByStranger signs with a freshly made key that is not in the JWKS,
// under the fake's own key id (a forged token).
func SignedByStranger() TokenOption {
	return func(t *tokenSpec) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		t.key = k
	}
}

// Unsigned sends the request with no Authorization header.
func Unsigned() TokenOption { return func(t *tokenSpec) { t.none = true } }

// WithRawAuthorization sends this exact Authorization header value.
func WithRawAuthorization(h string) TokenOption { return func(t *tokenSpec) { t.raw = h } }

// Token signs an activity token for serviceURL the way the Bot Connector
// does, changed by opts.
func (s *Server) Token(serviceURL string, opts ...TokenOption) string {
	return s.sign(s.spec(serviceURL, opts))
}

func (s *Server) spec(serviceURL string, opts []TokenOption) tokenSpec {
	spec := tokenSpec{
		issuer:     Issuer,
		audience:   s.AppID,
		serviceURL: serviceURL,
		issuedAt:   time.Now().Add(-time.Minute),
		expiresAt:  time.Now().Add(time.Hour),
		key:        s.key,
		keyID:      KeyID,
	}
	for _, o := range opts {
		o(&spec)
	}
	return spec
}

func (s *Server) sign(spec tokenSpec) string {
	claims := jwt.MapClaims{
		"iss":        spec.issuer,
		"aud":        spec.audience,
		"serviceurl": spec.serviceURL,
		"nbf":        spec.issuedAt.Unix(),
		"iat":        spec.issuedAt.Unix(),
		"exp":        spec.expiresAt.Unix(),
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = spec.keyID
	signed, err := tok.SignedString(spec.key)
	if err != nil {
		panic(fmt.Sprintf("botframework: signing token: %v", err))
	}
	return signed
}

// Response is herald's answer to an activity.
type Response struct {
	Status int
	Body   []byte
}

// SendActivity POSTs an activity (raw JSON bytes, e.g. a Fixture, or any
// value to marshal) to herald's messaging endpoint with a token signed for
// the activity's serviceUrl, as the Bot Connector does. opts make bad tokens.
func (s *Server) SendActivity(ctx context.Context, endpoint string, activity any, opts ...TokenOption) (Response, error) {
	body, ok := activity.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(activity); err != nil {
			return Response{}, fmt.Errorf("encoding activity: %w", err)
		}
	}
	var head struct {
		ServiceURL string `json:"serviceUrl"`
	}
	_ = json.Unmarshal(body, &head)
	spec := s.spec(head.ServiceURL, opts)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("building activity request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case spec.raw != "":
		req.Header.Set("Authorization", spec.raw)
	case !spec.none:
		req.Header.Set("Authorization", "Bearer "+s.sign(spec))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("posting activity: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("reading herald's answer: %w", err)
	}
	return Response{Status: resp.StatusCode, Body: b}, nil
}
