package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/guard"
	"github.com/heraldops/herald/bot/workflow"
)

// externalExecutives makes the fixture's executives an external audience
// and corp.example the company's domain.
func externalExecutives(t *testing.T, f *serviceFixture, block bool) {
	t.Helper()
	d := f.svc.Directory
	auds := d.Audiences()
	for i := range auds {
		auds[i].External = auds[i].Name == "executives"
	}
	dir, err := bot.NewDirectory(d.Recipients(), auds, d.Templates())
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Directory = dir
	f.svc.Planner.Directory = dir
	f.svc.Settings.Guard = workflow.GuardSettings{InternalDomains: []string{"corp.example"}, Block: block}
}

func leakyDraft(incID string, audiences ...string) bot.Draft {
	d := investigating(incID, audiences...)
	d.Fields["next_update"] = "15:30 via db1.corp.example (10.2.3.4)"
	return d
}

func TestPreviewFindsWhatLooksInternalOnlyForExternalAudiences(t *testing.T) {
	// given
	f := newServiceFixture(t)
	externalExecutives(t, f, false)
	inc := f.declare(t)
	ctx := context.Background()

	// when
	ext, err := f.svc.Preview(ctx, responder, leakyDraft(inc.ID, "executives"))
	if err != nil {
		t.Fatal(err)
	}
	internal, err := f.svc.Preview(ctx, responder, leakyDraft(inc.ID, "it-ops"))
	if err != nil {
		t.Fatal(err)
	}
	ordinary, err := f.svc.Preview(ctx, responder, investigating(inc.ID, "executives"))
	if err != nil {
		t.Fatal(err)
	}

	// then the field is found in the SMS, the German text and the WhatsApp variable, and said once
	where := map[string]bool{}
	for _, fd := range ext.Findings {
		where[fd.Where] = true
	}
	if !where["SMS"] || !where["SMS (de)"] || !where["WhatsApp {{2}}"] {
		t.Errorf("findings %+v, want them in every text", ext.Findings)
	}
	lines := workflow.FindingLines(ext.Findings)
	if len(lines) != 2 || lines[0].String() != "Looks internal: “db1.corp.example” (one of our server names)" ||
		lines[1].String() != "Looks internal: “10.2.3.4” (an IP address)" {
		t.Errorf("lines %+v", lines)
	}
	if len(ext.Problems) != 0 {
		t.Errorf("problems %v without guard.block", ext.Problems)
	}
	if len(internal.Findings) != 0 || len(ordinary.Findings) != 0 {
		t.Errorf("findings for an internal audience %+v or an ordinary update %+v", internal.Findings, ordinary.Findings)
	}
}

func TestApprovalRequestShowsFindingsAndAuditRecordsThem(t *testing.T) {
	// given
	f := newServiceFixture(t)
	externalExecutives(t, f, false)
	inc := f.declare(t)
	ctx := context.Background()

	// when
	b, err := f.svc.Submit(ctx, responder, leakyDraft(inc.ID, "executives"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, lead1, b.ID); err != nil {
		t.Fatal(err)
	}

	// then
	text := f.chat.Thread(inc.Thread)[0].Message.Text
	for _, want := range []string{"*Check before approving:*", "2 things look internal", "• Looks internal: *10.2.3.4* (an IP address)"} {
		if !strings.Contains(text, want) {
			t.Errorf("approval request lacks %q:\n%s", want, text)
		}
	}
	trail, _ := f.store.AuditTrail(ctx, inc.ID)
	var approve, request string
	for _, e := range trail {
		switch e.Action {
		case bot.AuditBroadcastApprove:
			approve = e.Detail
		case bot.AuditBroadcastRequest:
			request = e.Detail
		}
	}
	if !strings.HasSuffix(approve, "approved with 2 guard findings: internal host name, IP address") {
		t.Errorf("approve entry %q", approve)
	}
	if !strings.Contains(request, "2 guard findings") {
		t.Errorf("request entry %q", request)
	}
}

func TestGuardBlockRefusesSubmit(t *testing.T) {
	// given
	f := newServiceFixture(t)
	externalExecutives(t, f, true)
	inc := f.declare(t)

	// when
	_, err := f.svc.Submit(context.Background(), responder, leakyDraft(inc.ID, "executives", "it-ops"))

	// then
	var invalid *bot.ValidationError
	if !errors.As(err, &invalid) || !strings.Contains(invalid.Problems["guard"], "“10.2.3.4” (an IP address)") {
		t.Fatalf("err = %v, want a guard problem naming the address", err)
	}
	if len(f.relay.Started()) != 0 || len(f.chat.Thread(inc.Thread)) != 0 {
		t.Errorf("something was sent or asked for")
	}
	// an internal audience alone is not guarded
	if _, err := f.svc.Submit(context.Background(), responder, leakyDraft(inc.ID, "it-ops")); err != nil {
		t.Errorf("internal update refused: %v", err)
	}
}

func TestFindingLinesSayEachKind(t *testing.T) {
	for _, k := range []guard.Kind{guard.KindIP, guard.KindHost, guard.KindEmail, guard.KindSecret, guard.KindPath, guard.KindStackTrace} {
		l := workflow.FindingLines([]guard.Finding{{Kind: k, Match: "x"}})
		if len(l) != 1 || !strings.HasSuffix(l[0].Tail, ")") {
			t.Errorf("%s: %+v", k, l)
		}
	}
}
