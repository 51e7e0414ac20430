package demo

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/config"
	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

//go:embed web
var webFS embed.FS

// Options are what the console needs: the seeded config, the simulators
// herald talks to, and where herald's own endpoints are.
type Options struct {
	Config        *config.Config
	Slack         *slackapi.Server
	Twilio        *twilioapi.Server
	HeraldURL     string // base URL of herald's endpoints (/slack/..., /twilio/...)
	SigningSecret string // SLACK_SIGNING_SECRET: the console signs as Slack does
	SMSFrom       string // herald's SMS number, where phones text to
	WhatsAppFrom  string // herald's WhatsApp sender, whatsapp:+E164
	// SMSOnly says whether herald runs SMS-only (chat unreachable).
	SMSOnly func() bool
	Log     zerolog.Logger
}

// Console is the demo's web page and its API. Create it with NewConsole,
// Register its routes, and Run it for live updates.
type Console struct {
	o      Options
	signer slackapi.Signer
	http   *http.Client
	phones []*phoneCard
	byID   map[string]*phoneCard
	done   chan struct{} // closed when Run ends: open event streams end too

	mu        sync.Mutex
	seq       int64
	inbound   []inboundMsg         // what the phones sent herald
	seen      map[string]time.Time // when each outbound message reached the Twilio simulator
	local     []ephemeral          // answers to slash commands, seen by their typist only
	modals    []modalEntry         // the open modal stack, top last
	known     map[string]bool      // views already taken into the stack or dismissed
	triggers  map[string]string    // trigger_id -> the user whose action it was
	subs      map[chan struct{}]struct{}
	slackDown bool
	lastState []byte // the state last announced, without its seq

	annMu sync.Mutex // one announcement at a time
}

// NewConsole builds the console for the seeded organisation in o.Config.
func NewConsole(o Options) *Console {
	c := &Console{
		o: o, signer: slackapi.Signer{Secret: o.SigningSecret},
		http:     &http.Client{Timeout: 15 * time.Second},
		done:     make(chan struct{}),
		seen:     map[string]time.Time{},
		known:    map[string]bool{},
		triggers: map[string]string{},
		subs:     map[chan struct{}]struct{}{},
		byID:     map[string]*phoneCard{},
	}
	c.phones = phoneCards(o.Config)
	for _, p := range c.phones {
		c.byID[p.ID] = p
	}
	return c
}

// Register adds the console's routes through register (an http.ServeMux's
// Handle, or httpserver.Server.Register).
func (c *Console) Register(register func(pattern string, h http.Handler)) {
	static, _ := fs.Sub(webFS, "web")
	register("GET /{$}", http.HandlerFunc(c.index))
	register("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	register("GET /demo/photo.jpg", http.HandlerFunc(servePhoto))
	register("GET /api/state", http.HandlerFunc(c.serveState))
	register("GET /api/events", http.HandlerFunc(c.serveEvents))
	register("POST /api/command", jsonHandler(c.command))
	register("POST /api/action", jsonHandler(c.messageAction))
	register("POST /api/view/action", jsonHandler(c.viewAction))
	register("POST /api/view/submit", jsonHandler(c.viewSubmit))
	register("POST /api/view/close", jsonHandler(c.viewClose))
	register("POST /api/phone/send", jsonHandler(c.phoneSend))
	register("POST /api/slack", jsonHandler(c.setSlack))
}

func (c *Console) index(w http.ResponseWriter, r *http.Request) {
	b, err := webFS.ReadFile("web/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// Run follows the simulators until ctx ends: every change they record is
// taken into the console's state and announced to the open pages.
func (c *Console) Run(ctx context.Context) {
	defer close(c.done)
	// Debounced: a fan-out records dozens of changes in a second; the page
	// needs them at most a few times a second.
	const settle = 120 * time.Millisecond
	for {
		slackCh, twilioCh := c.o.Slack.Changed(), c.o.Twilio.Changed()
		c.observe()
		c.announce()
		select {
		case <-ctx.Done():
			return
		case <-slackCh:
		case <-twilioCh:
		case <-time.After(time.Second): // the chat mode changes without a simulator call
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(settle):
		}
	}
}

// observe stamps new outbound messages and takes new modals into the stack.
func (c *Console) observe() {
	msgs := c.o.Twilio.Messages()
	views := c.o.Slack.Views()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, m := range msgs {
		if _, ok := c.seen[m.SID]; !ok {
			c.seen[m.SID] = now
		}
	}
	for _, v := range views {
		if c.known[v.ID] {
			continue
		}
		c.known[v.ID] = true
		if user, ok := c.triggers[v.TriggerID]; ok {
			c.modals = append(c.modals, modalEntry{ID: v.ID, User: user})
		}
	}
}

// announce wakes every open event stream when the state changed since the
// last announcement: the page redraws only what moved, but an idle page
// should not even be woken.
func (c *Console) announce() {
	c.annMu.Lock()
	defer c.annMu.Unlock()
	s := c.state()
	s.Seq = 0
	b, err := json.Marshal(s)
	if err != nil {
		c.o.Log.Error().Err(err).Msg("demo console: encoding the state")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Equal(b, c.lastState) {
		return
	}
	c.lastState = b
	c.seq++
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default: // it has a wake-up pending already
		}
	}
}

// changed is announce after the console itself changed something.
func (c *Console) changed() {
	c.observe()
	c.announce()
}

func (c *Console) serveState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, c.state())
}

// serveEvents streams the whole state as a Server-Sent Event whenever it
// changes. The state is small (tens of kilobytes) and the page redraws from
// it, so there is no diffing to get wrong.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// The server's write timeout is for webhooks; a stream lasts as long
	// as the page is open.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	c.mu.Lock()
	c.subs[wake] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, wake)
		c.mu.Unlock()
	}()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.done:
			return
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case <-wake:
			b, err := json.Marshal(c.state())
			if err != nil {
				c.o.Log.Error().Err(err).Msg("demo console: encoding the state")
				return
			}
			if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// jsonHandler decodes a JSON request into In, runs f and answers its
// result as JSON; an error is a 400 (the page's request was wrong) or 502
// (herald answered something unexpected), with the reason.
func jsonHandler[In any](f func(ctx context.Context, in In) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in In
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request: " + err.Error()})
			return
		}
		out, err := f(r.Context(), in)
		if err != nil {
			code := http.StatusBadGateway
			var bad badRequest
			if errors.As(err, &bad) {
				code = http.StatusBadRequest
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		if out == nil {
			out = map[string]bool{"ok": true}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// badRequest is a mistake in the page's request, not herald's.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// setSlack switches the simulated Slack down (every Web API call answers
// 503, as Slack's edge does in an outage) or up again.
func (c *Console) setSlack(_ context.Context, in struct {
	Down bool `json:"down"`
}) (any, error) {
	if in.Down {
		c.o.Slack.SetOutage(slackapi.OutageUnavailable)
	} else {
		c.o.Slack.SetOutage(slackapi.OutageNone)
	}
	c.mu.Lock()
	c.slackDown = in.Down
	c.mu.Unlock()
	c.changed()
	return nil, nil
}

func (c *Console) user(id string) (User, error) {
	i := slices.IndexFunc(seedUsers, func(u User) bool { return u.ID == id })
	if i < 0 {
		return User{}, badRequest("unknown user " + id)
	}
	return seedUsers[i], nil
}
