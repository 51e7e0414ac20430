package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldops/herald/bot"
)

// Approval modes of an audience.
const (
	ApprovalRequired = "required"
	ApprovalNone     = "none"
)

var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// check runs every semantic check on the decoded config, normalising as it
// goes (phones to E.164, channels to lower case), and loads the recipients
// file.
func (l *loader) check() {
	c := l.cfg
	for i := range c.Recipients {
		p := fmt.Sprintf("recipients[%d]", i)
		o := origin{file: l.file, line: l.lineOf(p), path: p}
		o.phoneOK = l.checkRecipient(&c.Recipients[i], o)
		l.origins = append(l.origins, o)
	}
	audIndex := l.checkAudienceHeads()
	csvMembers := map[int][]string{}
	if strings.TrimSpace(c.RecipientsFile) != "" {
		l.loadCSV(audIndex, csvMembers)
	}
	known := l.checkUniqueRecipients()
	l.checkMembers(known, csvMembers)
	l.checkTemplates()
	l.checkRoles()
	l.checkWatchers()
	l.checkTuning()
	l.checkGuard()
}

// checkRecipient checks and normalises one recipient, wherever it came from,
// and says whether its phone number is valid.
func (l *loader) checkRecipient(r *Recipient, o origin) (phoneOK bool) {
	r.ID = strings.TrimSpace(r.ID)
	switch {
	case r.ID == "":
		l.addAt(o, "id", "missing: every recipient needs an id")
	case strings.ContainsAny(r.ID, " \t;,"):
		l.addAt(o, "id", "%q is not one word (ids are typed in commands such as /incident reply <id>)", r.ID)
	}
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		r.Name = r.ID
	}
	if strings.TrimSpace(r.Phone) == "" {
		l.addAt(o, "phone", "missing: every recipient needs a phone number")
	} else if e164, err := NormalizePhone(r.Phone); err != nil {
		l.addAt(o, "phone", "%v", err)
	} else {
		r.Phone = e164
		phoneOK = true
	}
	r.Channel = strings.ToLower(strings.TrimSpace(r.Channel))
	if r.Channel == "" {
		r.Channel = string(bot.ChannelSMS)
	} else if !bot.Channel(r.Channel).Valid() {
		l.addAt(o, "channel", "%q is not a channel (use sms or whatsapp)", r.Channel)
	}
	r.Locale = strings.TrimSpace(r.Locale)
	return phoneOK
}

// checkUniqueRecipients reports ids and phone numbers used twice and returns
// the set of known ids.
func (l *loader) checkUniqueRecipients() map[string]bool {
	byID := map[string]int{}
	byPhone := map[string]int{}
	for i, r := range l.cfg.Recipients {
		o := l.origins[i]
		if r.ID != "" {
			if j, dup := byID[r.ID]; dup {
				l.addAt(o, "id", "recipient id %q is already used (%s)", r.ID, l.where(l.origins[j], o.file))
			} else {
				byID[r.ID] = i
			}
		}
		if o.phoneOK {
			if j, dup := byPhone[r.Phone]; dup {
				first := l.cfg.Recipients[j]
				l.addAt(o, "phone", "same number as recipient %q (%s): one person, one id", first.ID, l.where(l.origins[j], o.file))
			} else {
				byPhone[r.Phone] = i
			}
		}
	}
	known := make(map[string]bool, len(byID))
	for id := range byID {
		known[id] = true
	}
	return known
}

// checkAudienceHeads checks each audience's name and approval mode and
// returns the index of each name.
func (l *loader) checkAudienceHeads() map[string]int {
	index := map[string]int{}
	for i := range l.cfg.Audiences {
		a := &l.cfg.Audiences[i]
		p := fmt.Sprintf("audiences[%d]", i)
		a.Name = strings.TrimSpace(a.Name)
		switch {
		case a.Name == "":
			l.addf(l.lineOf(p+".name"), p+".name", "missing: every audience needs a name")
		case strings.Contains(a.Name, ";"):
			l.addf(l.lineOf(p+".name"), p+".name", "%q contains ';', which separates audiences in the recipients file", a.Name)
		default:
			if j, dup := index[a.Name]; dup {
				l.addf(l.lineOf(p+".name"), p+".name", "audience %q is already defined (line %d)", a.Name, l.lineOf(fmt.Sprintf("audiences[%d]", j)))
			} else {
				index[a.Name] = i
			}
		}
		a.Approval = strings.ToLower(strings.TrimSpace(a.Approval))
		if a.Approval != "" && a.Approval != ApprovalRequired && a.Approval != ApprovalNone {
			l.addf(l.lineOf(p+".approval"), p+".approval", "%q is not an approval mode (use required or none)", a.Approval)
		}
	}
	return index
}

