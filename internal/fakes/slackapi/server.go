package slackapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
)

// Defaults the fake answers with; tests may overwrite the exported fields of
// a Server before the first call.
const (
	DefaultBotToken  = "xoxb-fake-bot-token"
	DefaultAppToken  = "xapp-1-fake-app-token"
	DefaultBotUserID = "U0HERALDBOT"
	DefaultBotID     = "B0HERALDBOT"
	DefaultTeamID    = "T0FAKETEAM"
	DefaultAppID     = "A0HERALDAPP"
)

// Outage is a way for the whole API to be down, for failover tests.
type Outage int

const (
	OutageNone        Outage = iota
	OutageUnavailable        // every call answers 503 with an HTML body, as Slack's edge does
	OutageHang               // every call hangs until the client gives up or the outage ends
)

// Call is one Web API request the fake received, as Slack would have seen it.
type Call struct {
	Method string
	// Params holds the form fields; for JSON bodies the top-level keys (strings
	// as they are, other values as JSON text), so Params.Get("blocks") works
	// either way.
	Params url.Values
	// JSON is the raw JSON body by key, nil for form requests.
	JSON map[string]json.RawMessage
	// Blocks are the parsed "blocks" of a message call, View the parsed "view"
	// of a views.* call.
	Blocks []slack.Block
	View   *slack.ModalViewRequest
	// Status and Error are what the fake answered (Error empty when ok).
	Status int
	Error  string
	At     time.Time
}

// OK reports whether the fake answered the call with "ok":true.
func (c Call) OK() bool { return c.Status == http.StatusOK && c.Error == "" }

// Message is a message as it stands in a channel (after any chat.update).
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string // empty for a top-level message
	Text      string // the fallback text
	RawBlocks string // the blocks as JSON, exactly as posted
	Blocks    []slack.Block
	User      string // ephemeral messages: who saw it
	Edits     int    // how many times chat.update changed it
}

// AllText is every piece of visible text in the message: the fallback text
// and every "text" in its blocks (headers, sections, fields, context, button
// labels), joined by newlines. Tests assert on it the way a reader would.
func (m Message) AllText() string {
	parts := []string{m.Text}
	parts = append(parts, textsIn(m.RawBlocks)...)
	return strings.Join(parts, "\n")
}

// View is a modal the fake holds, as last opened, pushed or updated.
type View struct {
	ID        string
	TriggerID string // views.open / views.push
	Hash      string
	Request   slack.ModalViewRequest
	Raw       json.RawMessage // the view as sent
}

// AllText is every "text" in the view (title, labels, blocks, options).
func (v View) AllText() string { return strings.Join(textsIn(string(v.Raw)), "\n") }

// Channel is a conversation the fake knows.
type Channel struct {
	ID           string
	Name         string
	Private      bool
	Members      []string // user ids, for conversations.members
	NotInChannel bool     // the bot is not a member: posting answers not_in_channel
}

// User is a workspace member, for users.info.
type User struct {
	ID       string
	Name     string
	RealName string
	Phone    string // profile.phone as the user typed it
	Email    string
	TZ       string
	IsBot    bool
	Deleted  bool
}

// Option configures a Server.
type Option func(*Server)

// WithChannelRate makes chat.postMessage enforce a token bucket per channel
// (Slack allows about one message per second per channel with short bursts):
// a post beyond it answers 429 with Retry-After and counts in RateLimited().
func WithChannelRate(perSecond float64, burst int) Option {
	return func(s *Server) { s.rate, s.burst = perSecond, max(burst, 1) }
}

// WithStrictChannels makes calls about channels the test did not add answer
// channel_not_found; by default any Slack-looking channel id is accepted and
// created on first use.
func WithStrictChannels() Option { return func(s *Server) { s.strictChannels = true } }

// WithPingInterval sets how often the Socket Mode websocket pings the client
// (slack-go reconnects when pings stop).
func WithPingInterval(d time.Duration) Option { return func(s *Server) { s.pingInterval = d } }

