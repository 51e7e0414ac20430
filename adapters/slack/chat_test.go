package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/ratelimit"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// results records what OnResult saw.
type results struct {
	mu   sync.Mutex
	errs []error
}

func (r *results) add(_ string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *results) troubles() (trouble, ok int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		switch {
		case e == nil:
			ok++
		case Trouble(e):
			trouble++
		}
	}
	return trouble, ok
}

func fastRetries() bot.Backoff {
	return bot.Backoff{Base: 10 * time.Millisecond, Max: 20 * time.Millisecond}
}

func newChat(t *testing.T, fake *slackapi.Server, opts ChatOptions) (*Chat, *results) {
	t.Helper()
	res := &results{}
	opts.OnResult = res.add
	if opts.PostsPerSecond == 0 {
		opts.PostsPerSecond = 1000 // pacing has its own test
	}
	if opts.Backoff.Base == 0 {
		opts.Backoff = fastRetries()
	}
	return NewChat(fake.Client(), opts), res
}

func TestChatPostsRootThreadAndUpdates(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	chat, res := newChat(t, fake, ChatOptions{})
	ctx := context.Background()

	th, err := chat.PostRoot(ctx, "C0INCIDENTS", bot.Message{Title: "INC-1 · Database outage", Text: "a & b"})
	if err != nil {
		t.Fatal(err)
	}
	if th != (bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0INCIDENTS", RootID: "1700000000.000100"}) {
		t.Fatalf("thread %+v", th)
	}
	ref, err := chat.Post(ctx, th, bot.Message{Title: "Relaying", Text: "queued 3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := chat.Update(ctx, ref, bot.Message{Title: "Relaying", Text: "delivered 3"}); err != nil {
		t.Fatal(err)
	}

	root, _ := fake.Message("C0INCIDENTS", th.RootID)
	if !strings.Contains(root.AllText(), "a &amp; b") || root.Text != "INC-1 · Database outage\na &amp; b" {
		t.Fatalf("root text %q, blocks %s", root.Text, root.RawBlocks)
	}
	thread := fake.ThreadPosts("C0INCIDENTS", th.RootID)
	if len(thread) != 1 || thread[0].TS != ref.ID || !strings.Contains(thread[0].AllText(), "delivered 3") || thread[0].Edits != 1 {
		t.Fatalf("thread %+v", thread)
	}
	if _, ok := res.troubles(); ok != 3 {
		t.Fatalf("OnResult saw %d successes, want 3", ok)
	}
}

func TestChatHonoursRetryAfter(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	chat, res := newChat(t, fake, ChatOptions{})
	fake.RateLimitNext("chat.postMessage", time.Second, 1)

	if _, err := chat.PostRoot(context.Background(), "C0RL", bot.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls("chat.postMessage")
	if len(calls) != 2 || calls[0].Status != http.StatusTooManyRequests || !calls[1].OK() {
		t.Fatalf("calls %+v, want a 429 then a success", calls)
	}
	// the retry came no earlier than Slack asked (a correctness bound, not a speed test)
	if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
		t.Fatalf("retried after %v, Slack said Retry-After: 1", gap)
	}
	if len(fake.Posts("C0RL")) != 1 {
		t.Fatal("want exactly one message posted")
	}
	if trouble, _ := res.troubles(); trouble != 0 {
		t.Fatalf("a 429 counted as trouble: Slack answered, so it is up")
	}
}

func TestChatGivesUpOnLongRetryAfter(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	chat, _ := newChat(t, fake, ChatOptions{MaxRetryAfter: time.Second})
	fake.RateLimitNext("chat.postMessage", 30*time.Second, 1)
	_, err := chat.PostRoot(context.Background(), "C0RL", bot.Message{Text: "x"})
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || len(fake.Calls("chat.postMessage")) != 1 {
		t.Fatalf("err %v after %d calls, want the rate limit error after one", err, len(fake.Calls("chat.postMessage")))
	}
}

func TestChatRetriesServerTrouble(t *testing.T) {
	tests := []struct {
		name   string
		outage slackapi.Outage
	}{
		{"503s", slackapi.OutageUnavailable},
		{"hangs", slackapi.OutageHang},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slackapi.New()
			defer fake.Close()
			chat, res := newChat(t, fake, ChatOptions{AttemptTimeout: 100 * time.Millisecond, MaxAttempts: 50})
			fake.OutageFor(tt.outage, 300*time.Millisecond)

			if _, err := chat.PostRoot(context.Background(), "C0X", bot.Message{Text: "x"}); err != nil {
				t.Fatalf("post during a short outage: %v", err)
			}
			if n := len(fake.Posts("C0X")); n != 1 {
				t.Fatalf("%d messages posted, want 1", n)
			}
			trouble, ok := res.troubles()
			if trouble == 0 || ok != 1 {
				t.Fatalf("OnResult saw %d troubles and %d successes, want some and 1", trouble, ok)
			}
		})
	}
}

