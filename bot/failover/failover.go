package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/thread"
	"github.com/heraldops/herald/bot/workflow"
)

// Watcher gets thread activity by SMS while chat is down.
type Watcher struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// Settings tunes SMS-only mode.
type Settings struct {
	// DigestInterval is the least time between two digests to one watcher
	// (default 2 minutes), so nobody is flooded.
	DigestInterval time.Duration
	// MaxDigestChars caps one digest SMS (default 600, about 4 segments).
	MaxDigestChars int
	// ApprovalCodeTTL is how long an SMS approval code is valid (default 30m).
	ApprovalCodeTTL time.Duration
	// Organisation heads the SMS HELP answer, as carriers expect.
	Organisation string
}

// Failover runs incidents over SMS while chat is down: responders' SMS
// commands, approval codes, watcher digests, and the summary that closes the
// replay when chat returns.
type Failover struct {
	Health    *ChatHealth
	Service   *workflow.Service
	Roles     bot.Roles
	Messenger bot.Messenger
	Outbox    bot.OutboxStore
	Poster    *thread.ThreadPoster
	KV        bot.KV
	Dedup     bot.Deduper
	Audit     bot.AuditLog
	Clock     bot.Clock
	// Watchers returns who gets SMS digests: the configured watchers plus
	// incident-channel members whose phones were cached while chat was up.
	Watchers func(ctx context.Context) ([]Watcher, error)
	// PhoneKey turns a number into an opaque key for per-watcher state.
	PhoneKey func(phone string) string
	Settings Settings
}

// withDefaults fills what is not set: the one place the defaults live.
func (s Settings) withDefaults() Settings {
	s.DigestInterval = cmp.Or(s.DigestInterval, 2*time.Minute)
	s.MaxDigestChars = cmp.Or(s.MaxDigestChars, 600)
	s.ApprovalCodeTTL = cmp.Or(s.ApprovalCodeTTL, 30*time.Minute)
	return s
}

func (f *Failover) digestInterval() time.Duration { return f.Settings.withDefaults().DigestInterval }

func (f *Failover) phoneKey(p string) string {
	if f.PhoneKey != nil {
		return f.PhoneKey(p)
	}
	return p
}

// Shared keys in the KV store.
const (
	kvForcedMode  = "failover:forced"
	kvOutageStart = "failover:outage-start"
)

// SetForced records a manual override for every replica (herald failover
// on|off); mode "" clears it. SyncForced applies it.
func (f *Failover) SetForced(ctx context.Context, by bot.Actor, mode ChatMode) error {
	var err error
	if mode == "" {
		err = f.KV.Delete(ctx, kvForcedMode)
	} else {
		err = f.KV.Put(ctx, kvForcedMode, string(mode), 0)
	}
	if err != nil {
		return fmt.Errorf("recording the failover override: %w", err)
	}
	_ = f.Audit.Audit(ctx, bot.AuditEntry{At: f.Clock.Now(), Actor: by, Action: bot.AuditFailoverForce, Detail: "mode=" + string(mode)})
	return f.SyncForced(ctx)
}

// SyncForced applies the shared override to this replica's health tracker.
// Replicas call it periodically.
func (f *Failover) SyncForced(ctx context.Context) error {
	v, err := f.KV.Get(ctx, kvForcedMode)
	switch {
	case errors.Is(err, bot.ErrNotFound):
		if f.Health.Forced() {
			f.Health.Force(nil)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading the failover override: %w", err)
	}
	mode := ChatMode(v)
	if !f.Health.Forced() || f.Health.Mode() != mode {
		f.Health.Force(&mode)
	}
	return nil
}

// ModeChanged is the health tracker's OnChange: going down remembers when the
// outage began; coming back closes each kept thread with a summary, then lets
// the poster replay. A switch the health check made by itself is audited
// (failover.auto); one forced from the terminal or chat already was
// (failover.force). Every replica sees the switch, but only the one that
// opens or closes the outage audits it: one entry per switch, not one per
// replica.
func (f *Failover) ModeChanged(ctx context.Context, mode ChatMode, at time.Time) error {
	if mode == ModeSMSOnly {
		if _, err := f.KV.Get(ctx, kvOutageStart); errors.Is(err, bot.ErrNotFound) {
			if err := f.KV.Put(ctx, kvOutageStart, at.UTC().Format(time.RFC3339), 0); err != nil {
				return err
			}
			return f.auditAuto(ctx, fmt.Sprintf("mode=%s since %s: chat stopped answering", mode, at.UTC().Format(time.RFC3339)))
		}
		return nil
	}
	v, err := f.KV.Get(ctx, kvOutageStart)
	if errors.Is(err, bot.ErrNotFound) {
		// Another replica came back first and closed this outage: one
		// summary per outage, not one per replica.
		return nil
	} else if err != nil {
		return fmt.Errorf("reading when the outage began: %w", err)
	}
	start := at
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		start = t
	}
	if err := f.appendSummaries(ctx, start, at); err != nil {
		return err
	}
	if err := f.KV.Delete(ctx, kvOutageStart); err != nil {
		return err
	}
	return f.auditAuto(ctx, fmt.Sprintf("mode=%s since %s: chat answers again (SMS-only since %s)", mode,
		at.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339)))
}

