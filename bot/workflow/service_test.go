package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/workflow"
)

// recordingRelay remembers every broadcast handed to the relay.
type recordingRelay struct {
	mu      sync.Mutex
	started []bot.Broadcast
	fail    error
}

func (r *recordingRelay) Start(_ context.Context, b bot.Broadcast) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.started = append(r.started, b)
	return nil
}

func (r *recordingRelay) Started() []bot.Broadcast {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Broadcast(nil), r.started...)
}

const (
	svcDanaPhone = "+4915100000001" // executives and it-ops, WhatsApp, German
	svcLenaPhone = "+4915100000002" // executives, WhatsApp
	svcOmarPhone = "+14155550101"   // it-ops, SMS
	svcKimPhone  = "+4915100000003" // it-ops, SMS
	svcOpsPhone  = "+4915112345678" // a responder's phone (failover)
	svcLeadPhone = "+4915112345699" // an approver's phone (failover)
)

var (
	responder  = bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Ana Ruiz"}   // also an approver
	responder2 = bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP2", Name: "Ben Okafor"} // responder only
	lead1      = bot.Actor{Platform: bot.PlatformSlack, ID: "U0LEAD1", Name: "Lee Chen"}
	lead2      = bot.Actor{Platform: bot.PlatformSlack, ID: "U0LEAD2", Name: "Mia Novak"}
	stranger   = bot.Actor{Platform: bot.PlatformSlack, ID: "U0NOBODY", Name: "Sam Doe"}
)

type serviceFixture struct {
	svc   *workflow.Service
	store *bottest.Store
	chat  *bottest.Chat
	relay *recordingRelay
	clock *bottest.Clock
	errs  *errorSink
}

// errorSink collects what the service reports through ReportError.
type errorSink struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorSink) report(_ context.Context, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errorSink) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func newServiceFixture(t testing.TB) *serviceFixture {
	t.Helper()
	var tpls []*bot.Template
	for _, src := range []bot.TemplateSource{
		{
			Name:   "investigating",
			Fields: []string{"next_update"},
			SMS:    "[SEV{{.Severity}}] {{.Title}}: we are investigating. Next update {{.Fields.next_update}}. Reply to reach the incident team.",
			Locales: map[string]string{
				"de": "[SEV{{.Severity}}] {{.Title}}: Wir untersuchen das Problem. Nächstes Update {{.Fields.next_update}}.",
			},
			WhatsApp: &bot.WhatsAppTemplate{ContentSID: "HX0000000000000000000000000000000", Variables: map[string]string{"1": "{{.Title}}", "2": "{{.Fields.next_update}}"}},
		},
		{
			Name:      "resolved",
			AllowNote: true,
			SMS:       "{{.ID}} {{.Title}} is resolved. {{.Note}}",
		},
	} {
		tpl, errs := bot.ParseTemplate(src)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		tpls = append(tpls, tpl)
	}
	dir, err := bot.NewDirectory(
		[]bot.Recipient{
			{ID: "dana", Name: "Dana Weber", Phone: svcDanaPhone, Channel: bot.ChannelWhatsApp, Locale: "de"},
			{ID: "lena", Name: "Lena Roth", Phone: svcLenaPhone, Channel: bot.ChannelWhatsApp},
			{ID: "omar", Name: "Omar Haddad", Phone: svcOmarPhone, Channel: bot.ChannelSMS},
			{ID: "kim", Name: "Kim Park", Phone: svcKimPhone, Channel: bot.ChannelSMS},
		},
		[]bot.Audience{
			{Name: "executives", ApprovalRequired: true, Members: []string{"dana", "lena"}},
			{Name: "it-ops", Members: []string{"omar", "dana", "kim"}},
			{Name: "nobody", Members: nil},
		},
		tpls,
	)
	if err != nil {
		t.Fatal(err)
	}
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	f := &serviceFixture{store: store, chat: &bottest.Chat{}, relay: &recordingRelay{}, clock: clock, errs: &errorSink{}}
	f.svc = &workflow.Service{
		Directory:  dir,
		Planner:    &bot.Planner{Directory: dir, Phones: store, Clock: clock},
		Incidents:  store,
		Broadcasts: store,
		Audit:      store,
		Chat:       f.chat,
		Relay:      f.relay,
		Clock:      clock,
		Roles: bot.Roles{
			Responders:      []string{"U0RESP1", "U0RESP2"},
			Approvers:       []string{"U0LEAD1", "U0LEAD2", "U0RESP1"},
			ResponderPhones: []string{svcOpsPhone},
			ApproverPhones:  []string{svcLeadPhone},
		},
		Settings: workflow.Settings{IncidentChannel: "C0INCIDENTS"},
		Dedup:    store,
	}
	f.svc.ReportError = f.errs.report
	return f
}