func TestChatRetriesAreBounded(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	chat, _ := newChat(t, fake, ChatOptions{MaxAttempts: 3})
	fake.SetOutage(slackapi.OutageUnavailable)
	_, err := chat.Post(context.Background(), bot.ThreadRef{Channel: "C0X", RootID: "1.1"}, bot.Message{Text: "x"})
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Fatalf("err %v", err)
	}
	if n := len(fake.Calls("chat.postMessage")); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestChatDoesNotRetryRefusals(t *testing.T) {
	fake := slackapi.New(slackapi.WithStrictChannels())
	defer fake.Close()
	chat, res := newChat(t, fake, ChatOptions{})
	_, err := chat.PostRoot(context.Background(), "C0GONE", bot.Message{Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "channel_not_found") || !strings.Contains(err.Error(), "posting the root message in C0GONE") {
		t.Fatalf("err %v", err)
	}
	if n := len(fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
	if trouble, _ := res.troubles(); trouble != 0 {
		t.Fatal("channel_not_found counted as Slack trouble")
	}
}

func TestChatStopsWhenContextEnds(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	chat, _ := newChat(t, fake, ChatOptions{})
	fake.RateLimitNext("chat.postMessage", 5*time.Second, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := chat.PostRoot(ctx, "C0X", bot.Message{Text: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
}

// pacer is the limiter Chat reserves its slots from, recording every
// decision: the pacing, seen from inside and on an injected clock.
type pacer struct {
	inner *ratelimit.LocalLimiter
	mu    sync.Mutex
	asked []reservation
}

type reservation struct {
	key   string
	rate  float64
	burst int
	wait  time.Duration
}

func (p *pacer) Reserve(ctx context.Context, key string, rate float64, burst int) (time.Duration, error) {
	wait, err := p.inner.Reserve(ctx, key, rate, burst)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, reservation{key: key, rate: rate, burst: burst, wait: wait})
	return wait, err
}

func (p *pacer) Pause(ctx context.Context, key string, d time.Duration) error {
	return p.inner.Pause(ctx, key, d)
}

func (p *pacer) reservations() []reservation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.asked)
}

var _ bot.RateLimiter = (*pacer)(nil)

func TestChatStaysUnderTheChannelRate(t *testing.T) {
	// Slack refuses more than so many posts a second per channel (20 here);
	// herald paces itself to that rate. Whether a paced post reaches Slack
	// in time is up to the machine (a busy one delays a post until just
	// before the next), so what is checked is herald's pacing decision, on
	// an injected clock that stands still while ten posts are asked for at
	// once: each gets its own slot, 1/20 s after the one before, and none
	// goes out before its slot.
	clock := bottest.NewClock(time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC))
	lim := &pacer{inner: ratelimit.NewLocalLimiter(clock)}
	fake := slackapi.New()
	defer fake.Close()
	chat, _ := newChat(t, fake, ChatOptions{PostsPerSecond: 20, Burst: 1, Limiter: lim})
	th := bot.ThreadRef{Channel: "C0BUSY", RootID: "1.1"}
	const n = 10
	interval := time.Second / 20
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := chat.Post(context.Background(), th, bot.Message{Text: "progress"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	if got := len(fake.Posts("C0BUSY")); got != n {
		t.Fatalf("%d posts, want %d", got, n)
	}
	asked := lim.reservations()
	if len(asked) != n {
		t.Fatalf("%d reservations for %d posts, want one each: %+v", len(asked), n, asked)
	}
	var waits []time.Duration
	for _, r := range asked {
		if r.key != asked[0].key || r.rate != 20 || r.burst != 1 {
			t.Fatalf("reservation %+v, want every post in C0BUSY paced on one bucket at 20/s, burst 1 (first: %+v)", r, asked[0])
		}
		waits = append(waits, r.wait)
	}
	slices.Sort(waits)
	for i, w := range waits {
		if want := time.Duration(i) * interval; w != want {
			t.Fatalf("slots %v, want one every %v from now", waits, interval)
		}
	}
	// No post went out before its slot (a bound a slow machine cannot
	// break: timers fire late, never early).
	var at []time.Time
	for _, c := range fake.Calls("chat.postMessage") {
		at = append(at, c.At)
	}
	slices.SortFunc(at, time.Time.Compare)
	for i, a := range at {
		if early := start.Add(waits[i]).Sub(a); early > 0 {
			t.Errorf("post %d reached Slack %v after the first was asked for, %v before its slot", i+1, a.Sub(start), early)
		}
	}

	// Once the channel has been quiet for a second, the next post waits
	// for nothing: the pacing holds herald back only as far as needed.
	clock.Advance(time.Second)
	if _, err := chat.Post(context.Background(), th, bot.Message{Text: "later"}); err != nil {
		t.Fatal(err)
	}
	if asked := lim.reservations(); len(asked) != n+1 || asked[n].wait != 0 {
		t.Errorf("after a quiet second the next post was told to wait: %+v", asked[n:])
	}
	// Another channel has its own bucket.
	if _, err := chat.Post(context.Background(), bot.ThreadRef{Channel: "C0OTHER", RootID: "2.2"}, bot.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if asked := lim.reservations(); len(asked) != n+2 || asked[n+1].wait != 0 || asked[n+1].key == asked[0].key {
		t.Errorf("a post in another channel shares C0BUSY's pace: %+v", asked[n+1:])
	}
}

func TestTrouble(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{slack.StatusCodeError{Code: 503}, true},
		{slack.StatusCodeError{Code: 404}, false},
		{&slack.RateLimitedError{RetryAfter: time.Second}, false},
		{slack.SlackErrorResponse{Err: "channel_not_found"}, false},
		{context.DeadlineExceeded, true},
		{errors.New("wrapped: " + "x"), false},
	}
	for _, tt := range tests {
		if got := Trouble(tt.err); got != tt.want {
			t.Errorf("Trouble(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRefusedTellsPermanentRefusalsFromTrouble(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{slack.SlackErrorResponse{Err: "channel_not_found"}, true},
		{slack.SlackErrorResponse{Err: "not_in_channel"}, true},
		{slack.SlackErrorResponse{Err: "ratelimited"}, false},
		{slack.SlackErrorResponse{Err: "internal_error"}, false},
		{slack.StatusCodeError{Code: 503}, false},
		{context.DeadlineExceeded, false},
	} {
		if got := Refused(fmt.Errorf("posting: %w", tt.err)); got != tt.want {
			t.Errorf("Refused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
