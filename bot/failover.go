package bot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Watcher gets thread activity by SMS while chat is down.
type Watcher struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// FailoverSettings tunes SMS-only mode.
type FailoverSettings struct {
	// DigestInterval is the least time between two digests to one watcher
	// (default 2 minutes), so nobody is flooded.
	DigestInterval time.Duration
	// MaxDigestChars caps one digest SMS (default 600, about 4 segments).
	MaxDigestChars int
	// ApprovalCodeTTL is how long an SMS approval code is valid (default 30m).
	ApprovalCodeTTL time.Duration
}

// Failover runs incidents over SMS while chat is down: responders' SMS
// commands, approval codes, watcher digests, and the summary that closes the
// replay when chat returns.
type Failover struct {
	Health    *ChatHealth
	Service   *Service
	Roles     Roles
	Messenger Messenger
	Outbox    OutboxStore
	Poster    *ThreadPoster
	KV        KV
	Dedup     Deduper
	Audit     AuditLog
	Clock     Clock
	// Watchers returns who gets SMS digests: the configured watchers plus
	// incident-channel members whose phones were cached while chat was up.
	Watchers func(ctx context.Context) ([]Watcher, error)
	// PhoneKey turns a number into an opaque key for per-watcher state.
	PhoneKey func(phone string) string
	Settings FailoverSettings
}

func (f *Failover) digestInterval() time.Duration {
	if f.Settings.DigestInterval > 0 {
		return f.Settings.DigestInterval
	}
	return 2 * time.Minute
}

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
func (f *Failover) SetForced(ctx context.Context, by Actor, mode ChatMode) error {
	var err error
	if mode == "" {
		err = f.KV.Delete(ctx, kvForcedMode)
	} else {
		err = f.KV.Put(ctx, kvForcedMode, string(mode), 0)
	}
	if err != nil {
		return fmt.Errorf("recording the failover override: %w", err)
	}
	_ = f.Audit.Audit(ctx, AuditEntry{At: f.Clock.Now(), Actor: by, Action: "failover.force", Detail: "mode=" + string(mode)})
	return f.SyncForced(ctx)
}

