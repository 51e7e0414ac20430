package demo_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/internal/demo"
)

const (
	responder = "U0RESP1"
	approver  = "U0LEAD1"
	incidents = "C0INCIDENTS"
)

var approveCode = regexp.MustCompile(`APPROVE (\d+)`)

func option(v string) map[string]any {
	return map[string]any{"text": map[string]any{"type": "plain_text", "text": v}, "value": v}
}

// buttonValue finds the value of the button with actionID in a message.
func buttonValue(t *testing.T, m demo.SlackMessage, actionID string) string {
	t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value
			}
		}
	}
	t.Fatalf("no %s button in %s", actionID, m.Blocks)
	return ""
}

// timings are what declareAndRelay measured.
type timings struct {
	calls      time.Duration // herald answering the flow's requests, declare to approve
	firstShown time.Duration // approval to every stakeholder's phone showing a message
	rightChan  time.Duration // approval to every phone showing it on its right channel (includes the simulated status delays before an SMS fallback)
}

// declareAndRelay is the page's first three guide steps through the
// console's endpoints: declare, compose for every audience, approve as the
// other user. It returns the root message and how long herald took.
func (r *run) declareAndRelay(t *testing.T) (demo.SlackMessage, timings) {
	t.Helper()
	r.inCalls = 0
	waited := time.Duration(0) // time spent waiting for herald's asynchronous posts
	wait := func(what string, cond func(demo.State) bool) demo.State {
		start := time.Now()
		defer func() { waited += time.Since(start) }()
		return r.waitState(what, cond)
	}
	r.post("/api/command", demo.CommandRequest{User: responder, Text: "/incident new Checkout failing --sev 2"}, nil)
	s := wait("the root message", func(s demo.State) bool { _, ok := findMessage(s, "INC-1 · SEV2 · Checkout failing"); return ok })
	root, _ := findMessage(s, "INC-1 · SEV2 · Checkout failing")

	r.post("/api/action", demo.ActionRequest{User: responder, Channel: incidents, TS: root.TS, ActionID: "notify", BlockID: "herald", Value: "INC-1"}, nil)
	s = wait("the compose modal", func(s demo.State) bool { return s.Modal != nil && s.Modal.User == responder })
	modal := s.Modal
	if txt := viewText(modal); !strings.Contains(txt, "executives · 4 people · approval") || !strings.Contains(txt, "customers · 10 people") {
		t.Fatalf("compose modal does not offer the seeded audiences:\n%s", txt)
	}
	r.post("/api/view/action", demo.ViewActionRequest{ViewID: modal.ID, State: map[string]map[string]any{},
		Action: map[string]any{"type": "static_select", "action_id": "template", "block_id": "template", "selected_option": option("investigating")}}, nil)
	s = wait("the template's fields", func(s demo.State) bool { return strings.Contains(viewText(s.Modal), "Next update") })

	state := map[string]map[string]any{
		"audiences":         {"audiences": map[string]any{"type": "multi_static_select", "selected_options": []any{option("executives"), option("it-ops"), option("customers")}}},
		"template":          {"template": map[string]any{"type": "static_select", "selected_option": option("investigating")}},
		"field:next_update": {"value": map[string]any{"type": "plain_text_input", "value": "15:30 UTC"}},
	}
	var answer struct {
		ResponseAction string `json:"responseAction"`
	}
	r.post("/api/view/submit", demo.SubmitRequest{ViewID: s.Modal.ID, State: state}, &answer)
	s = r.state()
	if answer.ResponseAction != "update" || !strings.Contains(viewText(s.Modal), "Request approval") {
		t.Fatalf("Preview answered %q; the modal shows:\n%s", answer.ResponseAction, viewText(s.Modal))
	}
	preview := viewText(s.Modal)
	for _, want := range []string{"Checkout failing: we are investigating. Next update 15:30 UTC.", "Wir untersuchen", "the approved template, filled with “Checkout failing”"} {
		if !strings.Contains(preview, want) {
			t.Errorf("the preview lacks %q:\n%s", want, preview)
		}
	}
	r.post("/api/view/submit", demo.SubmitRequest{ViewID: s.Modal.ID}, nil)
	s = wait("the approval request", func(s demo.State) bool { _, ok := findMessage(s, "Approval needed"); return ok })
	req, _ := findMessage(s, "Approval needed")
	id := buttonValue(t, req, "approve")
	if req.ThreadTS != root.TS {
		t.Errorf("the approval request is not in the incident thread")
	}

	// Four eyes: Sam may not approve Sam's own update.
	r.post("/api/action", demo.ActionRequest{User: responder, Channel: incidents, TS: req.TS, ActionID: "approve", BlockID: "herald", Value: id}, nil)
	wait("the refusal", func(s demo.State) bool { return hasEphemeral(s, responder, "You cannot approve your own update") })
	for _, p := range r.state().Phones {
		if len(received(p)) != 0 {
			t.Fatalf("%s got a message before the approval", p.Name)
		}
	}

	approved := time.Now()
	r.post("/api/action", demo.ActionRequest{User: approver, Channel: incidents, TS: req.TS, ActionID: "approve", BlockID: "herald", Value: id}, nil)
	var tm timings
	tm.calls = r.inCalls + waited
	r.waitState("every stakeholder's phone showing a message", func(s demo.State) bool {
		for _, p := range s.Phones {
			if p.Role == "stakeholder" && len(received(p)) == 0 {
				return false
			}
		}
		return true
	})
	tm.firstShown = time.Since(approved)
	r.waitState("every stakeholder's phone showing the update on its channel", func(s demo.State) bool {
		for _, p := range s.Phones {
			if p.Role == "stakeholder" && !reachedOnItsChannel(p) {
				return false
			}
		}
		return true
	})
	tm.rightChan = time.Since(approved)
	return root, tm
}

