package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
	"gopkg.in/yaml.v3"
)

// Config is herald's configuration file. The keys and their meaning are the
// contract in ARCHITECTURE.md ("Config file"), extended with optional keys
// that all have defaults; README's config-reference section documents every
// key (a test keeps the two in step).
//
// After Load, Recipients holds the inline recipients followed by those from
// RecipientsFile, every phone number is E.164, every channel is lower case,
// and each audience's Members includes the CSV rows that named it.
type Config struct {
	Slack          SlackConfig    `yaml:"slack"`
	Teams          TeamsConfig    `yaml:"teams"`
	RoleConfig     RolesConfig    `yaml:"roles"` // read through Roles()
	Watchers       []Watcher      `yaml:"watchers"`
	Recipients     []Recipient    `yaml:"recipients"`
	RecipientsFile string         `yaml:"recipients_file"`
	Audiences      []Audience     `yaml:"audiences"`
	Templates      []Template     `yaml:"templates"`
	Twilio         TwilioConfig   `yaml:"twilio"`
	Approval       ApprovalConfig `yaml:"approval"`
	SMS            SMSConfig      `yaml:"sms"`
	Replies        RepliesConfig  `yaml:"replies"`
	Retention      time.Duration  `yaml:"retention"`
	Failover       FailoverConfig `yaml:"failover"`
	Guard          GuardConfig    `yaml:"guard"`
	Audit          AuditConfig    `yaml:"audit"`

	// Warnings are things worth saying that do not stop herald, such as a
	// recipients_file that does not exist (yet).
	Warnings []Problem `yaml:"-"`
}

// SlackConfig is where herald posts in Slack.
type SlackConfig struct {
	IncidentChannel string `yaml:"incident_channel"` // root messages; empty: the channel the command came from
	TriageChannel   string `yaml:"triage_channel"`   // stakeholder replies that match no incident
}

// TeamsConfig is where herald posts in Microsoft Teams.
type TeamsConfig struct {
	IncidentChannel string `yaml:"incident_channel"`
}

// RolesConfig says who may do what.
type RolesConfig struct {
	Responders      []string `yaml:"responders"`       // chat user ids
	Approvers       []string `yaml:"approvers"`        // chat user ids
	ResponderPhones []string `yaml:"responder_phones"` // may drive incidents over SMS during failover
	ApproverPhones  []string `yaml:"approver_phones"`  // may approve over SMS during failover
	// Operators are the OS users the CLI accepts for send, failover on/off,
	// recipients forget and audit export; empty: anyone who can reach Redis
	// with the data key.
	Operators []string `yaml:"operators"`
}

// AuditConfig is how long the audit trail is kept.
type AuditConfig struct {
	Retention time.Duration `yaml:"retention"` // entries older than this are dropped from the chain's head
}

// Watcher gets incident thread activity by SMS while chat is down.
type Watcher struct {
	Name  string `yaml:"name"`
	Phone string `yaml:"phone"`
}

// Recipient is one stakeholder.
type Recipient struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Phone   string `yaml:"phone"`
	Channel string `yaml:"channel"`
	Locale  string `yaml:"locale"`
}

// Audience is a named group of recipients.
type Audience struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Approval    string   `yaml:"approval"` // "required", "none" or empty (none)
	Members     []string `yaml:"members"`  // recipient ids
	External    bool     `yaml:"external"` // people outside the company: the content guard applies
}

// Template is a message template as written in the file.
type Template struct {
	Name      string            `yaml:"name"`
	Fields    []string          `yaml:"fields"`
	AllowNote bool              `yaml:"allow_note"`
	SMS       string            `yaml:"sms"`
	Locales   map[string]string `yaml:"locales"`
	WhatsApp  *WhatsApp         `yaml:"whatsapp"`
}

// WhatsApp is a template's approved WhatsApp (Twilio Content) template.
type WhatsApp struct {
	ContentSID string            `yaml:"content_sid"`
	Variables  map[string]string `yaml:"variables"`
}

