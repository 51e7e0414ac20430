package slack

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

// Callback ids of herald's modals, and the block and action ids inside them.
// Input block ids are the problem keys of bot.ValidationError ("audiences",
// "template", "field:<name>", "note"), so the service's problems map straight
// onto the inputs in a response_action "errors".
const (
	callbackCompose = "herald_compose" // step 1: audiences, template, fields
	callbackConfirm = "herald_confirm" // step 2: the preview; submit sends
	callbackReject  = "herald_reject"

	blockAudiences = "audiences"
	blockTemplate  = "template"
	blockNote      = "note"
	blockReason    = "reason"
	fieldPrefix    = "field:"
	actionValue    = "value" // action id of every text input

	maxMetadata   = 3000 // private_metadata limit
	maxFieldInput = 500
	maxNoteInput  = 1000
	maxOptionText = 75
	maxErrorChars = 150 // what a response_action "errors" entry shows well
)

// composeMeta travels in the compose modal's private_metadata: which
// incident, where the person was, and (from step 2 on) the draft.
type composeMeta struct {
	Incident string     `json:"i"`
	Channel  string     `json:"c,omitempty"`
	Draft    *bot.Draft `json:"d,omitempty"`
}

func (m composeMeta) encode() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding modal metadata: %w", err)
	}
	if len(b) > maxMetadata {
		return "", errTooLong
	}
	return string(b), nil
}

func decodeMeta(s string) (composeMeta, error) {
	var m composeMeta
	if err := json.Unmarshal([]byte(s), &m); err != nil || m.Incident == "" {
		return composeMeta{}, fmt.Errorf("modal metadata %q is not herald's", truncate(s, 60))
	}
	return m, nil
}

// composeView is step 1 of the compose modal. A draft (coming back from
// step 2) pre-fills it; problems are shown above the inputs.
func composeView(dir *bot.Directory, meta composeMeta, template string, prefill *bot.Draft, problems map[string]string) (slack.ModalViewRequest, error) {
	meta.Draft = nil
	md, err := meta.encode()
	if err != nil {
		return slack.ModalViewRequest{}, err
	}
	templates := dir.Templates()
	if template == "" && len(templates) == 1 {
		template = templates[0].Name // nothing to choose: show its fields at once
	}
	var blocks []slack.Block
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(textComposeContext(meta.Incident))))
	if len(problems) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(":warning: "+textProblems(problems)), nil, nil))
	}

	// audiences, with how many people each reaches
	var audOpts, audInitial []*slack.OptionBlockObject
	for _, a := range dir.Audiences() {
		people, _ := dir.Expand([]string{a.Name})
		o := slack.NewOptionBlockObject(a.Name, plain(truncate(textAudienceOption(a, len(people)), maxOptionText)), nil)
		audOpts = append(audOpts, o)
		if prefill != nil && containsString(prefill.Audiences, a.Name) {
			audInitial = append(audInitial, o)
		}
	}
	audSelect := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, nil, blockAudiences, audOpts...)
	if len(audInitial) > 0 {
		audSelect.InitialOptions = audInitial
	}
	audInput := slack.NewInputBlock(blockAudiences, plain(textAudiencesLabel), plain(textAudiencesHint), audSelect)
	blocks = append(blocks, audInput)

	// template: choosing one sends a block_actions (dispatch_action) and the
	// modal is updated with that template's fields
	var tplOpts []*slack.OptionBlockObject
	var chosen *bot.Template
	var tplInitial *slack.OptionBlockObject
	for _, t := range templates {
		o := slack.NewOptionBlockObject(t.Name, plain(truncate(t.Name, maxOptionText)), nil)
		tplOpts = append(tplOpts, o)
		if t.Name == template {
			chosen, tplInitial = t, o
		}
	}
	tplSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, blockTemplate, tplOpts...)
	tplSelect.InitialOption = tplInitial
	tplInput := slack.NewInputBlock(blockTemplate, plain(textTemplateLabel), nil, tplSelect)
	tplInput.DispatchAction = true
	blocks = append(blocks, tplInput)

	if chosen == nil {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(textChooseTemplate)))
	} else {
		for _, field := range chosen.Fields {
			in := slack.NewPlainTextInputBlockElement(nil, actionValue)
			in.MaxLength = maxFieldInput
			if prefill != nil {
				in.InitialValue = prefill.Fields[field]
			}
			blocks = append(blocks, slack.NewInputBlock(fieldPrefix+field, plain(textFieldLabel(field)), nil, in))
		}
		if chosen.AllowNote {
			in := slack.NewPlainTextInputBlockElement(nil, actionValue)
			in.Multiline, in.MaxLength = true, maxNoteInput
			if prefill != nil {
				in.InitialValue = prefill.Note
			}
			note := slack.NewInputBlock(blockNote, plain(textNoteLabel), nil, in)
			note.Optional = true
			blocks = append(blocks, note)
		}
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackCompose,
		PrivateMetadata: md,
		Title:           plain(textComposeTitle),
		Submit:          plain(textPreviewButton),
		Close:           plain(textCancel),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}, nil
}

