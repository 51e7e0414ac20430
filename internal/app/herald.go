package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	redisadapter "github.com/heraldops/herald/adapters/redis"
	slackadapter "github.com/heraldops/herald/adapters/slack"
	teamsadapter "github.com/heraldops/herald/adapters/teams"
	twilioadapter "github.com/heraldops/herald/adapters/twilio"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/failover"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/bot/replies"
	"github.com/heraldops/herald/bot/thread"
	"github.com/heraldops/herald/bot/workflow"
	"github.com/heraldops/herald/internal/config"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/metrics"
)

// Queue topics besides the relay's own.
const (
	topicInbound = "inbound" // stakeholder messages and SMS commands, from /twilio/inbound
	topicStatus  = "status"  // provider status callbacks, from /twilio/status
)

// slackPostsPerSecond paces posts per channel a little under Slack's one
// per second: paced at exactly the limit, the few milliseconds by which one
// request reaches Slack later than the next are enough for a 429.
const slackPostsPerSecond = 0.9

// herald is one running replica: every part, built once by build and run by
// Serve (or used by the one-shot commands).
type herald struct {
	log     zerolog.Logger
	cfg     *config.Config
	env     config.Env
	clock   bot.Clock
	metrics *metrics.Metrics

	store     *redisadapter.Store
	sealer    *crypto.Sealer
	directory *bot.Directory
	messenger *twilioadapter.Messenger

	health   *failover.ChatHealth
	chats    *platformChat // routes by thread platform; what the poster and relay post through
	poster   *thread.ThreadPoster
	planner  *bot.Planner
	relay    *relay.Relay
	services map[bot.Platform]*workflow.Service
	keywords *replies.OptOutKeywords
	replies  *replies.Replies
	failover *failover.Failover

	slackAPI *slack.Client
	slackFE  *slackadapter.Frontend
	teamsH   *teamsadapter.Handler

	consumer string
	timings  chatTimings
	// listener, when set, is where run serves HTTP instead of listening on
	// HERALD_ADDR itself (the demo binds first, to know its address).
	listener net.Listener
	// lastChatResult is when a chat call last had an outcome (unix nanos):
	// watchChat probes only when nothing else has called chat lately.
	lastChatResult atomic.Int64
}