// TwilioConfig tunes sending (credentials come from the environment).
type TwilioConfig struct {
	SMSMPS      float64 `yaml:"sms_mps"`      // SMS segments per second per SMS sender
	WhatsAppMPS float64 `yaml:"whatsapp_mps"` // messages per second per WhatsApp sender
	// GiveUpAfter is how long an update stays current for the relay: until
	// then Twilio's temporary refusals (429, 5xx, no answer) are retried.
	GiveUpAfter time.Duration `yaml:"give_up_after"`
}

// ApprovalConfig tunes approval requests.
type ApprovalConfig struct {
	Timeout time.Duration `yaml:"timeout"`
}

// SMSConfig tunes SMS.
type SMSConfig struct {
	MaxSegments int    `yaml:"max_segments"` // 0: no limit
	HelpText    string `yaml:"help_text"`    // the answer to HELP / INFO; default from Organisation
	// Organisation is the name carriers expect HELP answers to start with
	// ("Acme incident updates. ..."); also named in responders' SMS HELP.
	Organisation string `yaml:"organisation"`
}

// RepliesConfig tunes reply routing.
type RepliesConfig struct {
	Window time.Duration `yaml:"window"` // how long after a send a reply still finds its incident
}

// FailoverConfig tunes the chat-down mode.
type FailoverConfig struct {
	DownAfter             time.Duration `yaml:"down_after"`
	UpAfterSuccesses      int           `yaml:"up_after_successes"`
	WatcherDigestInterval time.Duration `yaml:"watcher_digest_interval"`
}

// GuardConfig tunes the content guard (updates to external audiences).
type GuardConfig struct {
	InternalDomains []string `yaml:"internal_domains"` // the company's DNS domains; subdomains included
	Block           bool     `yaml:"block"`            // refuse an update with findings instead of warning the approver
}

// Defaults of the optional keys.
const (
	DefaultSMSMPS                = 10
	DefaultWhatsAppMPS           = 80
	DefaultGiveUpAfter           = 30 * time.Minute
	DefaultApprovalTimeout       = 30 * time.Minute
	DefaultMaxSegments           = 10
	DefaultRepliesWindow         = 72 * time.Hour
	DefaultRetention             = 720 * time.Hour
	DefaultAuditRetention        = 9600 * time.Hour // 400 days: a year of evidence plus the time an audit takes
	DefaultDownAfter             = 30 * time.Second
	DefaultUpAfterSuccesses      = 3
	DefaultWatcherDigestInterval = 2 * time.Minute
	DefaultHelpText              = "This number sends incident updates. Reply to reach the incident team. Reply STOP to unsubscribe, START to resubscribe."
	// MaxOrganisationLength keeps the default HELP answer to one SMS
	// segment (160 GSM-7 characters) whatever the name.
	MaxOrganisationLength = 40
)

// HelpTextFor is the default answer to HELP / INFO: one SMS segment that
// names the organisation, says what the number is for and how to stop, as
// carriers require of programmatic senders.
func HelpTextFor(organisation string) string {
	if organisation == "" {
		return DefaultHelpText
	}
	return organisation + " incident updates. Reply to reach the incident team. Reply STOP to unsubscribe, START to resubscribe."
}

// Load reads, checks and normalises the config file at path and the
// recipients CSV it names. The error, if any, is Problems listing every
// problem found.
func Load(path string) (*Config, error) {
	c, ps := load(path)
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

// Validate loads the config at path and returns every problem; nil means it
// is valid.
func Validate(path string) Problems {
	_, ps := load(path)
	return ps
}

// RunValidate is `herald config validate`: it prints every problem on its own
// line and returns 1, or prints a summary and returns 0.
func RunValidate(w io.Writer, path string) int {
	c, ps := load(path)
	if len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintln(w, p.String())
		}
		return 1
	}
	for _, p := range c.Warnings {
		fmt.Fprintln(w, "warning: "+p.String())
	}
	fmt.Fprintf(w, "ok: %d recipients, %d audiences, %d templates\n", len(c.Recipients), len(c.Audiences), len(c.Templates))
	return 0
}

