package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	redisadapter "github.com/heraldops/herald/adapters/redis"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/failover"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/internal/config"
	"github.com/heraldops/herald/internal/crypto"
)

// openStore reads the config and the environment and connects to Redis, for
// the one-shot commands that need nothing else.
func openStore(ctx context.Context, configPath string, getenv func(string) string) (*config.Config, *redisadapter.Store, error) {
	cfg, env, err := loadAll(configPath, false, getenv)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	if env.RedisURL == "" {
		missing = append(missing, "REDIS_URL")
	}
	if len(env.DataKey) == 0 {
		missing = append(missing, "HERALD_DATA_KEY")
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("missing environment: %s", strings.Join(missing, ", "))
	}
	sealer, err := crypto.NewSealer(env.DataKey)
	if err != nil {
		return nil, nil, fmt.Errorf("HERALD_DATA_KEY: %w", err)
	}
	routeRedisLogs(zerolog.Nop())
	rdb, err := redisadapter.Open(ctx, env.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("Redis unreachable: %w", err)
	}
	return cfg, redisadapter.New(rdb, "", sealer, bot.SystemClock{}, redisadapter.WithRetention(cfg.Retention), redisadapter.WithAuditRetention(cfg.Audit.Retention)), nil
}

// Send relays one update and reports on Out. It returns the process exit
// code: 0 when every delivery was accepted, 1 otherwise.
//
// The person at the terminal has the config and the Redis credentials, so
// the update counts as approved by them; the audit trail says so.
func Send(ctx context.Context, o SendOptions) int {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(out, "herald send: "+format+"\n", args...)
		return 1
	}
	cfg, env, err := loadAll(o.ConfigPath, false, o.Getenv)
	if err != nil {
		return fail("%v", err)
	}
	var missing []string
	for name, v := range map[string]string{"REDIS_URL": env.RedisURL, "TWILIO_ACCOUNT_SID": env.TwilioAccountSID, "TWILIO_AUTH_TOKEN": env.TwilioAuthToken} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if env.TwilioMessagingServiceSID == "" && env.TwilioSMSFrom == "" {
		missing = append(missing, "TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM")
	}
	if len(env.DataKey) == 0 {
		missing = append(missing, "HERALD_DATA_KEY")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fail("missing environment: %s", strings.Join(missing, ", "))
	}
	// Refused before anything is built: a refused send starts nothing.
	if len(cfg.RoleConfig.Operators) > 0 {
		_, store, err := openStore(ctx, o.ConfigPath, o.Getenv)
		if err != nil {
			return fail("%v", err)
		}
		if err := allowOperator(ctx, cfg, store, "herald send"); err != nil {
			return fail("%v", err)
		}
	}
	h, err := build(ctx, cfg, env, o.Logger)
	if err != nil {
		return fail("%v", err)
	}
	// Everything the person typed is checked before an incident is looked
	// up or declared: a refused send must leave nothing behind (a declared
	// "Update sent from the terminal" would be picked by the next send).
	tpl, ok := h.directory.Template(o.Template)
	if !ok {
		return fail("unknown template %q", o.Template)
	}
	for _, f := range tpl.Fields {
		if strings.TrimSpace(o.Vars[f]) == "" {
			return fail("template %s needs --var %s=...", tpl.Name, f)
		}
	}
	if _, err := h.directory.Expand(o.Audiences); err != nil {
		return fail("%v", err)
	}
	by := terminalActor()
	inc, err := h.incidentForSend(ctx, by, o.IncidentID)
	if err != nil {
		return fail("%v", err)
	}
	d := bot.Draft{IncidentID: inc.ID, Audiences: o.Audiences, Template: o.Template, Fields: o.Vars, SMSOnly: o.SMSOnly}
	if !h.chatAnswers(ctx) {
		fmt.Fprintln(out, "SMS-only: chat is unreachable or failover is on; the thread's progress message is kept and posted when chat is back")
	}
	plan, err := h.planner.Plan(ctx, inc, d)
	if err != nil {
		return fail("%v", err)
	}
	now := h.clock.Now()
	b := bot.Broadcast{ID: inc.ID + "-T" + strconv.FormatInt(now.Unix(), 10), Draft: d, State: bot.BroadcastApproved,
		RequestedBy: by, RequestedAt: now, DecidedBy: by, DecidedAt: now}
	if err := h.store.SaveBroadcast(ctx, b); err != nil {
		return fail("saving the broadcast: %v", err)
	}
	_ = h.store.Audit(ctx, bot.AuditEntry{At: now, Actor: by, Action: bot.AuditBroadcastSend, IncidentID: inc.ID,
		Detail: fmt.Sprintf("%s from the terminal to %s (template %s, sms-only %v)", b.ID, strings.Join(d.Audiences, ","), d.Template, d.SMSOnly)})
	fmt.Fprintf(out, "%s: sending %q to %d recipients (%d SMS, %d WhatsApp), %d opted out\n", b.ID, plan.Template.Name,
		len(plan.Recipients), plan.PerChannel[bot.ChannelSMS], plan.PerChannel[bot.ChannelWhatsApp], len(plan.OptedOut))

	workCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- h.relay.Run(workCtx, relay.WorkerConfig{Consumer: h.consumer + "-send", Concurrency: relayWorkers})
	}()
	if err := h.relay.Start(ctx, b); err != nil {
		return fail("%v\n%s", err, h.abandonSend(ctx, b.ID))
	}
	counts, err := h.relay.Wait(ctx, b.ID, time.Second, func(c bot.Counts) {
		fmt.Fprintf(out, "  %d of %d still to send, %d failed\n", relay.Unsettled(c), len(plan.Recipients), relay.FailedCount(c))
	})
	stop()
	<-done
	if err != nil {
		return fail("waiting for the relay: %v", err)
	}
	if final, err := h.store.Broadcast(ctx, b.ID); err == nil {
		b = final
	}
	fmt.Fprintln(out, relay.Summary(b, counts))
	if relay.FailedCount(counts) > 0 {
		return 1
	}
	return 0
}

