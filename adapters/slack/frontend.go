package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/replies"
	"github.com/heraldops/herald/bot/workflow"
)

// Workflow is the incident workflow this front end drives.
type Workflow = workflow.Front

// Replier answers a stakeholder from chat (/incident reply); *bot.Replies is it.
type Replier interface {
	Answer(ctx context.Context, by bot.Actor, inc bot.Incident, who, text string) (bot.Recipient, error)
}

var _ Replier = (*replies.Replies)(nil)

// FailoverSwitch forces SMS-only mode on or off (/incident failover on|off).
// It decides who may.
type FailoverSwitch interface {
	SetFailover(ctx context.Context, by bot.Actor, on bool) error
}

// ThreadMessage is a person's message in a thread, from the Events API.
type ThreadMessage struct {
	Thread bot.ThreadRef
	TS     string
	By     bot.Actor
	Text   string // as the person typed it (Slack's escapes undone)
}

// ThreadWatcher hears people's messages in threads (for watchers' SMS
// digests during failover, say). Threads that are not incidents' are passed
// on too; the watcher knows its incidents.
type ThreadWatcher interface {
	ThreadMessage(ctx context.Context, m ThreadMessage) error
}

// Config is what the front end needs. API, Workflow, Directory, Deduper and
// SigningSecret (for HTTP) are required; the rest is optional.
type Config struct {
	API           *slack.Client
	Workflow      Workflow
	Directory     *bot.Directory // audiences and templates for the compose modal
	Deduper       bot.Deduper    // Events API retries across replicas
	SigningSecret string

	Replier  Replier        // nil: /incident reply says it is not available
	Failover FailoverSwitch // nil: /incident failover says it is not available
	Threads  ThreadWatcher  // nil: thread messages are ignored
	// IsResponder tells who may answer stakeholders, so the *Reply to
	// stakeholder* action refuses others before they type an answer; nil
	// leaves it to the Replier when the answer is sent.
	IsResponder func(by bot.Actor) bool

	Clock bot.Clock // for "open for 1h 12m" in status and list; default the wall clock

	// OnResult sees every Web API result (views.open, chat.postEphemeral...),
	// like ChatOptions.OnResult.
	OnResult func(method string, err error)
	// OnError reports errors nobody else sees (background jobs); nil drops them.
	OnError func(ctx context.Context, err error)

	Workers    int           // background jobs at once (default 4)
	QueueSize  int           // jobs waiting for a worker before "busy" (default 64)
	JobTimeout time.Duration // per background job (default 30s)
	// Budget is how long a request may wait for the service before it is
	// answered anyway (default 2.5s: Slack gives 3s).
	Budget time.Duration
}

// Frontend is the Slack front end: it turns slash commands, interactions
// and events (over HTTP or Socket Mode) into workflow calls.
type Frontend struct {
	cfg  Config
	jobs chan job
	wg   sync.WaitGroup
	base context.Context
	stop context.CancelFunc

	closeOnce sync.Once
	mu        sync.RWMutex
	closed    bool
}

type job struct {
	name string
	run  func(ctx context.Context) error
}

// NewFrontend checks the config and starts the worker pool; Close stops it.
func NewFrontend(cfg Config) (*Frontend, error) {
	switch {
	case cfg.API == nil:
		return nil, errors.New("slack front end: no Slack API client")
	case cfg.Workflow == nil:
		return nil, errors.New("slack front end: no workflow")
	case cfg.Directory == nil:
		return nil, errors.New("slack front end: no stakeholder directory")
	case cfg.Deduper == nil:
		return nil, errors.New("slack front end: no deduper")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 64
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Second
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 2500 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = bot.SystemClock{}
	}
	f := &Frontend{cfg: cfg, jobs: make(chan job, cfg.QueueSize)}
	f.base, f.stop = context.WithCancel(context.Background())
	for range cfg.Workers {
		f.wg.Go(f.work)
	}
	return f, nil
}

