package teams

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/infracloudio/msbotbuilder-go/connector/auth"
	"github.com/infracloudio/msbotbuilder-go/schema"
)

// DefaultOpenIDMetadataURL is where the Bot Framework publishes the keys that
// sign the tokens of activities sent to bots (TEAMS_OPENID_METADATA_URL).
const DefaultOpenIDMetadataURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"

// BotFrameworkIssuer is the issuer of every token the Bot Connector sends.
const BotFrameworkIssuer = "https://api.botframework.com"

// ErrUnauthorized marks a request whose token is missing or does not check
// out: the handler answers 401 and does nothing else.
var ErrUnauthorized = errors.New("unauthorized")

// ErrKeysUnavailable means the signing keys could not be fetched and none
// were cached: nothing can be verified, so the handler answers 503 and the
// Bot Connector tries again later.
var ErrKeysUnavailable = errors.New("bot framework signing keys unavailable")

// Validator checks the JWT on every inbound activity the way the Bot
// Framework requires: RS256-family signature by a key from the OpenID
// metadata's JWKS, issuer https://api.botframework.com, audience = the bot's
// app id, not expired (5 minutes of clock skew allowed), the serviceurl claim
// equal to the activity's serviceUrl, and the key endorsed for the
// activity's channel.
//
// It replaces msbotbuilder-go's JwtTokenValidator, which reads the metadata
// from a hard-coded URL on every request without closing the body and keeps
// its JWKS cache without a lock. Here the metadata URL is configurable, the
// keys are cached under a lock and refreshed every Refresh (and at most once
// a minute when a token names an unknown key, for key rotation), every body
// is closed, and a failed refresh keeps the keys already known.
//
// It implements msbotbuilder-go's auth.TokenValidator, so it can also be put
// into the library's core.BotFrameworkAdapter.
type Validator struct {
	AppID       string
	MetadataURL string        // default DefaultOpenIDMetadataURL
	HTTP        *http.Client  // default: 10 s timeout
	Refresh     time.Duration // default 24 h
	Leeway      time.Duration // clock skew allowed; default 5 min
	// Issuer is the token issuer; default BotFrameworkIssuer (sovereign
	// clouds have their own, e.g. https://api.botframework.us).
	Issuer string
	Now    func() time.Time

	fetchMu   sync.Mutex // one fetch at a time
	mu        sync.RWMutex
	keys      map[string]signingKey
	fetchedAt time.Time
	triedAt   time.Time
}

var _ auth.TokenValidator = (*Validator)(nil)

type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// Claims is what a verified token says.
type Claims struct {
	AppID        string // aud
	ServiceURL   string // serviceurl claim
	endorsements []string
}

const (
	maxDocumentBytes = 1 << 20
	minRefetch       = time.Minute
)

var allowedAlgs = []string{"RS256", "RS384", "RS512"}