// chatAnswers settles, before anything is relayed, whether this one-shot
// process may post to chat: herald send is for when chat is down, and a
// chat that hangs would otherwise hold the relay's progress post (and so
// every stakeholder's message behind it) for all of its retries. An
// override set with herald failover on counts, and so does a probe that
// fails; then the health is forced to SMS-only and the relay keeps its
// thread posts in the outbox, which the serving replicas replay.
func (h *herald) chatAnswers(ctx context.Context) bool {
	// Outages are the serving replicas' to record and summarise, not a
	// one-shot command's.
	h.health.OnChange = nil
	if err := h.failover.SyncForced(ctx); err != nil {
		h.log.Warn().Err(err).Msg("reading the failover override")
	}
	if !h.health.Up() {
		return false
	}
	if h.slackAPI == nil && h.teamsH == nil {
		return true // no chat: nothing will be posted
	}
	if err := h.probe(ctx, h.timings.timeout); err != nil {
		down := failover.ModeSMSOnly
		h.health.Force(&down)
		return false
	}
	return true
}

// incidentForSend is the named incident, else the newest open one, else a
// new one declared for this send.
func (h *herald) incidentForSend(ctx context.Context, by bot.Actor, id string) (bot.Incident, error) {
	if id != "" {
		id, err := bot.ParseIncidentID(id)
		if err != nil {
			return bot.Incident{}, err
		}
		return h.store.Incident(ctx, id)
	}
	open, err := h.store.Incidents(ctx, true)
	if err != nil {
		return bot.Incident{}, fmt.Errorf("listing open incidents: %w", err)
	}
	if len(open) > 0 {
		return open[0], nil
	}
	n, err := h.store.NextIncidentNumber(ctx)
	if err != nil {
		return bot.Incident{}, err
	}
	inc := bot.Incident{ID: bot.IncidentID(n), Number: n, Title: "Update sent from the terminal", Severity: bot.DefaultSeverity,
		State: bot.IncidentOpen, DeclaredBy: by, DeclaredAt: h.clock.Now()}
	return inc, h.store.SaveIncident(ctx, inc)
}

// Failover modes `herald failover` accepts.
const (
	FailoverOn     = "on"     // force SMS-only mode
	FailoverOff    = "off"    // back to automatic (chat health decides)
	FailoverStatus = "status" // print the current mode
)

// FailoverOptions are `herald failover on|off|status`'s inputs.
type FailoverOptions struct {
	ConfigPath string
	Mode       string // FailoverOn, FailoverOff or FailoverStatus
	Logger     zerolog.Logger
	Out        io.Writer
	Getenv     func(string) string // nil: os.Getenv
}