// reachedOnItsChannel: the phone shows the update on the channel herald
// must use: WhatsApp for WhatsApp people (the template outside the window),
// SMS for SMS people and, after WhatsApp failed, for the one without it.
func reachedOnItsChannel(p demo.PhoneState) bool {
	for _, b := range received(p) {
		if b.Channel == p.ReplyVia && b.Body != "" && b.Status != "failed" {
			return true
		}
	}
	return false
}

func TestDemoFlowThroughTheConsole(t *testing.T) {
	r := startDemo(t)
	root, tm := r.declareAndRelay(t)
	t.Logf("herald's time from declare to every phone: %v answering and posting (declare, compose, preview, approval request, approve), then %v until every phone showed the update (%v until it was on every right channel, SMS fallback after the simulated WhatsApp failure included)",
		tm.calls.Round(time.Millisecond), tm.firstShown.Round(time.Millisecond), tm.rightChan.Round(time.Millisecond))

	s := r.state()
	for _, p := range s.Phones {
		if p.Role != "stakeholder" {
			continue
		}
		got := received(p)
		switch p.ID {
		case "claire": // outside the 24-hour window: the approved template
			if len(got) != 1 || got[0].Channel != "whatsapp" || got[0].Template == "" || !strings.Contains(got[0].Body, "Checkout failing") {
				t.Errorf("claire got %+v, want the WhatsApp template", got)
			}
		case "nora": // no WhatsApp: it fails with 63003, then SMS
			if len(got) != 2 || got[0].Channel != "whatsapp" || got[0].ErrorCode != 63003 || got[1].Channel != "sms" {
				t.Errorf("nora got %+v, want a failed WhatsApp (63003) then SMS", got)
			}
		default:
			if len(got) != 1 {
				t.Errorf("%s got %d messages, want 1: %+v", p.ID, len(got), got)
				continue
			}
			if got[0].Channel != p.Channel || got[0].Template != "" {
				t.Errorf("%s (%s) got %+v", p.ID, p.Channel, got[0])
			}
			want := "we are investigating"
			if p.Locale == "de" {
				want = "Wir untersuchen"
			}
			if !strings.Contains(got[0].Body, want) {
				t.Errorf("%s (%s) got %q, want their locale's text", p.ID, p.Locale, got[0].Body)
			}
		}
	}
	if p := phone(s, "dana"); len(received(p)) != 1 {
		t.Errorf("dana is in two audiences and got %d messages, want 1", len(received(p)))
	}

	// Ticks move from the simulated carrier's signed status callbacks.
	r.waitState("dana's WhatsApp read", func(s demo.State) bool {
		got := received(phone(s, "dana"))
		return len(got) == 1 && got[0].Status == "read"
	})
	r.waitState("omar's SMS delivered", func(s demo.State) bool {
		got := received(phone(s, "omar"))
		return len(got) == 1 && got[0].Status == "delivered"
	})

	// A phone replies: the reply is in the thread; a photo, STOP and HELP too.
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "omar", Text: "Are payments affected too?"}, nil)
	r.waitState("omar's reply in the thread", func(s demo.State) bool {
		m, ok := findMessage(s, "Are payments affected too?")
		return ok && m.ThreadTS == root.TS && strings.Contains(text(m), "Omar Haddad")
	})
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "dana", Text: "Foto vom Serverraum", Photo: true}, nil)
	r.waitState("dana's photo in the thread", func(s demo.State) bool {
		_, ok := findMessage(s, "Foto vom Serverraum")
		return ok
	})
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "ken", Text: "HELP"}, nil)
	r.waitState("the HELP answer on ken's phone", func(s demo.State) bool { return anyBubble(phone(s, "ken"), "STOP") })
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "tyrell", Text: "STOP"}, nil)
	r.waitState("the STOP confirmation on tyrell's phone", func(s demo.State) bool {
		return anyBubble(phone(s, "tyrell"), "You will no longer receive incident updates")
	})

	// Slack goes down: herald goes SMS-only, the watcher's phone gets a
	// digest of the thread, the responder drives herald by SMS.
	r.post("/api/slack", map[string]bool{"down": true}, nil)
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "omar", Text: "Still failing for us"}, nil)
	r.waitState("herald SMS-only", func(s demo.State) bool { return s.SMSOnly })
	r.waitState("the watcher's digest", func(s demo.State) bool { return anyBubble(phone(s, "watcher-1"), "Still failing for us") })
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "responder-1", Text: "STATUS"}, nil)
	r.waitState("the STATUS answer on the responder's phone", func(s demo.State) bool { return anyBubble(phone(s, "responder-1"), "INC-1") })
	// NOTIFY by SMS needs the approver's code, texted to the approver's phone.
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "responder-1", Text: "NOTIFY INC-1 executives update status=Payments are back. next_update=16:00"}, nil)
	var code string
	r.waitState("the approval code on the approver's phone", func(s demo.State) bool {
		for _, b := range received(phone(s, "approver-1")) {
			if m := approveCode.FindStringSubmatch(b.Body); m != nil {
				code = m[1]
				return true
			}
		}
		return false
	})
	r.post("/api/phone/send", demo.PhoneSendRequest{Phone: "approver-1", Text: "APPROVE " + code}, nil)
	r.waitState("the approved update by SMS on every executive's phone", func(s demo.State) bool {
		for _, id := range []string{"dana", "marc", "claire", "ken"} {
			got := received(phone(s, id))
			if len(got) < 2 || got[len(got)-1].Channel != "sms" || !strings.Contains(got[len(got)-1].Body, "16:00") {
				return false
			}
		}
		return true
	})

	// Slack is back: the thread gets what it missed, in order, then the summary.
	r.post("/api/slack", map[string]bool{"down": false}, nil)
	s = r.waitState("the replay", func(s demo.State) bool { _, ok := findMessage(s, "Back in chat"); return ok && !s.SMSOnly })
	missed, _ := findMessage(s, "Still failing for us")
	summary, _ := findMessage(s, "Back in chat")
	if missed.ThreadTS != root.TS || summary.ThreadTS != root.TS || !(missed.TS < summary.TS) {
		t.Errorf("the replay is not in the thread in order: reply %q, summary %q", missed.TS, summary.TS)
	}
}

func TestDemoServesTheConsoleAndItsAssets(t *testing.T) {
	r := startDemo(t)
	for path, want := range map[string]string{
		"/":               "<title>herald demo",
		"/static/app.js":  "EventSource",
		"/static/app.css": ".phone",
		"/demo/photo.jpg": "\xff\xd8",
		"/readyz":         "ready",
		"/api/state":      `"phones"`,
	} {
		resp, err := r.http.Get(r.url + path)
		if err != nil {
			t.Fatal(err)
		}
		var buf strings.Builder
		_, _ = io.Copy(&buf, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(buf.String(), want) {
			t.Errorf("GET %s: %d, want 200 with %q", path, resp.StatusCode, want)
		}
	}
	// herald's own endpoints are there, and refuse what Slack did not sign.
	resp, err := r.http.Post(r.url+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader("text=new+x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned slash command got %d, want 401", resp.StatusCode)
	}
}