func (v *Validator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks the Authorization header's token: signature, issuer,
// audience and lifetime. The activity-dependent checks are in Claims.Check.
func (v *Validator) Verify(ctx context.Context, authHeader string) (Claims, error) {
	raw, ok := strings.CutPrefix(strings.TrimSpace(authHeader), "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		return Claims{}, fmt.Errorf("%w: no bearer token", ErrUnauthorized)
	}
	if v.AppID == "" {
		// Never accept every token because the app id was left out.
		return Claims{}, fmt.Errorf("%w: TEAMS_APP_ID is not set", ErrUnauthorized)
	}
	leeway := v.Leeway
	if leeway == 0 {
		leeway = 5 * time.Minute
	}
	var key signingKey
	var keyErr error
	issuer := v.Issuer
	if issuer == "" {
		issuer = BotFrameworkIssuer
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(allowedAlgs),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(v.AppID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(v.now),
	)
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(strings.TrimSpace(raw), claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token names no signing key (kid)")
		}
		key, keyErr = v.key(ctx, kid)
		if keyErr != nil {
			return nil, keyErr
		}
		return key.pub, nil
	})
	if err != nil {
		if errors.Is(keyErr, ErrKeysUnavailable) {
			return Claims{}, keyErr
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	surl, _ := claims["serviceurl"].(string)
	return Claims{AppID: v.AppID, ServiceURL: surl, endorsements: key.endorsements}, nil
}

// Check matches the token to the activity it came with: the serviceurl claim
// must be the activity's serviceUrl (else a token lifted from one activity
// could carry another pointing herald's replies, and its bearer token, at
// any host), and the signing key must be endorsed for the activity's channel.
func (c Claims) Check(act schema.Activity) error {
	if act.ServiceURL == "" || strings.TrimSuffix(c.ServiceURL, "/") != strings.TrimSuffix(act.ServiceURL, "/") {
		return fmt.Errorf("%w: serviceurl claim %q does not match the activity's serviceUrl %q", ErrUnauthorized, c.ServiceURL, act.ServiceURL)
	}
	if len(c.endorsements) > 0 && !slices.Contains(c.endorsements, act.ChannelID) {
		return fmt.Errorf("%w: signing key is not endorsed for channel %q", ErrUnauthorized, act.ChannelID)
	}
	return nil
}

// AuthenticateRequest implements msbotbuilder-go's auth.TokenValidator.
func (v *Validator) AuthenticateRequest(ctx context.Context, act schema.Activity, authHeader string, _ auth.CredentialProvider, _ string) (auth.ClaimsIdentity, error) {
	c, err := v.Verify(ctx, authHeader)
	if err != nil {
		return nil, err
	}
	if err := c.Check(act); err != nil {
		return nil, err
	}
	return auth.NewClaimIdentity(map[string]any{
		auth.IssuerClaim:     BotFrameworkIssuer,
		auth.AudienceClaim:   c.AppID,
		auth.ServiceURLClaim: c.ServiceURL,
	}, true), nil
}

// key returns the signing key kid, fetching the JWKS when the cache is
// empty, stale, or does not know kid (rotation).
func (v *Validator) key(ctx context.Context, kid string) (signingKey, error) {
	refresh := v.Refresh
	if refresh == 0 {
		refresh = 24 * time.Hour
	}
	v.mu.RLock()
	k, ok := v.keys[kid]
	fresh := v.keys != nil && v.now().Sub(v.fetchedAt) < refresh
	v.mu.RUnlock()
	if ok && fresh {
		return k, nil
	}

	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	// Someone else may have fetched while we waited.
	v.mu.RLock()
	k, ok = v.keys[kid]
	fresh = v.keys != nil && v.now().Sub(v.fetchedAt) < refresh
	recentTry := v.now().Sub(v.triedAt) < minRefetch
	haveKeys := v.keys != nil
	v.mu.RUnlock()
	if ok && fresh {
		return k, nil
	}
	if !recentTry || !haveKeys {
		keys, err := v.fetchKeys(ctx)
		v.mu.Lock()
		v.triedAt = v.now()
		if err == nil {
			v.keys, v.fetchedAt = keys, v.now()
		}
		v.mu.Unlock()
		if err != nil && !haveKeys {
			return signingKey{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
		// On a failed refresh the keys we had stay in use.
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	return signingKey{}, fmt.Errorf("unknown signing key %q", kid)
}

func (v *Validator) client() *http.Client {
	if v.HTTP != nil {
		return v.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (v *Validator) fetchKeys(ctx context.Context) (map[string]signingKey, error) {
	metaURL := v.MetadataURL
	if metaURL == "" {
		metaURL = DefaultOpenIDMetadataURL
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, metaURL, &meta); err != nil {
		return nil, fmt.Errorf("fetching OpenID metadata: %w", err)
	}
	if meta.JWKSURI == "" {
		return nil, fmt.Errorf("OpenID metadata at %s has no jwks_uri", metaURL)
	}
	var set struct {
		Keys []struct {
			Kty          string   `json:"kty"`
			Kid          string   `json:"kid"`
			N            string   `json:"n"`
			E            string   `json:"e"`
			Endorsements []string `json:"endorsements"`
		} `json:"keys"`
	}
	if err := v.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("fetching signing keys: %w", err)
	}
	keys := map[string]signingKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			continue // one bad key must not lock out the good ones
		}
		keys[k.Kid] = signingKey{pub: pub, endorsements: k.Endorsements}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable RSA key at %s", meta.JWKSURI)
	}
	return keys, nil
}

func (v *Validator) getJSON(ctx context.Context, url string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := v.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocumentBytes))
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(into); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}

func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n64, "="))
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e64, "="))
	if err != nil {
		return nil, err
	}
	e := new(big.Int).SetBytes(eb)
	if len(nb) < 256 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 {
		return nil, errors.New("RSA key too small or odd exponent")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(e.Int64())}, nil
}
