package teams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/rs/zerolog"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

// clickWindow is how long a second click on the same button of the same
// card counts as a double click (for buttons whose repeat would post again).
const clickWindow = 10 * time.Second

// cardAction handles a button click: an Action.Submit (a message activity
// whose value is the button's data merged with the card's inputs) or an
// Action.Execute (an invoke activity, answered with its result).
func (h *Handler) cardAction(ctx context.Context, log zerolog.Logger, act schema.Activity, values map[string]any, invoke bool) invokeResult {
	action, value := str(values["action"]), str(values["value"])
	log = log.With().Str("action", action).Logger()
	by := actor(act)

	// replace shows a new version of the clicked card.
	replace := func(card map[string]any, summary string) invokeResult {
		if invoke {
			return invokeResult{card: card}
		}
		if err := h.Chat.updateSource(ctx, act, card, summary); err != nil {
			log.Error().Err(err).Msg("updating the clicked card")
		}
		return invokeResult{}
	}
	// tell answers the person who clicked.
	tell := func(m bot.Message) invokeResult {
		if invoke {
			return invokeResult{text: m.PlainText()}
		}
		h.say(ctx, log, act, m)
		return invokeResult{}
	}
	refuse := func(err error) invokeResult {
		if !bot.Refusal(err) {
			log.Error().Err(err).Str("ref", bot.ErrorRef(err)).Msg("teams card action failed")
		}
		return tell(workflow.RefusalMessage(err))
	}

	switch action {
	case bot.ActionNotify:
		if !h.firstClick(ctx, log, act, action, value, clickWindow) {
			return invokeResult{text: textAlreadyHandled}
		}
		inc, err := h.Workflow.Incident(ctx, value)
		if err != nil {
			return refuse(fmt.Errorf("finding %s: %w", value, err))
		}
		form := NewComposeForm(h.Directory, inc, bot.Draft{}, nil)
		if inc.Thread.IsZero() {
			return replace(ComposeCard(form), textComposeTitle(inc))
		}
		if _, err := h.Chat.PostCard(ctx, inc.Thread, ComposeCard(form), textComposeTitle(inc)); err != nil {
			return refuse(fmt.Errorf("posting the compose card for %s: %w", inc.ID, err))
		}
		return invokeResult{text: textComposePosted(inc)}

	case bot.ActionResolve:
		if _, err := h.Workflow.Resolve(ctx, by, value); err != nil {
			return refuse(fmt.Errorf("resolving %s: %w", value, err))
		}
		return invokeResult{}

	case bot.ActionApprove:
		// The workflow approves exactly once however often anyone clicks,
		// and edits the request itself; a late click hears who decided.
		if _, err := h.Workflow.Approve(ctx, by, value); err != nil {
			return refuse(fmt.Errorf("approving %s: %w", value, err))
		}
		return invokeResult{}

	case bot.ActionReject:
		reason := str(values[inputReason])
		if reason == "" {
			return tell(bot.Message{Text: textNeedReason})
		}
		if _, err := h.Workflow.Reject(ctx, by, value, reason); err != nil {
			return refuse(fmt.Errorf("rejecting %s: %w", value, err))
		}
		return invokeResult{}

	case actionComposeTemplate, actionComposePreview:
		inc, err := h.Workflow.Incident(ctx, value)
		if err != nil {
			return refuse(fmt.Errorf("finding %s: %w", value, err))
		}
		draft := draftFromValues(inc.ID, values)
		if action == actionComposeTemplate {
			return replace(ComposeCard(NewComposeForm(h.Directory, inc, draft, nil)), textComposeTitle(inc))
		}
		p, err := h.Workflow.Preview(ctx, by, draft)
		if err != nil {
			return refuse(fmt.Errorf("previewing the update for %s: %w", inc.ID, err))
		}
		if len(p.Problems) > 0 {
			return replace(ComposeCard(NewComposeForm(h.Directory, inc, draft, p.Problems)), textComposeTitle(inc))
		}
		// The nonce is this click's activity id: unique per preview shown.
		return replace(PreviewCard(p, "preview:"+act.ID), textPreviewTitle(p))

	case actionComposeEdit:
		draft, err := draftFromData(values)
		if err != nil {
			return tell(bot.Message{Text: textCardOutdated})
		}
		inc, err := h.Workflow.Incident(ctx, draft.IncidentID)
		if err != nil {
			return refuse(fmt.Errorf("finding %s: %w", draft.IncidentID, err))
		}
		return replace(ComposeCard(NewComposeForm(h.Directory, inc, draft, nil)), textComposeTitle(inc))

	case actionComposeSubmit:
		return h.submit(ctx, log, act, by, value, values, replace, tell, refuse)
	}
	log.Info().Msg("card action herald does not know; ignored")
	return invokeResult{}
}

// submit sends a previewed draft, once per preview card however often Send
// is clicked. Refusals and problems are found (by a fresh preview) before
// the card's nonce is used up, so a refused click does not stop a
// responder's click on the same card.
func (h *Handler) submit(ctx context.Context, log zerolog.Logger, act schema.Activity, by bot.Actor, nonce string, values map[string]any,
	replace func(map[string]any, string) invokeResult, tell func(bot.Message) invokeResult, refuse func(error) invokeResult) invokeResult {
	draft, err := draftFromData(values)
	if err != nil || nonce == "" {
		return tell(bot.Message{Text: textCardOutdated})
	}
	p, err := h.Workflow.Preview(ctx, by, draft)
	if err != nil {
		return refuse(fmt.Errorf("checking the update for %s: %w", draft.IncidentID, err))
	}
	if len(p.Problems) > 0 {
		inc := p.Incident
		if inc.ID == "" {
			inc.ID = draft.IncidentID
		}
		return replace(ComposeCard(NewComposeForm(h.Directory, inc, draft, p.Problems)), textComposeTitle(inc))
	}
	first, err := h.Dedup.FirstTime(ctx, "teams:submit:"+nonce, h.dedupTTL())
	if err != nil {
		return refuse(fmt.Errorf("checking for a repeated click: %w", err))
	}
	if !first {
		log.Info().Msg("repeated Send on the same preview ignored")
		return invokeResult{text: textAlreadyHandled}
	}
	b, err := h.Workflow.Submit(ctx, by, draft)
	var invalid *bot.ValidationError
	if errors.As(err, &invalid) {
		return replace(ComposeCard(NewComposeForm(h.Directory, p.Incident, draft, invalid.Problems)), textComposeTitle(p.Incident))
	}
	if err != nil && b.ID == "" {
		return refuse(fmt.Errorf("submitting the update for %s: %w", draft.IncidentID, err))
	}
	if err != nil {
		// The broadcast exists; only a follow-up step (posting the approval
		// request, starting the relay) failed and is the workflow's to retry.
		log.Error().Err(err).Str("broadcast", b.ID).Msg("submitted, with a problem after")
	}
	m := textSubmitted(b)
	return replace(Render(m), m.PlainText())
}

// firstClick reports whether this is the first click on this button of this
// card by this person within window.
func (h *Handler) firstClick(ctx context.Context, log zerolog.Logger, act schema.Activity, action, value string, window time.Duration) bool {
	key := "teams:click:" + act.Conversation.ID + ":" + act.ReplyToID + ":" + actor(act).ID + ":" + action + ":" + value
	first, err := h.Dedup.FirstTime(ctx, key, window)
	if err != nil {
		log.Warn().Err(err).Msg("checking for a double click; treating it as the first")
		return true
	}
	return first
}