func (f *serviceFixture) declare(t *testing.T) bot.Incident {
	t.Helper()
	inc, err := f.svc.Declare(context.Background(), responder, "Checkout down", 2, "C0RANDOM")
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func investigating(incID string, audiences ...string) bot.Draft {
	return bot.Draft{IncidentID: incID, Audiences: audiences, Template: "investigating", Fields: map[string]string{"next_update": "15:30 UTC"}}
}

func (f *serviceFixture) auditActions(t *testing.T, incID string) []string {
	t.Helper()
	trail, err := f.store.AuditTrail(context.Background(), incID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range trail {
		out = append(out, string(e.Action)+" by "+e.Actor.ID)
	}
	return out
}

func actionIDs(m bot.Message) []string {
	var ids []string
	for _, a := range m.Actions {
		ids = append(ids, a.ID+"="+a.Value)
	}
	return ids
}

func TestDeclarePostsRootMessageWithButtons(t *testing.T) {
	// given
	f := newServiceFixture(t)

	// when
	inc, err := f.svc.Declare(context.Background(), responder, "  Checkout\n down  ", 2, "C0RANDOM")

	// then
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID != "INC-1" || inc.Title != "Checkout down" || inc.Severity != 2 || inc.State != bot.IncidentOpen {
		t.Errorf("incident = %+v", inc)
	}
	posts := f.chat.Posts()
	if len(posts) != 1 || !posts[0].Root {
		t.Fatalf("want one root post, got %+v", posts)
	}
	root := posts[0]
	if root.Ref.Thread.Channel != "C0INCIDENTS" {
		t.Errorf("root posted in %s, want the configured incident channel", root.Ref.Thread.Channel)
	}
	if !strings.Contains(root.Message.Title, "INC-1") || !strings.Contains(root.Message.Title, "Checkout down") || !strings.Contains(root.Message.Title, "SEV2") {
		t.Errorf("root title %q should name id, severity and title", root.Message.Title)
	}
	if got, want := strings.Join(actionIDs(root.Message), " "), "notify=INC-1 resolve=INC-1"; got != want {
		t.Errorf("buttons = %s, want %s", got, want)
	}
	if labels := root.Message.Actions[0].Label + "/" + root.Message.Actions[1].Label; labels != "Notify stakeholders/Resolve" {
		t.Errorf("button labels = %s", labels)
	}
	if !strings.Contains(root.Message.PlainText(), "Ana Ruiz") {
		t.Errorf("root message does not say who declared it:\n%s", root.Message.PlainText())
	}
	stored, err := f.svc.Incident(context.Background(), "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Thread != root.Ref.Thread {
		t.Errorf("stored thread %+v, want %+v", stored.Thread, root.Ref.Thread)
	}
	if got := f.auditActions(t, "INC-1"); strings.Join(got, ",") != "incident.declare by U0RESP1" {
		t.Errorf("audit = %v", got)
	}
}

func TestDeclarePostsInCommandChannelWithoutIncidentChannel(t *testing.T) {
	// given
	f := newServiceFixture(t)
	f.svc.Settings.IncidentChannel = ""

	// when
	inc, err := f.svc.Declare(context.Background(), responder, "Checkout down", 0, "C0RANDOM")

	// then
	if err != nil {
		t.Fatal(err)
	}
	if inc.Thread.Channel != "C0RANDOM" {
		t.Errorf("posted in %q, want the command's channel", inc.Thread.Channel)
	}
	if inc.Severity != bot.DefaultSeverity {
		t.Errorf("severity %d, want the default %d when none is given", inc.Severity, bot.DefaultSeverity)
	}
}

func TestDeclareRefusesBadInput(t *testing.T) {
	tests := []struct {
		name     string
		by       bot.Actor
		title    string
		severity int
		problem  string // ValidationError key; "" when refused for the role
	}{
		{"empty title", responder, "", 2, "title"},
		{"blank title", responder, " \n\t ", 2, "title"},
		{"title too long", responder, strings.Repeat("x", bot.MaxTitleLength+1), 2, "title"},
		{"severity too high", responder, "Checkout down", 5, "severity"},
		{"severity negative", responder, "Checkout down", -1, "severity"},
		{"not a responder", stranger, "Checkout down", 2, ""},
		{"approver only", lead1, "Checkout down", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given
			f := newServiceFixture(t)

			// when
			_, err := f.svc.Declare(context.Background(), tt.by, tt.title, tt.severity, "C0RANDOM")

			// then
			if tt.problem == "" {
				var fe *bot.ForbiddenError
				if !errors.As(err, &fe) || fe.Role != bot.RoleResponder {
					t.Fatalf("err = %v, want ForbiddenError naming the responder role", err)
				}
				if err.Error() != "only a responder may declare an incident" {
					t.Errorf("refusal reads %q", err.Error())
				}
			} else {
				var ve *bot.ValidationError
				if !errors.As(err, &ve) || ve.Problems[tt.problem] == "" {
					t.Fatalf("err = %v, want a problem with %q", err, tt.problem)
				}
			}
			if posts := f.chat.Posts(); len(posts) != 0 {
				t.Errorf("refused declaration posted %d messages", len(posts))
			}
			if incs, _ := f.svc.List(context.Background(), false); len(incs) != 0 {
				t.Errorf("refused declaration saved %d incidents", len(incs))
			}
		})
	}
}

func TestDeclareKeepsIncidentWhenChatIsDown(t *testing.T) {
	// given
	f := newServiceFixture(t)
	f.chat.Fail = errors.New("slack: 503")

	// when
	inc, err := f.svc.Declare(context.Background(), responder, "Checkout down", 1, "")

	// then
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the chat failure", err)
	}
	stored, lerr := f.svc.Incident(context.Background(), inc.ID)
	if lerr != nil {
		t.Fatalf("incident not saved: %v", lerr)
	}
	if stored.State != bot.IncidentOpen || !stored.Thread.IsZero() {
		t.Errorf("stored = %+v, want open without a thread", stored)
	}
}