// checkMembers checks every audience's members, adds the members named by
// the recipients file, and reports audiences left empty.
func (l *loader) checkMembers(known map[string]bool, csvMembers map[int][]string) {
	needApproval := ""
	for i := range l.cfg.Audiences {
		a := &l.cfg.Audiences[i]
		p := fmt.Sprintf("audiences[%d]", i)
		seen := map[string]bool{}
		members := a.Members[:0:0]
		for j, m := range a.Members {
			mp := fmt.Sprintf("%s.members[%d]", p, j)
			m = strings.TrimSpace(m)
			switch {
			case m == "":
				l.addf(l.lineOf(mp), mp, "empty recipient id")
			case !known[m]:
				l.addf(l.lineOf(mp), mp, "unknown recipient %q", m)
			case seen[m]:
				l.addf(l.lineOf(mp), mp, "%q is listed twice", m)
			default:
				seen[m] = true
				members = append(members, m)
			}
		}
		for _, m := range csvMembers[i] {
			if !seen[m] {
				seen[m] = true
				members = append(members, m)
			}
		}
		if len(a.Members) == 0 && len(members) == 0 && !l.csvFailed && !l.hasProblem(p+".members") {
			l.addf(l.lineOf(p+".members"), p+".members", "audience %q has no members (list recipient ids here, or name the audience in the recipients file's audiences column)", a.Name)
		}
		a.Members = members
		if a.Approval == ApprovalRequired && needApproval == "" {
			needApproval = a.Name
		}
	}
	roles := l.cfg.RoleConfig
	if needApproval != "" && len(roles.Approvers) == 0 && len(roles.ApproverPhones) == 0 {
		l.addf(l.lineOf("roles.approvers"), "roles.approvers", "audience %q requires approval, but no approver is configured", needApproval)
	}
}

func (l *loader) checkTemplates() {
	names := map[string]int{}
	for i := range l.cfg.Templates {
		t := &l.cfg.Templates[i]
		p := fmt.Sprintf("templates[%d]", i)
		t.Name = strings.TrimSpace(t.Name)
		if t.Name == "" {
			l.addf(l.lineOf(p+".name"), p+".name", "missing: every template needs a name")
		} else if j, dup := names[t.Name]; dup {
			l.addf(l.lineOf(p+".name"), p+".name", "template %q is already defined (line %d)", t.Name, l.lineOf(fmt.Sprintf("templates[%d]", j)))
		} else {
			names[t.Name] = i
		}
		fields := map[string]bool{}
		for j, f := range t.Fields {
			fp := fmt.Sprintf("%s.fields[%d]", p, j)
			switch {
			case !fieldName.MatchString(f):
				l.addf(l.lineOf(fp), fp, "%q is not a field name (letters, digits and _, as in {{.Fields.next_update}})", f)
			case fields[f]:
				l.addf(l.lineOf(fp), fp, "%q is listed twice", f)
			}
			fields[f] = true
		}
		noSID := t.WhatsApp != nil && strings.TrimSpace(t.WhatsApp.ContentSID) == ""
		if noSID {
			l.addf(l.lineOf(p+".whatsapp.content_sid"), p+".whatsapp.content_sid", "missing: a WhatsApp template needs its Twilio Content SID (HX...)")
		}
		_, errs := bot.ParseTemplate(t.source())
		for _, err := range errs {
			var te *bot.TemplateError
			if !errors.As(err, &te) {
				l.addf(l.lineOf(p), p, "%v", err)
				continue
			}
			if te.Part == "whatsapp.content_sid" && noSID {
				continue
			}
			tp := p + "." + te.Part
			if l.hasProblem(tp) {
				continue
			}
			l.addf(l.lineOf(tp), tp, "%v", te.Err)
		}
	}
}

func (l *loader) checkRoles() {
	r := &l.cfg.RoleConfig
	ids := func(key string, list []string) {
		for i, id := range list {
			list[i] = strings.TrimSpace(id)
			if list[i] == "" {
				p := fmt.Sprintf("roles.%s[%d]", key, i)
				l.addf(l.lineOf(p), p, "empty id")
			}
		}
	}
	ids("responders", r.Responders)
	ids("approvers", r.Approvers)
	ids("operators", r.Operators)
	l.phones("roles.responder_phones", r.ResponderPhones)
	l.phones("roles.approver_phones", r.ApproverPhones)
}

