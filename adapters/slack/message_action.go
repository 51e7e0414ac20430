package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

// CallbackReplyToStakeholder is the callback_id of the message shortcut
// *Reply to stakeholder* (features.shortcuts in
// deploy/slack-app-manifest.yaml). Used on a stakeholder's reply in an
// incident thread, it opens a modal whose answer goes to that stakeholder
// over their channel (bot.Replies.Answer), like /incident reply.
const CallbackReplyToStakeholder = "reply_to_stakeholder"

// Ids of the answer modal.
const (
	callbackAnswer = "herald_answer"
	blockAnswer    = "answer"
	blockWho       = "who"
	maxAnswerInput = 1000
)

// answerMeta travels in the answer modal's private_metadata.
type answerMeta struct {
	Incident string   `json:"i"`
	Who      []string `json:"w"` // recipient ids the reply post names; one unless it was a digest
	Channel  string   `json:"c,omitempty"`
}

// answerHint finds the recipient in the line bot.ReplyMessage ends every
// reply post with ("Answer with /incident reply dana <text>"). That line is
// the machine-readable part of the post: it survives digests (several
// replies posted as one message), where only plain text is kept. The
// anchor at the end of the line and the skipped quote lines keep a
// stakeholder from naming someone else by typing the hint into their reply.
var answerHint = regexp.MustCompile(`Answer with /incident reply (\S+) <text>$`)

// StakeholdersIn returns the ids of the stakeholders whose replies a message
// herald posted carries, in order, without repeats: one for a reply post,
// several for a digest, none for anything else.
func StakeholdersIn(m slack.Message) []string {
	var texts []string
	if m.Text != "" {
		texts = append(texts, m.Text)
	} else {
		// No fallback text: the context blocks carry the hint.
		for _, b := range m.Blocks.BlockSet {
			if cb, ok := b.(*slack.ContextBlock); ok {
				for _, el := range cb.ContextElements.Elements {
					if t, ok := el.(*slack.TextBlockObject); ok {
						texts = append(texts, t.Text)
					}
				}
			}
		}
	}
	var ids []string
	for _, text := range texts {
		for _, line := range strings.Split(html.UnescapeString(text), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, ">") {
				continue // a stakeholder's own words
			}
			if sm := answerHint.FindStringSubmatch(line); sm != nil && !slices.Contains(ids, sm[1]) {
				ids = append(ids, sm[1])
			}
		}
	}
	return ids
}

// messageAction handles the *Reply to stakeholder* shortcut: it checks the
// person and the message, finds the incident of the thread and opens the
// answer modal, all before the trigger_id expires (3 s). Whatever stops it
// is told to the person ephemerally.
func (f *Frontend) messageAction(ctx context.Context, cb slack.InteractionCallback) {
	if cb.CallbackID != CallbackReplyToStakeholder {
		return // another app's or a future shortcut
	}
	by := actorOf(cb.User.ID, cb.User.Name)
	channel := channelOf(cb)
	tell := func(r reply) {
		if channel != "" {
			f.report(ctx, f.ephemeral(ctx, channel, cb.User.ID, r))
		}
	}
	if f.cfg.Replier == nil {
		tell(slackText(textReplyMissing))
		return
	}
	if f.cfg.IsResponder != nil && !f.cfg.IsResponder(by) {
		tell(coreMessage(workflow.RefusalMessage(&bot.ForbiddenError{Role: bot.RoleResponder, Action: "answer a stakeholder"})))
		return
	}
	var who []string
	for _, id := range StakeholdersIn(cb.Message) {
		if _, ok := f.cfg.Directory.Recipient(id); ok {
			who = append(who, id)
		}
	}
	if len(who) == 0 {
		tell(slackText(textNotAReply))
		return
	}
	inc, err := f.incidentOfThread(ctx, channel, cb.Message.ThreadTimestamp)
	if errors.Is(err, bot.ErrNotFound) {
		tell(slackText(textReplyOutsideIncident(who[0])))
		return
	}
	if err != nil {
		tell(coreMessage(f.refusal(ctx, err)))
		return
	}
	view, err := f.answerView(answerMeta{Incident: inc.ID, Who: who, Channel: channel})
	if err == nil {
		_, err = f.cfg.API.OpenViewContext(ctx, cb.TriggerID, view)
		err = f.observe("views.open", err)
	}
	if err != nil {
		tell(f.modalError(ctx, fmt.Errorf("opening the answer form for %s: %w", inc.ID, err)))
	}
}