// Failover forces SMS-only mode on for every replica, hands the decision
// back to the chat health check (off), or prints the override (status).
func Failover(ctx context.Context, o FailoverOptions) error {
	cfg, store, err := openStore(ctx, o.ConfigPath, o.Getenv)
	if err != nil {
		return err
	}
	if o.Mode != FailoverStatus {
		if err := allowOperator(ctx, cfg, store, "herald failover "+o.Mode); err != nil {
			return err
		}
	}
	clock := bot.SystemClock{}
	f := &failover.Failover{Health: &failover.ChatHealth{Clock: clock}, KV: store, Audit: store, Clock: clock}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	switch o.Mode {
	case FailoverOn:
		if err := f.SetForced(ctx, terminalActor(), failover.ModeSMSOnly); err != nil {
			return err
		}
		fmt.Fprintln(out, "failover on: every herald replica runs SMS-only within 5 seconds (until `herald failover off`)")
	case FailoverOff:
		if err := f.SetForced(ctx, terminalActor(), ""); err != nil {
			return err
		}
		fmt.Fprintln(out, "failover off: chat health decides again; kept thread messages are replayed once chat answers")
	case FailoverStatus:
		mode, err := f.ForcedMode(ctx)
		if err != nil {
			return err
		}
		if mode == "" {
			fmt.Fprintln(out, "automatic: herald switches to SMS-only by itself when chat stops answering")
		} else {
			fmt.Fprintf(out, "forced: %s (set with `herald failover on`)\n", mode)
		}
		return auditCLI(ctx, store, bot.AuditFailoverStatus, "mode="+cmp.Or(string(mode), "automatic"))
	default:
		return fmt.Errorf("unknown failover mode %q (on, off or status)", o.Mode)
	}
	return nil
}

// ForgetOptions are `herald recipients forget <phone>`'s inputs.
type ForgetOptions struct {
	ConfigPath string
	Phone      string
	Logger     zerolog.Logger
	Out        io.Writer
	Getenv     func(string) string // nil: os.Getenv
}

// Forget erases everything herald keeps about one phone number (GDPR
// erasure).
func Forget(ctx context.Context, o ForgetOptions) error {
	phone, err := config.NormalizePhone(o.Phone)
	if err != nil {
		return fmt.Errorf("%q: %w", o.Phone, err)
	}
	cfg, store, err := openStore(ctx, o.ConfigPath, o.Getenv)
	if err != nil {
		return err
	}
	if err := allowOperator(ctx, cfg, store, "herald recipients forget"); err != nil {
		return err
	}
	if err := store.Forget(ctx, phone); err != nil {
		return fmt.Errorf("erasing %s: %w", bot.MaskPhone(phone), err)
	}
	_ = store.Audit(ctx, bot.AuditEntry{At: time.Now(), Actor: terminalActor(), Action: bot.AuditRecipientForget, Detail: bot.MaskPhone(phone)})
	if o.Out != nil {
		fmt.Fprintf(o.Out, "erased what herald kept about %s (deliveries, replies routing, opt-out, WhatsApp window).\n", bot.MaskPhone(phone))
		if dir, err := cfg.Directory(); err == nil {
			if r, ok := dir.RecipientByPhone(phone); ok {
				fmt.Fprintf(o.Out, "%s (%s) is still in the config: remove them there too, or they will be messaged again.\n", r.Name, r.ID)
			}
		}
	}
	return nil
}

// abandonSend settles a terminal send whose start failed, so the person at
// the terminal knows whether running it again is safe: a broadcast with
// nothing queued is withdrawn (the serving replicas' sweeper would otherwise
// send it later, and a second `herald send` would double it); one that was
// partly queued is left for the sweeper to finish.
func (h *herald) abandonSend(ctx context.Context, id string) string {
	b, err := h.store.UpdateBroadcast(ctx, id, func(x *bot.Broadcast) error {
		if x.State != bot.BroadcastApproved {
			return bot.ErrConflict
		}
		x.State, x.Reason = bot.BroadcastRejected, "herald send could not start it"
		return nil
	})
	switch {
	case err == nil:
		_ = h.store.Audit(ctx, bot.AuditEntry{At: h.clock.Now(), Actor: terminalActor(), Action: bot.AuditBroadcastWithdraw,
			IncidentID: b.Draft.IncidentID, Detail: id + ": herald send could not start it"})
		return "Nothing was sent; it is safe to run the same herald send again."
	case errors.Is(err, bot.ErrConflict):
		return "Part of it was queued: running herald replicas will finish it. Do not send it again; check with `herald audit`."
	}
	return "Could not tell whether anything was queued (" + err.Error() + "); check with `herald audit` before sending again."
}
