package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/adapters/teams"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/workflow"
	"github.com/heraldops/herald/internal/fakes/botframework"
)

// Ids from the shared fixtures: the channel the mention fixture was typed in
// (our incident channel), its user (a responder and approver) and service URL.
const (
	incidentChannel = "19:d441d38c655c47a085215b2726e76927@thread.tacv2"
	fixtureUserAAD  = "00000000-1111-2222-3333-444444444444"
	fixtureService  = "https://smba.trafficmanager.net/amer/a1b2c3d4-e5f6-7890-abcd-ef1234567890/"
	secondAAD       = "99999999-8888-7777-6666-555555555555" // a second approver
	strangerAAD     = "12121212-3434-5656-7878-909090909090" // no role
)

// recordingRelay is the relay engine as the tests see it: it remembers every
// broadcast handed to it.
type recordingRelay struct {
	mu      sync.Mutex
	started []bot.Broadcast
}

func (r *recordingRelay) Start(_ context.Context, b bot.Broadcast) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, b)
	return nil
}

func (r *recordingRelay) Started() []bot.Broadcast {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Broadcast(nil), r.started...)
}

// harness is herald's Teams front end, wired as in production but with
// in-memory ports, behind a real HTTP server, talking to a fake Bot
// Framework.
type harness struct {
	t       *testing.T
	fake    *botframework.Server
	store   *bottest.Store
	relay   *recordingRelay
	svc     *workflow.Service
	dir     *bot.Directory
	handler *teams.Handler
	url     string // herald's /teams/messages
}

func testDirectory(t testing.TB) *bot.Directory {
	t.Helper()
	tpl, errs := bot.ParseTemplate(bot.TemplateSource{
		Name:     "investigating",
		Fields:   []string{"next_update"},
		SMS:      "[SEV{{.Severity}}] {{.Title}}: we are investigating. Next update {{.Fields.next_update}}. Reply to reach the incident team.",
		WhatsApp: &bot.WhatsAppTemplate{ContentSID: "HX0000000000000000000000000000000", Variables: map[string]string{"1": "{{.Title}}", "2": "{{.Fields.next_update}}"}},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tpl2, errs := bot.ParseTemplate(bot.TemplateSource{Name: "resolved", AllowNote: true, SMS: "{{.ID}} {{.Title}} is resolved. {{.Note}}"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	dir, err := bot.NewDirectory(
		[]bot.Recipient{
			{ID: "dana", Name: "Dana Weber", Phone: "+4915100000001", Channel: bot.ChannelWhatsApp, Locale: "de"},
			{ID: "lena", Name: "Lena Roth", Phone: "+4915100000002", Channel: bot.ChannelWhatsApp},
			{ID: "omar", Name: "Omar Haddad", Phone: "+14155550101", Channel: bot.ChannelSMS},
		},
		[]bot.Audience{
			{Name: "executives", Description: "C-level", ApprovalRequired: true, Members: []string{"dana", "lena"}},
			{Name: "it-ops", Members: []string{"omar", "dana"}},
		},
		[]*bot.Template{tpl, tpl2},
	)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake := botframework.NewServer()
	t.Cleanup(fake.Close)
	store := bottest.NewStore(nil)
	h := &harness{t: t, fake: fake, store: store, relay: &recordingRelay{}, dir: testDirectory(t)}
	chat := h.newChat()
	h.svc = &workflow.Service{
		Directory:  h.dir,
		Planner:    &bot.Planner{Directory: h.dir, Phones: store, Clock: bot.SystemClock{}},
		Incidents:  store,
		Broadcasts: store,
		Audit:      store,
		Chat:       chat,
		Relay:      h.relay,
		Clock:      bot.SystemClock{},
		Dedup:      store,
		Roles: bot.Roles{
			Responders: []string{fixtureUserAAD, secondAAD},
			Approvers:  []string{fixtureUserAAD, secondAAD},
		},
		Settings: workflow.Settings{IncidentChannel: incidentChannel},
	}
	h.handler = &teams.Handler{
		Workflow:  h.svc,
		Directory: h.dir,
		Validator: &teams.Validator{AppID: fake.AppID, MetadataURL: fake.MetadataURL()},
		Chat:      chat,
		Refs:      chat.Refs,
		Dedup:     store,
		Log:       zerolog.New(zerolog.NewTestWriter(t)),
	}
	if err := h.handler.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/teams/messages"
	return h
}

// newChat builds a Chat as a fresh replica would: its own connector and
// token cache, sharing nothing with the others but the store.
func (h *harness) newChat() *teams.Chat {
	return &teams.Chat{
		Connector: &teams.Connector{
			Tokens: &teams.TokenSource{URL: h.fake.TokenURL(), AppID: h.fake.AppID, Password: h.fake.AppPassword},
			// Service URLs in the fixtures name Microsoft's hosts; the fake's
			// transport answers for them.
			HTTP:  &http.Client{Transport: h.fake.Transport(), Timeout: 5 * time.Second},
			Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		},
		Refs:     &teams.KVReferences{KV: h.store},
		TenantID: botframework.DefaultTenantID,
	}
}

// send posts an activity to herald signed like the Bot Connector does.
func (h *harness) send(activity any, opts ...botframework.TokenOption) botframework.Response {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := h.fake.SendActivity(ctx, h.url, activity, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// fixture returns a shared fixture as a map, changed by edit (nil: as it is).
func fixture(t testing.TB, name string, edit func(a map[string]any)) map[string]any {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal(botframework.Fixture(name), &a); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(a)
	}
	return a
}

var activitySeq atomic.Int64

// nextActivityID is a fresh activity id, as Teams gives every activity.
func nextActivityID() string {
	return fmt.Sprintf("f:test-activity-%d", activitySeq.Add(1))
}

// mention is the channel mention fixture with another command typed after
// the mention, as a new activity.
func mention(t testing.TB, command string) map[string]any {
	return fixture(t, "channel_message_mention.json", func(a map[string]any) {
		a["text"] = "<at>Chat SDK Demo</at> " + command
		a["id"] = nextActivityID()
	})
}

// click is the card-submit fixture (an Action.Submit in a channel thread) as
// person aad clicking a button on card cardID in the thread of root, with
// the button's data (and the card's inputs) as value.
func click(t testing.TB, aad, name, root, cardID string, value map[string]any) map[string]any {
	return fixture(t, "card_submit_message.json", func(a map[string]any) {
		a["id"] = nextActivityID()
		a["replyToId"] = cardID
		a["value"] = value
		conv := a["conversation"].(map[string]any)
		conv["id"] = incidentChannel + ";messageid=" + root
		from := a["from"].(map[string]any)
		from["aadObjectId"] = aad
		from["name"] = name
	})
}

// buttonData finds the data of the card's button titled title, looking into
// ShowCard sub-cards too.
func buttonData(t testing.TB, card map[string]any, title string) map[string]any {
	t.Helper()
	var find func(actions []any) map[string]any
	find = func(actions []any) map[string]any {
		for _, a := range actions {
			m := a.(map[string]any)
			if m["title"] == title && m["type"] == "Action.Submit" {
				return m["data"].(map[string]any)
			}
			if sub, ok := m["card"].(map[string]any); ok {
				if acts, ok := sub["actions"].([]any); ok {
					if d := find(acts); d != nil {
						return d
					}
				}
			}
		}
		return nil
	}
	acts, _ := card["actions"].([]any)
	d := find(acts)
	if d == nil {
		t.Fatalf("no button %q on card %v", title, card)
	}
	out := map[string]any{}
	for k, v := range d {
		out[k] = v
	}
	return out
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
