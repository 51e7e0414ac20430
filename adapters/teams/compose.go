package teams

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

// Card action ids of the compose flow. The core's own (notify, resolve,
// approve, reject) come from bot.
const (
	actionComposeTemplate = "compose.template" // show the chosen template's fields
	actionComposePreview  = "compose.preview"  // compose card -> preview card
	actionComposeEdit     = "compose.edit"     // preview card -> compose card
	actionComposeSubmit   = "compose.submit"   // preview card -> send / request approval
)

// Input ids on the compose and reject cards; they match the core's problem
// keys ("audiences", "template", "field:<name>", "note") so problems land
// under the input they are about.
const (
	inputAudiences  = "audiences"
	inputTemplate   = "template"
	inputNote       = "note"
	inputReason     = "reason"
	inputFieldPrefx = "field:"
)

// ComposeForm is what the compose card shows: the choices and what has been
// chosen and typed so far.
type ComposeForm struct {
	Incident  bot.Incident
	Audiences []AudienceChoice
	Templates []TemplateChoice
	Draft     bot.Draft         // current values (audiences, template, fields, note)
	Problems  map[string]string // keyed like bot.ValidationError
}

// AudienceChoice is one audience with its head count.
type AudienceChoice struct {
	Name             string
	Description      string
	Members          int // distinct people
	ApprovalRequired bool
}

// TemplateChoice is one template and the inputs it needs.
type TemplateChoice struct {
	Name      string
	Fields    []string
	AllowNote bool
}

// NewComposeForm lists the directory's audiences (with head counts) and
// templates for incident inc, prefilled from draft.
func NewComposeForm(dir *bot.Directory, inc bot.Incident, draft bot.Draft, problems map[string]string) ComposeForm {
	f := ComposeForm{Incident: inc, Draft: draft, Problems: problems}
	f.Draft.IncidentID = inc.ID
	for _, a := range dir.Audiences() {
		people, _ := dir.Expand([]string{a.Name})
		f.Audiences = append(f.Audiences, AudienceChoice{
			Name: a.Name, Description: a.Description, Members: len(people), ApprovalRequired: a.ApprovalRequired,
		})
	}
	for _, t := range dir.Templates() {
		f.Templates = append(f.Templates, TemplateChoice{Name: t.Name, Fields: t.Fields, AllowNote: t.AllowNote})
	}
	if f.Draft.Template == "" && len(f.Templates) > 0 {
		f.Draft.Template = f.Templates[0].Name
	}
	return f
}

func (f ComposeForm) template() (TemplateChoice, bool) {
	for _, t := range f.Templates {
		if t.Name == f.Draft.Template {
			return t, true
		}
	}
	return TemplateChoice{}, false
}

// ComposeCard renders the compose form: audiences (multi-select with head
// counts), template, the chosen template's fields, an optional note, and
// Preview. Because a card cannot change its inputs when a choice changes,
// "Show fields" re-renders the card for another template, keeping what was
// typed.
func ComposeCard(f ComposeForm) map[string]any {
	body := []any{
		richText(textComposeTitle(f.Incident), textRunStyle{size: "Medium", weight: "Bolder"}),
		richText(textComposeIntro, textRunStyle{subtle: true}),
	}
	if msg := f.Problems[""]; msg != "" {
		body = append(body, problemText(msg))
	}

	choices := make([]any, len(f.Audiences))
	for i, a := range f.Audiences {
		choices[i] = map[string]any{"title": textAudienceChoice(a), "value": a.Name}
	}
	body = append(body, map[string]any{
		"type":          "Input.ChoiceSet",
		"id":            inputAudiences,
		"label":         textAudiencesLabel,
		"isMultiSelect": true,
		"style":         "expanded",
		"choices":       choices,
		"value":         strings.Join(f.Draft.Audiences, ","),
	})
	body = appendProblem(body, f.Problems, inputAudiences)

	tchoices := make([]any, len(f.Templates))
	for i, t := range f.Templates {
		tchoices[i] = map[string]any{"title": t.Name, "value": t.Name}
	}
	body = append(body, map[string]any{
		"type":    "Input.ChoiceSet",
		"id":      inputTemplate,
		"label":   textTemplateLabel,
		"style":   "compact",
		"choices": tchoices,
		"value":   f.Draft.Template,
	})
	body = appendProblem(body, f.Problems, inputTemplate)

	tpl, ok := f.template()
	if ok {
		for _, name := range tpl.Fields {
			body = append(body, map[string]any{
				"type":        "Input.Text",
				"id":          inputFieldPrefx + name,
				"label":       textFieldLabel(name),
				"value":       f.Draft.Fields[name],
				"placeholder": textFieldPlaceholder(name),
				"maxLength":   300,
			})
			body = appendProblem(body, f.Problems, inputFieldPrefx+name)
		}
		if tpl.AllowNote {
			body = append(body, map[string]any{
				"type":        "Input.Text",
				"id":          inputNote,
				"label":       textNoteLabel,
				"value":       f.Draft.Note,
				"isMultiline": true,
				"maxLength":   500,
			})
		}
	}
	body = appendProblem(body, f.Problems, inputNote)
	// Problems with keys no input shows (sms length, resolved incident...).
	for _, k := range sortedProblemKeys(f.Problems) {
		if !shownOnCompose(k, tpl) {
			body = append(body, problemText(f.Problems[k]))
		}
	}

	card := newCard(body)
	card["actions"] = []any{
		withStyle(map[string]any{
			"type":  "Action.Submit",
			"title": textPreviewButton,
			"data":  submitData(actionComposePreview, f.Incident.ID),
		}, bot.StylePrimary),
		map[string]any{
			"type":  "Action.Submit",
			"title": textShowFieldsButton,
			"data":  submitData(actionComposeTemplate, f.Incident.ID),
		},
	}
	return card
}

