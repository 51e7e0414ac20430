package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	slackadapter "github.com/heraldops/herald/adapters/slack"
	twilioadapter "github.com/heraldops/herald/adapters/twilio"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/internal/config"
	"github.com/heraldops/herald/internal/httpserver"
)

// relayWorkers is how many relay jobs a replica works at once; the Twilio
// Messenger keeps as many connections alive.
const relayWorkers = 32

// loadAll reads the config file and the environment (through getenv,
// os.Getenv if nil); problems are returned as one error naming every key or
// variable.
func loadAll(path string, forServe bool, getenv func(string) string) (*config.Config, config.Env, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, config.Env{}, fmt.Errorf("config %s:\n%w", path, err)
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	env, err := config.EnvFrom(getenv)
	if err != nil {
		return nil, config.Env{}, err
	}
	if forServe {
		if err := env.CheckServe(cfg); err != nil {
			return nil, config.Env{}, err
		}
	}
	cfg.ApplyEnv(env)
	return cfg, env, nil
}

// Serve runs the bot (HTTP server and workers) until ctx is cancelled, then
// shuts down gracefully: the server stops taking requests and finishes the
// ones in flight, workers finish the jobs they hold.
func Serve(ctx context.Context, o ServeOptions) error {
	cfg, env, err := loadAll(o.ConfigPath, true, o.Getenv)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		o.Logger.Warn().Msg("config: " + w.String())
	}
	if err := waitForRedis(ctx, env.RedisURL, o.Logger, redisWaitFirst, redisWaitMost); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it ever served
		}
		return err
	}
	h, err := build(ctx, cfg, env, o.Logger)
	if err != nil {
		return err
	}
	h.metrics.SetBuildInfo(o.Version)
	srv := httpserver.New(httpserver.Options{Addr: env.Addr, MetricsAddr: env.MetricsAddr, Logger: o.Logger, Metrics: h.metrics})
	h.routes(srv)
	o.Logger.Info().Str("addr", env.Addr).Str("metrics_addr", env.MetricsAddr).Str("version", o.Version).Strs("chat", platformNames(h.chats.platforms())).
		Int("recipients", len(h.directory.Recipients())).Msg("herald serving")
	return h.run(ctx, srv)
}

func platformNames(ps []bot.Platform) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// routes registers every endpoint of the contract and the readiness checks.
func (h *herald) routes(srv *httpserver.Server) {
	if h.slackFE != nil {
		srv.Register("POST /slack/commands", h.slackFE.CommandsHandler())
		srv.Register("POST /slack/interactions", h.slackFE.InteractionsHandler())
		srv.Register("POST /slack/events", h.slackFE.EventsHandler())
	}
	if h.teamsH != nil {
		srv.Register("POST /teams/messages", h.teamsH)
		srv.AddReadyInfo("teams", h.teamsH.Ready)
	}
	signed := func(next http.Handler) http.Handler {
		return twilioadapter.RequireSignature(h.env.TwilioAuthToken, h.env.PublicURL, next)
	}
	srv.Register("POST "+twilioadapter.InboundPath, signed(twilioadapter.InboundHandler(h.acceptInbound)))
	srv.Register("POST "+twilioadapter.StatusPath, signed(twilioadapter.StatusHandler(h.acceptStatus)))
	srv.AddReadyCheck("redis", h.store.Ping)
	srv.AddReadyInfo("chat", func(context.Context) error {
		if h.health.Up() {
			return nil
		}
		return fmt.Errorf("chat unreachable: running SMS-only since %s", h.health.Since().UTC().Format(time.RFC3339))
	})
}

// acceptInbound keeps an inbound message durably before Twilio gets its
// answer; a worker does the rest.
func (h *herald) acceptInbound(ctx context.Context, in bot.Inbound) error {
	h.metrics.Inbound(string(in.Channel), "message")
	raw, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding inbound %s: %w", in.MessageSID, err)
	}
	return h.store.Enqueue(ctx, topicInbound, raw)
}

