package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/workflow"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// fakeWorkflow stands in for bot.Service: it records calls and answers with
// what the test set. (Once the service is implemented, the end-to-end test
// in e2e_test.go drives the real one.)
type fakeWorkflow struct {
	mu    sync.Mutex
	calls []string
	got   chan string // every call's summary, for tests to wait on

	declareErr error
	resolveErr error
	approveErr error
	rejectErr  error
	submitErr  error
	preview    workflow.Preview
	previewErr error
	previewFn  func(bot.Draft) (workflow.Preview, error)
	submitted  []bot.Draft
	rejected   []string
	open       []bot.Incident
	block      chan struct{} // when set, Submit waits for it (slow service)
}

func newFakeWorkflow() *fakeWorkflow {
	return &fakeWorkflow{got: make(chan string, 100)}
}

func (w *fakeWorkflow) record(s string) {
	w.mu.Lock()
	w.calls = append(w.calls, s)
	w.mu.Unlock()
	w.got <- s
}

func (w *fakeWorkflow) Calls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

func (w *fakeWorkflow) Declare(_ context.Context, by bot.Actor, title string, sev int, channel string) (bot.Incident, error) {
	w.record("declare " + by.ID + " " + title + " " + string(rune('0'+sev)) + " " + channel)
	if w.declareErr != nil {
		return bot.Incident{}, w.declareErr
	}
	return bot.Incident{ID: "INC-7", Title: title, Severity: sev, Thread: bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0INCIDENTS", RootID: "1.1"}}, nil
}

func (w *fakeWorkflow) Incident(_ context.Context, id string) (bot.Incident, error) {
	w.record("incident " + id)
	return bot.Incident{ID: id, Title: "Database outage", State: bot.IncidentOpen}, nil
}

func (w *fakeWorkflow) List(_ context.Context, openOnly bool) ([]bot.Incident, error) {
	w.record("list")
	return w.open, nil
}

func (w *fakeWorkflow) NewestOpen(_ context.Context, channel string) (bot.Incident, error) {
	w.record("newest " + channel)
	if len(w.open) == 0 {
		return bot.Incident{}, bot.ErrNotFound
	}
	return w.open[0], nil
}

func (w *fakeWorkflow) Status(_ context.Context, id string) (workflow.StatusReport, error) {
	w.record("status " + id)
	return workflow.StatusReport{Incident: bot.Incident{ID: id, Title: "Database outage", Severity: 2, State: bot.IncidentOpen,
		DeclaredAt: time.Date(2026, 3, 1, 14, 2, 0, 0, time.UTC)},
		Broadcasts: []workflow.BroadcastStatus{{
			Broadcast: bot.Broadcast{ID: "B-7-1", State: bot.BroadcastSending, Total: 2,
				RequestedBy: bot.Actor{ID: "U0SAM", Name: "Sam"}, DecidedBy: bot.Actor{ID: "U0SAM", Name: "Sam"},
				Draft: bot.Draft{Template: "investigating", Audiences: []string{"it-ops"}}},
			Counts: bot.Counts{bot.DeliveryDelivered: 8, bot.DeliveryFailed: 1},
		}}}, nil
}

func (w *fakeWorkflow) Resolve(_ context.Context, by bot.Actor, id string) (bot.Incident, error) {
	w.record("resolve " + by.ID + " " + id)
	return bot.Incident{ID: id}, w.resolveErr
}

func (w *fakeWorkflow) Preview(_ context.Context, by bot.Actor, d bot.Draft) (workflow.Preview, error) {
	w.record("preview " + by.ID + " " + d.IncidentID + " " + d.Template + " " + strings.Join(d.Audiences, ","))
	if w.previewFn != nil {
		return w.previewFn(d)
	}
	p := w.preview
	p.Draft = d
	return p, w.previewErr
}

func (w *fakeWorkflow) Submit(_ context.Context, by bot.Actor, d bot.Draft) (bot.Broadcast, error) {
	if w.block != nil {
		<-w.block
	}
	w.mu.Lock()
	w.submitted = append(w.submitted, d)
	w.mu.Unlock()
	w.record("submit " + by.ID + " " + d.IncidentID)
	if w.submitErr != nil {
		return bot.Broadcast{}, w.submitErr
	}
	return bot.Broadcast{ID: "B-7-1", Draft: d, State: bot.BroadcastSending, Total: 2}, nil
}

func (w *fakeWorkflow) Approve(_ context.Context, by bot.Actor, id string) (bot.Broadcast, error) {
	w.record("approve " + by.ID + " " + id)
	return bot.Broadcast{ID: id}, w.approveErr
}

func (w *fakeWorkflow) Reject(_ context.Context, by bot.Actor, id, reason string) (bot.Broadcast, error) {
	w.mu.Lock()
	w.rejected = append(w.rejected, reason)
	w.mu.Unlock()
	w.record("reject " + by.ID + " " + id + " " + reason)
	return bot.Broadcast{ID: id}, w.rejectErr
}

// waitCall waits for the workflow call whose summary starts with prefix.
func (w *fakeWorkflow) waitCall(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case c := <-w.got:
			if strings.HasPrefix(c, prefix) {
				return c
			}
		case <-timeout:
			t.Fatalf("no workflow call %q; calls: %v", prefix, w.Calls())
		}
	}
}

type fakeThreads struct{ got chan ThreadMessage }

