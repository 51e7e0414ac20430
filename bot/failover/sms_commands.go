package failover

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/command"
)

// HandleSMS runs a responder's or approver's SMS command. It returns false,
// touching nothing, for any other number: those messages are stakeholder
// replies, never commands, and get no answer that could reveal anything.
//
// The words are read by bot/command, the one grammar chat uses too.
func (f *Failover) HandleSMS(ctx context.Context, in bot.Inbound) (bool, error) {
	responder := slices.Contains(f.Roles.ResponderPhones, in.From)
	approver := slices.Contains(f.Roles.ApproverPhones, in.From)
	if !responder && !approver {
		return false, nil
	}
	by := bot.Actor{ID: in.From, Name: bot.MaskPhone(in.From)}
	c, err := command.ParseSMS(in.Body)
	action := bot.AuditSMSCommand(string(c.Name))
	var usage *command.UsageError
	var answer string
	switch {
	case errors.As(err, &usage):
		answer = command.Explain(command.SMS, usage)
		action = bot.AuditSMSCommand(cmp.Or(string(usage.Command), "unknown"))
		err = nil // the person's typing, not a failure
	case !command.Offers(command.SMS, c):
		answer = command.NotAvailable(command.SMS, c) // RESOLVE, REPLY, FAILOVER, NEW --drill ...
	default:
		answer, err = f.run(ctx, by, in, c)
		if err != nil {
			answer = SMSError(err)
		}
	}
	_ = f.Audit.Audit(ctx, bot.AuditEntry{At: f.Clock.Now(), Actor: by, Action: action,
		IncidentID: c.IncidentID, Detail: errText(err)})
	return true, f.answer(ctx, in.From, answer)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return bot.MaskPhonesIn(err.Error()) + " (ref " + bot.ErrorRef(err) + ")"
}

func (f *Failover) answer(ctx context.Context, to, text string) error {
	if _, err := f.Messenger.Send(ctx, bot.Outbound{To: to, Channel: bot.ChannelSMS, Body: text}); err != nil {
		return fmt.Errorf("answering %s by SMS: %w", bot.MaskPhone(to), err)
	}
	return nil
}

func (f *Failover) run(ctx context.Context, by bot.Actor, in bot.Inbound, c command.Command) (string, error) {
	switch c.Name {
	case command.Status, command.List:
		if c.IncidentID == "" {
			incs, err := f.Service.List(ctx, !c.All)
			if err != nil {
				return "", fmt.Errorf("listing incidents for %s: %w", by.Name, err)
			}
			return SMSIncidentList(incs), nil
		}
		rep, err := f.Service.Status(ctx, c.IncidentID)
		if err != nil {
			return "", fmt.Errorf("reporting on %s: %w", c.IncidentID, err)
		}
		return SMSStatus(rep), nil
	case command.New:
		inc, err := f.Service.Declare(ctx, by, c.Title, c.Severity, "")
		if err != nil && inc.ID == "" {
			return "", fmt.Errorf("declaring an incident by SMS: %w", err)
		}
		return SMSDeclared(inc), nil
	case command.Update:
		inc, err := f.Service.Incident(ctx, c.IncidentID)
		if err != nil {
			return "", fmt.Errorf("loading %s for an SMS update: %w", c.IncidentID, err)
		}
		item := bot.OutboxItem{ID: "update-" + in.MessageSID, Thread: inc.Thread, Kind: bot.KindUpdate,
			Message: SMSUpdateMessage(by, c.Text), At: in.ReceivedAt}
		if err := f.Poster.Enqueue(ctx, item); err != nil {
			return "", fmt.Errorf("keeping the SMS update for %s: %w", inc.ID, err)
		}
		return SMSUpdateKept(inc.ID, f.digestInterval()), nil
	case command.Notify:
		return f.notify(ctx, by, c)
	case command.Approve, command.Reject:
		return f.decide(ctx, by, c.Name == command.Approve, c.Code, c.Reason)
	}
	return command.HelpText(command.SMS, c.Topic, f.Settings.Organisation), nil
}

// notify: NOTIFY INC-n <audience[,audience]> <template> [field=value ...].
// Relays during failover always go by SMS.
func (f *Failover) notify(ctx context.Context, by bot.Actor, c command.Command) (string, error) {
	inc, err := f.Service.Incident(ctx, c.IncidentID)
	if err != nil {
		return "", fmt.Errorf("loading %s to notify by SMS: %w", c.IncidentID, err)
	}
	d := bot.Draft{IncidentID: inc.ID, Audiences: c.Audiences, Template: c.Template, Fields: c.Fields, SMSOnly: true}
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
	ttl := f.Settings.withDefaults().ApprovalCodeTTL
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