func TestDeclareFromPhoneDuringFailover(t *testing.T) {
	// given
	f := newServiceFixture(t)
	ops := bot.Actor{ID: svcOpsPhone}

	// when
	inc, err := f.svc.Declare(context.Background(), ops, "Checkout down", 1, "")

	// then
	if err != nil {
		t.Fatal(err)
	}
	root := f.chat.Posts()[0].Message.PlainText()
	if strings.Contains(root, svcOpsPhone) {
		t.Errorf("root message shows the full phone number:\n%s", root)
	}
	if inc.DeclaredBy.ID != svcOpsPhone {
		t.Errorf("declared by %+v", inc.DeclaredBy)
	}
}

func TestPreviewCountsEachPersonOnceAndSkipsOptOuts(t *testing.T) {
	// given
	f := newServiceFixture(t)
	ctx := context.Background()
	inc := f.declare(t)
	if err := f.store.SetOptOut(ctx, svcKimPhone, true); err != nil {
		t.Fatal(err)
	}
	// Lena wrote on WhatsApp an hour ago: her session window is open.
	if err := f.store.OpenSession(ctx, svcLenaPhone, f.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	postsBefore := len(f.chat.Posts())

	// when: Dana is in both audiences
	p, err := f.svc.Preview(ctx, responder, investigating(inc.ID, "executives", "it-ops"))

	// then
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) != 0 {
		t.Fatalf("problems: %v", p.Problems)
	}
	if p.Total != 3 {
		t.Errorf("total %d, want 3 (Dana once, Lena, Omar; Kim opted out)", p.Total)
	}
	if p.OptedOut != 1 {
		t.Errorf("opted out %d, want 1", p.OptedOut)
	}
	if p.PerChannel[bot.ChannelWhatsApp] != 2 || p.PerChannel[bot.ChannelSMS] != 1 {
		t.Errorf("per channel %v, want 2 WhatsApp, 1 SMS", p.PerChannel)
	}
	if p.FreeFormWhatsApp != 1 {
		t.Errorf("free-form WhatsApp %d, want 1 (Lena's window is open)", p.FreeFormWhatsApp)
	}
	if !p.ApprovalRequired {
		t.Error("executives need approval")
	}
	wantBody := "[SEV2] Checkout down: we are investigating. Next update 15:30 UTC. Reply to reach the incident team."
	if p.SMSBody != wantBody {
		t.Errorf("body %q, want %q", p.SMSBody, wantBody)
	}
	if p.SMS != bot.CountSMS(wantBody) || p.SMS.Encoding != bot.EncodingGSM7 || p.SMS.Segments != 1 {
		t.Errorf("SMS info %+v", p.SMS)
	}
	if de := p.BodiesByLocale["de"]; !strings.Contains(de, "Wir untersuchen") {
		t.Errorf("German body %q, Dana reads German", de)
	}
	if p.WhatsAppTemplate != "HX0000000000000000000000000000000" || p.WhatsAppVars["2"] != "15:30 UTC" {
		t.Errorf("WhatsApp template %s vars %v", p.WhatsAppTemplate, p.WhatsAppVars)
	}
	if n := len(f.chat.Posts()); n != postsBefore {
		t.Errorf("preview posted %d chat messages", n-postsBefore)
	}
}

func TestPreviewProblems(t *testing.T) {
	longField := strings.Repeat("later today ", 20)
	tests := []struct {
		name    string
		draft   func(incID string) bot.Draft
		setup   func(t *testing.T, f *serviceFixture, incID string)
		problem string
	}{
		{"no audience", func(id string) bot.Draft { return investigating(id) }, nil, "audiences"},
		{"unknown audience", func(id string) bot.Draft { return investigating(id, "it-ops", "board") }, nil, "audiences"},
		{"audience without members", func(id string) bot.Draft { return investigating(id, "nobody") }, nil, "audiences"},
		{"no template", func(id string) bot.Draft { d := investigating(id, "it-ops"); d.Template = ""; return d }, nil, "template"},
		{"unknown template", func(id string) bot.Draft { d := investigating(id, "it-ops"); d.Template = "nope"; return d }, nil, "template"},
		{"required field empty", func(id string) bot.Draft {
			d := investigating(id, "it-ops")
			d.Fields = map[string]string{"next_update": "  "}
			return d
		}, nil, "field:next_update"},
		{"note on a template without notes", func(id string) bot.Draft { d := investigating(id, "it-ops"); d.Note = "call us"; return d }, nil, "note"},
		{"SMS over the segment limit", func(id string) bot.Draft {
			d := investigating(id, "it-ops")
			d.Fields = map[string]string{"next_update": longField}
			return d
		}, func(t *testing.T, f *serviceFixture, _ string) { f.svc.Settings.MaxSMSSegments = 1 }, "sms"},
		{"everyone opted out", func(id string) bot.Draft { return investigating(id, "executives") }, func(t *testing.T, f *serviceFixture, _ string) {
			for _, p := range []string{svcDanaPhone, svcLenaPhone} {
				if err := f.store.SetOptOut(context.Background(), p, true); err != nil {
					t.Fatal(err)
				}
			}
		}, "audiences"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given
			f := newServiceFixture(t)
			inc := f.declare(t)
			if tt.setup != nil {
				tt.setup(t, f, inc.ID)
			}

			// when
			p, err := f.svc.Preview(context.Background(), responder, tt.draft(inc.ID))
			_, serr := f.svc.Submit(context.Background(), responder, tt.draft(inc.ID))

			// then
			if err != nil {
				t.Fatal(err)
			}
			if p.Problems[tt.problem] == "" {
				t.Errorf("problems %v, want one for %q", p.Problems, tt.problem)
			}
			var ve *bot.ValidationError
			if !errors.As(serr, &ve) || ve.Problems[tt.problem] == "" {
				t.Errorf("submit err = %v, want a ValidationError for %q", serr, tt.problem)
			}
			if n := len(f.relay.Started()); n != 0 {
				t.Errorf("relay started %d times for a draft with problems", n)
			}
		})
	}
}

