package twilio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// wireRecorder keeps what each request looked like on the wire.
type wireRecorder struct {
	mu   sync.Mutex
	next http.RoundTripper
	reqs []recorded
}

type recorded struct {
	method, path, auth, contentType string
	form                            url.Values
}

func (r *wireRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.Header.Get("Authorization"), req.Header.Get("Content-Type"), form})
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *wireRecorder) last(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("no request")
	}
	return r.reqs[len(r.reqs)-1]
}

// The send path posts Messages.json itself; twilio-go stays the reference:
// for every kind of message both must put the same request on the wire.
func TestBothSendPathsPostTheSameForm(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*MessengerConfig)
		out  bot.Outbound
	}{
		{"SMS from a number", nil, bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "Checkout down: investigating. Next update 10:30 & more"}},
		{"SMS through a Messaging Service", func(c *MessengerConfig) { c.MessagingServiceSID = "MG" + "0123456789abcdef0123456789abcdef" }, bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "Störung: wir untersuchen"}},
		{"WhatsApp free-form", nil, bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, Body: "hello"}},
		{"WhatsApp template", nil, bot.Outbound{To: stakeholder, Channel: bot.ChannelWhatsApp, ContentSID: "HX0000000000000000000000000000000", ContentVariables: map[string]string{"1": "Checkout down", "2": "10:30"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t, twilioapi.Config{})
			rec := &wireRecorder{next: http.DefaultTransport}
			m := newMessenger(t, fake, func(c *MessengerConfig) {
				c.HTTPClient = &http.Client{Transport: rec}
				if tt.cfg != nil {
					tt.cfg(c)
				}
			})

			lean, err := m.Send(context.Background(), tt.out)
			if err != nil {
				t.Fatal(err)
			}
			ours := rec.last(t)
			ref, err := m.sendWithTwilioGo(context.Background(), tt.out)
			if err != nil {
				t.Fatal(err)
			}
			theirs := rec.last(t)

			if !reflect.DeepEqual(ours, theirs) {
				t.Errorf("lean path sent\n%+v\ntwilio-go sent\n%+v", ours, theirs)
			}
			if lean.SID == "" || lean.SID == ref.SID || lean.Status != ref.Status {
				t.Errorf("results %+v and %+v, want two messages in the same state", lean, ref)
			}
		})
	}
}

func TestSendPathKeepsConnectionsAlive(t *testing.T) {
	fake := newFake(t, twilioapi.Config{})
	m := newMessenger(t, fake, func(c *MessengerConfig) { c.Concurrency = 8 })
	tr, ok := m.transport.(*http.Transport)
	if !ok || tr.MaxIdleConnsPerHost != 8 {
		t.Fatalf("transport %T keeps %d idle connections per host, want a pooled one keeping 8", m.transport, tr.MaxIdleConnsPerHost)
	}
	for range 20 {
		if _, err := m.Send(context.Background(), bot.Outbound{To: stakeholder, Channel: bot.ChannelSMS, Body: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.Connections(); n != 1 {
		t.Errorf("20 sequential sends opened %d connections, want 1", n)
	}
}
