package workflow_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

func TestRefusalMessage(t *testing.T) {
	at := time.Date(2026, 11, 23, 14, 5, 0, 0, time.UTC)
	tests := []struct {
		name       string
		err        error
		wantTitle  string
		wantInText []string
		notInText  []string
	}{
		{
			name:       "missing role names the role and the config key",
			err:        &bot.ForbiddenError{Role: bot.RoleApprover, Action: "approve a stakeholder update"},
			wantTitle:  "Not allowed: only an approver may approve a stakeholder update",
			wantInText: []string{"roles.approvers"},
		},
		{
			name:       "own request asks for a second approver",
			err:        &bot.ForbiddenError{Role: bot.RoleApprover, Action: "approve an update someone else requested", FourEyes: true},
			wantTitle:  "You cannot approve your own update",
			wantInText: []string{"second approver"},
		},
		{
			name:       "validation problems are listed in a stable order",
			err:        &bot.ValidationError{Problems: map[string]string{"template": "Choose a template.", "audiences": "Choose at least one audience."}},
			wantTitle:  "Please fix this first",
			wantInText: []string{"• Choose at least one audience.\n• Choose a template."},
		},
		{
			name:      "already approved names who approved",
			err:       fmt.Errorf("approving: %w", &bot.DecidedError{BroadcastID: "INC-4-B2", State: bot.BroadcastApproved, By: bot.Actor{ID: "U0LEAD1", Name: "Lee Chen"}, At: at}),
			wantTitle: "INC-4-B2 was already approved by Lee Chen",
		},
		{
			name:      "expired says nothing was sent",
			err:       &bot.DecidedError{BroadcastID: "INC-4-B2", State: bot.BroadcastExpired, By: bot.SystemActor, At: at},
			wantTitle: "INC-4-B2 expired before anyone decided: nothing was sent",
		},
		{
			name:       "not found points at the list",
			err:        fmt.Errorf("loading incident INC-9: %w", bot.ErrNotFound),
			wantTitle:  "Not found",
			wantInText: []string{"INC-9", "the list command"},
		},
		{
			name:       "anything else shows a plain sentence and a reference, never the error",
			err:        errors.New("sending to +4915100000001: provider error 21610"),
			wantTitle:  "herald could not do that",
			wantInText: []string{"Try again", bot.ErrorRef(errors.New("sending to +4915100000001: provider error 21610"))},
			notInText:  []string{"+4915100000001", "+49151*****01", "21610", "provider error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// when
			m := workflow.RefusalMessage(tt.err)

			// then
			if m.Title != tt.wantTitle {
				t.Errorf("title %q, want %q", m.Title, tt.wantTitle)
			}
			for _, s := range tt.wantInText {
				if !strings.Contains(m.Text, s) {
					t.Errorf("text lacks %q:\n%s", s, m.Text)
				}
			}
			for _, s := range tt.notInText {
				if strings.Contains(m.PlainText(), s) {
					t.Errorf("message shows %q:\n%s", s, m.PlainText())
				}
			}
		})
	}
}

func TestListMessage(t *testing.T) {
	now := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)
	inc := func(n int64, state bot.IncidentState) bot.Incident {
		return bot.Incident{ID: bot.IncidentID(n), Number: n, Title: fmt.Sprintf("Outage %d", n), Severity: 2, State: state,
			DeclaredAt: now.Add(-2*time.Hour - 5*time.Minute), ResolvedAt: now.Add(-time.Hour)}
	}
	many := make([]bot.Incident, 25)
	for i := range many {
		many[i] = inc(int64(25-i), bot.IncidentOpen)
	}
	tests := []struct {
		name      string
		incs      []bot.Incident
		openOnly  bool
		wantTitle string
		want      []string
		notWant   []string
	}{
		{"none open", nil, true, "No open incidents", []string{"/incident new"}, nil},
		{"open and resolved", []bot.Incident{inc(2, bot.IncidentOpen), inc(1, bot.IncidentResolved)}, false, "Incidents (2)",
			[]string{"*INC-2* · SEV2 · Outage 2 · Open for 2h 5m", "*INC-1* · SEV2 · Outage 1 · Resolved after 1h 5m"}, nil},
		{"long lists are cut", many, true, "Open incidents (25)", []string{"INC-25", "INC-6", "…and 5 more"}, []string{"*INC-5*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := workflow.ListMessage(bot.PlatformSlack, tt.incs, tt.openOnly, now)
			if m.Title != tt.wantTitle {
				t.Errorf("title %q, want %q", m.Title, tt.wantTitle)
			}
			for _, s := range tt.want {
				if !strings.Contains(m.PlainText(), s) {
					t.Errorf("lacks %q:\n%s", s, m.PlainText())
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(m.PlainText(), s) {
					t.Errorf("shows %q:\n%s", s, m.PlainText())
				}
			}
		})
	}
}

func TestRootMessageOfResolvedIncidentOffersOnlyTheAllClear(t *testing.T) {
	m := workflow.RootMessage(bot.Incident{ID: "INC-3", Title: "DNS", Severity: 1, State: bot.IncidentResolved, DeclaredBy: bot.Actor{ID: "U1", Name: "Ana"}})
	if len(m.Actions) != 1 || m.Actions[0].ID != bot.ActionNotify || m.Actions[0].Value != "INC-3" {
		t.Errorf("resolved root has buttons %v, want only Send the all-clear", m.Actions)
	}
	if !strings.Contains(m.PlainText(), "SEV1 · critical") || !strings.Contains(m.PlainText(), "Resolved") {
		t.Errorf("root:\n%s", m.PlainText())
	}
}

func TestOutcomeMessagesSayWhatHappenedFirst(t *testing.T) {
	b := bot.Broadcast{
		ID: "INC-7-B1", Draft: bot.Draft{IncidentID: "INC-7", Audiences: []string{"executives"}},
		RequestedBy: bot.Actor{ID: "U0RESP1", Name: "Ana Ruiz"}, RequestedAt: time.Unix(0, 0),
		DecidedBy: bot.Actor{ID: "+4915112345699"}, ExpiresAt: time.Unix(0, 0).Add(45 * time.Minute),
		Total: 1, Reason: "numbers not confirmed",
	}
	tests := []struct {
		name  string
		msg   bot.Message
		title string
		text  string
	}{
		{"approved", workflow.ApprovedMessage(b, "body"), "Approved by +49151*****99: sending to 1 person", "Delivery progress follows"},
		{"rejected", workflow.RejectedMessage(b, "body"), "Rejected by +49151*****99: nothing was sent", "Reason: numbers not confirmed"},
		{"expired", workflow.ExpiredMessage(b, "body"), "Expired after 45 min: nothing was sent", "/incident notify INC-7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.msg.Title != tt.title {
				t.Errorf("title %q, want %q", tt.msg.Title, tt.title)
			}
			if !strings.Contains(tt.msg.Text, tt.text) {
				t.Errorf("text lacks %q: %q", tt.text, tt.msg.Text)
			}
			if len(tt.msg.Actions) != 0 || tt.msg.Quote != "body" {
				t.Errorf("outcome keeps the text and drops the buttons: %+v", tt.msg)
			}
		})
	}
}

func TestValidationErrorReadsAsAList(t *testing.T) {
	err := &bot.ValidationError{Problems: map[string]string{"title": "Give the incident a title.", "severity": "There is no SEV7."}}
	if got, want := err.Error(), "severity: There is no SEV7.; title: Give the incident a title."; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