func shownOnCompose(key string, tpl TemplateChoice) bool {
	switch {
	case key == "" || key == inputAudiences || key == inputTemplate || key == inputNote:
		return true
	case strings.HasPrefix(key, inputFieldPrefx):
		return slices.Contains(tpl.Fields, strings.TrimPrefix(key, inputFieldPrefx))
	}
	return false
}

func sortedProblemKeys(p map[string]string) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendProblem(body []any, problems map[string]string, key string) []any {
	if msg := problems[key]; msg != "" {
		body = append(body, problemText(msg))
	}
	return body
}

func problemText(msg string) map[string]any {
	return richText(msg, textRunStyle{color: "Attention", size: "Small"})
}

// PreviewCard shows exactly what a draft will send: the SMS text as phones
// will show it (and other locales'), its segments and encoding, the WhatsApp
// template, recipients per channel after de-duplication and opt-outs, and
// whether an approver must approve. Send carries the draft and a nonce: a
// double click, or Teams delivering the click twice, sends once.
func PreviewCard(p workflow.Preview, nonce string) map[string]any {
	body := []any{
		richText(textPreviewTitle(p), textRunStyle{size: "Medium", weight: "Bolder"}),
		richText(textPreviewIntro(p), textRunStyle{}),
	}
	body = append(body, guardBlocks(p)...)
	body = append(body,
		richText(textSMSHeading, textRunStyle{weight: "Bolder"}),
		quote(p.SMSBody),
	)
	for _, loc := range sortedLocales(p.BodiesByLocale) {
		body = append(body, richText(textLocaleHeading(loc), textRunStyle{weight: "Bolder"}), quote(p.BodiesByLocale[loc]))
	}
	facts := []any{
		fact(textFactSMS, workflow.SMSLine(p.SMS, p.SMSBody)),
		fact(textFactRecipients, workflow.RecipientsLine(p)),
	}
	if wa := workflow.WhatsAppLine(p); wa != "" {
		facts = append(facts, fact(textFactWhatsApp, wa))
	}
	if p.OptedOut > 0 {
		facts = append(facts, fact(textFactOptedOut, textOptedOut(p.OptedOut)))
	}
	facts = append(facts,
		fact(textFactAudiences, strings.Join(p.Draft.Audiences, ", ")),
		fact(textFactTemplate, p.Draft.Template),
		fact(textFactApproval, textApproval(p.ApprovalRequired)),
	)
	body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	for _, k := range sortedProblemKeys(p.Problems) {
		body = append(body, problemText(p.Problems[k]))
	}

	draft, _ := json.Marshal(p.Draft)
	edit := submitData(actionComposeEdit, p.Draft.IncidentID)
	edit["draft"] = string(draft)
	actions := []any{}
	if len(p.Problems) == 0 {
		send := submitData(actionComposeSubmit, nonce)
		send["draft"] = string(draft)
		actions = append(actions, withStyle(map[string]any{
			"type":  "Action.Submit",
			"title": textSendButton(p.ApprovalRequired),
			"data":  send,
		}, bot.StylePrimary))
	}
	actions = append(actions, map[string]any{"type": "Action.Submit", "title": textEditButton, "data": edit})
	card := newCard(body)
	card["actions"] = actions
	return card
}

// guardBlocks lists the content guard's findings under the intro, each
// match in bold; the match is its own run, so nothing in it is read as a
// mark.
func guardBlocks(p workflow.Preview) []any {
	lines := workflow.FindingLines(p.Findings)
	if len(lines) == 0 {
		return nil
	}
	out := []any{richText(workflow.GuardHeading(len(lines)), textRunStyle{weight: "Bolder", color: "Warning"})}
	for _, l := range lines {
		out = append(out, map[string]any{"type": "RichTextBlock", "inlines": []any{
			map[string]any{"type": "TextRun", "text": "• " + l.Lead},
			map[string]any{"type": "TextRun", "text": l.Match, "weight": "Bolder"},
			map[string]any{"type": "TextRun", "text": l.Tail},
		}})
	}
	return out
}

func fact(title, value string) map[string]any {
	return map[string]any{"title": title, "value": plainFact(value)}
}

func sortedLocales(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// draftFromValues reads a compose card's submitted values: Teams sends the
// card's input values merged into the button's data, a multi-select as
// "a,b", every value as a string.
func draftFromValues(incidentID string, v map[string]any) bot.Draft {
	d := bot.Draft{IncidentID: incidentID, Fields: map[string]string{}}
	for _, a := range strings.Split(str(v[inputAudiences]), ",") {
		if a = strings.TrimSpace(a); a != "" {
			d.Audiences = append(d.Audiences, a)
		}
	}
	d.Template = strings.TrimSpace(str(v[inputTemplate]))
	d.Note = strings.TrimSpace(str(v[inputNote]))
	for k, val := range v {
		if name, ok := strings.CutPrefix(k, inputFieldPrefx); ok && name != "" {
			d.Fields[name] = strings.TrimSpace(str(val))
		}
	}
	return d
}

// draftFromData reads the draft a preview card carries.
func draftFromData(v map[string]any) (bot.Draft, error) {
	var d bot.Draft
	raw := str(v["draft"])
	if raw == "" {
		return d, fmt.Errorf("the card carries no draft")
	}
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return d, fmt.Errorf("the card's draft is unreadable: %w", err)
	}
	return d, nil
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case []any: // some clients send multi-select values as arrays
		parts := make([]string, 0, len(v))
		for _, p := range v {
			parts = append(parts, str(p))
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}