// loader holds one load's state.
type loader struct {
	*decoder
	cfg     *Config
	dir     string
	csvFile string
	// csvFailed says the recipients file could not be read at all, so
	// audiences it might have filled are not reported as empty
	csvFailed bool
	// decoded is how many problems decoding found: values that did not
	// decode are not checked again
	decoded int
	// where each recipient was defined, parallel to cfg.Recipients
	origins []origin
}

// origin is where a recipient was defined: a YAML item or a CSV row.
type origin struct {
	file string
	line int
	path string // recipients[3] for YAML; empty for CSV (columns name themselves)
	// phoneOK says the phone number is valid (and now E.164)
	phoneOK bool
}

func (l *loader) at(o origin, field string) (file string, line int, path string) {
	if o.path == "" {
		return o.file, o.line, field
	}
	p := o.path + "." + field
	return o.file, l.lineOf(p), p
}

func (l *loader) addAt(o origin, field, format string, args ...any) {
	file, line, path := l.at(o, field)
	l.problems = append(l.problems, Problem{File: file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// where describes an origin for another problem's message.
func (l *loader) where(o origin, from string) string {
	if o.file == from {
		return "line " + strconv.Itoa(o.line)
	}
	return o.file + ":" + strconv.Itoa(o.line)
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func load(path string) (*Config, Problems) {
	l := &loader{decoder: newDecoder(path), cfg: &Config{}, dir: filepath.Dir(path)}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Problems{{File: path, Message: "no such file"}}
		}
		return nil, Problems{{File: path, Message: "cannot read: " + err.Error()}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Problems{yamlProblem(path, data, err)}
	}
	if len(doc.Content) == 0 {
		return nil, Problems{{File: path, Message: "the file is empty"}}
	}
	l.decode(doc.Content[0], reflect.ValueOf(l.cfg).Elem(), "")
	if l.aborted != nil {
		return nil, Problems{*l.aborted}
	}
	l.decoded = len(l.problems)
	l.defaults()
	l.check()
	sortProblems(l.problems, path, l.csvFile)
	if len(l.problems) > 0 {
		return nil, l.problems
	}
	return l.cfg, nil
}

func yamlProblem(path string, data []byte, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		// yaml.v3 numbers its scanner errors from 1 but its parser errors
		// ("did not find expected ...") from 0: measured with v3.0.1.
		if strings.HasPrefix(msg, "did not find expected") {
			line++
		}
		lines := strings.Split(string(data), "\n")
		if line >= 1 && line <= len(lines) && strings.Contains(lines[line-1], "\t") {
			msg += " (a tab? indent with spaces)"
		}
	}
	return Problem{File: path, Line: line, Message: "invalid YAML: " + msg}
}

// defaults fills the optional keys that were not written.
func (l *loader) defaults() {
	c := l.cfg
	if !l.set["twilio.sms_mps"] {
		c.Twilio.SMSMPS = DefaultSMSMPS
	}
	if !l.set["twilio.whatsapp_mps"] {
		c.Twilio.WhatsAppMPS = DefaultWhatsAppMPS
	}
	if !l.set["twilio.give_up_after"] {
		c.Twilio.GiveUpAfter = DefaultGiveUpAfter
	}
	if !l.set["approval.timeout"] {
		c.Approval.Timeout = DefaultApprovalTimeout
	}
	if !l.set["sms.max_segments"] {
		c.SMS.MaxSegments = DefaultMaxSegments
	}
	c.SMS.Organisation = strings.TrimSpace(c.SMS.Organisation)
	if strings.TrimSpace(c.SMS.HelpText) == "" {
		c.SMS.HelpText = HelpTextFor(c.SMS.Organisation)
	}
	if !l.set["replies.window"] {
		c.Replies.Window = DefaultRepliesWindow
	}
	if !l.set["retention"] {
		c.Retention = DefaultRetention
	}
	if !l.set["audit.retention"] {
		c.Audit.Retention = DefaultAuditRetention
	}
	if !l.set["failover.down_after"] {
		c.Failover.DownAfter = DefaultDownAfter
	}
	if !l.set["failover.up_after_successes"] {
		c.Failover.UpAfterSuccesses = DefaultUpAfterSuccesses
	}
	if !l.set["failover.watcher_digest_interval"] {
		c.Failover.WatcherDigestInterval = DefaultWatcherDigestInterval
	}
}

// ApplyEnv applies the environment's overrides of file settings:
// HERALD_INCIDENT_CHANNEL replaces slack.incident_channel.
func (c *Config) ApplyEnv(e Env) {
	if e.IncidentChannel != "" {
		c.Slack.IncidentChannel = e.IncidentChannel
	}
}

// Directory builds the stakeholder directory. A Config from Load always
// builds; the error is for configs assembled by hand.
func (c *Config) Directory() (*bot.Directory, error) {
	recipients := make([]bot.Recipient, len(c.Recipients))
	for i, r := range c.Recipients {
		ch := bot.Channel(r.Channel)
		if ch == "" {
			ch = bot.ChannelSMS
		}
		recipients[i] = bot.Recipient{ID: r.ID, Name: r.Name, Phone: r.Phone, Channel: ch, Locale: r.Locale}
	}
	audiences := make([]bot.Audience, len(c.Audiences))
	for i, a := range c.Audiences {
		audiences[i] = bot.Audience{
			Name:             a.Name,
			Description:      a.Description,
			ApprovalRequired: a.Approval == ApprovalRequired,
			External:         a.External,
			Members:          append([]string(nil), a.Members...),
		}
	}
	templates := make([]*bot.Template, len(c.Templates))
	for i, t := range c.Templates {
		tpl, errs := bot.ParseTemplate(t.source())
		if len(errs) > 0 {
			return nil, fmt.Errorf("building the directory: template %q: %w", t.Name, errors.Join(errs...))
		}
		templates[i] = tpl
	}
	d, err := bot.NewDirectory(recipients, audiences, templates)
	if err != nil {
		return nil, fmt.Errorf("building the directory: %w", err)
	}
	return d, nil
}

func (t Template) source() bot.TemplateSource {
	src := bot.TemplateSource{Name: t.Name, Fields: t.Fields, AllowNote: t.AllowNote, SMS: t.SMS, Locales: t.Locales}
	if t.WhatsApp != nil {
		src.WhatsApp = &bot.WhatsAppTemplate{ContentSID: t.WhatsApp.ContentSID, Variables: t.WhatsApp.Variables}
	}
	return src
}

// Roles returns who may do what.
func (c *Config) Roles() bot.Roles {
	return bot.Roles{
		Responders:      append([]string(nil), c.RoleConfig.Responders...),
		Approvers:       append([]string(nil), c.RoleConfig.Approvers...),
		ResponderPhones: append([]string(nil), c.RoleConfig.ResponderPhones...),
		ApproverPhones:  append([]string(nil), c.RoleConfig.ApproverPhones...),
	}
}

// Settings returns the incident service's settings (IncidentChannel is the
// Slack one; a Teams front end reads Teams.IncidentChannel).
func (c *Config) Settings() workflow.Settings {
	return workflow.Settings{
		IncidentChannel: c.Slack.IncidentChannel,
		ApprovalTimeout: c.Approval.Timeout,
		MaxSMSSegments:  c.SMS.MaxSegments,
		Guard: workflow.GuardSettings{
			InternalDomains: slices.Clone(c.Guard.InternalDomains),
			Block:           c.Guard.Block,
		},
	}
}