// auditAuto records a switch the health check made, unless an override is
// in force (the forced switch has its own entry).
func (f *Failover) auditAuto(ctx context.Context, detail string) error {
	if f.Health.Forced() {
		return nil
	}
	if err := f.Audit.Audit(ctx, bot.AuditEntry{At: f.Clock.Now(), Actor: bot.SystemActor, Action: bot.AuditFailoverAuto, Detail: detail}); err != nil {
		return fmt.Errorf("auditing the automatic switch to %s: %w", detail, err)
	}
	return nil
}

// appendSummaries adds, once per outage, a closing summary to every thread
// that kept items: "Chat unreachable 14:02 to 14:19 UTC: 12 stakeholder
// replies, 2 updates, 1 approved notification over SMS".
func (f *Failover) appendSummaries(ctx context.Context, start, end time.Time) error {
	threads, err := f.Outbox.OutboxThreads(ctx)
	if err != nil {
		return fmt.Errorf("listing kept threads: %w", err)
	}
	for _, th := range threads {
		items, err := f.Outbox.OutboxPeek(ctx, th, 100000)
		if err != nil {
			return fmt.Errorf("reading kept items of %s: %w", th.RootID, err)
		}
		counts := map[bot.ItemKind]int{}
		for _, it := range items {
			kind := it.Kind
			if kind == bot.KindFlood {
				kind = bot.KindReply // a stakeholder reply all the same
			}
			if it.DuringOutage || kind == bot.KindReply || kind == bot.KindUpdate || kind == bot.KindRelay {
				counts[kind]++
			}
		}
		if len(items) == 0 {
			continue
		}
		sum := bot.OutboxItem{
			ID: "summary-" + strconv.FormatInt(start.Unix(), 10), Thread: th, Kind: bot.KindSummary,
			Message: OutageSummary(start, end, counts[bot.KindReply], counts[bot.KindUpdate], counts[bot.KindRelay]), At: end,
		}
		if err := f.Outbox.OutboxAppend(ctx, sum); err != nil {
			return fmt.Errorf("adding the outage summary to %s: %w", th.RootID, err)
		}
	}
	return nil
}

// keepRelayNotice records a relay made over SMS in the incident thread's
// outbox, so watchers hear of it and the replay shows it.
func (f *Failover) keepRelayNotice(ctx context.Context, inc bot.Incident, b bot.Broadcast, by bot.Actor) {
	_ = f.Poster.Enqueue(ctx, bot.OutboxItem{ID: "relay-" + b.ID, Thread: inc.Thread, Kind: bot.KindRelay,
		Message: SMSRelayNotice(b, by), At: f.Clock.Now()})
}

// ForcedMode returns the override in force for every replica, "" if none.
func (f *Failover) ForcedMode(ctx context.Context) (ChatMode, error) {
	v, err := f.KV.Get(ctx, kvForcedMode)
	if errors.Is(err, bot.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the failover override: %w", err)
	}
	return ChatMode(v), nil
}

// Validate says which required dependencies are missing. PhoneKey is
// optional, and so is Service: the one-shot commands (herald send) run
// without a chat workflow and never take SMS commands.
func (f *Failover) Validate() error {
	return bot.RequireDeps("failover.Failover", map[string]bool{
		"Health": f.Health != nil, "Messenger": f.Messenger != nil,
		"Outbox": f.Outbox != nil, "Poster": f.Poster != nil, "KV": f.KV != nil, "Dedup": f.Dedup != nil,
		"Audit": f.Audit != nil, "Clock": f.Clock != nil, "Watchers": f.Watchers != nil,
	})
}
