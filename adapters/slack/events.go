package slack

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack/slackevents"

	"github.com/heraldops/herald/bot"
)

// outerEvent is the part of an Events API payload herald reads before
// anything else: what it is and its id for de-duplication.
type outerEvent struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	EventID   string `json:"event_id"`
}

// Event takes one Events API payload (HTTP body or Socket Mode events_api
// payload). It returns the challenge for url_verification; an event
// callback is handed to the pool once per event_id, so Slack's retries do
// nothing twice. Event types herald does not use are acknowledged and
// dropped.
func (f *Frontend) Event(ctx context.Context, body []byte) (challenge string, err error) {
	var outer outerEvent
	if err := json.Unmarshal(body, &outer); err != nil || outer.Type == "" {
		return "", &MalformedError{Reason: "not an Events API payload"}
	}
	switch outer.Type {
	case slackevents.URLVerification:
		if outer.Challenge == "" {
			return "", &MalformedError{Reason: "url_verification without a challenge"}
		}
		return outer.Challenge, nil
	case slackevents.CallbackEvent:
	default:
		return "", nil // app_rate_limited and the like: nothing to do
	}
	if outer.EventID == "" {
		return "", &MalformedError{Reason: "event_callback without an event_id"}
	}
	first, err := f.cfg.Deduper.FirstTime(ctx, "slack:event:"+outer.EventID, eventDedupTTL)
	if err != nil {
		return "", fmt.Errorf("checking event %s for a repeat: %w", outer.EventID, err)
	}
	if !first {
		return "", nil
	}
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		return "", nil // an inner event type herald did not subscribe to
	}
	msg, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || f.cfg.Threads == nil || !isPersonInThread(msg) {
		return "", nil
	}
	tm := ThreadMessage{
		Thread: bot.ThreadRef{Platform: bot.PlatformSlack, Channel: msg.Channel, RootID: msg.ThreadTimeStamp},
		TS:     msg.TimeStamp,
		By:     bot.Actor{Platform: bot.PlatformSlack, ID: msg.User},
		Text:   fromSlackText(msg.Text),
	}
	if !f.enqueue("thread message", func(ctx context.Context) error {
		return f.cfg.Threads.ThreadMessage(ctx, tm)
	}) {
		// Already marked as seen, so a Slack retry would be dropped too:
		// say so rather than pretend.
		f.report(ctx, fmt.Errorf("dropped event %s: the worker pool is full", outer.EventID))
	}
	return "", nil
}

// isPersonInThread keeps replies people typed in threads: not herald's own
// or other bots' posts, not edits, deletions or joins.
func isPersonInThread(m *slackevents.MessageEvent) bool {
	return m.ThreadTimeStamp != "" && m.ThreadTimeStamp != m.TimeStamp &&
		m.BotID == "" && m.User != "" && (m.SubType == "" || m.SubType == "thread_broadcast")
}