func TestPreviewWithNote(t *testing.T) {
	// given: the incident is over and the all-clear goes out after Resolve
	f := newServiceFixture(t)
	inc := f.declare(t)
	f.svc.Settings.MaxSMSSegments = 2
	if _, err := f.svc.Resolve(context.Background(), responder, inc.ID); err != nil {
		t.Fatal(err)
	}

	// when
	p, err := f.svc.Preview(context.Background(), responder, bot.Draft{IncidentID: inc.ID, Audiences: []string{"it-ops"}, Template: "resolved", Note: "Sorry for the trouble."})

	// then
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) != 0 {
		t.Errorf("problems %v", p.Problems)
	}
	if p.SMSBody != "INC-1 Checkout down is resolved. Sorry for the trouble." {
		t.Errorf("body %q", p.SMSBody)
	}
	if p.BodiesByLocale != nil {
		t.Errorf("template has no locales, got %v", p.BodiesByLocale)
	}
}

func TestPreviewAndSubmitRefuseNonResponders(t *testing.T) {
	f := newServiceFixture(t)
	inc := f.declare(t)
	for _, by := range []bot.Actor{stranger, lead1} {
		_, perr := f.svc.Preview(context.Background(), by, investigating(inc.ID, "it-ops"))
		_, serr := f.svc.Submit(context.Background(), by, investigating(inc.ID, "it-ops"))
		for _, err := range []error{perr, serr} {
			var fe *bot.ForbiddenError
			if !errors.As(err, &fe) || fe.Role != bot.RoleResponder {
				t.Errorf("%s: err = %v, want ForbiddenError naming the responder role", by.ID, err)
			}
		}
	}
}

func TestSubmitWithoutApprovalStartsTheRelayOnce(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc := f.declare(t)

	// when
	b, err := f.svc.Submit(context.Background(), responder2, investigating(inc.ID, "it-ops"))

	// then
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != "INC-1-B1" || b.State != bot.BroadcastApproved || b.DecidedBy.ID != responder2.ID || b.Total != 3 {
		t.Errorf("broadcast = %+v", b)
	}
	started := f.relay.Started()
	if len(started) != 1 || started[0].ID != b.ID {
		t.Fatalf("relay started %v, want exactly %s", started, b.ID)
	}
	if th := f.chat.Thread(inc.Thread); len(th) != 0 {
		t.Errorf("no approval needed, yet %d thread posts", len(th))
	}
	if got := f.auditActions(t, inc.ID); strings.Join(got, ",") != "incident.declare by U0RESP1,broadcast.send by U0RESP2" {
		t.Errorf("audit = %v", got)
	}

	// and the next update gets the next id
	b2, err := f.svc.Submit(context.Background(), responder2, investigating(inc.ID, "it-ops"))
	if err != nil {
		t.Fatal(err)
	}
	if b2.ID != "INC-1-B2" {
		t.Errorf("second id %s, want INC-1-B2", b2.ID)
	}
}

func TestConcurrentSubmitsGetDistinctIDs(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc := f.declare(t)
	const n = 20

	// when
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			b, err := f.svc.Submit(context.Background(), responder2, investigating(inc.ID, "it-ops"))
			if err != nil {
				t.Error(err)
			}
			ids <- b.ID
		})
	}
	wg.Wait()
	close(ids)

	// then
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %s handed out twice", id)
		}
		seen[id] = true
	}
	if bs, _ := f.store.BroadcastsOf(context.Background(), inc.ID); len(bs) != n {
		t.Errorf("%d broadcasts stored, want %d", len(bs), n)
	}
}

// submitForApproval declares an incident and submits an update to the
// executives, which needs approval.
func (f *serviceFixture) submitForApproval(t *testing.T) (bot.Incident, bot.Broadcast) {
	t.Helper()
	inc := f.declare(t)
	b, err := f.svc.Submit(context.Background(), responder, investigating(inc.ID, "executives", "it-ops"))
	if err != nil {
		t.Fatal(err)
	}
	return inc, b
}

func (f *serviceFixture) approvalPost(t *testing.T, inc bot.Incident) bottest.Post {
	t.Helper()
	th := f.chat.Thread(inc.Thread)
	if len(th) != 1 {
		t.Fatalf("want the approval request alone in the thread, got %d posts", len(th))
	}
	return th[0]
}

