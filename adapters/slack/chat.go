package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/ratelimit"
)

// ChatOptions tunes Chat. The zero value is usable.
type ChatOptions struct {
	// OnResult, if set, sees the outcome of every Web API attempt (nil error:
	// success), so the failover health tracker can tell whether Slack is up:
	//
	//	OnResult: func(_ string, err error) { health.Observe(!slack.Trouble(err)) }
	OnResult func(method string, err error)
	// Limiter paces posts per channel. Give the shared (Redis) limiter so all
	// replicas together stay under Slack's rate; nil uses one per process.
	Limiter bot.RateLimiter
	// PostsPerSecond and Burst are the per-channel pace (default 1/s, burst 1:
	// Slack allows about one message per second per channel).
	PostsPerSecond float64
	Burst          int
	// MaxAttempts bounds the tries of one post (default 5); AttemptTimeout
	// bounds each try (default 10s); MaxRetryAfter is the longest 429 wait
	// honoured before giving up (default 60s).
	MaxAttempts    int
	AttemptTimeout time.Duration
	MaxRetryAfter  time.Duration
	// Backoff spaces retries after 5xx answers and timeouts.
	Backoff bot.Backoff
	// Up, if set, tells whether chat is considered reachable (the failover
	// health tracker's Up). Once it says no, a failing call is not retried:
	// the caller keeps the message for the replay instead of sitting in
	// retries through the outage and posting it, unmarked, when Slack is back.
	Up func() bool
}

// Chat posts incident messages into Slack: bot.Chat on top of slack-go.
type Chat struct {
	api     *slack.Client
	opts    ChatOptions
	limiter bot.RateLimiter
}

var _ bot.Chat = (*Chat)(nil)

// NewChat wraps a slack-go client (slack.New(token, slack.OptionAPIURL(url))).
func NewChat(api *slack.Client, opts ChatOptions) *Chat {
	if opts.PostsPerSecond <= 0 {
		opts.PostsPerSecond = 1
	}
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 10 * time.Second
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = 60 * time.Second
	}
	lim := opts.Limiter
	if lim == nil {
		lim = ratelimit.NewLocalLimiter(nil)
	}
	return &Chat{api: api, opts: opts, limiter: lim}
}

// PostRoot posts an incident's root message; its thread is the incident's.
func (c *Chat) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	var gotChannel, ts string
	err := c.do(ctx, "chat.postMessage", channel, func(ctx context.Context) error {
		var err error
		gotChannel, ts, err = c.api.PostMessageContext(ctx, channel,
			slack.MsgOptionText(FallbackText(m), false), slack.MsgOptionBlocks(Render(m)...))
		return err
	})
	if err != nil {
		return bot.ThreadRef{}, fmt.Errorf("posting the root message in %s: %w", channel, err)
	}
	return bot.ThreadRef{Platform: bot.PlatformSlack, Channel: gotChannel, RootID: ts}, nil
}

// Post posts a message into a thread.
func (c *Chat) Post(ctx context.Context, th bot.ThreadRef, m bot.Message) (bot.MessageRef, error) {
	var ts string
	err := c.do(ctx, "chat.postMessage", th.Channel, func(ctx context.Context) error {
		var err error
		_, ts, err = c.api.PostMessageContext(ctx, th.Channel,
			slack.MsgOptionText(FallbackText(m), false), slack.MsgOptionBlocks(Render(m)...), slack.MsgOptionTS(th.RootID))
		return err
	})
	if err != nil {
		return bot.MessageRef{}, fmt.Errorf("posting in thread %s/%s: %w", th.Channel, th.RootID, err)
	}
	return bot.MessageRef{Thread: th, ID: ts}, nil
}

// Update replaces a message herald posted earlier.
func (c *Chat) Update(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	err := c.do(ctx, "chat.update", ref.Thread.Channel, func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, ref.Thread.Channel, ref.ID,
			slack.MsgOptionText(FallbackText(m), false), slack.MsgOptionBlocks(Render(m)...))
		return err
	})
	if err != nil {
		return fmt.Errorf("updating message %s in %s: %w", ref.ID, ref.Thread.Channel, err)
	}
	return nil
}

// do paces, runs and retries one Web API call: a 429 waits its Retry-After
// (and pauses the channel's bucket for every replica), a 5xx or timeout
// backs off with jitter; both a bounded number of times. Other errors
// (channel_not_found, not_in_channel...) are final.
//
// A retried post after a timeout may duplicate a message Slack did receive:
// Slack offers no idempotency key for chat.postMessage, and a repeated post
// is better than a lost one in an incident.
func (c *Chat) do(ctx context.Context, method, channel string, call func(context.Context) error) error {
	key := "slack:" + method + ":" + channel
	var err error
	for attempt := 0; attempt < c.opts.MaxAttempts; attempt++ {
		wait, lerr := c.limiter.Reserve(ctx, key, c.opts.PostsPerSecond, c.opts.Burst)
		if lerr != nil {
			return fmt.Errorf("pacing %s: %w", method, lerr)
		}
		if err := bot.Sleep(ctx, wait); err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
		err = call(actx)
		cancel()
		if c.opts.OnResult != nil {
			c.opts.OnResult(method, err)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || (c.opts.Up != nil && !c.opts.Up()) {
			return err
		}
		var delay time.Duration
		var rl *slack.RateLimitedError
		switch {
		case errors.As(err, &rl):
			if rl.RetryAfter > c.opts.MaxRetryAfter {
				return err
			}
			delay = rl.RetryAfter
			_ = c.limiter.Pause(ctx, key, delay) // best effort: the wait below holds this replica back anyway
		case Trouble(err) || retryableCode(err):
			delay = c.opts.Backoff.Delay(attempt)
		default:
			return err
		}
		if attempt == c.opts.MaxAttempts-1 {
			break
		}
		if err := bot.Sleep(ctx, delay); err != nil {
			return err
		}
	}
	return fmt.Errorf("giving up after %d attempts: %w", c.opts.MaxAttempts, err)
}

// Trouble reports whether err means Slack could not be reached or is broken
// (connection error, timeout, 5xx): what the failover health tracker counts.
// An error answer from Slack (channel_not_found, a 429) proves Slack is up.
func Trouble(err error) bool {
	if err == nil {
		return false
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return sc.Code >= 500
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// retryableCode reports ok:false answers that mean "try again".
func retryableCode(err error) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
		return true
	}
	return false
}

// Refused reports whether Slack refused a post for good: the channel or
// thread is gone, herald is not in the channel, the message cannot be edited.
// Trying again will not help; the caller should post elsewhere (triage).
func Refused(err error) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "channel_not_found", "not_in_channel", "is_archived", "thread_not_found",
		"message_not_found", "cant_update_message", "restricted_action", "msg_too_long", "invalid_blocks":
		return true
	}
	return false
}
