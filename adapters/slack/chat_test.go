package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
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

func TestChatStaysUnderTheChannelRate(t *testing.T) {
	// Slack (the fake) refuses more than 20 posts/s per channel, with a
	// little burst for network jitter; herald paces itself to 20/s.
	fake := slackapi.New(slackapi.WithChannelRate(20, 2))
	defer fake.Close()
	chat, _ := newChat(t, fake, ChatOptions{PostsPerSecond: 20, Burst: 1})
	th := bot.ThreadRef{Channel: "C0BUSY", RootID: "1.1"}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := chat.Post(context.Background(), th, bot.Message{Text: "progress"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := fake.RateLimited(); n != 0 {
		t.Fatalf("Slack refused %d posts: herald went over the channel's rate", n)
	}
	if n := len(fake.Posts("C0BUSY")); n != 10 {
		t.Fatalf("%d posts, want 10", n)
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