func (h *herald) acceptStatus(ctx context.Context, u bot.StatusUpdate) error {
	raw, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encoding status of %s: %w", u.SID, err)
	}
	return h.store.Enqueue(ctx, topicStatus, raw)
}

// handleInbound: SMS commands from responders and approvers first, then
// keywords and replies. A message handled before (a re-delivery by Twilio, a
// reclaimed job) is not handled again.
func (h *herald) handleInbound(ctx context.Context, j bot.Job) error {
	var in bot.Inbound
	if err := json.Unmarshal(j.Payload, &in); err != nil {
		h.log.Error().Err(err).Msg("dropping an undecodable inbound job")
		return nil
	}
	doneKey := "inbound-done:" + in.MessageSID
	if _, err := h.store.Get(ctx, doneKey); err == nil {
		return nil
	} else if !errors.Is(err, bot.ErrNotFound) {
		return err
	}
	handled, err := h.failover.HandleSMS(ctx, in)
	if err != nil {
		return err
	}
	if !handled {
		if err := h.replies.Handle(ctx, in); err != nil {
			return err
		}
	}
	return h.store.Put(ctx, doneKey, "1", 48*time.Hour)
}

func (h *herald) handleStatus(ctx context.Context, j bot.Job) error {
	var u bot.StatusUpdate
	if err := json.Unmarshal(j.Payload, &u); err != nil {
		h.log.Error().Err(err).Msg("dropping an undecodable status job")
		return nil
	}
	h.metrics.DeliveryState(string(u.Status))
	return h.relay.HandleStatus(ctx, u)
}

// run starts the server and every worker under one errgroup.
func (h *herald) run(ctx context.Context, srv *httpserver.Server) error {
	g, ctx := errgroup.WithContext(ctx)
	onErr := func(topic string) func(context.Context, error) {
		return func(_ context.Context, err error) {
			h.metrics.QueueJob(topic, "error")
			h.log.Warn().Err(err).Str("topic", topic).Msg("job failed; it will be retried")
		}
	}
	g.Go(func() error {
		if h.listener != nil {
			return srv.Serve(ctx, h.listener)
		}
		return srv.Run(ctx)
	})
	g.Go(func() error {
		return h.relay.Run(ctx, relay.WorkerConfig{Consumer: h.consumer, Concurrency: relayWorkers, OnError: onErr("relay")})
	})
	g.Go(func() error {
		// One at a time: replies reach their thread's outbox in the order
		// Twilio delivered them (a burst of one person's messages would
		// otherwise be shuffled by parallel workers); a few Redis round trips
		// each, so one worker keeps up with hundreds per second.
		return relay.RunWorkers(ctx, relay.WorkerConfig{Queue: h.store, Topic: topicInbound, Consumer: h.consumer,
			Concurrency: 1, OnError: onErr(topicInbound)}, h.handleInbound)
	})
	g.Go(func() error {
		return relay.RunWorkers(ctx, relay.WorkerConfig{Queue: h.store, Topic: topicStatus, Consumer: h.consumer,
			Concurrency: 8, OnError: onErr(topicStatus)}, h.handleStatus)
	})
	g.Go(func() error {
		h.poster.Run(ctx, 250*time.Millisecond, func(err error) { h.log.Warn().Err(err).Msg("thread poster") })
		return nil
	})
	g.Go(func() error { return h.housekeeping(ctx) })
	g.Go(func() error { return h.sweepRelay(ctx) })
	g.Go(func() error { return h.keepWatcherPhones(ctx) })
	g.Go(func() error { return h.watchChat(ctx) })
	if h.slackFE != nil && h.env.SlackAppToken != "" {
		g.Go(func() error { return h.slackFE.RunSocketMode(ctx, slackadapter.NewSocketClient(h.slackAPI)) })
	}
	err := g.Wait()
	if h.slackFE != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.slackFE.Close(closeCtx)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// housekeeping runs the periodic work: the shared failover override,
// watcher digests and approval expiry. Chat probing is watchChat's, the
// watcher phone cache keepWatcherPhones', restarting interrupted relay
// starts sweepRelay's.
func (h *herald) housekeeping(ctx context.Context) error {
	tick := time.NewTicker(h.timings.housekeep)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := h.failover.SyncForced(ctx); err != nil {
			h.log.Warn().Err(err).Msg("reading the failover override")
		}
		if err := h.failover.SendWatcherDigests(ctx); err != nil {
			h.log.Warn().Err(err).Msg("watcher digests")
		}
		if _, err := h.service().ExpireApprovals(ctx); err != nil {
			h.log.Warn().Err(err).Msg("expiring approvals")
		}
	}
}

