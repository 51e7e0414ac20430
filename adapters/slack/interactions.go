package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

var errTooLong = errors.New(textTooLong)

// MalformedError is a well-signed request herald cannot use: HTTP 400.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return e.Reason }

// Interaction handles a block_actions, view_submission or message_action
// (a shortcut on a message) payload and returns the response body to
// acknowledge with (nil: an empty 200), or a *MalformedError.
func (f *Frontend) Interaction(ctx context.Context, cb slack.InteractionCallback) (any, error) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		for _, a := range cb.ActionCallback.BlockActions {
			f.blockAction(ctx, cb, a)
		}
		return nil, nil
	case slack.InteractionTypeViewSubmission:
		switch cb.View.CallbackID {
		case callbackCompose:
			return f.submitCompose(ctx, cb)
		case callbackConfirm:
			return f.submitConfirm(ctx, cb)
		case callbackReject:
			return f.submitReject(ctx, cb)
		case callbackAnswer:
			return f.submitAnswer(ctx, cb)
		}
		return nil, &MalformedError{Reason: fmt.Sprintf("view_submission of unknown modal %q", truncate(cb.View.CallbackID, 60))}
	case slack.InteractionTypeMessageAction:
		f.messageAction(ctx, cb)
		return nil, nil
	case slack.InteractionTypeViewClosed, slack.InteractionTypeShortcut:
		return nil, nil
	case "":
		return nil, &MalformedError{Reason: "interaction payload without a type"}
	}
	return nil, nil
}

func channelOf(cb slack.InteractionCallback) string {
	if cb.Channel.ID != "" {
		return cb.Channel.ID
	}
	return cb.Container.ChannelID
}

func (f *Frontend) blockAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	by := actorOf(cb.User.ID, cb.User.Name)
	channel := channelOf(cb)
	tell := func(ctx context.Context, r reply) error {
		if channel == "" {
			return nil // a modal has no channel to answer in
		}
		return f.ephemeral(ctx, channel, cb.User.ID, r)
	}
	switch {
	case cb.View.CallbackID == callbackCompose && a.ActionID == blockTemplate:
		f.updateCompose(ctx, cb, a.SelectedOption.Value)

	case a.ActionID == bot.ActionNotify:
		meta := composeMeta{Incident: a.Value, Channel: channel}
		if err := f.openCompose(ctx, cb.TriggerID, meta); err != nil {
			f.report(ctx, tell(ctx, f.modalError(ctx, err)))
		}

	case a.ActionID == bot.ActionReject:
		_, err := f.cfg.API.OpenViewContext(ctx, cb.TriggerID, rejectView(a.Value, channel))
		if f.observe("views.open", err) != nil {
			f.report(ctx, tell(ctx, f.modalError(ctx, fmt.Errorf("opening the reject form for %s: %w", a.Value, err))))
		}

	case a.ActionID == bot.ActionApprove:
		id := a.Value
		if !f.enqueue("approve", func(ctx context.Context) error {
			if _, err := f.cfg.Workflow.Approve(ctx, by, id); err != nil {
				return tell(ctx, coreMessage(f.refusal(ctx, fmt.Errorf("approving %s: %w", id, err))))
			}
			return nil
		}) {
			f.report(ctx, tell(ctx, slackText(textBusy)))
		}

	case a.ActionID == bot.ActionResolve:
		id := a.Value
		if !f.enqueue("resolve", func(ctx context.Context) error {
			if _, err := f.cfg.Workflow.Resolve(ctx, by, id); err != nil {
				return tell(ctx, coreMessage(f.refusal(ctx, fmt.Errorf("resolving %s: %w", id, err))))
			}
			return nil
		}) {
			f.report(ctx, tell(ctx, slackText(textBusy)))
		}
	}
	// Other actions (links, other apps' buttons) need nothing from herald.
}

// openCompose opens step 1 of the compose modal; it is the first thing done
// with a trigger_id, which expires 3 s after the click.
func (f *Frontend) openCompose(ctx context.Context, triggerID string, meta composeMeta) error {
	view, err := composeView(f.cfg.Directory, meta, "", nil, nil)
	if err != nil {
		return err
	}
	_, err = f.cfg.API.OpenViewContext(ctx, triggerID, view)
	if f.observe("views.open", err) != nil {
		return fmt.Errorf("opening the compose form for %s: %w", meta.Incident, err)
	}
	return nil
}

// modalError is what to tell someone whose modal did not open.
func (f *Frontend) modalError(ctx context.Context, err error) reply {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "expired_trigger_id" {
		return slackText(textTriggerExpired)
	}
	return coreMessage(f.refusal(ctx, err))
}

// updateCompose shows the chosen template's fields (dispatch_action on the
// template select).
func (f *Frontend) updateCompose(ctx context.Context, cb slack.InteractionCallback, template string) {
	meta, err := decodeMeta(cb.View.PrivateMetadata)
	if err != nil {
		f.report(ctx, err)
		return
	}
	d, _ := draftFromState(meta.Incident, cb.View.State)
	view, err := composeView(f.cfg.Directory, meta, template, &d, nil)
	if err != nil {
		f.report(ctx, err)
		return
	}
	_, err = f.cfg.API.UpdateViewContext(ctx, view, "", cb.View.Hash, cb.View.ID)
	var se slack.SlackErrorResponse
	if f.observe("views.update", err) != nil && !(errors.As(err, &se) && se.Err == "hash_conflict") {
		// hash_conflict: a later choice already updated the view; nothing to do
		f.report(ctx, fmt.Errorf("showing the fields of template %q: %w", template, err))
	}
}

