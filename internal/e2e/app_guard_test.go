package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// The content guard through `herald serve`: what a responder and an approver
// see when an update to an external audience carries something internal.

// guardConfig adds an external audience, customers, and the company's
// domain to the flow config; block says whether findings stop the update.
func guardConfig(block bool) string {
	c := strings.Replace(flowConfig, "  - {name: it-ops, members: [omar, dana]}\n",
		"  - {name: it-ops, members: [omar, dana]}\n  - {name: customers, external: true, approval: required, members: [omar, dana]}\n", 1)
	guard := "guard: {internal_domains: [corp.example], block: false}\n"
	if block {
		guard = "guard: {internal_domains: [corp.example], block: true}\n"
	}
	return c + guard
}

// guardPreview opens the compose modal on root, fills in nextUpdate for the
// audiences and presses Preview: it returns herald's answer as it is (the
// preview step, or the errors on the form).
func (a *heraldApp) guardPreview(user string, root slackapi.Message, incidentID string, audiences []string, nextUpdate string) string {
	a.t.Helper()
	before := len(a.slack.ViewsOpened())
	if code, body := a.interact(click(a.t, user, "C0INCIDENTS", root.TS, "notify", incidentID)); code != http.StatusOK {
		a.t.Fatalf("Notify: HTTP %d %s", code, body)
	}
	a.eventually("the compose modal", func() bool { return len(a.slack.ViewsOpened()) > before })
	step1 := a.slack.ViewsOpened()[before]
	updates := len(a.slack.Calls("views.update"))
	if code, _ := a.interact(chooseTemplate(a.t, user, step1, "investigating")); code != http.StatusOK {
		a.t.Fatalf("choosing the template: HTTP %d", code)
	}
	a.eventually("the template's fields", func() bool { return len(a.slack.Calls("views.update")) > updates })
	step1, _ = a.slack.View(step1.ID)
	code, body := a.interact(submitView(a.t, user, step1, composeState(audiences, "investigating", nextUpdate)))
	if code != http.StatusOK {
		a.t.Fatalf("Preview: HTTP %d %s", code, body)
	}
	return body
}

func TestServeContentGuard(t *testing.T) {
	leak := "15:30 UTC, see db1.corp.example (10.2.3.4)"

	t.Run("findings in the preview and the approval request", func(t *testing.T) {
		a := startApp(t, guardConfig(false))
		root := a.slackDeclare("U0RESP1", "new Checkout down --sev 2", 1)

		// given an IP address and a server name in a field, to customers
		body := a.guardPreview("U0RESP1", root, "INC-1", []string{"customers"}, leak)

		// then the preview lists them, each match as code
		preview := responseView(t, body, "V-preview-INC-1")
		txt := preview.AllText()
		for _, want := range []string{
			"2 things look internal",
			"Looks internal: `10.2.3.4` (an IP address)",
			"Looks internal: `db1.corp.example` (one of our server names)",
		} {
			if !strings.Contains(txt, want) {
				t.Errorf("preview lacks %q:\n%s", want, txt)
			}
		}

		// and so does the approval request, and the approver may still approve
		if done := a.slackSend("U0RESP1", preview); !strings.Contains(done, "Approval requested") {
			t.Fatalf("after submitting: %s", done)
		}
		approval := a.threadPost(root, "Approval needed")
		if txt := approval.AllText(); !strings.Contains(txt, "Check before approving:") || !strings.Contains(txt, "Looks internal: *10.2.3.4* (an IP address)") {
			t.Errorf("approval request lacks the findings:\n%s", txt)
		}
		a.interact(click(t, "U0LEAD1", "C0INCIDENTS", approval.TS, "approve", buttonValue(t, approval, "approve")))
		a.threadPost(root, "Approved by")
		a.eventually("the update relayed", func() bool { return len(a.twilio.Messages()) == 2 })

		// an ordinary update to customers has no finding
		root2 := a.slackDeclare("U0RESP1", "new Payments slow --sev 3", 2)
		ordinary := responseView(t, a.guardPreview("U0RESP1", root2, "INC-2", []string{"customers"}, "15:30 UTC"), "V-preview-INC-2")
		if txt := ordinary.AllText(); strings.Contains(txt, "look internal") || strings.Contains(txt, "looks internal") {
			t.Errorf("ordinary update flagged:\n%s", txt)
		}
		// nor does the leak to an internal audience
		internal := responseView(t, a.guardPreview("U0RESP1", root2, "INC-2", []string{"it-ops"}, leak), "V-preview-INC-2b")
		if txt := internal.AllText(); strings.Contains(txt, "look internal") {
			t.Errorf("internal audience flagged:\n%s", txt)
		}
	})

	t.Run("guard.block refuses with the reason", func(t *testing.T) {
		a := startApp(t, guardConfig(true))
		root := a.slackDeclare("U0RESP1", "new Checkout down --sev 2", 1)

		// when
		body := a.guardPreview("U0RESP1", root, "INC-1", []string{"customers", "it-ops"}, leak)

		// then the form stays, saying why and what
		var resp struct {
			ResponseAction string            `json:"response_action"`
			Errors         map[string]string `json:"errors"`
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.ResponseAction != "errors" {
			t.Fatalf("want the form's errors, got %q", body)
		}
		all := strings.Join(func() []string {
			var s []string
			for _, v := range resp.Errors {
				s = append(s, v)
			}
			return s
		}(), " ")
		for _, want := range []string{"Remove before sending outside the company", "“10.2.3.4” (an IP address)", "“db1.corp.example”"} {
			if !strings.Contains(all, want) {
				t.Errorf("refusal lacks %q: %s", want, all)
			}
		}
		if n := len(a.twilio.Messages()); n != 0 {
			t.Errorf("%d messages sent", n)
		}

		// an ordinary update to the same audiences goes ahead
		if body := a.guardPreview("U0RESP1", root, "INC-1", []string{"customers"}, "15:30 UTC"); !strings.Contains(body, `"update"`) {
			t.Errorf("ordinary update refused: %s", body)
		}
	})
}