// Server is the fake Slack. Create it with New and Close it when done.
type Server struct {
	BotToken  string
	AppToken  string
	BotUserID string
	TeamID    string

	srv *httptest.Server

	mu             sync.Mutex
	changed        chan struct{} // closed and replaced whenever something is recorded
	calls          []Call
	messages       map[string][]*Message // by channel, in posting order
	ephemerals     []Message
	channels       map[string]*Channel
	users          map[string]User
	views          map[string]*View
	viewOrder      []string // view ids in creation order
	opened         []View
	seq            int64
	strictChannels bool
	failNext       map[string][]string
	limitNext      map[string][]time.Duration
	expired        map[string]bool
	outage         Outage
	outageEnd      chan struct{} // closed when the current outage ends
	outageTimer    *time.Timer
	rate           float64
	burst          int
	buckets        map[string]*bucket
	rateLimited    int

	pingInterval time.Duration
	socket       *socketState
}

// New starts a fake Slack on a free local port.
func New(opts ...Option) *Server {
	s := &Server{
		BotToken:     DefaultBotToken,
		AppToken:     DefaultAppToken,
		BotUserID:    DefaultBotUserID,
		TeamID:       DefaultTeamID,
		changed:      make(chan struct{}),
		messages:     map[string][]*Message{},
		channels:     map[string]*Channel{},
		users:        map[string]User{},
		views:        map[string]*View{},
		failNext:     map[string][]string{},
		limitNext:    map[string][]time.Duration{},
		expired:      map[string]bool{},
		buckets:      map[string]*bucket{},
		pingInterval: 2 * time.Second,
	}
	for _, o := range opts {
		o(s)
	}
	s.socket = newSocketState()
	mux := http.NewServeMux()
	mux.HandleFunc("/socket-mode/link", s.serveSocket)
	mux.HandleFunc("/", s.serveAPI)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the server's base URL (http://127.0.0.1:port).
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the Web API base to give slack-go's OptionAPIURL (with the
// trailing slash slack-go needs).
func (s *Server) APIURL() string { return s.srv.URL + "/" }

// Client is a slack-go client with the bot token, pointed at the fake.
func (s *Server) Client(opts ...slack.Option) *slack.Client {
	return slack.New(s.BotToken, append([]slack.Option{slack.OptionAPIURL(s.APIURL())}, opts...)...)
}

// Close ends any outage (so hanging requests return), disconnects Socket
// Mode clients and stops the server.
func (s *Server) Close() {
	s.SetOutage(OutageNone)
	s.socket.closeAll()
	s.srv.Close()
}

// AddChannel makes a channel known (members for conversations.members).
func (s *Server) AddChannel(ch Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := ch
	s.channels[ch.ID] = &c
}

// AddUser makes a user known to users.info.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// FailNext makes the next n calls of method answer {"ok":false,"error":code}
// (channel_not_found, not_in_channel, expired_trigger_id, internal_error...).
func (s *Server) FailNext(method, code string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext[method] = append(s.failNext[method], code)
	}
}

// RateLimitNext makes the next n calls of method answer 429 with the given
// Retry-After (whole seconds, at least 1, as Slack sends it).
func (s *Server) RateLimitNext(method string, retryAfter time.Duration, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.limitNext[method] = append(s.limitNext[method], retryAfter)
	}
}

// ExpireTrigger makes views.open / views.push with this trigger_id answer
// expired_trigger_id, as Slack does 3 s after the user's action.
func (s *Server) ExpireTrigger(triggerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired[triggerID] = true
}

// SetOutage takes the whole Web API down (or brings it back with OutageNone).
func (s *Server) SetOutage(o Outage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setOutageLocked(o)
}

func (s *Server) setOutageLocked(o Outage) {
	if s.outageTimer != nil {
		s.outageTimer.Stop()
		s.outageTimer = nil
	}
	if s.outageEnd != nil {
		close(s.outageEnd)
		s.outageEnd = nil
	}
	s.outage = o
	if o != OutageNone {
		s.outageEnd = make(chan struct{})
	}
}

// OutageFor takes the Web API down for d, then brings it back by itself.
func (s *Server) OutageFor(o Outage, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setOutageLocked(o)
	end := s.outageEnd
	s.outageTimer = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.outageEnd == end { // still the same outage
			s.setOutageLocked(OutageNone)
		}
	})
}

var upgrader = websocket.Upgrader{
	// slack-go dials with Origin: https://api.slack.com; any origin is fine here.
	CheckOrigin: func(*http.Request) bool { return true },
}
