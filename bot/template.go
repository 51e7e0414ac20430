package bot

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// TemplateData is what a template sees when it is rendered:
// {{.ID}}, {{.Title}}, {{.Severity}}, {{.Fields.name}}, {{.Note}}.
type TemplateData struct {
	ID       string
	Title    string
	Severity int
	Fields   map[string]string
	Note     string
}

// WhatsAppTemplate is a Twilio Content template approved by WhatsApp, used
// when the recipient's 24-hour session window is closed. Variables maps the
// template's numbered placeholders to herald template text.
type WhatsAppTemplate struct {
	ContentSID string            `json:"content_sid"`
	Variables  map[string]string `json:"variables,omitempty"`
}

// TemplateSource is a template as written in the config.
type TemplateSource struct {
	Name      string
	Fields    []string
	AllowNote bool
	SMS       string            // default body (also the WhatsApp free-form body)
	Locales   map[string]string // locale -> SMS body in that language
	WhatsApp  *WhatsAppTemplate
}

// Template is a parsed, checked message template.
type Template struct {
	Name      string
	Fields    []string
	AllowNote bool
	WhatsApp  *WhatsAppTemplate

	sms     *template.Template
	locales map[string]*template.Template
	vars    map[string]*template.Template
}

// TemplateError says which part of a template is wrong, so config
// validation can name the key.
type TemplateError struct {
	Part string // "sms", "locales.de", "whatsapp.variables.1"
	Err  error
}

func (e *TemplateError) Error() string { return e.Part + ": " + e.Err.Error() }

func (e *TemplateError) Unwrap() error { return e.Err }

// ParseTemplate parses every text of the template and checks that it only
// refers to known data (.ID, .Title, .Severity, .Note) and declared fields
// (.Fields.<name>). All problems are returned, each a *TemplateError.
func ParseTemplate(src TemplateSource) (*Template, []error) {
	t := &Template{
		Name:      src.Name,
		Fields:    append([]string(nil), src.Fields...),
		AllowNote: src.AllowNote,
		WhatsApp:  src.WhatsApp,
		locales:   map[string]*template.Template{},
		vars:      map[string]*template.Template{},
	}
	declared := map[string]bool{}
	for _, f := range src.Fields {
		declared[f] = true
	}
	var errs []error
	parseOne := func(part, text string) *template.Template {
		tpl, err := template.New(part).Option("missingkey=zero").Parse(text)
		if err != nil {
			errs = append(errs, &TemplateError{Part: part, Err: err})
			return nil
		}
		for _, e := range checkRefs(tpl, declared) {
			errs = append(errs, &TemplateError{Part: part, Err: e})
		}
		return tpl
	}
	if strings.TrimSpace(src.SMS) == "" {
		errs = append(errs, &TemplateError{Part: "sms", Err: fmt.Errorf("empty: every template needs an SMS text")})
	} else {
		t.sms = parseOne("sms", src.SMS)
	}
	for _, loc := range slices.Sorted(maps.Keys(src.Locales)) {
		if tpl := parseOne("locales."+loc, src.Locales[loc]); tpl != nil {
			t.locales[loc] = tpl
		}
	}
	if src.WhatsApp != nil {
		if !strings.HasPrefix(src.WhatsApp.ContentSID, "HX") {
			errs = append(errs, &TemplateError{Part: "whatsapp.content_sid", Err: fmt.Errorf("%q is not a Twilio Content SID (HX...)", src.WhatsApp.ContentSID)})
		}
		for _, k := range slices.Sorted(maps.Keys(src.WhatsApp.Variables)) {
			if tpl := parseOne("whatsapp.variables."+k, src.WhatsApp.Variables[k]); tpl != nil {
				t.vars[k] = tpl
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

// Rendered is a template rendered for one locale.
type Rendered struct {
	Body             string            // SMS body, and the WhatsApp free-form body
	ContentSID       string            // WhatsApp template, empty if none
	ContentVariables map[string]string // WhatsApp template variables
}

// Render renders the template for a locale ("" or an unknown locale uses the
// default text).
func (t *Template) Render(locale string, data TemplateData) (Rendered, error) {
	if data.Fields == nil {
		data.Fields = map[string]string{}
	}
	tpl := t.sms
	if l, ok := t.locales[locale]; ok {
		tpl = l
	}
	body, err := execute(tpl, data)
	if err != nil {
		return Rendered{}, fmt.Errorf("rendering template %q: %w", t.Name, err)
	}
	r := Rendered{Body: body}
	if t.WhatsApp != nil {
		r.ContentSID = t.WhatsApp.ContentSID
		r.ContentVariables = make(map[string]string, len(t.vars))
		for k, v := range t.vars {
			s, err := execute(v, data)
			if err != nil {
				return Rendered{}, fmt.Errorf("rendering WhatsApp variable %s of template %q: %w", k, t.Name, err)
			}
			r.ContentVariables[k] = s
		}
	}
	return r, nil
}

// Locales lists the locales the template has its own text for.
func (t *Template) Locales() []string { return slices.Sorted(maps.Keys(t.locales)) }

func execute(t *template.Template, data TemplateData) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

var knownData = map[string]bool{"ID": true, "Title": true, "Severity": true, "Note": true, "Fields": true}

// checkRefs walks the parse tree and reports references to unknown data or
// undeclared fields, so a typo fails at load time rather than mid-incident.
func checkRefs(t *template.Template, declared map[string]bool) []error {
	var errs []error
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.FieldNode:
			if len(n.Ident) == 0 {
				return
			}
			if !knownData[n.Ident[0]] {
				errs = append(errs, fmt.Errorf("unknown value .%s (known: .ID .Title .Severity .Note .Fields.<field>)", n.Ident[0]))
				return
			}
			if n.Ident[0] == "Fields" && len(n.Ident) > 1 && !declared[n.Ident[1]] {
				errs = append(errs, fmt.Errorf("unknown field %q (declare it in fields)", n.Ident[1]))
			}
		}
	}
	if t.Tree != nil {
		walk(t.Tree.Root)
	}
	return errs
}

// TemplateDataFor is what a template sees when d is sent for inc: the one
// place the two meet, so the preview, the approval request, the plan and
// the relay render exactly the same text.
func TemplateDataFor(inc Incident, d Draft) TemplateData {
	return TemplateData{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Fields: d.Fields, Note: d.Note}
}
