package teams_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/adapters/teams"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/internal/fakes/botframework"
)

// sleeper records the waits a connector asks for and moves a test clock
// instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	clock *bottest.Clock
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if s.clock != nil {
		s.clock.Advance(d)
	}
	return ctx.Err()
}

func (s *sleeper) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func newConnector(fake *botframework.Server, sl *sleeper) *teams.Connector {
	return &teams.Connector{
		Tokens: &teams.TokenSource{URL: fake.TokenURL(), AppID: fake.AppID, Password: fake.AppPassword},
		HTTP:   &http.Client{Timeout: 5 * time.Second},
		Sleep:  sl.Sleep,
	}
}

func message(text string) map[string]any { return teams.Render(bot.Message{Text: text}) }

func TestTokenIsCachedUntilShortlyBeforeExpiry(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	now := time.Now()
	ts := &teams.TokenSource{URL: fake.TokenURL(), AppID: fake.AppID, Password: fake.AppPassword, Now: func() time.Time { return now }}
	ctx := context.Background()
	first, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if tok, _ := ts.Token(ctx); tok != first {
			t.Fatal("token changed while still valid")
		}
	}
	now = now.Add(56 * time.Minute) // the fake's tokens live an hour; herald renews 5 min early
	if tok, _ := ts.Token(ctx); tok == first {
		t.Fatal("token not renewed near its expiry")
	}
	if got := fake.TokenRequests(); got != 2 {
		t.Fatalf("token requests = %d, want 2", got)
	}
}

// TestTokenEndpointFailuresAreErrors: msbotbuilder-go dereferences a nil
// response when the token endpoint is unreachable; herald returns an error.
func TestTokenEndpointFailuresAreErrors(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cases := map[string]*teams.TokenSource{
		"unreachable":  {URL: dead.URL + "/token", AppID: fake.AppID, Password: fake.AppPassword},
		"wrong secret": {URL: fake.TokenURL(), AppID: fake.AppID, Password: "wrong"},
	}
	for name, ts := range cases {
		t.Run(name, func(t *testing.T) {
			sl := &sleeper{}
			c := &teams.Connector{Tokens: ts, Sleep: sl.Sleep, MaxAttempts: 2}
			_, err := c.Send(context.Background(), fake.ServiceURL(), "a:1", "", teams.CardActivityForTest(message("hi")))
			if err == nil {
				t.Fatal("sent without a token")
			}
			if name == "wrong secret" && !strings.Contains(err.Error(), "invalid_client") {
				t.Fatalf("err = %v, want the endpoint's reason", err)
			}
			if len(fake.Activities()) != 0 {
				t.Fatal("connector called without a token")
			}
		})
	}
}

func TestTransientFailuresAreRetriedWithBackoff(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	clock := bottest.NewClock(time.Now())
	sl := &sleeper{clock: clock}
	c := newConnector(fake, sl)
	c.Limiter = bottest.NewStore(clock)
	var results []error
	c.OnResult = func(err error) { results = append(results, err) }
	fake.FailNext(
		botframework.Fault{Status: 429, RetryAfter: "3"},
		botframework.Fault{Status: 412},
		botframework.Fault{Status: 502},
		botframework.Fault{Status: 504},
	)
	id, err := c.Send(context.Background(), fake.ServiceURL(), "a:1", "", teams.CardActivityForTest(message("hi")))
	if err != nil {
		t.Fatal(err)
	}
	if acc := fake.Accepted(); len(acc) != 1 || acc[0].ActivityID != id {
		t.Fatalf("accepted %d posts, want exactly 1 with id %s", len(acc), id)
	}
	waits := sl.Waits()
	if len(waits) != 4 || waits[0] != 3*time.Second {
		t.Fatalf("waits = %v, want Retry-After (3s) first, then 3 backoffs", waits)
	}
	// Full jitter: each backoff is at most base*2^(n-1).
	for i, w := range waits[1:4] {
		if ceiling := 500 * time.Millisecond << (i + 1); w <= 0 || w > ceiling {
			t.Errorf("backoff %d = %v, want in (0, %v]", i+2, w, ceiling)
		}
	}
	if len(results) != 5 || results[4] != nil {
		t.Fatalf("OnResult saw %v, want 4 failures then success", results)
	}
}