// build wires every part from the config and the environment. It connects
// to Redis (and fails with one clear line if it cannot) but starts nothing.
func build(ctx context.Context, cfg *config.Config, env config.Env, log zerolog.Logger) (*herald, error) {
	h := &herald{log: log, cfg: cfg, env: env, clock: bot.SystemClock{}, metrics: metrics.New()}
	var err error
	if h.directory, err = cfg.Directory(); err != nil {
		return nil, fmt.Errorf("building the stakeholder directory: %w", err)
	}
	if h.sealer, err = crypto.NewSealer(env.DataKey); err != nil {
		return nil, fmt.Errorf("HERALD_DATA_KEY: %w", err)
	}
	routeRedisLogs(log)
	rdb, err := redisadapter.Open(ctx, env.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("Redis unreachable: %w", err)
	}
	h.store = redisadapter.New(rdb, "", h.sealer, h.clock, redisadapter.WithRetention(cfg.Retention), redisadapter.WithAuditRetention(cfg.Audit.Retention))
	h.messenger, err = twilioadapter.NewMessenger(twilioadapter.MessengerConfig{
		AccountSID: env.TwilioAccountSID, AuthToken: env.TwilioAuthToken, APIURL: env.TwilioAPIURL,
		MessagingServiceSID: env.TwilioMessagingServiceSID, SMSFrom: env.TwilioSMSFrom,
		WhatsAppFrom: env.TwilioWhatsAppFrom, PublicURL: env.PublicURL,
		// One kept-alive connection per relay worker: serve, send and the
		// demo all send through this Messenger.
		Concurrency: relayWorkers,
	})
	if err != nil {
		return nil, fmt.Errorf("setting up Twilio: %w", err)
	}
	host, _ := os.Hostname()
	h.consumer = host + "-" + strconv.Itoa(os.Getpid())

	h.health = &failover.ChatHealth{Clock: h.clock, Settings: failover.HealthSettings{
		DownAfter: cfg.Failover.DownAfter, UpAfterSuccesses: cfg.Failover.UpAfterSuccesses}}
	h.timings = timingsFor(cfg.Failover.DownAfter)
	h.lastChatResult.Store(time.Now().UnixNano())
	observe := func(_ string, err error) { h.chatResult(!slackadapter.Trouble(err)) }

	h.chats = &platformChat{byPlatform: map[bot.Platform]bot.Chat{}}
	var teamsChat *teamsadapter.Chat
	var teamsCfg teamsadapter.Config
	if env.SlackConfigured() {
		opts := []slack.Option{slack.OptionAPIURL(env.SlackAPIURL)}
		if env.SlackAppToken != "" {
			opts = append(opts, slack.OptionAppLevelToken(env.SlackAppToken))
		}
		h.slackAPI = slack.New(env.SlackBotToken, opts...)
		h.chats.add(bot.PlatformSlack, slackadapter.NewChat(h.slackAPI, slackadapter.ChatOptions{OnResult: observe, Limiter: h.store, Up: h.health.Up,
			PostsPerSecond: slackPostsPerSecond}))
	}
	if env.TeamsConfigured() {
		teamsCfg = teamsadapter.Config{
			AppID: env.TeamsAppID, AppPassword: env.TeamsAppPassword, TenantID: env.TeamsTenantID,
			OpenIDMetadataURL: env.TeamsOpenIDMetadataURL, TokenURL: env.TeamsTokenURL,
			KV: h.store, Dedup: h.store, Limiter: h.store, Log: log,
			// Teams feeds the chat health only when it is the primary
			// platform: a Teams outage must not switch Slack to SMS-only.
			OnResult: func(err error) {
				if !env.SlackConfigured() {
					h.chatResult(err == nil || !teamsTrouble(err))
				}
			},
		}
		if err := teamsCfg.Validate(); err != nil {
			return nil, fmt.Errorf("setting up Teams: %w", err)
		}
		teamsChat = teamsadapter.NewChat(teamsCfg)
		h.chats.add(bot.PlatformTeams, teamsChat)
	}

	h.poster = &thread.ThreadPoster{Outbox: h.store, Chat: h.chats, Limiter: h.store, Locker: h.store, KV: h.store,
		ChatUp: h.health.Up, OnRootPosted: h.rootPosted}
	h.planner = &bot.Planner{Directory: h.directory, Phones: h.store, Clock: h.clock, NoWhatsApp: env.TwilioWhatsAppFrom == ""}
	if w := env.WhatsAppWarning(cfg); w != "" {
		log.Warn().Msg(w)
	}
	roles := cfg.Roles()
	h.relay = &relay.Relay{
		Planner: h.planner, Incidents: h.store, Broadcasts: h.store, Phones: h.store, Queue: h.store,
		Limiter: h.store, Messenger: h.messenger, Chat: h.resilient(h.chats.primary()), Audit: h.store, Dedup: h.store,
		Clock: h.clock,
		Settings: relay.Settings{SMSPerSecond: cfg.Twilio.SMSMPS, WhatsAppPerSecond: cfg.Twilio.WhatsAppMPS,
			ContactTTL: cfg.Replies.Window, GiveUpAfter: cfg.Twilio.GiveUpAfter},
		OnError: func(_ context.Context, err error) { log.Warn().Err(err).Msg("relay") },
		OnOutcome: func(ch bot.Channel, state bot.DeliveryState, code int) {
			h.metrics.MessageSent(string(ch), string(state))
		},
	}
	h.services = map[bot.Platform]*workflow.Service{}
	for _, p := range h.chats.platforms() {
		settings := cfg.Settings()
		if p == bot.PlatformTeams {
			settings.IncidentChannel = cfg.Teams.IncidentChannel
		}
		h.services[p] = &workflow.Service{Directory: h.directory, Planner: h.planner, Incidents: h.store, Broadcasts: h.store,
			Audit: h.store, Chat: h.resilient(p), Relay: h.relay, Clock: h.clock, Roles: roles, Settings: settings,
			Dedup:       h.store,
			ReportError: func(_ context.Context, err error) { log.Warn().Err(err).Msg("incident workflow") }}
	}
	h.keywords = &replies.OptOutKeywords{Phones: h.store, Audit: h.store, Clock: h.clock, HelpText: cfg.SMS.HelpText,
		ProviderAnswersSMS: env.TwilioMessagingServiceSID != ""}
	triage := bot.ThreadRef{Platform: h.chats.primary(), Channel: cmp.Or(cfg.Slack.TriageChannel, cfg.Slack.IncidentChannel)}
	if h.chats.primary() == bot.PlatformTeams {
		triage.Channel = cfg.Teams.IncidentChannel
	}
	if triage.Channel == "" {
		log.Warn().Msg("no slack.triage_channel or incident channel: replies from numbers herald did not message are only audited")
	}
	// A thread chat refuses for good (channel archived, herald removed) must
	// not block its outbox: its items move to triage, saying why.
	h.poster.Fallback = triage
	h.poster.Dedup = h.store // spaces flood digests across replicas
	h.poster.Refused = func(err error) bool { return slackadapter.Refused(err) || teamsRefused(err) }
	h.replies = &replies.Replies{Directory: h.directory, Phones: h.store, Incidents: h.store, Audit: h.store,
		Poster: h.poster, Keywords: h.keywords, Messenger: h.messenger, Limiter: h.store, Roles: roles,
		Clock: h.clock, PhoneKey: h.sealer.BlindIndex,
		Settings: replies.Settings{Window: cfg.Replies.Window, Triage: triage}}
	h.failover = &failover.Failover{Health: h.health, Service: h.service(), Roles: roles, Messenger: h.messenger,
		Outbox: h.store, Poster: h.poster, KV: h.store, Dedup: h.store, Audit: h.store, Clock: h.clock,
		Watchers: h.watchers, PhoneKey: h.sealer.BlindIndex,
		Settings: failover.Settings{DigestInterval: cfg.Failover.WatcherDigestInterval, ApprovalCodeTTL: cfg.Approval.Timeout, Organisation: cfg.SMS.Organisation}}
	h.health.OnChange = func(mode failover.ChatMode, at time.Time) {
		h.metrics.SetChatUp(mode == failover.ModeChat)
		log.Warn().Str("mode", string(mode)).Time("at", at).Msg("chat mode changed")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.failover.ModeChanged(ctx, mode, at); err != nil {
			log.Error().Err(err).Msg("recording the chat mode change")
		}
	}
	h.metrics.SetChatUp(true)
	if err := h.validateCore(); err != nil {
		return nil, fmt.Errorf("wiring herald's core: %w", err)
	}

	if h.slackAPI != nil {
		fe, err := slackadapter.NewFrontend(slackadapter.Config{
			API: h.slackAPI, Workflow: h.services[bot.PlatformSlack], Directory: h.directory, Deduper: h.store,
			SigningSecret: env.SlackSigningSecret, Replier: h.replies, IsResponder: roles.IsResponder, Failover: failoverSwitch{h},
			Clock: h.clock, OnResult: observe,
			OnError: func(_ context.Context, err error) { log.Warn().Err(err).Str("ref", bot.ErrorRef(err)).Msg("slack") },
		})
		if err != nil {
			return nil, fmt.Errorf("setting up Slack: %w", err)
		}
		h.slackFE = fe
	}
	if teamsChat != nil {
		if h.teamsH, err = teamsadapter.NewHandler(teamsCfg, teamsChat, h.services[bot.PlatformTeams], h.directory, h.replies); err != nil {
			return nil, fmt.Errorf("setting up Teams: %w", err)
		}
	}
	return h, nil
}