// submitCompose is step 1's submit: preview the draft, then show step 2, or
// put the problems on the inputs.
func (f *Frontend) submitCompose(ctx context.Context, cb slack.InteractionCallback) (any, error) {
	meta, err := decodeMeta(cb.View.PrivateMetadata)
	if err != nil {
		return nil, &MalformedError{Reason: err.Error()}
	}
	d, _ := draftFromState(meta.Incident, cb.View.State)
	by := actorOf(cb.User.ID, cb.User.Name)
	var p workflow.Preview
	done, err := f.within(ctx, func(ctx context.Context) error {
		var err error
		p, err = f.cfg.Workflow.Preview(ctx, by, d)
		return err
	}, func(context.Context, error) {}) // a late preview is of no use: the person tries again
	errorsOn := func(problems map[string]string) any {
		return slack.NewErrorsViewSubmissionResponse(inputErrors(cb.View, problems, blockAudiences))
	}
	var invalid *bot.ValidationError
	switch {
	case !done:
		return errorsOn(map[string]string{blockAudiences: textSlow}), nil
	case errors.As(err, &invalid):
		return errorsOn(invalid.Problems), nil
	case err != nil:
		return errorsOn(map[string]string{blockAudiences: f.refusalLine(ctx, fmt.Errorf("previewing an update for %s: %w", meta.Incident, err))}), nil
	case len(p.Problems) > 0:
		return errorsOn(p.Problems), nil
	}
	meta.Draft = &d
	view, err := confirmView(meta, p)
	if errors.Is(err, errTooLong) {
		return errorsOn(map[string]string{blockTemplate: textTooLong}), nil
	}
	if err != nil {
		return nil, err
	}
	return slack.NewUpdateViewSubmissionResponse(&view), nil
}

// submitConfirm is step 2's submit: send, or ask for approval.
func (f *Frontend) submitConfirm(ctx context.Context, cb slack.InteractionCallback) (any, error) {
	meta, err := decodeMeta(cb.View.PrivateMetadata)
	if err != nil || meta.Draft == nil {
		return nil, &MalformedError{Reason: "preview modal without its draft"}
	}
	d := *meta.Draft
	by := actorOf(cb.User.ID, cb.User.Name)
	var b bot.Broadcast
	done, err := f.within(ctx, func(ctx context.Context) error {
		var err error
		b, err = f.cfg.Workflow.Submit(ctx, by, d)
		return err
	}, func(ctx context.Context, err error) {
		if meta.Channel == "" {
			f.report(ctx, err)
			return
		}
		r := slackText(textSubmitted(b))
		if err != nil {
			r = coreMessage(f.refusal(ctx, fmt.Errorf("sending an update for %s: %w", d.IncidentID, err)))
		}
		f.report(ctx, f.ephemeral(ctx, meta.Channel, cb.User.ID, r))
	})
	var invalid *bot.ValidationError
	switch {
	case !done:
		view := doneView(textSlow)
		return slack.NewUpdateViewSubmissionResponse(&view), nil
	case errors.As(err, &invalid):
		// back to step 1 with what was entered, the problems on top
		meta.Draft = nil
		view, verr := composeView(f.cfg.Directory, meta, d.Template, &d, invalid.Problems)
		if verr != nil {
			return nil, verr
		}
		return slack.NewUpdateViewSubmissionResponse(&view), nil
	case err != nil:
		view := refusalView(f.refusal(ctx, fmt.Errorf("sending an update for %s: %w", d.IncidentID, err)))
		return slack.NewUpdateViewSubmissionResponse(&view), nil
	}
	view := doneView(textSubmitted(b))
	return slack.NewUpdateViewSubmissionResponse(&view), nil
}

// submitReject rejects a pending update with the reason given.
func (f *Frontend) submitReject(ctx context.Context, cb slack.InteractionCallback) (any, error) {
	var meta rejectMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Broadcast == "" {
		return nil, &MalformedError{Reason: "reject modal without its update id"}
	}
	reason := ""
	if cb.View.State != nil {
		reason = strings.TrimSpace(cb.View.State.Values[blockReason][actionValue].Value)
	}
	if reason == "" {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: textReasonLabel}), nil
	}
	by := actorOf(cb.User.ID, cb.User.Name)
	done, err := f.within(ctx, func(ctx context.Context) error {
		_, err := f.cfg.Workflow.Reject(ctx, by, meta.Broadcast, reason)
		return err
	}, func(ctx context.Context, err error) {
		if err != nil && meta.Channel != "" {
			f.report(ctx, f.ephemeral(ctx, meta.Channel, cb.User.ID, coreMessage(f.refusal(ctx, fmt.Errorf("rejecting %s: %w", meta.Broadcast, err)))))
		}
	})
	if !done || err == nil {
		return nil, nil // closes the modal; the thread shows the rejection
	}
	return slack.NewErrorsViewSubmissionResponse(map[string]string{
		blockReason: f.refusalLine(ctx, fmt.Errorf("rejecting %s: %w", meta.Broadcast, err)),
	}), nil
}