// incidentOfThread finds the incident whose thread is (channel, threadTS),
// resolved ones included (a stakeholder may still write after the end).
func (f *Frontend) incidentOfThread(ctx context.Context, channel, threadTS string) (bot.Incident, error) {
	if threadTS == "" {
		return bot.Incident{}, fmt.Errorf("message not in a thread: %w", bot.ErrNotFound)
	}
	incs, err := f.cfg.Workflow.List(ctx, false)
	if err != nil {
		return bot.Incident{}, fmt.Errorf("finding the incident of thread %s: %w", threadTS, err)
	}
	for _, inc := range incs {
		th := inc.Thread
		if th.Channel == channel && th.RootID == threadTS && (th.Platform == bot.PlatformSlack || th.Platform == "") {
			return inc, nil
		}
	}
	return bot.Incident{}, fmt.Errorf("no incident has thread %s in %s: %w", threadTS, channel, bot.ErrNotFound)
}

// answerView is the answer modal: whom (a choice only when the post was a
// digest of several people's replies) and the text.
func (f *Frontend) answerView(meta answerMeta) (slack.ModalViewRequest, error) {
	md, err := json.Marshal(meta)
	if err != nil {
		return slack.ModalViewRequest{}, fmt.Errorf("encoding modal metadata: %w", err)
	}
	if len(md) > maxMetadata {
		return slack.ModalViewRequest{}, errTooLong
	}
	var names []string
	var options []*slack.OptionBlockObject
	for _, id := range meta.Who {
		name := id
		if r, ok := f.cfg.Directory.Recipient(id); ok && r.Name != "" {
			name = r.Name
		}
		names = append(names, name)
		options = append(options, slack.NewOptionBlockObject(id, plain(truncate(name, maxOptionText)), nil))
	}
	blocks := []slack.Block{slack.NewContextBlock("", mrkdwn(textAnswerContext(names, meta.Incident)))}
	if len(options) > 1 {
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, blockWho, options...)
		blocks = append(blocks, slack.NewInputBlock(blockWho, plain(textWhoLabel), nil, sel))
	}
	in := slack.NewPlainTextInputBlockElement(nil, actionValue)
	in.Multiline, in.MaxLength = true, maxAnswerInput
	blocks = append(blocks, slack.NewInputBlock(blockAnswer, plain(textAnswerLabel), plain(textAnswerHint), in))
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackAnswer,
		PrivateMetadata: string(md),
		Title:           plain(textAnswerTitle),
		Submit:          plain(textAnswerButton),
		Close:           plain(textCancel),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}, nil
}

// submitAnswer sends the answer through the Replier; the modal closes on a
// confirmation, or shows the refusal on the text input.
func (f *Frontend) submitAnswer(ctx context.Context, cb slack.InteractionCallback) (any, error) {
	var meta answerMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Incident == "" || len(meta.Who) == 0 {
		return nil, &MalformedError{Reason: "answer modal without its incident and stakeholder"}
	}
	if f.cfg.Replier == nil {
		return nil, &MalformedError{Reason: "answer modal, but answering stakeholders is not available"}
	}
	var text, who string
	if cb.View.State != nil {
		text = strings.TrimSpace(cb.View.State.Values[blockAnswer][actionValue].Value)
		who = cb.View.State.Values[blockWho][blockWho].SelectedOption.Value
	}
	if len(meta.Who) == 1 {
		who = meta.Who[0]
	}
	problems := map[string]string{}
	if !slices.Contains(meta.Who, who) {
		problems[blockWho] = textWhoLabel + ": choose one"
	}
	if text == "" {
		problems[blockAnswer] = textAnswerEmpty
	}
	if len(problems) > 0 {
		return slack.NewErrorsViewSubmissionResponse(inputErrors(cb.View, problems, blockAnswer)), nil
	}
	by := actorOf(cb.User.ID, cb.User.Name)
	var sent bot.Recipient
	done, err := f.within(ctx, func(ctx context.Context) error {
		inc, err := f.cfg.Workflow.Incident(ctx, meta.Incident)
		if err != nil {
			return err
		}
		sent, err = f.cfg.Replier.Answer(ctx, by, inc, who, text)
		return err
	}, func(ctx context.Context, err error) {
		if meta.Channel == "" {
			f.report(ctx, err)
			return
		}
		r := slackText(textReplied(sent))
		if err != nil {
			r = coreMessage(f.refusal(ctx, fmt.Errorf("answering %s about %s: %w", who, meta.Incident, err)))
		}
		f.report(ctx, f.ephemeral(ctx, meta.Channel, cb.User.ID, r))
	})
	switch {
	case !done:
		view := doneView(textSlow)
		return slack.NewUpdateViewSubmissionResponse(&view), nil
	case err != nil:
		return slack.NewErrorsViewSubmissionResponse(map[string]string{
			blockAnswer: f.refusalLine(ctx, fmt.Errorf("answering %s about %s: %w", who, meta.Incident, err)),
		}), nil
	}
	view := doneView(textReplied(sent))
	view.Title = plain(textAnswerTitle)
	return slack.NewUpdateViewSubmissionResponse(&view), nil
}