func TestSubmitWithApprovalPostsRequestAndWaits(t *testing.T) {
	// given
	f := newServiceFixture(t)

	// when
	inc, b := f.submitForApproval(t)

	// then
	if b.State != bot.BroadcastPendingApproval {
		t.Errorf("state %s, want pending approval", b.State)
	}
	if want := f.clock.Now().Add(workflow.DefaultApprovalTimeout); !b.ExpiresAt.Equal(want) {
		t.Errorf("expires at %v, want %v", b.ExpiresAt, want)
	}
	if n := len(f.relay.Started()); n != 0 {
		t.Errorf("relay started %d times before approval", n)
	}
	post := f.approvalPost(t, inc)
	if b.Approval != post.Ref {
		t.Errorf("approval ref %+v, want %+v", b.Approval, post.Ref)
	}
	stored, _ := f.store.Broadcast(context.Background(), b.ID)
	if stored.Approval != post.Ref {
		t.Errorf("stored approval ref %+v, want %+v", stored.Approval, post.Ref)
	}
	m := post.Message
	if got, want := strings.Join(actionIDs(m), " "), "approve=INC-1-B1 reject=INC-1-B1"; got != want {
		t.Errorf("buttons %s, want %s", got, want)
	}
	text := m.PlainText()
	for _, want := range []string{
		"Approval needed", "executives, it-ops", "Ana Ruiz", "Checkout down: we are investigating",
		"4 people: 2 WhatsApp, 2 SMS", "1 segment, GSM-7", "expires in 30 min", "Nächstes Update",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("approval request lacks %q:\n%s", want, text)
		}
	}
}

func TestApproveFourEyes(t *testing.T) {
	tests := []struct {
		name     string
		by       bot.Actor
		fourEyes bool
	}{
		{"requester who is an approver", responder, true},
		{"responder who is not an approver", responder2, false},
		{"stranger", stranger, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given
			f := newServiceFixture(t)
			inc, b := f.submitForApproval(t)

			// when
			_, err := f.svc.Approve(context.Background(), tt.by, b.ID)

			// then
			var fe *bot.ForbiddenError
			if !errors.As(err, &fe) || fe.Role != bot.RoleApprover || fe.FourEyes != tt.fourEyes {
				t.Fatalf("err = %#v, want ForbiddenError{approver, FourEyes: %v}", err, tt.fourEyes)
			}
			if tt.fourEyes && !strings.Contains(err.Error(), "another approver") {
				t.Errorf("self-approval refusal should say a second approver is needed: %q", err)
			}
			if n := len(f.relay.Started()); n != 0 {
				t.Errorf("relay started %d times", n)
			}
			if post := f.approvalPost(t, inc); len(post.Updates) != 0 {
				t.Errorf("approval request edited after a refusal")
			}
			stored, _ := f.store.Broadcast(context.Background(), b.ID)
			if stored.State != bot.BroadcastPendingApproval {
				t.Errorf("state %s, want still pending", stored.State)
			}
		})
	}
}

func TestApproveByAnotherApproverSendsOnce(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc, b := f.submitForApproval(t)
	f.clock.Advance(5 * time.Minute)

	// when
	approved, err := f.svc.Approve(context.Background(), lead1, b.ID)

	// then
	if err != nil {
		t.Fatal(err)
	}
	if approved.State != bot.BroadcastApproved || approved.DecidedBy.ID != lead1.ID || !approved.DecidedAt.Equal(f.clock.Now()) {
		t.Errorf("approved = %+v", approved)
	}
	if started := f.relay.Started(); len(started) != 1 || started[0].ID != b.ID || started[0].State != bot.BroadcastApproved {
		t.Fatalf("relay started %+v, want %s once, approved", started, b.ID)
	}
	post := f.approvalPost(t, inc)
	if len(post.Updates) != 1 {
		t.Fatalf("approval request edited %d times, want once", len(post.Updates))
	}
	edit := post.Latest()
	if len(edit.Actions) != 0 {
		t.Errorf("approved request still has buttons: %v", edit.Actions)
	}
	if !strings.Contains(edit.Title, "Approved by Lee Chen") {
		t.Errorf("edit title %q", edit.Title)
	}

	// when: a second approver and a retry come late
	for _, by := range []bot.Actor{lead2, lead1} {
		got, err := f.svc.Approve(context.Background(), by, b.ID)

		// then
		var de *bot.DecidedError
		if !errors.Is(err, bot.ErrConflict) || !errors.As(err, &de) {
			t.Fatalf("late approval err = %v, want DecidedError wrapping ErrConflict", err)
		}
		if de.By.ID != lead1.ID || got.DecidedBy.ID != lead1.ID {
			t.Errorf("late approval should name Lee as the approver: %v / %+v", de.By, got.DecidedBy)
		}
		if err.Error() != "INC-1-B1 was already approved by Lee Chen" {
			t.Errorf("late approval reads %q", err)
		}
	}
	if n := len(f.relay.Started()); n != 1 {
		t.Errorf("relay started %d times, want 1", n)
	}
	if n := len(f.approvalPost(t, inc).Updates); n != 1 {
		t.Errorf("approval request edited %d times, want 1", n)
	}
}