// Close stops taking work, lets queued and running jobs finish (each within
// its JobTimeout) and returns when they have; ctx ending cancels them. Stop
// the HTTP server and Socket Mode first, so no request adds work meanwhile.
func (f *Frontend) Close(ctx context.Context) error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closed = true
		close(f.jobs)
		f.mu.Unlock()
	})
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		f.stop()
		return nil
	case <-ctx.Done():
		f.stop()
		<-done
		return fmt.Errorf("stopping the Slack front end: %w", ctx.Err())
	}
}

func (f *Frontend) work() {
	for j := range f.jobs {
		ctx, cancel := context.WithTimeout(f.base, f.cfg.JobTimeout)
		if err := j.run(ctx); err != nil {
			f.report(ctx, fmt.Errorf("slack %s: %w", j.name, err))
		}
		cancel()
	}
}

// enqueue hands a job to the pool; false when the pool is full or closed.
func (f *Frontend) enqueue(name string, run func(ctx context.Context) error) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return false
	}
	select {
	case f.jobs <- job{name: name, run: run}:
		return true
	default:
		return false
	}
}

func (f *Frontend) report(ctx context.Context, err error) {
	if f.cfg.OnError != nil && err != nil {
		f.cfg.OnError(ctx, err)
	}
}

// observe passes a Web API result to OnResult and returns err.
func (f *Frontend) observe(method string, err error) error {
	if f.cfg.OnResult != nil {
		f.cfg.OnResult(method, err)
	}
	return err
}

// reply is something to show one person: Slack-only mrkdwn text, or a core
// message rendered as blocks.
type reply struct {
	text   string // mrkdwn; the notification text when there are blocks
	blocks []slack.Block
}

// slackText is a reply of Slack-only text (from text.go, already escaped).
func slackText(s string) reply { return reply{text: s} }

// coreMessage is a reply of one of the core's messages.
func coreMessage(m bot.Message) reply { return reply{text: FallbackText(m), blocks: Render(m)} }

// ephemeral shows a reply to one person in a channel.
func (f *Frontend) ephemeral(ctx context.Context, channel, user string, r reply) error {
	opts := []slack.MsgOption{slack.MsgOptionText(r.text, false)}
	if len(r.blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(r.blocks...))
	}
	_, err := f.cfg.API.PostEphemeralContext(ctx, channel, user, opts...)
	if f.observe("chat.postEphemeral", err) != nil {
		return fmt.Errorf("telling %s in %s: %w", user, channel, err)
	}
	return nil
}

// within runs fn on a context detached from the request and waits for it
// up to the budget. done false means fn goes on in the background, and later
// is called with its outcome when it ends.
func (f *Frontend) within(ctx context.Context, fn func(ctx context.Context) error, later func(ctx context.Context, err error)) (done bool, err error) {
	result := make(chan error, 1)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.JobTimeout)
	f.wg.Go(func() {
		defer cancel()
		result <- fn(bg)
	})
	timer := time.NewTimer(f.cfg.Budget)
	defer timer.Stop()
	select {
	case err := <-result:
		return true, err
	case <-timer.C:
	}
	f.wg.Go(func() {
		err := <-result
		ctx, cancel := context.WithTimeout(context.WithoutCancel(bg), f.cfg.JobTimeout)
		defer cancel()
		later(ctx, err)
	})
	return false, nil
}

// refusal is what a person is told when a workflow call failed: the core's
// explanation (missing role, problems, already decided, not found). Other
// errors are reported too, since they are herald's fault, not the person's.
func (f *Frontend) refusal(ctx context.Context, err error) bot.Message {
	if !bot.Refusal(err) {
		f.report(ctx, err)
	}
	return workflow.RefusalMessage(err)
}

// refusalLine is the refusal as one short line, for a modal's input errors.
func (f *Frontend) refusalLine(ctx context.Context, err error) string {
	m := f.refusal(ctx, err)
	line := m.Title
	if m.Text != "" {
		line += ": " + strings.ReplaceAll(m.Text, "\n", " ")
	}
	return truncate(line, maxErrorChars)
}

func actorOf(userID, name string) bot.Actor {
	return bot.Actor{Platform: bot.PlatformSlack, ID: userID, Name: name}
}