// Every relaySweepEvery each replica looks for approved updates whose relay
// start was interrupted (see bot.Relay.Sweep); one sweep may take up to
// relaySweepTimeout (it plans and queues what it resumes).
const (
	relaySweepEvery   = 30 * time.Second
	relaySweepTimeout = 2 * time.Minute
)

// sweepRelay runs the relay's sweeper in a loop of its own, beside
// housekeeping rather than in it: a resume posts a progress message, and a
// chat that hangs must not hold up the watcher digests (as it once did with
// the watcher phone cache).
func (h *herald) sweepRelay(ctx context.Context) error {
	tick := time.NewTicker(relaySweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		sctx, cancel := context.WithTimeout(ctx, relaySweepTimeout)
		n, err := h.relay.Sweep(sctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if n > 0 {
			h.log.Warn().Int("broadcasts", n).Msg("relay: started again updates whose start was interrupted")
		}
		if err != nil {
			h.log.Warn().Err(err).Msg("relay sweep; tried again at the next one")
		}
	}
}

// The watcher phone cache is refreshed every watcherCacheEvery while chat
// is up; a refresh that fails is tried again after watcherCacheRetry at
// first, doubling up to watcherCacheEvery, so a blip at start (or a scope
// granted a minute later) does not leave the cache empty for half an hour.
// One refresh may take up to watcherCacheTimeout (a users.info per member).
const (
	watcherCacheEvery   = 30 * time.Minute
	watcherCacheRetry   = 5 * time.Second
	watcherCacheTimeout = 2 * time.Minute
)

// keepWatcherPhones runs cacheWatcherPhones soon after start and then
// periodically, in its own goroutine: a Slack that hangs mid-refresh must
// not hold up the watcher digests the cache exists for.
func (h *herald) keepWatcherPhones(ctx context.Context) error {
	if h.slackAPI == nil || h.cfg.Slack.IncidentChannel == "" {
		return nil
	}
	wait := h.timings.housekeep // soon, but after the first probe had its chance
	retry := min(watcherCacheRetry, watcherCacheEvery)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if !h.health.Up() {
			wait = h.timings.housekeep // nothing to read from a chat that is down
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, watcherCacheTimeout)
		err := h.cacheWatcherPhones(rctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			h.log.Info().Err(err).Dur("retry_in", retry).Msg("caching incident-channel members' phones (needs users:read and users:read.phone)")
			wait, retry = retry, min(2*retry, watcherCacheEvery)
		default:
			wait, retry = watcherCacheEvery, min(watcherCacheRetry, watcherCacheEvery)
		}
	}
}

// cacheWatcherPhones keeps the phones of the incident channel's members, so
// they can be reached when Slack itself is down.
func (h *herald) cacheWatcherPhones(ctx context.Context) error {
	ws, err := slackadapter.ChannelPhones(ctx, h.slackAPI, h.cfg.Slack.IncidentChannel, config.NormalizePhone)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(ws)
	return h.store.Put(ctx, kvSlackWatchers, string(raw), 0)
}
