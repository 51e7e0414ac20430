package botframework_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldops/herald/internal/fakes/botframework"
)

func getJSON(t *testing.T, c *http.Client, u string, into any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

// TestTokensVerifyAgainstThePublishedKeys: a token the fake signs verifies
// with the key its metadata's JWKS publishes, carrying the claims the Bot
// Connector sends; a stranger's does not.
func TestTokensVerifyAgainstThePublishedKeys(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, http.DefaultClient, fake.MetadataURL(), &meta)
	var set struct {
		Keys []struct {
			Kid, N, E    string
			Endorsements []string
		} `json:"keys"`
	}
	getJSON(t, http.DefaultClient, meta.JWKSURI, &set)
	if len(set.Keys) != 1 || set.Keys[0].Kid != botframework.KeyID || set.Keys[0].Endorsements[0] != "msteams" {
		t.Fatalf("JWKS = %+v", set)
	}
	nb, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].N)
	eb, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	keyFunc := func(*jwt.Token) (any, error) { return pub, nil }

	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(fake.Token("https://smba.example/"), claims, keyFunc,
		jwt.WithIssuer(botframework.Issuer), jwt.WithAudience(fake.AppID), jwt.WithExpirationRequired(), jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["kid"] != botframework.KeyID || claims["serviceurl"] != "https://smba.example/" {
		t.Fatalf("header %v claims %v", tok.Header, claims)
	}
	if _, err := jwt.Parse(fake.Token("https://smba.example/", botframework.SignedByStranger()), keyFunc); err == nil {
		t.Fatal("a stranger's token verified")
	}
	if _, err := jwt.Parse(fake.Token("https://smba.example/", botframework.Expired()), keyFunc); err == nil {
		t.Fatal("an expired token verified")
	}
}

func token(t *testing.T, fake *botframework.Server, secret string) (string, int) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {fake.AppID}, "client_secret": {secret}, "scope": {botframework.Scope}}
	resp, err := http.PostForm(fake.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	return tr.AccessToken, resp.StatusCode
}

func call(t *testing.T, c *http.Client, method, u, tok string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, u, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestConnectorThreadLifecycle: start a channel thread, reply in it, update
// a card; through Transport, as at a real service URL.
func TestConnectorThreadLifecycle(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	c := &http.Client{Transport: fake.Transport(), Timeout: 5 * time.Second}
	base := "https://smba.trafficmanager.net/amer/tenant/v3/conversations"

	if _, status := token(t, fake, "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d, want 401", status)
	}
	tok, status := token(t, fake, fake.AppPassword)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token endpoint: %d", status)
	}
	card := map[string]any{"type": "AdaptiveCard", "body": []any{map[string]any{"type": "TextBlock", "text": "INC-1 root"}}}
	act := map[string]any{"type": "message", "attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}}

	if status, _ := call(t, c, http.MethodPost, base, "", map[string]any{}); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", status)
	}
	status, created := call(t, c, http.MethodPost, base, tok, map[string]any{
		"isGroup": true, "activity": act, "channelData": map[string]any{"channel": map[string]any{"id": "19:chan@thread.tacv2"}},
	})
	if status != http.StatusCreated || created["activityId"] == "" || created["id"] != "19:chan@thread.tacv2;messageid="+created["activityId"].(string) {
		t.Fatalf("create thread: %d %v", status, created)
	}
	thread := created["id"].(string)
	status, posted := call(t, c, http.MethodPost, base+"/"+url.PathEscape(thread)+"/activities", tok, map[string]any{"type": "message", "text": "reply"})
	if status != http.StatusCreated || posted["id"] == "" {
		t.Fatalf("reply: %d %v", status, posted)
	}
	root := created["activityId"].(string)
	if status, _ := call(t, c, http.MethodPut, base+"/"+url.PathEscape(thread)+"/activities/"+root, tok, act); status != http.StatusOK {
		t.Fatalf("update root: %d", status)
	}
	if status, _ := call(t, c, http.MethodPut, base+"/"+url.PathEscape(thread)+"/activities/unknown", tok, act); status != http.StatusNotFound {
		t.Fatalf("update of an unknown activity: %d, want 404", status)
	}

	got := fake.InThread("19:chan@thread.tacv2", root)
	if len(got) != 3 || !got[0].Created || got[1].Activity.Text != "reply" || got[2].Method != http.MethodPut {
		t.Fatalf("thread holds %+v", got)
	}
	if got[0].Host != "smba.trafficmanager.net" || !strings.Contains(got[0].AllText(), "INC-1 root") {
		t.Fatalf("root recorded as host %q text %q", got[0].Host, got[0].AllText())
	}
}

func TestFaultsAnswerInOrder(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	tok, _ := token(t, fake, fake.AppPassword)
	fake.FailNext(botframework.Fault{Status: 429, RetryAfter: "2"}, botframework.Fault{Status: 502})
	u := fake.ServiceURL() + "v3/conversations/a:1/activities"
	for _, want := range []int{429, 502, 201} {
		if status, _ := call(t, http.DefaultClient, http.MethodPost, u, tok, map[string]any{"type": "message"}); status != want {
			t.Fatalf("status %d, want %d", status, want)
		}
	}
	if acc := fake.Accepted(); len(acc) != 1 {
		t.Fatalf("accepted %d, want 1", len(acc))
	}
}

func TestSendActivitySignsForTheServiceURL(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	var auth string
	herald := newRecorder(&auth)
	t.Cleanup(herald.Close)
	resp, err := fake.SendActivity(context.Background(), herald.URL, botframework.Fixture("channel_message_mention.json"))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("%v %d", err, resp.Status)
	}
	claims := jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(strings.TrimPrefix(auth, "Bearer "), claims)
	if err != nil {
		t.Fatal(err)
	}
	if claims["serviceurl"] != "https://smba.trafficmanager.net/amer/a1b2c3d4-e5f6-7890-abcd-ef1234567890/" || claims["aud"] != fake.AppID {
		t.Fatalf("claims = %v", claims)
	}
	if _, err := fake.SendActivity(context.Background(), herald.URL, []byte(`{}`), botframework.Unsigned()); err != nil || auth != "" {
		t.Fatalf("unsigned request carried %q", auth)
	}
}
