package failover

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

	"github.com/heraldops/herald/bot"
)

// HandleSMS runs a responder's or approver's SMS command. It returns false,
// touching nothing, for any other number: those messages are stakeholder
// replies, never commands, and get no answer that could reveal anything.
func (f *Failover) HandleSMS(ctx context.Context, in bot.Inbound) (bool, error) {
	responder := slices.Contains(f.Roles.ResponderPhones, in.From)
	approver := slices.Contains(f.Roles.ApproverPhones, in.From)
	if !responder && !approver {
		return false, nil
	}
	words := strings.Fields(in.Body)
	if len(words) == 0 {
		return true, f.answer(ctx, in.From, SMSHelp())
	}
	by := bot.Actor{ID: in.From, Name: bot.MaskPhone(in.From)}
	cmd := strings.ToUpper(words[0])
	args := words[1:]
	answer, err := f.run(ctx, by, in, cmd, args)
	if err != nil {
		answer = SMSError(err)
	}
	_ = f.Audit.Audit(ctx, bot.AuditEntry{At: f.Clock.Now(), Actor: by, Action: bot.AuditSMSCommand(cmd),
		IncidentID: firstIncidentID(args), Detail: errText(err)})
	return true, f.answer(ctx, in.From, answer)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return bot.MaskPhonesIn(err.Error()) + " (ref " + bot.ErrorRef(err) + ")"
}

func firstIncidentID(args []string) string {
	if len(args) > 0 {
		if id, err := bot.ParseIncidentID(args[0]); err == nil {
			return id
		}
	}
	return ""
}

func (f *Failover) answer(ctx context.Context, to, text string) error {
	if _, err := f.Messenger.Send(ctx, bot.Outbound{To: to, Channel: bot.ChannelSMS, Body: text}); err != nil {
		return fmt.Errorf("answering %s by SMS: %w", bot.MaskPhone(to), err)
	}
	return nil
}

func (f *Failover) run(ctx context.Context, by bot.Actor, in bot.Inbound, cmd string, args []string) (string, error) {
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
		id, err := bot.ParseIncidentID(args[0])
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
		inc, err := f.Service.Declare(ctx, by, strings.Join(args, " "), bot.DefaultSeverity, "")
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
		item := bot.OutboxItem{ID: "update-" + in.MessageSID, Thread: inc.Thread, Kind: bot.KindUpdate,
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

func (f *Failover) incident(ctx context.Context, arg string) (bot.Incident, error) {
	id, err := bot.ParseIncidentID(arg)
	if err != nil {
		return bot.Incident{}, err
	}
	return f.Service.Incident(ctx, id)
}

// notify: NOTIFY INC-n <audience[,audience]> <template> [field=value ...].
// Relays during failover always go by SMS.
func (f *Failover) notify(ctx context.Context, by bot.Actor, args []string) (string, error) {
	if len(args) < 3 {
		return SMSUsage(smsFormNotify), nil
	}
	inc, err := f.incident(ctx, args[0])
	if err != nil {
		return "", err
	}
	d := bot.Draft{IncidentID: inc.ID, Audiences: strings.Split(args[1], ","), Template: args[2], Fields: map[string]string{}, SMSOnly: true}
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
	if b.State != bot.BroadcastPendingApproval {
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

func (f *Failover) decide(ctx context.Context, by bot.Actor, approve bool, code, reason string) (string, error) {
	id, err := f.KV.Get(ctx, "approval-code:"+code)
	if errors.Is(err, bot.ErrNotFound) {
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