func TestRetriesStopAtMaxAttempts(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	c := newConnector(fake, &sleeper{})
	c.MaxAttempts = 3
	fake.FailNext(botframework.Fault{Status: 504}, botframework.Fault{Status: 504}, botframework.Fault{Status: 504}, botframework.Fault{Status: 504})
	_, err := c.Send(context.Background(), fake.ServiceURL(), "a:1", "", teams.CardActivityForTest(message("hi")))
	var ce *teams.ConnectorError
	if !errors.As(err, &ce) || ce.Status != 504 || !ce.Temporary() {
		t.Fatalf("err = %v, want a temporary 504 ConnectorError", err)
	}
	if got := len(fake.Activities()); got != 3 {
		t.Fatalf("attempts = %d, want 3", got)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	c := newConnector(fake, &sleeper{})
	fake.FailNext(botframework.Fault{Status: 403})
	_, err := c.Send(context.Background(), fake.ServiceURL(), "a:1", "", teams.CardActivityForTest(message("hi")))
	var ce *teams.ConnectorError
	if !errors.As(err, &ce) || ce.Status != 403 || ce.Temporary() {
		t.Fatalf("err = %v, want a permanent 403", err)
	}
	if got := len(fake.Activities()); got != 1 {
		t.Fatalf("attempts = %d, want 1", got)
	}
}

func TestUnauthorizedDropsTheCachedToken(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	c := newConnector(fake, &sleeper{})
	ctx := context.Background()
	fake.FailNext(botframework.Fault{Status: 401})
	if _, err := c.Send(ctx, fake.ServiceURL(), "a:1", "", teams.CardActivityForTest(message("hi"))); err == nil {
		t.Fatal("401 not reported")
	}
	if _, err := c.Send(ctx, fake.ServiceURL(), "a:1", "", teams.CardActivityForTest(message("again"))); err != nil {
		t.Fatal(err)
	}
	if got := fake.TokenRequests(); got != 2 {
		t.Fatalf("token requests = %d, want a fresh token after the 401", got)
	}
}

// TestPostsArePacedPerConversation: Teams allows about 7 messages a second
// per conversation. 21 posts into one conversation wait 2 s in all; another
// conversation is not held up by it.
func TestPostsArePacedPerConversation(t *testing.T) {
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC))
	sl := &sleeper{clock: clock}
	c := newConnector(fake, sl)
	c.Limiter = bottest.NewStore(clock) // the shared limiter (Redis in production)
	ctx := context.Background()
	thread := "19:abc@thread.tacv2;messageid=1"
	for i := range 21 {
		if _, err := c.Send(ctx, fake.ServiceURL(), thread, "", teams.CardActivityForTest(message("p"))); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	var total time.Duration
	for _, w := range sl.Waits() {
		total += w
	}
	if want := 2 * time.Second; total < want-10*time.Millisecond || total > want+10*time.Millisecond {
		t.Fatalf("21 posts waited %v in all, want about %v (7/s with a burst of 7)", total, want)
	}
	before := len(sl.Waits())
	if _, err := c.Send(ctx, fake.ServiceURL(), "a:other", "", teams.CardActivityForTest(message("p"))); err != nil {
		t.Fatal(err)
	}
	if got := sl.Waits()[before:]; len(got) != 0 {
		t.Fatalf("another conversation waited %v", got)
	}
}

// TestUpdateFallsBackToFollowUp: where Teams refuses an edit (the message
// is gone), the new version is posted in the thread instead.
func TestUpdateFallsBackToFollowUp(t *testing.T) {
	h := newHarness(t)
	h.send(mention(t, "new Disk full"))
	inc, err := h.svc.Incident(context.Background(), "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	n := len(h.fake.Activities())
	err = h.svc.Chat.Update(context.Background(), bot.MessageRef{Thread: inc.Thread, ID: "no-such-activity"}, bot.Message{Title: "Progress: 3 of 3 delivered"})
	if err != nil {
		t.Fatal(err)
	}
	got := mustFind(t, since(h, n), http.MethodPost, "Progress: 3 of 3 delivered")
	if got.ConversationID != incidentChannel+";messageid="+inc.Thread.RootID {
		t.Fatalf("follow-up posted in %s", got.ConversationID)
	}
}

func TestPostIntoUnknownConversationSaysWhy(t *testing.T) {
	h := newHarness(t)
	_, err := h.svc.Chat.PostRoot(context.Background(), "19:never-seen@thread.tacv2", bot.Message{Title: "x"})
	if !errors.Is(err, bot.ErrNotFound) || !strings.Contains(err.Error(), "add herald to that team") {
		t.Fatalf("err = %v, want a not-found error telling what to do", err)
	}
}
