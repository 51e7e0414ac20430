package replies

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/thread"
)

// KeywordHandler answers opt-out and help keywords (STOP, START, HELP...)
// before anything else looks at an inbound message.
type KeywordHandler interface {
	HandleKeyword(ctx context.Context, in bot.Inbound) (handled bool, answer string, err error)
}

// Settings tunes reply routing.
type Settings struct {
	// Window is how long after herald messaged a phone its replies still find
	// that incident (default 72h).
	Window time.Duration
	// Triage is where replies that belong to no incident go.
	Triage bot.ThreadRef
	// AutoAnswersPerHour caps herald's automatic answers (HELP texts) per
	// number, so herald cannot loop with another auto-responder (default 3).
	AutoAnswersPerHour int
	// FloodBurst messages from one number are posted as they come (default
	// 50: a person in a hurry never reaches it); beyond that, refilled at
	// FloodPerMinute (default 1), the number's messages are kept and posted
	// together at most once a minute.
	FloodBurst     int
	FloodPerMinute float64
}

// Replies brings stakeholders' answers into incident threads and carries
// responders' answers back to the stakeholder's phone.
type Replies struct {
	Directory *bot.Directory
	Phones    bot.PhoneStore
	Incidents bot.IncidentStore
	Audit     bot.AuditLog
	Poster    *thread.ThreadPoster
	Keywords  KeywordHandler
	Messenger bot.Messenger
	Limiter   bot.RateLimiter
	Roles     bot.Roles
	Clock     bot.Clock
	// PhoneKey turns a phone number into an opaque key (a blind index) for
	// per-number limiter buckets, so no number is ever a storage key.
	PhoneKey func(phone string) string
	Settings Settings
}

// withDefaults fills what is not set: the one place the defaults live.
func (s Settings) withDefaults() Settings {
	s.Window = cmp.Or(s.Window, 72*time.Hour)
	s.AutoAnswersPerHour = cmp.Or(s.AutoAnswersPerHour, 3)
	s.FloodBurst = cmp.Or(s.FloodBurst, 50)
	s.FloodPerMinute = cmp.Or(s.FloodPerMinute, 1)
	return s
}

func (r *Replies) window() time.Duration { return r.Settings.withDefaults().Window }

// Handle processes one inbound message: keywords first, then the reply is
// routed to its incident thread (or triage) through the durable outbox.
// It is safe to call again for the same message (the outbox keeps one copy
// per MessageSid).
func (r *Replies) Handle(ctx context.Context, in bot.Inbound) error {
	if in.Channel == bot.ChannelWhatsApp {
		if err := r.Phones.OpenSession(ctx, in.From, in.ReceivedAt); err != nil {
			return fmt.Errorf("recording the WhatsApp session window of %s: %w", bot.MaskPhone(in.From), err)
		}
	}
	if r.Keywords != nil {
		handled, answer, err := r.Keywords.HandleKeyword(ctx, in)
		if err != nil {
			return fmt.Errorf("handling keyword from %s: %w", bot.MaskPhone(in.From), err)
		}
		if handled {
			if answer != "" {
				return r.autoAnswer(ctx, in, answer)
			}
			return nil
		}
	}
	reply, err := r.Route(ctx, in)
	if err != nil {
		return err
	}
	if reply.thread.Channel == "" {
		// No incident and no triage channel configured: there is nowhere to
		// post it. The audit trail keeps that it came (never the number).
		return r.Audit.Audit(ctx, bot.AuditEntry{
			At: r.Clock.Now(), Actor: bot.Actor{ID: bot.MaskPhone(in.From), Name: reply.Name},
			Action: bot.AuditReplyUnrouted, Detail: fmt.Sprintf("%s message %s: no incident and no triage channel", in.Channel.Label(), in.MessageSID),
		})
	}
	item := bot.OutboxItem{
		ID:      "reply:" + in.MessageSID,
		Thread:  reply.thread,
		Kind:    bot.KindReply,
		Message: ReplyMessage(reply.thread.Platform, reply.Reply),
		At:      in.ReceivedAt,
	}
	flooding, err := r.flooding(ctx, in.From)
	if err != nil {
		return err
	}
	if flooding {
		// Kept whole, but posted together at most once a minute, so one
		// number (an auto-responder, a stuck phone) cannot fill the thread.
		item.Kind = bot.KindFlood
		// Before the context: its last line ("Answer with /incident reply
		// <id> <text>") is what the Slack message shortcut reads.
		item.Message.Context = strings.TrimSpace(textFlooding() + " " + item.Message.Context)
	}
	if err := r.Poster.Enqueue(ctx, item); err != nil {
		return err
	}
	return r.Audit.Audit(ctx, bot.AuditEntry{
		At: r.Clock.Now(), Actor: bot.Actor{ID: bot.MaskPhone(in.From), Name: reply.Name},
		Action: bot.AuditReplyReceive, IncidentID: reply.IncidentID,
		Detail: fmt.Sprintf("%s reply %s", in.Channel.Label(), in.MessageSID),
	})
}

