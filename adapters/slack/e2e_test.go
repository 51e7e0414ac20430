package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/workflow"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// countingRelay records the broadcasts handed to the relay.
type countingRelay struct {
	mu      sync.Mutex
	started []string
}

func (r *countingRelay) Start(_ context.Context, b bot.Broadcast) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, b.ID)
	return nil
}

func (r *countingRelay) Started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.started...)
}

// asUser rewrites a payload's user, as if someone else clicked.
func asUser(payload []byte, id, name string) []byte {
	var m map[string]any
	_ = json.Unmarshal(payload, &m)
	m["user"] = map[string]any{"id": id, "username": name, "name": name, "team_id": "T00FAKE00BB"}
	b, _ := json.Marshal(m)
	return b
}

// TestEndToEndWithTheRealService drives the real bot.Service (in-memory
// stores) through Slack as a responder and an approver would: declare,
// compose with the modal, approve (four eyes), double click.
func TestEndToEndWithTheRealService(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	relay := &countingRelay{}
	fake := slackapi.New()
	t.Cleanup(fake.Close)
	dir := testDirectory(t)
	svc := &workflow.Service{
		Directory:  dir,
		Planner:    &bot.Planner{Directory: dir, Phones: store, Clock: clock},
		Incidents:  store,
		Broadcasts: store,
		Audit:      store,
		Chat:       NewChat(fake.Client(), ChatOptions{PostsPerSecond: 1000}),
		Relay:      relay,
		Clock:      clock,
		Roles:      bot.Roles{Responders: []string{"U00FAKEUSER2"}, Approvers: []string{"U00FAKEUSER2", "U0LEAD"}},
		Settings:   workflow.Settings{IncidentChannel: "C0INCIDENTS"},
		Dedup:      store,
	}
	h := newHarness(t, func(c *Config) {
		c.API, c.Workflow, c.Directory, c.Clock = fake.Client(), svc, dir, clock
	})
	h.slack = fake // the harness's own fake is unused here

	// declare
	h.command("new Database outage --sev 2")
	if _, err := fake.WaitForMethod(h.ctx(), "chat.postMessage", 1); err != nil {
		t.Fatal(err)
	}
	roots := fake.Posts("C0INCIDENTS")
	if len(roots) != 1 || !strings.Contains(roots[0].AllText(), "INC-1 · SEV2 · Database outage") {
		t.Fatalf("root posts %+v", roots)
	}
	root := roots[0]
	if !strings.Contains(root.RawBlocks, `"action_id":"notify"`) || !strings.Contains(root.RawBlocks, `"value":"INC-1"`) {
		t.Fatalf("root has no Notify button: %s", root.RawBlocks)
	}

	// Notify stakeholders, from the root's button
	h.interact(blockActions(bot.ActionNotify, "INC-1"))
	step1 := fake.ViewsOpened()[0]
	h.interact(chooseTemplate(step1, "investigating"))
	if _, err := fake.WaitForMethod(h.ctx(), "views.update", 1); err != nil {
		t.Fatal(err)
	}
	step1, _ = fake.View(step1.ID)
	_, body := h.interact(viewSubmission(step1, composeState([]string{"executives", "it-ops"}, "investigating", "15:30 UTC")))
	resp := decodeSubmissionResponse(t, body)
	if resp.ResponseAction != "update" {
		t.Fatalf("preview response %s", body)
	}
	step2 := responseView(t, body, "V-step2")
	if txt := step2.AllText(); !strings.Contains(txt, "[SEV2] Database outage: we are investigating. Next update 15:30 UTC.") ||
		!strings.Contains(txt, "*Total*\n2 people") || !strings.Contains(txt, textRequestButton) {
		t.Fatalf("preview from the real service:\n%s", txt)
	}
	_, body = h.interact(viewSubmission(step2, nil))
	if txt := responseView(t, body, "V-done").AllText(); !strings.Contains(txt, "Approval requested") {
		t.Fatalf("after submit: %s", txt)
	}
	if _, err := fake.WaitForMethod(h.ctx(), "chat.postMessage", 2); err != nil {
		t.Fatal(err)
	}
	thread := fake.ThreadPosts("C0INCIDENTS", root.TS)
	if len(thread) != 1 || !strings.Contains(thread[0].AllText(), "Approval needed") {
		t.Fatalf("thread %+v", thread)
	}
	var broadcastID string
	for _, b := range thread[0].Blocks {
		js, _ := json.Marshal(b)
		if strings.Contains(string(js), `"action_id":"approve"`) {
			var ab struct {
				Elements []struct {
					ActionID string `json:"action_id"`
					Value    string `json:"value"`
				} `json:"elements"`
			}
			_ = json.Unmarshal(js, &ab)
			broadcastID = ab.Elements[0].Value
		}
	}
	if broadcastID == "" {
		t.Fatalf("approval request without an Approve button: %s", thread[0].RawBlocks)
	}

	// the requester may not approve their own update
	h.interact(blockActions(bot.ActionApprove, broadcastID))
	if _, err := fake.WaitFor(h.ctx(), func(c slackapi.Call) bool {
		return c.Method == "chat.postEphemeral" && c.Params.Get("user") == "U00FAKEUSER2" &&
			strings.Contains(c.Params.Get("text"), "You cannot approve your own update")
	}); err != nil {
		t.Fatal(err)
	}

	// another approver double-clicks: relayed exactly once, the second click told so
	click := asUser(blockActions(bot.ActionApprove, broadcastID), "U0LEAD", "lead")
	for range 2 {
		if code, _ := h.interact(click); code != http.StatusOK {
			t.Fatalf("HTTP %d", code)
		}
	}
	if _, err := fake.WaitFor(h.ctx(), func(c slackapi.Call) bool {
		return c.Method == "chat.postEphemeral" && c.Params.Get("user") == "U0LEAD" &&
			strings.Contains(c.Params.Get("text"), "already approved")
	}); err != nil {
		t.Fatal(err)
	}
	// the first click may still be finishing: wait for the pool, then count
	if err := h.fe.Close(h.ctx()); err != nil {
		t.Fatal(err)
	}
	if got := relay.Started(); len(got) != 1 || got[0] != broadcastID {
		t.Fatalf("relay started %v, want %s once", got, broadcastID)
	}
	h.noErrors()
}