func TestApproveBySMSDuringFailover(t *testing.T) {
	// given
	f := newServiceFixture(t)
	_, b := f.submitForApproval(t)

	// when
	_, err := f.svc.Approve(context.Background(), bot.Actor{ID: svcLeadPhone}, b.ID)

	// then
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.relay.Started()); n != 1 {
		t.Errorf("relay started %d times, want 1", n)
	}
}

func TestConcurrentApprovalsSendExactlyOnce(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc, b := f.submitForApproval(t)
	const clicks = 50

	// when: two approvers, each double-clicking and retrying, all at once
	start := make(chan struct{})
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded []string
		conflicts int
	)
	for i := range clicks {
		by := lead1
		if i%2 == 1 {
			by = lead2
		}
		wg.Go(func() {
			<-start
			_, err := f.svc.Approve(context.Background(), by, b.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				succeeded = append(succeeded, by.ID)
			case errors.Is(err, bot.ErrConflict):
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()

	// then
	if len(succeeded) != 1 || conflicts != clicks-1 {
		t.Fatalf("%d approvals succeeded (%v), %d conflicts; want 1 and %d", len(succeeded), succeeded, conflicts, clicks-1)
	}
	if n := len(f.relay.Started()); n != 1 {
		t.Errorf("relay started %d times, want 1", n)
	}
	post := f.approvalPost(t, inc)
	if len(post.Updates) != 1 || !strings.Contains(post.Latest().Title, "Approved by") {
		t.Errorf("approval request edited %d times (%q), want one approved edit", len(post.Updates), post.Latest().Title)
	}
	approvals := 0
	for _, a := range f.auditActions(t, inc.ID) {
		if strings.HasPrefix(a, "broadcast.approve") {
			approvals++
		}
	}
	if approvals != 1 {
		t.Errorf("%d approvals audited, want 1", approvals)
	}
}

func TestRejectWithReason(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc, b := f.submitForApproval(t)

	// when: no reason
	_, err := f.svc.Reject(context.Background(), lead1, b.ID, "   ")

	// then
	var ve *bot.ValidationError
	if !errors.As(err, &ve) || ve.Problems["reason"] == "" {
		t.Fatalf("err = %v, want a reason problem", err)
	}

	// when: with a reason
	rejected, err := f.svc.Reject(context.Background(), lead1, b.ID, "Do not promise a time yet")

	// then
	if err != nil {
		t.Fatal(err)
	}
	if rejected.State != bot.BroadcastRejected || rejected.Reason != "Do not promise a time yet" || rejected.DecidedBy.ID != lead1.ID {
		t.Errorf("rejected = %+v", rejected)
	}
	edit := f.approvalPost(t, inc).Latest()
	if len(edit.Actions) != 0 || !strings.Contains(edit.Title, "Rejected by Lee Chen") || !strings.Contains(edit.PlainText(), "Do not promise a time yet") {
		t.Errorf("edit = %+v", edit)
	}
	if !strings.Contains(edit.Title, "nothing was sent") {
		t.Errorf("rejection must say nothing was sent: %q", edit.Title)
	}

	// when: someone approves afterwards
	_, err = f.svc.Approve(context.Background(), lead2, b.ID)

	// then
	var de *bot.DecidedError
	if !errors.As(err, &de) || de.State != bot.BroadcastRejected {
		t.Errorf("err = %v, want DecidedError(rejected)", err)
	}
	if n := len(f.relay.Started()); n != 0 {
		t.Errorf("relay started %d times after a rejection", n)
	}
}

func TestRequesterMayWithdrawOwnRequest(t *testing.T) {
	// given: Ana is a responder and an approver
	f := newServiceFixture(t)
	_, b := f.submitForApproval(t)

	// when
	got, err := f.svc.Reject(context.Background(), responder, b.ID, "wrong audience")

	// then
	if err != nil || got.State != bot.BroadcastRejected {
		t.Errorf("withdraw: %v, %s", err, got.State)
	}
}

func TestApprovalRequestExpires(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc, b := f.submitForApproval(t)
	ctx := context.Background()

	// when: not yet
	f.clock.Advance(29 * time.Minute)
	n, err := f.svc.ExpireApprovals(ctx)

	// then
	if err != nil || n != 0 {
		t.Fatalf("expired %d (%v) before the timeout", n, err)
	}

	// when: past the timeout, two replicas sweep at once
	f.clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	counts := make(chan int, 2)
	for range 2 {
		wg.Go(func() {
			n, err := f.svc.ExpireApprovals(ctx)
			if err != nil {
				t.Error(err)
			}
			counts <- n
		})
	}
	wg.Wait()
	close(counts)

	// then
	total := 0
	for n := range counts {
		total += n
	}
	if total != 1 {
		t.Errorf("expired %d times, want 1", total)
	}
	stored, _ := f.store.Broadcast(ctx, b.ID)
	if stored.State != bot.BroadcastExpired {
		t.Errorf("state %s, want expired", stored.State)
	}
	post := f.approvalPost(t, inc)
	if len(post.Updates) != 1 {
		t.Fatalf("edited %d times, want 1", len(post.Updates))
	}
	edit := post.Latest()
	if len(edit.Actions) != 0 || !strings.Contains(edit.Title, "Expired after 30 min") || !strings.Contains(edit.Title, "nothing was sent") {
		t.Errorf("expiry edit = %+v", edit)
	}

	// when: an approver clicks the old button
	_, err = f.svc.Approve(ctx, lead1, b.ID)

	// then
	var de *bot.DecidedError
	if !errors.As(err, &de) || de.State != bot.BroadcastExpired {
		t.Errorf("err = %v, want DecidedError(expired)", err)
	}
	if n := len(f.relay.Started()); n != 0 {
		t.Errorf("relay started %d times for an expired request", n)
	}
}

func TestApprovalAfterTimeoutExpiresInsteadOfSending(t *testing.T) {
	// given: the sweeper has not run yet
	f := newServiceFixture(t)
	inc, b := f.submitForApproval(t)
	f.clock.Advance(workflow.DefaultApprovalTimeout)

	// when
	got, err := f.svc.Approve(context.Background(), lead1, b.ID)

	// then
	var de *bot.DecidedError
	if !errors.As(err, &de) || de.State != bot.BroadcastExpired || got.State != bot.BroadcastExpired {
		t.Fatalf("err = %v, state %s; want expired", err, got.State)
	}
	if n := len(f.relay.Started()); n != 0 {
		t.Errorf("relay started %d times", n)
	}
	if title := f.approvalPost(t, inc).Latest().Title; !strings.Contains(title, "Expired") {
		t.Errorf("edit title %q", title)
	}
	if n, _ := f.svc.ExpireApprovals(context.Background()); n != 0 {
		t.Errorf("sweeper expired %d more", n)
	}
}

func TestApprovedButRelayFailsSaysSo(t *testing.T) {
	// given
	f := newServiceFixture(t)
	_, b := f.submitForApproval(t)
	f.relay.fail = errors.New("queue unavailable")

	// when
	got, err := f.svc.Approve(context.Background(), lead1, b.ID)

	// then
	if err == nil || !strings.Contains(err.Error(), "approved") || !strings.Contains(err.Error(), "queue unavailable") {
		t.Errorf("err = %v", err)
	}
	if got.State != bot.BroadcastApproved {
		t.Errorf("state %s", got.State)
	}
}

func TestApprovalRequestCannotBePosted(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc := f.declare(t)
	f.chat.Fail = errors.New("slack: 503")

	// when
	b, err := f.svc.Submit(context.Background(), responder, investigating(inc.ID, "executives"))

	// then: the request stands (approvable by SMS) and the requester is told
	if err == nil || b.ID == "" || b.State != bot.BroadcastPendingApproval {
		t.Fatalf("b = %+v, err = %v", b, err)
	}
	f.chat.Fail = nil
	if _, err := f.svc.Approve(context.Background(), bot.Actor{ID: svcLeadPhone}, b.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.relay.Started()); n != 1 {
		t.Errorf("relay started %d times", n)
	}
}

func TestResolve(t *testing.T) {
	// given
	f := newServiceFixture(t)
	ctx := context.Background()
	inc := f.declare(t)
	f.clock.Advance(72 * time.Minute)

	// when
	got, err := f.svc.Resolve(ctx, responder2, inc.ID)

	// then
	if err != nil {
		t.Fatal(err)
	}
	if got.State != bot.IncidentResolved || !got.ResolvedAt.Equal(f.clock.Now()) {
		t.Errorf("resolved = %+v", got)
	}
	th := f.chat.Thread(inc.Thread)
	if len(th) != 1 || !strings.Contains(th[0].Message.Title, "INC-1 resolved by Ben Okafor") || !strings.Contains(th[0].Message.Text, "1h 12m") {
		t.Fatalf("thread = %+v", th)
	}
	root := f.chat.Posts()[0]
	if acts := root.Latest().Actions; len(root.Updates) != 1 || len(acts) != 1 || acts[0].ID != bot.ActionNotify {
		t.Errorf("root message should keep only the all-clear button: %+v", root.Latest())
	}
	if acts := th[0].Message.Actions; len(acts) != 1 || acts[0].ID != bot.ActionNotify || acts[0].Value != inc.ID {
		t.Errorf("the resolved notice should offer the all-clear: %+v", th[0].Message)
	}
	if incs, _ := f.svc.List(ctx, true); len(incs) != 0 {
		t.Errorf("resolved incident still listed as open")
	}

	// when: resolved again
	f.clock.Advance(time.Minute)
	again, err := f.svc.Resolve(ctx, responder, inc.ID)

	// then
	if err != nil || again.State != bot.IncidentResolved || !again.ResolvedAt.Equal(got.ResolvedAt) {
		t.Errorf("second resolve: %+v, %v", again, err)
	}
	if n := len(f.chat.Thread(inc.Thread)); n != 1 {
		t.Errorf("%d thread posts, want the one notice", n)
	}

	// and only responders may resolve
	var fe *bot.ForbiddenError
	if _, err := f.svc.Resolve(ctx, lead1, inc.ID); !errors.As(err, &fe) {
		t.Errorf("approver resolved: %v", err)
	}
}

func TestConcurrentResolvePostsOnce(t *testing.T) {
	// given
	f := newServiceFixture(t)
	inc := f.declare(t)

	// when
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := f.svc.Resolve(context.Background(), responder, inc.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	// then
	if n := len(f.chat.Thread(inc.Thread)); n != 1 {
		t.Errorf("%d resolved notices, want 1", n)
	}
}

func TestListNewestOpenAndStatus(t *testing.T) {
	// given
	f := newServiceFixture(t)
	ctx := context.Background()
	first := f.declare(t)
	f.svc.Settings.IncidentChannel = ""
	second, err := f.svc.Declare(ctx, responder, "Login slow", 3, "C0OTHER")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Submit(ctx, responder, investigating(first.ID, "it-ops"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SaveDeliveries(ctx, []bot.Delivery{
		{BroadcastID: b.ID, RecipientID: "omar", State: bot.DeliveryDelivered},
		{BroadcastID: b.ID, RecipientID: "dana", State: bot.DeliveryRead},
		{BroadcastID: b.ID, RecipientID: "kim", State: bot.DeliveryFailed},
	}); err != nil {
		t.Fatal(err)
	}

	// when
	all, lerr := f.svc.List(ctx, false)
	inIncidents, nerr1 := f.svc.NewestOpen(ctx, "C0INCIDENTS")
	anywhere, nerr2 := f.svc.NewestOpen(ctx, "")
	_, nerr3 := f.svc.NewestOpen(ctx, "C0QUIET")
	rep, serr := f.svc.Status(ctx, first.ID)

	// then
	for _, err := range []error{lerr, nerr1, nerr2, serr} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(all) != 2 || all[0].ID != second.ID {
		t.Errorf("list = %v, want newest first", all)
	}
	if inIncidents.ID != first.ID || anywhere.ID != second.ID {
		t.Errorf("newest open: in channel %s, anywhere %s", inIncidents.ID, anywhere.ID)
	}
	if !errors.Is(nerr3, bot.ErrNotFound) {
		t.Errorf("quiet channel: %v, want ErrNotFound", nerr3)
	}
	if len(rep.Broadcasts) != 1 {
		t.Fatalf("status broadcasts = %+v", rep.Broadcasts)
	}
	c := rep.Broadcasts[0].Counts
	if c[bot.DeliveryDelivered] != 1 || c[bot.DeliveryRead] != 1 || c[bot.DeliveryFailed] != 1 {
		t.Errorf("counts = %v", c)
	}
	text := workflow.StatusMessage(rep, f.clock.Now()).PlainText()
	if !strings.Contains(text, "1 delivered, 1 read, 1 failed") || !strings.Contains(text, "INC-1-B1") {
		t.Errorf("status message:\n%s", text)
	}
	if _, err := f.svc.Status(ctx, "INC-99"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("status of unknown incident: %v", err)
	}
}

func TestAuditTrailHasEveryStep(t *testing.T) {
	// given
	f := newServiceFixture(t)
	ctx := context.Background()
	inc, b := f.submitForApproval(t)
	if _, err := f.svc.Approve(ctx, lead1, b.ID); err != nil {
		t.Fatal(err)
	}
	b2, err := f.svc.Submit(ctx, responder2, investigating(inc.ID, "executives"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reject(ctx, lead2, b2.ID, "too early"); err != nil {
		t.Fatal(err)
	}
	b3, err := f.svc.Submit(ctx, responder2, investigating(inc.ID, "executives"))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.svc.ExpireApprovals(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Submit(ctx, responder2, investigating(inc.ID, "it-ops")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Resolve(ctx, responder, inc.ID); err != nil {
		t.Fatal(err)
	}

	// when
	trail, err := f.store.AuditTrail(ctx, inc.ID)

	// then
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range trail {
		got = append(got, string(e.Action)+" by "+e.Actor.ID)
		if strings.Contains(e.Detail, "+49") || strings.Contains(e.Detail, "+1415") {
			t.Errorf("audit detail has a phone number: %q", e.Detail)
		}
	}
	want := []string{
		"incident.declare by U0RESP1",
		"broadcast.request by U0RESP1",
		"broadcast.approve by U0LEAD1",
		"broadcast.request by U0RESP2",
		"broadcast.reject by U0LEAD2",
		"broadcast.request by U0RESP2",
		"broadcast.expire by herald",
		"broadcast.send by U0RESP2",
		"incident.resolve by U0RESP1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(trail[4].Detail, "too early") || !strings.Contains(trail[6].Detail, b3.ID) {
		t.Errorf("details: reject %q, expire %q", trail[4].Detail, trail[6].Detail)
	}
	if errs := f.errs.all(); len(errs) != 0 {
		t.Errorf("reported errors: %v", errs)
	}
}

func TestEditFailureIsReportedNotReturned(t *testing.T) {
	// given
	f := newServiceFixture(t)
	_, b := f.submitForApproval(t)
	f.chat.Fail = errors.New("slack: 503")

	// when
	_, err := f.svc.Approve(context.Background(), lead1, b.ID)

	// then: the approval took effect and the relay runs; the edit failure is reported
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.relay.Started()); n != 1 {
		t.Errorf("relay started %d times", n)
	}
	if errs := f.errs.all(); len(errs) != 1 || !strings.Contains(fmt.Sprint(errs[0]), "503") {
		t.Errorf("reported %v", errs)
	}
}

func BenchmarkPreview(b *testing.B) {
	f := newServiceFixture(b)
	inc, err := f.svc.Declare(context.Background(), responder, "Checkout down", 2, "")
	if err != nil {
		b.Fatal(err)
	}
	d := investigating(inc.ID, "executives", "it-ops")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Preview(context.Background(), responder, d); err != nil {
			b.Fatal(err)
		}
	}
}
