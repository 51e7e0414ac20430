package bot

import (
	"fmt"
	"sort"
)

// Channel is how a message reaches a phone.
type Channel string

const (
	ChannelSMS      Channel = "sms"
	ChannelWhatsApp Channel = "whatsapp"
)

// Valid reports whether c is a channel herald can send on.
func (c Channel) Valid() bool { return c == ChannelSMS || c == ChannelWhatsApp }

// Label is the channel's name as people write it.
func (c Channel) Label() string {
	switch c {
	case ChannelWhatsApp:
		return "WhatsApp"
	case ChannelSMS:
		return "SMS"
	}
	return string(c)
}

// Recipient is one stakeholder who can receive updates. Phone is E.164
// (validated and normalised when the config is loaded).
type Recipient struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Phone     string   `json:"phone"`
	Channel   Channel  `json:"channel"`
	Locale    string   `json:"locale,omitempty"`
	Audiences []string `json:"audiences,omitempty"` // filled by the directory: every audience the person is in
}

// Audience is a named group of stakeholders (executives, it-ops, customers).
type Audience struct {
	Name             string `json:"name"`
	Description      string `json:"description,omitempty"`
	ApprovalRequired bool   `json:"approval_required"`
	// External audiences are people outside the company (customers,
	// partners): the content guard checks what is sent to them.
	External bool     `json:"external,omitempty"`
	Members  []string `json:"members"` // recipient ids
}

// Directory is the stakeholder directory built from the config: who exists,
// which audiences they form, and which templates may be sent. It is
// immutable after NewDirectory and safe for concurrent use.
type Directory struct {
	recipients map[string]Recipient // by id
	byPhone    map[string]string    // E.164 -> recipient id
	audiences  map[string]Audience
	audOrder   []string
	templates  map[string]*Template
	tplOrder   []string
}

// NewDirectory checks that every audience member exists and indexes
// everything. Config validation reports problems with key paths first; this
// is the last line of defence.
func NewDirectory(recipients []Recipient, audiences []Audience, templates []*Template) (*Directory, error) {
	d := &Directory{
		recipients: make(map[string]Recipient, len(recipients)),
		byPhone:    make(map[string]string, len(recipients)),
		audiences:  make(map[string]Audience, len(audiences)),
		templates:  make(map[string]*Template, len(templates)),
	}
	for _, r := range recipients {
		if _, dup := d.recipients[r.ID]; dup {
			return nil, fmt.Errorf("recipient %q defined twice", r.ID)
		}
		r.Audiences = nil
		d.recipients[r.ID] = r
		if _, seen := d.byPhone[r.Phone]; !seen {
			d.byPhone[r.Phone] = r.ID
		}
	}
	for _, a := range audiences {
		if _, dup := d.audiences[a.Name]; dup {
			return nil, fmt.Errorf("audience %q defined twice", a.Name)
		}
		for _, m := range a.Members {
			r, ok := d.recipients[m]
			if !ok {
				return nil, fmt.Errorf("audience %q: unknown recipient %q", a.Name, m)
			}
			r.Audiences = append(r.Audiences, a.Name)
			d.recipients[m] = r
		}
		d.audiences[a.Name] = a
		d.audOrder = append(d.audOrder, a.Name)
	}
	for _, t := range templates {
		if _, dup := d.templates[t.Name]; dup {
			return nil, fmt.Errorf("template %q defined twice", t.Name)
		}
		d.templates[t.Name] = t
		d.tplOrder = append(d.tplOrder, t.Name)
	}
	return d, nil
}

// Recipient returns the recipient with that id.
func (d *Directory) Recipient(id string) (Recipient, bool) {
	r, ok := d.recipients[id]
	return r, ok
}

// RecipientByPhone finds a recipient by E.164 number.
func (d *Directory) RecipientByPhone(phone string) (Recipient, bool) {
	id, ok := d.byPhone[phone]
	if !ok {
		return Recipient{}, false
	}
	return d.recipients[id], true
}

// Recipients returns every recipient, sorted by id.
func (d *Directory) Recipients() []Recipient {
	out := make([]Recipient, 0, len(d.recipients))
	for _, r := range d.recipients {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Audience returns the audience with that name.
func (d *Directory) Audience(name string) (Audience, bool) {
	a, ok := d.audiences[name]
	return a, ok
}

// Audiences returns the audiences in config order.
func (d *Directory) Audiences() []Audience {
	out := make([]Audience, 0, len(d.audOrder))
	for _, n := range d.audOrder {
		out = append(out, d.audiences[n])
	}
	return out
}

// Template returns the template with that name.
func (d *Directory) Template(name string) (*Template, bool) {
	t, ok := d.templates[name]
	return t, ok
}

// Templates returns the templates in config order.
func (d *Directory) Templates() []*Template {
	out := make([]*Template, 0, len(d.tplOrder))
	for _, n := range d.tplOrder {
		out = append(out, d.templates[n])
	}
	return out
}

// Expand returns every distinct person in the named audiences, each once,
// de-duplicated by E.164 number (the first recipient id seen for a number
// wins), in a stable order. Unknown audience names are an error.
func (d *Directory) Expand(audiences []string) ([]Recipient, error) {
	seen := make(map[string]bool)
	var out []Recipient
	for _, name := range audiences {
		a, ok := d.audiences[name]
		if !ok {
			return nil, fmt.Errorf("unknown audience %q", name)
		}
		for _, id := range a.Members {
			r := d.recipients[id]
			if seen[r.Phone] {
				continue
			}
			seen[r.Phone] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// ApprovalRequired reports whether any of the named audiences needs a second
// person's approval before a broadcast to it is sent.
func (d *Directory) ApprovalRequired(audiences []string) bool {
	for _, name := range audiences {
		if d.audiences[name].ApprovalRequired {
			return true
		}
	}
	return false
}

// External reports whether any of the named audiences is outside the
// company, so the content guard applies to a broadcast to them.
func (d *Directory) External(audiences []string) bool {
	for _, name := range audiences {
		if d.audiences[name].External {
			return true
		}
	}
	return false
}
