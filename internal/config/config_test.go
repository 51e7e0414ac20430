package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

func TestLoadExample(t *testing.T) {
	// given the contract's example, as it is, and the CSV it names
	// when
	c, err := Load("testdata/example.yaml")
	// then
	if err != nil {
		t.Fatalf("the contract's example does not load:\n%v", err)
	}
	d, err := c.Directory()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range d.Recipients() {
		ids = append(ids, r.ID)
	}
	if got, want := strings.Join(ids, ","), "dana,lena,mei,omar,paul"; got != want {
		t.Errorf("recipients %s, want %s", got, want)
	}
	dana, _ := d.Recipient("dana")
	if want := (bot.Recipient{ID: "dana", Name: "Dana Weber", Phone: "+4915100000001", Channel: bot.ChannelWhatsApp, Locale: "de", Audiences: []string{"executives", "it-ops"}}); !reflect.DeepEqual(dana, want) {
		t.Errorf("dana = %+v, want %+v", dana, want)
	}
	omar, _ := d.Recipient("omar")
	if omar.Channel != bot.ChannelSMS || omar.Phone != "+14155550101" || omar.Name != "Omar Haddad" {
		t.Errorf("omar = %+v", omar)
	}
	lena, _ := d.Recipient("lena") // from the CSV, written "+49 151 2345 6789"
	if lena.Phone != "+4915123456789" || lena.Locale != "de" || lena.Name != "Lena Fischer" {
		t.Errorf("lena = %+v", lena)
	}
	paul, _ := d.Recipient("paul") // empty channel cell
	if paul.Channel != bot.ChannelSMS || len(paul.Audiences) != 0 {
		t.Errorf("paul = %+v", paul)
	}
	if r, ok := d.RecipientByPhone("+14155550123"); !ok || r.ID != "mei" {
		t.Errorf("RecipientByPhone(+14155550123) = %+v, %v", r, ok)
	}

	exec, _ := d.Audience("executives")
	if !exec.ApprovalRequired || exec.Description != "C-level" || strings.Join(exec.Members, ",") != "dana,lena" {
		t.Errorf("executives = %+v", exec)
	}
	ops, _ := d.Audience("it-ops")
	if ops.ApprovalRequired || strings.Join(ops.Members, ",") != "omar,dana,lena,mei" {
		t.Errorf("it-ops = %+v", ops)
	}
	if !d.ApprovalRequired([]string{"it-ops", "executives"}) || d.ApprovalRequired([]string{"it-ops"}) {
		t.Error("approval: executives requires it, it-ops does not")
	}

	tpl, ok := d.Template("investigating")
	if !ok {
		t.Fatal("no template investigating")
	}
	got, err := tpl.Render("de", bot.TemplateData{ID: "INC-42", Title: "Checkout down", Severity: 2, Fields: map[string]string{"next_update": "14:30 UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	want := bot.Rendered{
		Body:             "[SEV2] Checkout down: we are investigating. Next update 14:30 UTC. Reply to reach the incident team.",
		ContentSID:       "HX0000000000000000000000000000000",
		ContentVariables: map[string]string{"1": "Checkout down", "2": "14:30 UTC"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered\n%+v\nwant\n%+v", got, want)
	}

	wantRoles := bot.Roles{Responders: []string{"U0RESP1", "U0RESP2"}, Approvers: []string{"U0LEAD1"}, ResponderPhones: []string{"+4915112345678"}}
	if r := c.Roles(); !reflect.DeepEqual(r, wantRoles) {
		t.Errorf("roles %+v, want %+v", r, wantRoles)
	}
	if len(c.Watchers) != 1 || c.Watchers[0] != (Watcher{Name: "Ops Lead", Phone: "+4915112345679"}) {
		t.Errorf("watchers %+v", c.Watchers)
	}
	if s := c.Settings(); !reflect.DeepEqual(s, workflow.Settings{IncidentChannel: "C0INCIDENTS", ApprovalTimeout: 30 * time.Minute, MaxSMSSegments: 10}) {
		t.Errorf("settings %+v", s)
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := struct {
		Twilio   TwilioConfig
		Approval ApprovalConfig
		SMS      SMSConfig
		Replies  RepliesConfig
		Ret      time.Duration
		Failover FailoverConfig
	}{
		TwilioConfig{SMSMPS: 10, WhatsAppMPS: 80, GiveUpAfter: 30 * time.Minute},
		ApprovalConfig{Timeout: 30 * time.Minute},
		SMSConfig{MaxSegments: 10, HelpText: DefaultHelpText},
		RepliesConfig{Window: 72 * time.Hour},
		720 * time.Hour,
		FailoverConfig{DownAfter: 30 * time.Second, UpAfterSuccesses: 3, WatcherDigestInterval: 2 * time.Minute},
	}
	got := want
	got.Twilio, got.Approval, got.SMS, got.Replies, got.Ret, got.Failover = c.Twilio, c.Approval, c.SMS, c.Replies, c.Retention, c.Failover
	if got != want {
		t.Errorf("defaults\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadOptionalKeys(t *testing.T) {
	// given every optional key written, anchors and merge keys, and an
	// explicit sms.max_segments: 0 (no limit, not the default)
	path := writeConfig(t, `
slack: {incident_channel: C0INC, triage_channel: C0TRIAGE}
teams: {incident_channel: "19:abc@thread.tacv2"}
roles:
  responders: [U1]
  approvers: [U2]
  approver_phones: ["+49 151 1234 5670"]
recipients:
  - {id: dana, phone: "+4915100000001", channel: WhatsApp}
audiences:
  - {name: all, approval: None, members: [dana]}
base: &base
  fields: [next_update]
  allow_note: true
templates:
  - name: investigating
    sms: "{{.Title}} {{.Fields.next_update}} {{.Note}}"
    locales: {de: "{{.Title}}: nächstes Update {{.Fields.next_update}}"}
    fields: [next_update]
    allow_note: true
twilio: {sms_mps: 1, whatsapp_mps: 0.5, give_up_after: 10m}
approval: {timeout: 1h}
sms: {max_segments: 0, help_text: "Incident line of ACME."}
replies: {window: 24h}
retention: 2160h
failover: {down_after: 1m, up_after_successes: 5, watcher_digest_interval: 30s}
`)
	// the stray top-level key "base" is an error even though it only holds an anchor
	if ps := Validate(path); len(ps) != 1 || ps[0].Path != "base" {
		t.Fatalf("want one problem at base, got\n%v", ps)
	}
	path = writeConfig(t, strings.Replace(mustRead(t, path), "base: &base\n  fields: [next_update]\n  allow_note: true\n", "", 1))
	// when
	c, err := Load(path)
	// then
	if err != nil {
		t.Fatal(err)
	}
	if c.Slack.TriageChannel != "C0TRIAGE" || c.Teams.IncidentChannel != "19:abc@thread.tacv2" {
		t.Errorf("channels %+v %+v", c.Slack, c.Teams)
	}
	if got := c.Roles().ApproverPhones; len(got) != 1 || got[0] != "+4915112345670" {
		t.Errorf("approver phones %v", got)
	}
	if c.Recipients[0].Channel != "whatsapp" || c.Audiences[0].Approval != ApprovalNone {
		t.Errorf("not normalised: %+v %+v", c.Recipients[0], c.Audiences[0])
	}
	if c.Twilio != (TwilioConfig{SMSMPS: 1, WhatsAppMPS: 0.5, GiveUpAfter: 10 * time.Minute}) || c.Approval.Timeout != time.Hour ||
		c.SMS != (SMSConfig{MaxSegments: 0, HelpText: "Incident line of ACME."}) || c.Replies.Window != 24*time.Hour ||
		c.Retention != 2160*time.Hour || c.Failover != (FailoverConfig{DownAfter: time.Minute, UpAfterSuccesses: 5, WatcherDigestInterval: 30 * time.Second}) {
		t.Errorf("tuning not read: %+v %+v %+v %+v %v %+v", c.Twilio, c.Approval, c.SMS, c.Replies, c.Retention, c.Failover)
	}
	d, err := c.Directory()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := d.Template("investigating")
	r, err := tpl.Render("de", bot.TemplateData{Title: "DB", Fields: map[string]string{"next_update": "15:00"}})
	if err != nil || r.Body != "DB: nächstes Update 15:00" || !tpl.AllowNote {
		t.Errorf("locale de: %q, %v, allow_note %v", r.Body, err, tpl.AllowNote)
	}
}

func TestLoadMergeKeys(t *testing.T) {
	path := writeConfig(t, `
recipients:
  - &dana {id: dana, phone: "+4915100000001", channel: sms, locale: de}
  - {<<: *dana, id: dana2, phone: "+4915100000002"}
audiences:
  - {name: all, members: [dana, dana2]}
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Recipients[1]; got != (Recipient{ID: "dana2", Name: "dana2", Phone: "+4915100000002", Channel: "sms", Locale: "de"}) {
		t.Errorf("merged recipient %+v", got)
	}
}

func TestLoadAliasBomb(t *testing.T) {
	// given a few hundred aliases of a template with a few hundred locales
	var b strings.Builder
	b.WriteString("templates:\n  - &t {name: t, sms: x, locales: {")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "l%d: x, ", i)
	}
	b.WriteString("}}\n")
	for i := 0; i < 400; i++ {
		b.WriteString("  - *t\n")
	}
	path := writeConfig(t, b.String())
	// when
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ps := Validate(path)
	runtime.ReadMemStats(&after)
	// then
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "aliases (*name) expand to more than 100000 values") {
		t.Fatalf("want one aliasing problem, got %d: %.300v", len(ps), ps)
	}
	// The expansion is cut short, not built and then refused: measured in
	// bytes allocated (about 45 MB), which no slow machine changes, rather
	// than in seconds.
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 256 {
		t.Errorf("validating the alias bomb allocated %d MB, want it cut short (under 256 MB)", mb)
	}
}

func TestApplyEnv(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyEnv(Env{})
	if c.Slack.IncidentChannel != "C0INCIDENTS" {
		t.Errorf("empty override changed the channel to %q", c.Slack.IncidentChannel)
	}
	e, _ := EnvFrom(mapEnv{"HERALD_INCIDENT_CHANNEL": "C0OTHER"}.get)
	c.ApplyEnv(e)
	if c.Slack.IncidentChannel != "C0OTHER" || c.Settings().IncidentChannel != "C0OTHER" {
		t.Errorf("override not applied: %q", c.Slack.IncidentChannel)
	}
}

// validationCases are the expected problems of each file in
// testdata/TestLoadValidationErrors, with that folder left out of paths.
var validationCases = map[string]string{
	"approval_without_approvers": `
approval_without_approvers.yaml:1: roles.approvers: audience "executives" requires approval, but no approver is configured
approval_without_approvers.yaml:2: roles.responders[1]: empty id`,
	"audience_without_members": `
audience_without_members.yaml:5: audiences[1].members: audience "board" has no members (list recipient ids here, or name the audience in the recipients file's audiences column)
audience_without_members.yaml:7: audiences[2].members: audience "press" has no members (list recipient ids here, or name the audience in the recipients file's audiences column)`,
	"bad_approval": `
bad_approval.yaml:6: audiences[0].approval: "yes" is not an approval mode (use required or none)`,
	"bad_guard": `
bad_guard.yaml:7: guard.internal_domains[1]: "https://corp.example" is not a domain name (write it like corp.example; its subdomains are included)
bad_guard.yaml:7: guard.internal_domains[2]: "*.corp.example" is not a domain name (write it like corp.example; its subdomains are included)
bad_guard.yaml:7: guard.internal_domains[3]: "corp.example" is listed twice
bad_guard.yaml:8: guard.blok: unknown key (did you mean "block"?)`,
	"bad_channel": `
bad_channel.yaml:3: recipients[1].channel: "email" is not a channel (use sms or whatsapp)`,
	"bad_duration": `
bad_duration.yaml:6: approval.timeout: "30 minutes" is not a duration (write it like 30s, 5m or 72h)
bad_duration.yaml:8: replies.window: must be more than 0
bad_duration.yaml:9: retention: must be more than 0
bad_duration.yaml:11: failover.down_after: "30" is not a duration (write it like 30s, 5m or 72h)
bad_duration.yaml:12: failover.up_after_successes: must be at least 1`,
	"bad_phone": `
bad_phone.yaml:4: recipients[2].phone: "+49 123" is not a valid phone number`,
	"sms_help_too_long": `
sms_help_too_long.yaml:6: sms.organisation: 55 characters; keep it to 40 so the HELP answer fits one SMS`,
	"sms_help_not_gsm": `
sms_help_not_gsm.yaml:6: sms.organisation: the HELP answer takes 3 SMS (UCS-2); carriers expect one: use plain characters and at most 160 of them`,
	"bad_yaml": `
bad_yaml.yaml:2: invalid YAML: did not find expected ',' or '}'`,
	"csv_bad_header": `
csv_bad_header.csv:1: header: unknown column "mobile" (the first row must be the header, with columns from id,name,phone,channel,locale,audiences)`,
	"csv_bad_rows": `
csv_bad_rows.csv:3: phone: "+1 415-555-01" is not a valid phone number
csv_bad_rows.csv:4: channel: "fax" is not a channel (use sms or whatsapp)
csv_bad_rows.csv:4: audiences: unknown audience "press" (define it under audiences in csv_bad_rows.yaml)
csv_bad_rows.csv:5: id: recipient id "dana" is already used (csv_bad_rows.yaml:3)
csv_bad_rows.csv:6: 3 fields, but the header has 6
csv_bad_rows.csv:8: invalid CSV: extraneous or missing " in quoted-field`,
	"duplicate_ids": `
duplicate_ids.yaml:4: recipients[2].id: recipient id "dana" is already used (line 2)
duplicate_ids.yaml:5: recipients[3].id: "dana weber" is not one word (ids are typed in commands such as /incident reply <id>)`,
	"duplicate_keys": `
duplicate_keys.yaml:2: recipients[0].id: defined twice (first on line 2)
duplicate_keys.yaml:5: audiences: defined twice (first on line 3)`,
	"duplicate_names": `
duplicate_names.yaml:5: audiences[1].name: audience "all" is already defined (line 4)
duplicate_names.yaml:6: audiences[2].name: missing: every audience needs a name
duplicate_names.yaml:9: templates[1].name: template "update" is already defined (line 8)
duplicate_names.yaml:9: templates[1].fields[1]: "next_update" is listed twice
duplicate_names.yaml:9: templates[1].fields[2]: "next-update" is not a field name (letters, digits and _, as in {{.Fields.next_update}})
duplicate_names.yaml:10: templates[2].name: missing: every template needs a name`,
	"duplicate_phone": `
duplicate_phone.yaml:3: recipients[1].phone: same number as recipient "dana" (line 2): one person, one id`,
	"empty": `
empty.yaml: the file is empty`,
	"negative_mps": `
negative_mps.yaml:6: twilio.sms_mps: must be more than 0
negative_mps.yaml:7: twilio.whatsapp_mps: "fast" is not a number
negative_mps.yaml:9: sms.max_segments: cannot be negative (0 means no limit)`,
	"no_country_code": `
no_country_code.yaml:3: recipients[0].phone: "0151 00000001" has no country code: write it as +<country code><number>`,
	"secret_in_file": `
secret_in_file.yaml:3: slack.bot_token: secrets are never read from the config file: set SLACK_BOT_TOKEN in the environment instead
secret_in_file.yaml:5: twilio.auth_token: secrets are never read from the config file: set TWILIO_AUTH_TOKEN in the environment instead
secret_in_file.yaml:8: teams.client_secret: looks like a secret: secrets are never read from the config file, only from environment variables (see README, Environment)`,
	"unknown_key": `
unknown_key.yaml:2: slack.incident_chanel: unknown key (did you mean "incident_channel"?)
unknown_key.yaml:4: recipients[0].language: unknown key (known here: channel, id, locale, name, phone)
unknown_key.yaml:7: notifications: unknown key (known here: approval, audiences, audit, failover, guard, recipients, recipients_file, replies, retention, roles, slack, sms, teams, templates, twilio, watchers)`,
	"unknown_member": `
unknown_member.yaml:7: audiences[1].members[0]: unknown recipient "bob"
unknown_member.yaml:9: audiences[1].members[2]: "dana" is listed twice`,
	"unknown_template_field": `
unknown_template_field.yaml:8: templates[0].sms: unknown field "next_updat" (declare it in fields)
unknown_template_field.yaml:10: templates[0].locales.de: unknown value .Titel (known: .ID .Title .Severity .Note .Fields.<field>)
unknown_template_field.yaml:13: templates[0].whatsapp.variables.1: template: whatsapp.variables.1:1: unclosed action`,
	"watchers_and_phones": `
watchers_and_phones.yaml:2: roles.responder_phones[1]: "12345" has no country code: write it as +<country code><number>
watchers_and_phones.yaml:5: watchers[0].phone: missing: a watcher needs a phone number
watchers_and_phones.yaml:6: watchers[1].phone: "+1 555" is not a valid phone number`,
	"whatsapp_without_content_sid": `
whatsapp_without_content_sid.yaml:8: templates[0].whatsapp.content_sid: missing: a WhatsApp template needs its Twilio Content SID (HX...)
whatsapp_without_content_sid.yaml:12: templates[1].whatsapp.content_sid: "MG123" is not a Twilio Content SID (HX...)`,
	"wrong_shapes": `
wrong_shapes.yaml:1: slack: must be a mapping (key: value), not "C0INCIDENTS"
wrong_shapes.yaml:3: recipients: must be a list, not a mapping
wrong_shapes.yaml:5: audiences[0].members: must be a list, not "dana"
wrong_shapes.yaml:8: templates[0].sms: must be text, not a list
wrong_shapes.yaml:9: templates[0].allow_note: "maybe" is not true or false`,
}

func TestLoadValidationErrors(t *testing.T) {
	dir := filepath.Join("testdata", t.Name())
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := validationCases[name]
			if !ok {
				t.Fatalf("%s has no expected problems in validationCases", f)
			}
			// when
			c, err := Load(f)
			// then
			var ps Problems
			if !errors.As(err, &ps) || c != nil {
				t.Fatalf("Load(%s) = %v, %v; want Problems", f, c, err)
			}
			got := strings.ReplaceAll(ps.Error(), dir+string(filepath.Separator), "")
			if got != strings.TrimPrefix(want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", got, strings.TrimPrefix(want, "\n"))
			}
			if v := Validate(f); !reflect.DeepEqual(v, ps) {
				t.Errorf("Validate differs from Load:\n%v", v)
			}
		})
	}
	for name := range validationCases {
		if !seen[name] {
			t.Errorf("validationCases[%q] has no file %s.yaml", name, name)
		}
	}
}

func TestRunValidate(t *testing.T) {
	var out bytes.Buffer
	if code := RunValidate(&out, "testdata/example.yaml"); code != 0 || out.String() != "ok: 5 recipients, 2 audiences, 1 templates\n" {
		t.Errorf("example: exit %d, output %q", code, out.String())
	}
	out.Reset()
	f := filepath.Join("testdata", "TestLoadValidationErrors", "bad_duration.yaml")
	code := RunValidate(&out, f)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if code != 1 || len(lines) != 5 || !strings.HasPrefix(lines[0], f+":6: approval.timeout: ") {
		t.Errorf("bad config: exit %d, output:\n%s", code, out.String())
	}
	out.Reset()
	if code := RunValidate(&out, filepath.Join(t.TempDir(), "nope.yaml")); code != 1 || !strings.HasSuffix(out.String(), "nope.yaml: no such file\n") {
		t.Errorf("missing file: exit %d, output %q", code, out.String())
	}
}

func TestProblemString(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "herald.yaml", Line: 14, Path: "audiences[1].members[0]", Message: `unknown recipient "bob"`}, `herald.yaml:14: audiences[1].members[0]: unknown recipient "bob"`},
		{Problem{File: "herald.yaml", Message: "the file is empty"}, "herald.yaml: the file is empty"},
		{Problem{File: "s.csv", Line: 3, Message: "3 fields"}, "s.csv:3: 3 fields"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

func TestLoadLargeCSV(t *testing.T) {
	// given 5,000 CSV rows, each in one or two audiences
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("\ufeffid,name,phone,channel,locale,audiences\n")
	const rows = 5000
	for i := 0; i < rows; i++ {
		channel, auds := "sms", "staff"
		if i%3 == 0 {
			channel, auds = "whatsapp", "staff;managers"
		}
		fmt.Fprintf(&b, "p%d,Person %d,+49 151 %08d,%s,de,%s\n", i, i, 10000000+i, channel, auds)
	}
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(path, []byte("recipients_file: people.csv\naudiences:\n  - {name: staff}\n  - {name: managers, approval: required}\nroles: {approvers: [U1]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// when
	start := time.Now()
	c, err := Load(path)
	took := time.Since(start)
	// then
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows loaded in %v", rows, took)
	d, err := c.Directory()
	if err != nil {
		t.Fatal(err)
	}
	staff, _ := d.Audience("staff")
	managers, _ := d.Audience("managers")
	if len(d.Recipients()) != rows || len(staff.Members) != rows || len(managers.Members) != (rows+2)/3 {
		t.Errorf("%d recipients, %d staff, %d managers", len(d.Recipients()), len(staff.Members), len(managers.Members))
	}
	if r, ok := d.RecipientByPhone("+4915110004999"); !ok || r.ID != "p4999" {
		t.Errorf("last row: %+v %v", r, ok)
	}
}

// TestExampleIsTheContract keeps testdata/example.yaml identical to the
// config example of the contract, docs/ARCHITECTURE.md (the repository's
// copy of the team's shared ARCHITECTURE.md), which must load as it is.
func TestExampleIsTheContract(t *testing.T) {
	arch := mustRead(t, filepath.Join("..", "..", "docs", "ARCHITECTURE.md"))
	m := regexp.MustCompile("(?s)### Config file \\(YAML\\)[^\n]*\n```yaml\n(.*?)```").FindStringSubmatch(arch)
	if m == nil {
		t.Fatal("no config example in docs/ARCHITECTURE.md")
	}
	if got := mustRead(t, "testdata/example.yaml"); got != m[1] {
		t.Errorf("testdata/example.yaml differs from docs/ARCHITECTURE.md's example:\n%s", m[1])
	}
	if _, err := Load("testdata/example.yaml"); err != nil {
		t.Errorf("the contract's example does not load: %v", err)
	}
}

// TestContractCopyIsCurrent keeps docs/ARCHITECTURE.md equal to the shared
// original where a checkout has it beside the repository (developers' and
// CI's machines); a bare clone has only the copy, which the test above reads.
func TestContractCopyIsCurrent(t *testing.T) {
	shared, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "ARCHITECTURE.md"))
	if err != nil {
		t.Skipf("no shared/ARCHITECTURE.md beside the repository: %v", err)
	}
	if mustRead(t, filepath.Join("..", "..", "docs", "ARCHITECTURE.md")) != string(shared) {
		t.Error("docs/ARCHITECTURE.md differs from shared/ARCHITECTURE.md: copy the shared one over")
	}
}

// TestREADMEConfigReference: every key of Config is documented in README's
// config-reference table, and the table documents no key that does not exist.
func TestREADMEConfigReference(t *testing.T) {
	documented := readmeKeys(t, "config-reference", regexp.MustCompile("^[a-z_.\\[\\]]+$"))
	compareKeys(t, "README config-reference", documented, yamlKeys(reflect.TypeOf(Config{}), ""))
}

// TestREADMEEnvironment: the same for Env and README's environment table.
func TestREADMEEnvironment(t *testing.T) {
	documented := readmeKeys(t, "environment", regexp.MustCompile("^[A-Z][A-Z0-9_]+$"))
	var fields []string
	typ := reflect.TypeOf(Env{})
	for i := 0; i < typ.NumField(); i++ {
		if name := typ.Field(i).Tag.Get("env"); name != "" {
			fields = append(fields, name)
		}
	}
	compareKeys(t, "README environment", documented, fields)
}

// yamlKeys lists the leaf keys of a config type: slack.incident_channel,
// recipients[].phone, templates[].whatsapp.variables.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			keys = append(keys, yamlKeys(ft, prefix+name+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, yamlKeys(ft.Elem(), prefix+name+"[].")...)
		default:
			keys = append(keys, prefix+name)
		}
	}
	return keys
}

// readmeKeys returns the code spans matching pattern in the first column of
// the tables in README's section.
func readmeKeys(t *testing.T, section string, pattern *regexp.Regexp) []string {
	t.Helper()
	readme := mustRead(t, filepath.Join("..", "..", "README.md"))
	start, end := "<!-- section:"+section+" -->", "<!-- /section:"+section+" -->"
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README has no section %s", section)
	}
	var keys []string
	for _, line := range strings.Split(readme[i:j], "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(first, -1) {
			if pattern.MatchString(m[1]) {
				keys = append(keys, m[1])
			}
		}
	}
	return keys
}

func compareKeys(t *testing.T, what string, documented, actual []string) {
	t.Helper()
	doc := map[string]bool{}
	for _, k := range documented {
		doc[k] = true
	}
	act := map[string]bool{}
	for _, k := range actual {
		act[k] = true
		if !doc[k] {
			t.Errorf("%s does not document %s", what, k)
		}
	}
	var stale []string
	for k := range doc {
		if !act[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("%s documents %s, which does not exist", what, k)
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzLoad: no config file, however broken, makes Load panic, and every
// problem names its file.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/TestLoadValidationErrors/*.yaml")
	seeds = append(seeds, "testdata/example.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "herald.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err == nil {
			if _, derr := c.Directory(); derr != nil {
				t.Fatalf("loaded config does not build a directory: %v", derr)
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error is not Problems: %v", err)
		}
		for _, p := range ps {
			if p.File == "" || p.Message == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}

// ARCHITECTURE.md's example names stakeholders.csv and must load as it is,
// with or without that file beside it: a missing recipients_file is a
// warning, and the inline recipients still load.
func TestMissingRecipientsFileIsAWarning(t *testing.T) {
	c, err := Load("testdata/csv_missing_file.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := "testdata/csv_missing_file.yaml:3: recipients_file: no file nowhere.csv: no recipients loaded from it (the path is relative to the config file's folder)"
	if len(c.Warnings) != 1 || c.Warnings[0].String() != want {
		t.Fatalf("warnings = %v, want [%s]", c.Warnings, want)
	}
	if len(c.Recipients) != 1 {
		t.Errorf("recipients = %+v, want the inline one", c.Recipients)
	}
	var out strings.Builder
	if code := RunValidate(&out, "testdata/csv_missing_file.yaml"); code != 0 || !strings.Contains(out.String(), "warning: "+want) || !strings.Contains(out.String(), "ok: 1 recipients") {
		t.Errorf("validate exit %d:\n%s", code, out.String())
	}
	// The contract's example alone, without its CSV, loads too.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(mustRead(t, "testdata/example.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "herald.yaml")); err != nil {
		t.Fatalf("the example without stakeholders.csv: %v", err)
	}
}

func TestDefaultHelpNamesTheOrganisationInOneSegment(t *testing.T) {
	for _, org := range []string{"", "Acme", strings.Repeat("x", MaxOrganisationLength)} {
		text := HelpTextFor(org)
		if info := bot.CountSMS(text); info.Segments != 1 {
			t.Errorf("HELP for %q takes %d segments: %q", org, info.Segments, text)
		}
		if org != "" && !strings.HasPrefix(text, org+" ") {
			t.Errorf("HELP for %q does not start with the organisation: %q", org, text)
		}
		if !strings.Contains(text, "STOP") {
			t.Errorf("HELP for %q does not say how to stop: %q", org, text)
		}
	}
}

func TestLoadGuard(t *testing.T) {
	// when
	c, err := Load(filepath.Join("testdata", "guard.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	// then domains are normalised and reach the workflow; external reaches the directory
	want := workflow.GuardSettings{InternalDomains: []string{"corp.example", "eu.shop.test"}, Block: true}
	if got := c.Settings().Guard; !reflect.DeepEqual(got, want) {
		t.Errorf("guard settings %+v, want %+v", got, want)
	}
	d, err := c.Directory()
	if err != nil {
		t.Fatal(err)
	}
	if !d.External([]string{"it-ops", "customers"}) || d.External([]string{"it-ops"}) {
		t.Errorf("external audiences: %+v", d.Audiences())
	}
}