// SyncForced applies the shared override to this replica's health tracker.
// Replicas call it periodically.
func (f *Failover) SyncForced(ctx context.Context) error {
	v, err := f.KV.Get(ctx, kvForcedMode)
	switch {
	case errors.Is(err, ErrNotFound):
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
// the poster replay.
func (f *Failover) ModeChanged(ctx context.Context, mode ChatMode, at time.Time) error {
	if mode == ModeSMSOnly {
		if _, err := f.KV.Get(ctx, kvOutageStart); errors.Is(err, ErrNotFound) {
			return f.KV.Put(ctx, kvOutageStart, at.UTC().Format(time.RFC3339), 0)
		}
		return nil
	}
	v, err := f.KV.Get(ctx, kvOutageStart)
	if errors.Is(err, ErrNotFound) {
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
	return f.KV.Delete(ctx, kvOutageStart)
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
		counts := map[string]int{}
		for _, it := range items {
			kind := it.Kind
			if kind == KindFlood {
				kind = "reply" // a stakeholder reply all the same
			}
			if it.DuringOutage || kind == "reply" || kind == "update" || kind == "relay" {
				counts[kind]++
			}
		}
		if len(items) == 0 {
			continue
		}
		sum := OutboxItem{
			ID: "summary-" + strconv.FormatInt(start.Unix(), 10), Thread: th, Kind: "summary",
			Message: OutageSummary(start, end, counts["reply"], counts["update"], counts["relay"]), At: end,
		}
		if err := f.Outbox.OutboxAppend(ctx, sum); err != nil {
			return fmt.Errorf("adding the outage summary to %s: %w", th.RootID, err)
		}
	}
	return nil
}

// SendWatcherDigests texts every watcher what happened in incident threads
// since their last digest, at most once per DigestInterval per watcher across
// all replicas. It does nothing while chat is up.
func (f *Failover) SendWatcherDigests(ctx context.Context) error {
	if f.Health.Up() {
		return nil
	}
	watchers, err := f.Watchers(ctx)
	if err != nil {
		return fmt.Errorf("listing watchers: %w", err)
	}
	threads, err := f.Outbox.OutboxThreads(ctx)
	if err != nil {
		return fmt.Errorf("listing kept threads: %w", err)
	}
	var all []OutboxItem
	for _, th := range threads {
		items, err := f.Outbox.OutboxPeek(ctx, th, 100000)
		if err != nil {
			return fmt.Errorf("reading kept items of %s: %w", th.RootID, err)
		}
		for _, it := range items {
			if it.Kind != KindEdit && it.Kind != "summary" {
				all = append(all, it)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b OutboxItem) int { return a.At.Compare(b.At) })
	now := f.Clock.Now()
	bucket := now.UnixNano() / int64(f.digestInterval())
	var errs []error
	for _, w := range watchers {
		key := "watcher:" + f.phoneKey(w.Phone)
		since := time.Time{}
		if v, err := f.KV.Get(ctx, key); err == nil {
			since, _ = time.Parse(time.RFC3339Nano, v)
		}
		var fresh []OutboxItem
		for _, it := range all {
			if it.At.After(since) {
				fresh = append(fresh, it)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		first, err := f.Dedup.FirstTime(ctx, key+":"+strconv.FormatInt(bucket, 10), f.digestInterval())
		if err != nil || !first {
			errs = append(errs, err)
			continue
		}
		body := WatcherDigest(fresh, f.maxDigestChars())
		if _, err := f.Messenger.Send(ctx, Outbound{To: w.Phone, Channel: ChannelSMS, Body: body}); err != nil {
			errs = append(errs, fmt.Errorf("texting watcher %s: %w", MaskPhone(w.Phone), err))
			continue
		}
		if err := f.KV.Put(ctx, key, fresh[len(fresh)-1].At.UTC().Format(time.RFC3339Nano), 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Failover) maxDigestChars() int {
	if f.Settings.MaxDigestChars > 0 {
		return f.Settings.MaxDigestChars
	}
	return 600
}

// HandleSMS runs a responder's or approver's SMS command. It returns false,
// touching nothing, for any other number: those messages are stakeholder
// replies, never commands, and get no answer that could reveal anything.
func (f *Failover) HandleSMS(ctx context.Context, in Inbound) (bool, error) {
	responder := slices.Contains(f.Roles.ResponderPhones, in.From)
	approver := slices.Contains(f.Roles.ApproverPhones, in.From)
	if !responder && !approver {
		return false, nil
	}
	words := strings.Fields(in.Body)
	if len(words) == 0 {
		return true, f.answer(ctx, in.From, SMSHelp())
	}
	by := Actor{ID: in.From, Name: MaskPhone(in.From)}
	cmd := strings.ToUpper(words[0])
	args := words[1:]
	answer, err := f.run(ctx, by, in, cmd, args)
	if err != nil {
		answer = SMSError(err)
	}
	_ = f.Audit.Audit(ctx, AuditEntry{At: f.Clock.Now(), Actor: by, Action: "sms." + strings.ToLower(cmd),
		IncidentID: firstIncidentID(args), Detail: errText(err)})
	return true, f.answer(ctx, in.From, answer)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func firstIncidentID(args []string) string {
	if len(args) > 0 {
		if id, err := ParseIncidentID(args[0]); err == nil {
			return id
		}
	}
	return ""
}

func (f *Failover) answer(ctx context.Context, to, text string) error {
	if _, err := f.Messenger.Send(ctx, Outbound{To: to, Channel: ChannelSMS, Body: text}); err != nil {
		return fmt.Errorf("answering %s by SMS: %w", MaskPhone(to), err)
	}
	return nil
}

func (f *Failover) run(ctx context.Context, by Actor, in Inbound, cmd string, args []string) (string, error) {
	switch cmd {
	case "HELP", "INFO":
		return SMSHelp(), nil
	case "STATUS", "LIST":
		if len(args) == 0 {
			incs, err := f.Service.List(ctx, true)
			if err != nil {
				return "", err
			}
			return SMSIncidentList(incs), nil
		}
		id, err := ParseIncidentID(args[0])
		if err != nil {
			return "", err
		}
		rep, err := f.Service.Status(ctx, id)
		if err != nil {
			return "", err
		}
		return SMSStatus(rep), nil
	case "NEW":
		if len(args) == 0 {
			return SMSUsage(smsFormNew), nil
		}
		inc, err := f.Service.Declare(ctx, by, strings.Join(args, " "), DefaultSeverity, "")
		if err != nil && inc.ID == "" {
			return "", err
		}
		return SMSDeclared(inc), nil
	case "UPDATE":
		if len(args) < 2 {
			return SMSUsage(smsFormUpdate), nil
		}
		inc, err := f.incident(ctx, args[0])
		if err != nil {
			return "", err
		}
		text := restAfter(in.Body, 2)
		item := OutboxItem{ID: "update-" + in.MessageSID, Thread: inc.Thread, Kind: "update",
			Message: SMSUpdateMessage(by, text), At: in.ReceivedAt}
		if err := f.Poster.Enqueue(ctx, item); err != nil {
			return "", err
		}
		return SMSUpdateKept(inc.ID, f.digestInterval()), nil
	case "NOTIFY":
		return f.notify(ctx, by, args)
	case "APPROVE", "REJECT":
		if len(args) == 0 {
			return SMSUsage(smsFormDecide(cmd)), nil
		}
		return f.decide(ctx, by, cmd == "APPROVE", args[0], strings.Join(args[1:], " "))
	}
	return SMSHelp(), nil
}

// restAfter returns s without its first n words, inner spacing kept.
func restAfter(s string, n int) string {
	s = strings.TrimSpace(s)
	for range n {
		i := strings.IndexFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
		if i < 0 {
			return ""
		}
		s = strings.TrimSpace(s[i:])
	}
	return s
}

func (f *Failover) incident(ctx context.Context, arg string) (Incident, error) {
	id, err := ParseIncidentID(arg)
	if err != nil {
		return Incident{}, err
	}
	return f.Service.Incident(ctx, id)
}

// notify: NOTIFY INC-n <audience[,audience]> <template> [field=value ...].
// Relays during failover always go by SMS.
func (f *Failover) notify(ctx context.Context, by Actor, args []string) (string, error) {
	if len(args) < 3 {
		return SMSUsage(smsFormNotify), nil
	}
	inc, err := f.incident(ctx, args[0])
	if err != nil {
		return "", err
	}
	d := Draft{IncidentID: inc.ID, Audiences: strings.Split(args[1], ","), Template: args[2], Fields: map[string]string{}, SMSOnly: true}
	var last string
	for _, kv := range args[3:] {
		if k, v, ok := strings.Cut(kv, "="); ok {
			d.Fields[k] = v
			last = k
		} else if last != "" {
			d.Fields[last] += " " + kv // values may contain spaces
		}
	}
	b, err := f.Service.Submit(ctx, by, d)
	if err != nil {
		return "", err
	}
	if b.State != BroadcastPendingApproval {
		f.keepRelayNotice(ctx, inc, b, by)
		return SMSSending(b), nil
	}
	code, err := f.newCode(ctx, b.ID)
	if err != nil {
		return "", err
	}
	prev, err := f.Service.Preview(ctx, by, d)
	if err != nil {
		return "", err
	}
	sent := 0
	for _, p := range f.Roles.ApproverPhones {
		if p == by.ID {
			continue
		}
		if err := f.answer(ctx, p, SMSApprovalRequest(inc, b, prev, code)); err == nil {
			sent++
		}
	}
	return SMSAwaitingApproval(b, sent), nil
}

// newCode makes a 4-digit one-time code for an approval, unique while valid.
func (f *Failover) newCode(ctx context.Context, broadcastID string) (string, error) {
	ttl := f.Settings.ApprovalCodeTTL
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	for range 20 {
		n, err := rand.Int(rand.Reader, big.NewInt(9000))
		if err != nil {
			return "", err
		}
		code := strconv.FormatInt(n.Int64()+1000, 10)
		first, err := f.Dedup.FirstTime(ctx, "approval-code-taken:"+code, ttl)
		if err != nil {
			return "", err
		}
		if first {
			return code, f.KV.Put(ctx, "approval-code:"+code, broadcastID, ttl)
		}
	}
	return "", errors.New("no free approval code")
}

func (f *Failover) decide(ctx context.Context, by Actor, approve bool, code, reason string) (string, error) {
	id, err := f.KV.Get(ctx, "approval-code:"+code)
	if errors.Is(err, ErrNotFound) {
		return SMSUnknownCode(code), nil
	} else if err != nil {
		return "", err
	}
	if !approve {
		if reason == "" {
			reason = textRejectedBySMS
		}
		b, err := f.Service.Reject(ctx, by, id, reason)
		if err != nil {
			return "", err
		}
		return SMSRejected(b), nil
	}
	b, err := f.Service.Approve(ctx, by, id)
	if err != nil {
		return "", err
	}
	if inc, err := f.Service.Incident(ctx, b.Draft.IncidentID); err == nil {
		f.keepRelayNotice(ctx, inc, b, by)
	}
	return SMSSending(b), nil
}

// keepRelayNotice records a relay made over SMS in the incident thread's
// outbox, so watchers hear of it and the replay shows it.
func (f *Failover) keepRelayNotice(ctx context.Context, inc Incident, b Broadcast, by Actor) {
	_ = f.Poster.Enqueue(ctx, OutboxItem{ID: "relay-" + b.ID, Thread: inc.Thread, Kind: "relay",
		Message: SMSRelayNotice(b, by), At: f.Clock.Now()})
}

// ForcedMode returns the override in force for every replica, "" if none.
func (f *Failover) ForcedMode(ctx context.Context) (ChatMode, error) {
	v, err := f.KV.Get(ctx, kvForcedMode)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the failover override: %w", err)
	}
	return ChatMode(v), nil
}