// flooding reports whether this number has sent more than its burst of
// messages lately (a per-number bucket in the shared limiter). A person's
// first messages always pass.
func (r *Replies) flooding(ctx context.Context, phone string) (bool, error) {
	if r.Limiter == nil {
		return false, nil
	}
	s := r.Settings.withDefaults()
	burst, perMinute := s.FloodBurst, s.FloodPerMinute
	key := "flood:" + phone
	if r.PhoneKey != nil {
		key = "flood:" + r.PhoneKey(phone)
	}
	wait, err := r.Limiter.Reserve(ctx, key, perMinute/60, burst)
	if err != nil {
		return false, fmt.Errorf("checking the reply limit of %s: %w", bot.MaskPhone(phone), err)
	}
	return wait > 0, nil
}

// autoAnswer sends herald's automatic answer unless this number already got
// too many: two bots answering each other must not loop forever.
func (r *Replies) autoAnswer(ctx context.Context, in bot.Inbound, text string) error {
	per := r.Settings.withDefaults().AutoAnswersPerHour
	key := "autoanswer:" + in.From
	if r.PhoneKey != nil {
		key = "autoanswer:" + r.PhoneKey(in.From)
	}
	wait, err := r.Limiter.Reserve(ctx, key, float64(per)/3600, per)
	if err != nil {
		return fmt.Errorf("checking the auto-answer limit: %w", err)
	}
	if wait > 0 {
		return nil // over the limit: stay silent rather than feed a loop
	}
	ch := in.Channel
	if _, err := r.Messenger.Send(ctx, bot.Outbound{To: in.From, Channel: ch, Body: text}); err != nil {
		return fmt.Errorf("answering %s: %w", bot.MaskPhone(in.From), err)
	}
	return nil
}

// routed is a reply plus the thread it goes to.
type routed struct {
	bot.Reply
	thread bot.ThreadRef
}

// Route finds the incident an inbound message answers: the incidents the
// sender was messaged about within the window; an incident id in the text
// wins, else the most recent. Senders herald never messaged go to triage.
func (r *Replies) Route(ctx context.Context, in bot.Inbound) (routed, error) {
	rep := bot.Reply{Inbound: in, Name: in.ProfileName}
	if rcp, ok := r.Directory.RecipientByPhone(in.From); ok {
		rep.RecipientID, rep.Name, rep.Audiences = rcp.ID, rcp.Name, rcp.Audiences
	}
	contacts, err := r.Phones.Contacts(ctx, in.From, in.ReceivedAt.Add(-r.window()))
	if err != nil {
		return routed{}, fmt.Errorf("looking up which incident %s was messaged about: %w", bot.MaskPhone(in.From), err)
	}
	var candidates []string
	for _, c := range contacts {
		candidates = append(candidates, c.IncidentID)
	}
	chosen := ""
	for _, id := range bot.IncidentIDsIn(in.Body) {
		if slices.Contains(candidates, id) {
			chosen, rep.Named = id, true
			break
		}
	}
	if chosen == "" && len(candidates) > 0 {
		chosen = candidates[0]
	}
	if chosen != "" {
		inc, err := r.Incidents.Incident(ctx, chosen)
		switch {
		case err == nil && !inc.Thread.IsZero():
			rep.IncidentID = inc.ID
			for _, c := range candidates {
				if c != chosen {
					rep.OtherCandidates = append(rep.OtherCandidates, c)
				}
			}
			return routed{Reply: rep, thread: inc.Thread}, nil
		case err != nil && !errors.Is(err, bot.ErrNotFound):
			return routed{}, fmt.Errorf("loading incident %s: %w", chosen, err)
		}
	}
	return routed{Reply: rep, thread: r.Settings.Triage}, nil
}