func (l *loader) phones(key string, list []string) {
	for i, ph := range list {
		p := fmt.Sprintf("%s[%d]", key, i)
		e164, err := NormalizePhone(ph)
		if err != nil {
			l.addf(l.lineOf(p), p, "%v", err)
			continue
		}
		list[i] = e164
	}
}

func (l *loader) checkWatchers() {
	for i := range l.cfg.Watchers {
		w := &l.cfg.Watchers[i]
		p := fmt.Sprintf("watchers[%d].phone", i)
		w.Name = strings.TrimSpace(w.Name)
		if strings.TrimSpace(w.Phone) == "" {
			l.addf(l.lineOf(p), p, "missing: a watcher needs a phone number")
			continue
		}
		e164, err := NormalizePhone(w.Phone)
		if err != nil {
			l.addf(l.lineOf(p), p, "%v", err)
			continue
		}
		w.Phone = e164
	}
}

func (l *loader) checkTuning() {
	c := l.cfg
	positive := func(path string, v float64) {
		if v <= 0 && !l.hasProblem(path) {
			l.addf(l.lineOf(path), path, "must be more than 0")
		}
	}
	positive("twilio.sms_mps", c.Twilio.SMSMPS)
	positive("twilio.whatsapp_mps", c.Twilio.WhatsAppMPS)
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"approval.timeout", c.Approval.Timeout},
		{"twilio.give_up_after", c.Twilio.GiveUpAfter},
		{"replies.window", c.Replies.Window},
		{"retention", c.Retention},
		{"audit.retention", c.Audit.Retention},
		{"failover.down_after", c.Failover.DownAfter},
		{"failover.watcher_digest_interval", c.Failover.WatcherDigestInterval},
	} {
		positive(d.path, float64(d.v))
	}
	if org := c.SMS.Organisation; utf8.RuneCountInString(org) > MaxOrganisationLength {
		l.addf(l.lineOf("sms.organisation"), "sms.organisation", "%d characters; keep it to %d so the HELP answer fits one SMS", utf8.RuneCountInString(org), MaxOrganisationLength)
	} else if info := bot.CountSMS(c.SMS.HelpText); info.Segments > 1 {
		msg := fmt.Sprintf("the HELP answer takes %d SMS (%s); carriers expect one: use plain characters and at most 160 of them", info.Segments, info.Encoding)
		if l.set["sms.help_text"] {
			// An operator's own text: said, not refused, so an existing
			// config keeps loading.
			l.cfg.Warnings = append(l.cfg.Warnings, Problem{File: l.file, Line: l.lineOf("sms.help_text"), Path: "sms.help_text", Message: msg})
		} else {
			l.addf(l.lineOf("sms.organisation"), "sms.organisation", "%s", msg) // the default text is too long only through the name
		}
	}
	if c.SMS.MaxSegments < 0 && !l.hasProblem("sms.max_segments") {
		l.addf(l.lineOf("sms.max_segments"), "sms.max_segments", "cannot be negative (0 means no limit)")
	}
	if c.Failover.UpAfterSuccesses < 1 && !l.hasProblem("failover.up_after_successes") {
		l.addf(l.lineOf("failover.up_after_successes"), "failover.up_after_successes", "must be at least 1")
	}
}

// hasProblem reports whether the value at path did not decode, so that no
// second problem is piled on the first.
func (l *loader) hasProblem(path string) bool {
	for _, p := range l.problems[:l.decoded] {
		if p.File == l.file && p.Path == path {
			return true
		}
	}
	return false
}

// domainLabel is one label of a DNS name as RFC 1123 allows it.
var domainLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkGuard normalises guard.internal_domains to lower case without
// surrounding dots and refuses what is not a domain name: a URL, an e-mail
// address or a wildcard would never match and the guard would stay silent.
func (l *loader) checkGuard() {
	seen := map[string]bool{}
	domains := l.cfg.Guard.InternalDomains
	for i, d := range domains {
		p := fmt.Sprintf("guard.internal_domains[%d]", i)
		d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), ".")
		domains[i] = d
		switch {
		case d == "":
			l.addf(l.lineOf(p), p, "empty domain")
		case !validDomain(d):
			l.addf(l.lineOf(p), p, "%q is not a domain name (write it like corp.example; its subdomains are included)", domains[i])
		case seen[d]:
			l.addf(l.lineOf(p), p, "%q is listed twice", d)
		}
		seen[d] = true
	}
}

func validDomain(d string) bool {
	if len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if !domainLabel.MatchString(label) {
			return false
		}
	}
	return true
}