// service is the workflow SMS commands drive: the primary platform's.
// validateCore checks that every feature got what it needs.
func (h *herald) validateCore() error {
	errs := []error{h.poster.Validate(), h.replies.Validate(), h.failover.Validate()}
	for _, s := range h.services {
		errs = append(errs, s.Validate())
	}
	return errors.Join(errs...)
}

func (h *herald) service() *workflow.Service { return h.services[h.chats.primary()] }

// resilient is the chat the core posts through for platform p: straight to
// chat while it is up, into the durable outbox while it is down.
func (h *herald) resilient(p bot.Platform) bot.Chat {
	return &thread.ResilientChat{Chat: h.chats, Platform: p, Health: h.health, Outbox: h.store, KV: h.store, Clock: h.clock}
}

// rootPosted points an incident declared during an outage at its real thread.
func (h *herald) rootPosted(ctx context.Context, pending, real bot.ThreadRef) error {
	incs, err := h.store.Incidents(ctx, false)
	if err != nil {
		return fmt.Errorf("finding the incident of a replayed root message: %w", err)
	}
	for _, inc := range incs {
		if inc.Thread == pending {
			inc.Thread = real
			if err := h.store.SaveIncident(ctx, inc); err != nil {
				return fmt.Errorf("saving the thread of %s: %w", inc.ID, err)
			}
		}
	}
	return nil
}