// Answer sends a responder's answer to a stakeholder over their channel
// (WhatsApp free-form inside the session window, otherwise SMS) and echoes
// it into the incident thread.
func (r *Replies) Answer(ctx context.Context, by bot.Actor, inc bot.Incident, who, text string) (bot.Recipient, error) {
	if !r.Roles.IsResponder(by) {
		return bot.Recipient{}, &bot.ForbiddenError{Role: bot.RoleResponder, Action: "answer a stakeholder"}
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return bot.Recipient{}, &bot.ValidationError{Problems: map[string]string{"text": problemEmptyAnswer()}}
	}
	rcp, ok := r.findRecipient(who)
	if !ok {
		return bot.Recipient{}, &bot.ValidationError{Problems: map[string]string{"who": problemUnknownStakeholder(who)}}
	}
	now := r.Clock.Now()
	ch := bot.ChannelSMS
	if rcp.Channel == bot.ChannelWhatsApp {
		open, err := r.Phones.OpenSessions(ctx, []string{rcp.Phone}, now)
		if err != nil {
			return bot.Recipient{}, fmt.Errorf("checking the WhatsApp window of %s: %w", rcp.ID, err)
		}
		if open[rcp.Phone] {
			ch = bot.ChannelWhatsApp
		}
	}
	res, err := r.Messenger.Send(ctx, bot.Outbound{To: rcp.Phone, Channel: ch, Body: text})
	if err != nil {
		return bot.Recipient{}, fmt.Errorf("sending the answer to %s: %w", rcp.ID, err)
	}
	if err := r.Phones.RecordContacts(ctx, []bot.Contact{{Phone: rcp.Phone, IncidentID: inc.ID, At: now}}, r.window()); err != nil {
		return bot.Recipient{}, fmt.Errorf("remembering the conversation with %s: %w", rcp.ID, err)
	}
	echo := AnswerEchoMessage(by, rcp, ch, text, res.SID)
	if err := r.Poster.Enqueue(ctx, bot.OutboxItem{ID: "answer:" + res.SID, Thread: inc.Thread, Kind: bot.KindAnswer, Message: echo, At: now}); err != nil {
		return rcp, err
	}
	return rcp, r.Audit.Audit(ctx, bot.AuditEntry{At: now, Actor: by, Action: bot.AuditReplyAnswer, IncidentID: inc.ID,
		Detail: fmt.Sprintf("to %s over %s", rcp.ID, ch.Label())})
}

func (r *Replies) findRecipient(who string) (bot.Recipient, bool) {
	if rcp, ok := r.Directory.Recipient(who); ok {
		return rcp, true
	}
	for _, rcp := range r.Directory.Recipients() {
		if strings.EqualFold(rcp.Name, who) {
			return rcp, true
		}
	}
	return bot.Recipient{}, false
}

// Validate says which required dependencies are missing. PhoneKey is
// optional (without it limiter keys hold the number itself).
func (r *Replies) Validate() error {
	return bot.RequireDeps("replies.Replies", map[string]bool{
		"Directory": r.Directory != nil, "Phones": r.Phones != nil, "Incidents": r.Incidents != nil,
		"Audit": r.Audit != nil, "Poster": r.Poster != nil, "Keywords": r.Keywords != nil,
		"Messenger": r.Messenger != nil, "Limiter": r.Limiter != nil, "Clock": r.Clock != nil,
	})
}