func (f *fakeThreads) ThreadMessage(_ context.Context, m ThreadMessage) error {
	f.got <- m
	return nil
}

func testDirectory(t *testing.T) *bot.Directory {
	t.Helper()
	inv, errs := bot.ParseTemplate(bot.TemplateSource{
		Name: "investigating", Fields: []string{"next_update"}, AllowNote: true,
		SMS:      "[SEV{{.Severity}}] {{.Title}}: we are investigating. Next update {{.Fields.next_update}}.",
		WhatsApp: &bot.WhatsAppTemplate{ContentSID: "HX0000000000000000000000000000000", Variables: map[string]string{"1": "{{.Title}}"}},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	res, errs := bot.ParseTemplate(bot.TemplateSource{Name: "resolved", SMS: "{{.Title}} is resolved."})
	if errs != nil {
		t.Fatal(errs)
	}
	dir, err := bot.NewDirectory(
		[]bot.Recipient{
			{ID: "dana", Name: "Dana Weber", Phone: "+4915100000001", Channel: bot.ChannelWhatsApp},
			{ID: "omar", Name: "Omar Haddad", Phone: "+14155550101", Channel: bot.ChannelSMS},
		},
		[]bot.Audience{
			{Name: "executives", ApprovalRequired: true, Members: []string{"dana"}},
			{Name: "it-ops", Members: []string{"omar", "dana"}},
		},
		[]*bot.Template{inv, res})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

type harness struct {
	t       *testing.T
	slack   *slackapi.Server
	wf      *fakeWorkflow
	fe      *Frontend
	srv     *httptest.Server
	signer  slackapi.Signer
	threads *fakeThreads
	errs    chan error
}

func newHarness(t *testing.T, tweak ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, slack: slackapi.New(), wf: newFakeWorkflow(), signer: slackapi.Signer{Secret: testSecret},
		threads: &fakeThreads{got: make(chan ThreadMessage, 10)}, errs: make(chan error, 100)}
	t.Cleanup(h.slack.Close)
	cfg := Config{
		API:           h.slack.Client(),
		Workflow:      h.wf,
		Directory:     testDirectory(t),
		Deduper:       bottest.NewStore(bottest.NewClock(time.Now())),
		SigningSecret: testSecret,
		Threads:       h.threads,
		OnError:       func(_ context.Context, err error) { h.errs <- err },
	}
	for _, f := range tweak {
		f(&cfg)
	}
	fe, err := NewFrontend(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.fe = fe
	mux := http.NewServeMux()
	fe.Routes(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.srv.Close()
		_ = fe.Close(context.Background())
	})
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// send does a request and returns the status and body.
func (h *harness) send(req *http.Request) (int, string) {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// commandForm is the fixture slash command with another text.
func commandForm(text string) []byte {
	form, err := url.ParseQuery(strings.TrimSpace(string(slackapi.Fixture("slash_command.form"))))
	if err != nil {
		panic(err)
	}
	form.Set("text", text)
	return []byte(form.Encode())
}

// command sends a signed /incident command and returns the ephemeral text.
func (h *harness) command(text string) string {
	h.t.Helper()
	code, body := h.send(h.signer.SlashCommand(h.srv.URL+"/slack/commands", commandForm(text)))
	if code != http.StatusOK {
		h.t.Fatalf("/incident %s: HTTP %d %s", text, code, body)
	}
	if body == "" {
		return ""
	}
	var msg slack.Msg
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		h.t.Fatalf("/incident %s: answer %q is not a message: %v", text, body, err)
	}
	if msg.ResponseType != slack.ResponseTypeEphemeral {
		h.t.Fatalf("/incident %s: answer is %q, want ephemeral", text, msg.ResponseType)
	}
	return msg.Text
}

// fixtureJSON decodes a fixture into a generic map, for building payloads
// of herald's own modals and buttons in the real payload shape.
func fixtureJSON(name string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(slackapi.Fixture(name), &m); err != nil {
		panic(err)
	}
	return m
}

// blockActions is the fixture block_actions payload with herald's button.
func blockActions(actionID, value string) []byte {
	m := fixtureJSON("block_actions.json")
	actions := m["actions"].([]any)
	a := actions[0].(map[string]any)
	a["action_id"], a["value"] = actionID, value
	b, _ := json.Marshal(m)
	return b
}

// viewSubmission is the fixture view_submission payload carrying one of
// herald's modals (as views.open sent it to the fake) and the given state.
func viewSubmission(view slackapi.View, state map[string]map[string]any) []byte {
	m := fixtureJSON("view_submission.json")
	v := m["view"].(map[string]any)
	var sent map[string]any
	_ = json.Unmarshal(view.Raw, &sent)
	for k, val := range sent {
		v[k] = val
	}
	v["id"], v["hash"] = view.ID, view.Hash
	v["state"] = map[string]any{"values": state}
	b, _ := json.Marshal(m)
	return b
}

// interact sends a signed interaction and returns status and body.
func (h *harness) interact(payload []byte) (int, string) {
	h.t.Helper()
	return h.send(h.signer.Interaction(h.srv.URL+"/slack/interactions", payload))
}

func (h *harness) noErrors() {
	h.t.Helper()
	select {
	case err := <-h.errs:
		h.t.Fatalf("unexpected error reported: %v", err)
	default:
	}
}