// kvSlackWatchers caches incident-channel members' phones, taken from Slack
// profiles while Slack is up (sealed at rest like every KV value).
const kvSlackWatchers = "watchers:slack"

// watchers are the configured watchers plus the cached channel members.
func (h *herald) watchers(ctx context.Context) ([]failover.Watcher, error) {
	out := make([]failover.Watcher, 0, len(h.cfg.Watchers))
	seen := map[string]bool{}
	for _, w := range h.cfg.Watchers {
		out = append(out, failover.Watcher{Name: w.Name, Phone: w.Phone})
		seen[w.Phone] = true
	}
	raw, err := h.store.Get(ctx, kvSlackWatchers)
	if errors.Is(err, bot.ErrNotFound) {
		return out, nil
	} else if err != nil {
		return out, err
	}
	var cached []failover.Watcher
	if err := json.Unmarshal([]byte(raw), &cached); err != nil {
		return out, fmt.Errorf("reading cached watcher phones: %w", err)
	}
	for _, w := range cached {
		if !seen[w.Phone] {
			seen[w.Phone] = true
			out = append(out, w)
		}
	}
	return out, nil
}

// failoverSwitch lets responders force SMS-only mode from chat.
type failoverSwitch struct{ h *herald }

func (s failoverSwitch) SetFailover(ctx context.Context, by bot.Actor, on bool) error {
	if !slices.Contains(s.h.cfg.RoleConfig.Responders, by.ID) {
		return &bot.ForbiddenError{Role: bot.RoleResponder, Action: "switch failover"}
	}
	mode := failover.ChatMode("")
	if on {
		mode = failover.ModeSMSOnly
	}
	return s.h.failover.SetForced(ctx, by, mode)
}

// teamsTrouble: a connector answer (even an error) proves Teams is up;
// only errors without one are trouble.
func teamsTrouble(err error) bool {
	var ce *teamsadapter.ConnectorError
	if errors.As(err, &ce) {
		return ce.Status == 0 || ce.Status >= 500
	}
	return true
}

// teamsRefused: the connector says the conversation or message is gone, or
// herald may not post there.
func teamsRefused(err error) bool {
	var ce *teamsadapter.ConnectorError
	return errors.As(err, &ce) && (ce.Status == 403 || ce.Status == 404)
}

// platformChat routes each post to the chat of the thread's platform.
type platformChat struct {
	byPlatform map[bot.Platform]bot.Chat
	order      []bot.Platform
}

var (
	_ bot.Chat                  = (*platformChat)(nil)
	_ thread.PlatformRootPoster = (*platformChat)(nil)
)

func (c *platformChat) add(p bot.Platform, ch bot.Chat) {
	c.byPlatform[p] = ch
	c.order = append(c.order, p)
}

func (c *platformChat) platforms() []bot.Platform { return c.order }

// primary is the platform herald mainly serves: Slack when configured.
func (c *platformChat) primary() bot.Platform {
	if len(c.order) == 0 {
		return bot.PlatformSlack
	}
	return c.order[0]
}

func (c *platformChat) chat(p bot.Platform) (bot.Chat, error) {
	if p == "" {
		p = c.primary()
	}
	ch, ok := c.byPlatform[p]
	if !ok {
		return nil, fmt.Errorf("no %s chat configured", p)
	}
	return ch, nil
}

// PostRoot posts on the primary platform; see PostRootOn.
func (c *platformChat) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	return c.PostRootOn(ctx, c.primary(), channel, m)
}

// PostRootOn posts a root message on platform p (the replay of kept roots).
func (c *platformChat) PostRootOn(ctx context.Context, p bot.Platform, channel string, m bot.Message) (bot.ThreadRef, error) {
	ch, err := c.chat(p)
	if err != nil {
		return bot.ThreadRef{}, err
	}
	return ch.PostRoot(ctx, channel, m)
}

func (c *platformChat) Post(ctx context.Context, th bot.ThreadRef, m bot.Message) (bot.MessageRef, error) {
	ch, err := c.chat(th.Platform)
	if err != nil {
		return bot.MessageRef{}, err
	}
	return ch.Post(ctx, th, m)
}

func (c *platformChat) Update(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	ch, err := c.chat(ref.Thread.Platform)
	if err != nil {
		return err
	}
	return ch.Update(ctx, ref, m)
}

var _ http.Handler = (*teamsadapter.Handler)(nil)