// draftFromState reads step 1's inputs.
func draftFromState(incidentID string, st *slack.ViewState) (bot.Draft, string) {
	d := bot.Draft{IncidentID: incidentID, Fields: map[string]string{}}
	if st == nil {
		return d, ""
	}
	for _, o := range st.Values[blockAudiences][blockAudiences].SelectedOptions {
		d.Audiences = append(d.Audiences, o.Value)
	}
	d.Template = st.Values[blockTemplate][blockTemplate].SelectedOption.Value
	for block, actions := range st.Values {
		if name, ok := strings.CutPrefix(block, fieldPrefix); ok {
			d.Fields[name] = strings.TrimSpace(actions[actionValue].Value)
		}
	}
	d.Note = strings.TrimSpace(st.Values[blockNote][actionValue].Value)
	return d, d.Template
}

// confirmView is step 2: the preview exactly as phones will show it.
func confirmView(meta composeMeta, p workflow.Preview) (slack.ModalViewRequest, error) {
	md, err := meta.encode()
	if err != nil {
		return slack.ModalViewRequest{}, err
	}
	title := p.Incident.ID
	if p.Incident.Title != "" {
		title += " · " + p.Incident.Title
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(truncate(title, maxHeaderChars))),
		slack.NewSectionBlock(mrkdwn("*"+textSMSHeading+"*\n"+escape(workflow.SMSLine(p.SMS, p.SMSBody))), nil, nil),
		// plain_text without emoji conversion shows the body exactly
		slack.NewSectionBlock(plain(truncate(p.SMSBody, maxSectionChars)), nil, nil),
	}
	if g := guardSection(p); g != nil {
		// Above everything else: the one thing to act on before sending.
		blocks = append([]slack.Block{blocks[0], g}, blocks[1:]...)
	}
	for _, loc := range slices.Sorted(maps.Keys(p.BodiesByLocale)) {
		blocks = append(blocks,
			slack.NewContextBlock("", mrkdwn(textLocaleBody(loc))),
			slack.NewSectionBlock(plain(truncate(p.BodiesByLocale[loc], maxSectionChars)), nil, nil))
	}
	if wa := workflow.WhatsAppLine(p); wa != "" {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(mrkdwn(truncate("*WhatsApp:* "+escape(wa), maxSectionChars)), nil, nil))
	}
	var fields []*slack.TextBlockObject
	for _, f := range textRecipientFields(p) {
		fields = append(fields, mrkdwn("*"+f[0]+"*\n"+f[1]))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil),
		slack.NewContextBlock("", mrkdwn(textApproval(p.ApprovalRequired))))
	submit := textSendButton
	if p.ApprovalRequired {
		submit = textRequestButton
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackConfirm,
		PrivateMetadata: md,
		Title:           plain(textPreviewTitle),
		Submit:          plain(submit),
		Close:           plain(textCancel),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}, nil
}

// guardSection lists the content guard's findings, each match as `code`
// so it stands out from the words around it; nil when there are none.
func guardSection(p workflow.Preview) slack.Block {
	lines := workflow.FindingLines(p.Findings)
	if len(lines) == 0 {
		return nil
	}
	text := ":warning: *" + escape(workflow.GuardHeading(len(lines))) + "*"
	for _, l := range lines {
		// A backtick inside would end the code span early.
		text += "\n• " + escape(l.Lead) + "`" + escape(strings.ReplaceAll(l.Match, "`", "'")) + "`" + escape(l.Tail)
	}
	return slack.NewSectionBlock(mrkdwn(truncate(text, maxSectionChars)), nil, nil)
}

// doneView replaces the modal once the update is handed over.
func doneView(text string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  plain(textDoneTitle),
		Close:  plain(textClose),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}},
	}
}

// refusalView replaces the modal with the core's explanation of a refusal.
func refusalView(m bot.Message) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  plain(textDoneTitle),
		Close:  plain(textClose),
		Blocks: slack.Blocks{BlockSet: Render(m)},
	}
}

// rejectView asks for the reason of a rejection.
func rejectView(broadcastID, channel string) slack.ModalViewRequest {
	in := slack.NewPlainTextInputBlockElement(nil, actionValue)
	in.Multiline, in.MaxLength = true, maxNoteInput
	md, _ := json.Marshal(rejectMeta{Broadcast: broadcastID, Channel: channel})
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackReject,
		PrivateMetadata: string(md),
		Title:           plain(textRejectTitle),
		Submit:          plain(textRejectButton),
		Close:           plain(textCancel),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewContextBlock("", mrkdwn(escape(broadcastID))),
			slack.NewInputBlock(blockReason, plain(textReasonLabel), plain(textReasonHint), in),
		}},
	}
}

type rejectMeta struct {
	Broadcast string `json:"b"`
	Channel   string `json:"c,omitempty"`
}

// inputErrors maps problems onto the view's input blocks. A problem whose
// key is not an input of the view is put on fallback, so none is lost (Slack
// refuses errors for blocks that are not inputs).
func inputErrors(view slack.View, problems map[string]string, fallback string) map[string]string {
	inputs := map[string]bool{}
	for _, b := range view.Blocks.BlockSet {
		if in, ok := b.(*slack.InputBlock); ok {
			inputs[in.BlockID] = true
		}
	}
	out := map[string]string{}
	var stray []string
	for _, k := range slices.Sorted(maps.Keys(problems)) {
		if inputs[k] {
			out[k] = truncate(problems[k], maxErrorChars)
		} else {
			stray = append(stray, problems[k])
		}
	}
	if len(stray) > 0 {
		sort.Strings(stray)
		if prev, ok := out[fallback]; ok {
			stray = append([]string{prev}, stray...)
		}
		out[fallback] = truncate(strings.Join(stray, " "), maxErrorChars)
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
