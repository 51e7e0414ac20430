package twilioapi

import (
	"context"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// The demo console redraws the phones when Changed fires, and with Jitter
// the ticks of a fan-out do not move in lockstep; each message's callbacks
// must still come in the carrier's order.
func TestChangedFiresAndJitterKeepsEachMessagesOrder(t *testing.T) {
	s, a := newFake(t, Config{})
	sink := newSink(t, s.AuthToken)
	s.SetAutoStatus(&AutoStatus{Step: time.Millisecond, Jitter: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	changed := s.Changed()
	for range 5 {
		if _, err := a.CreateMessage(new(openapi.CreateMessageParams).SetTo(stakeholder).SetFrom(smsFrom).SetBody("x").SetStatusCallback(sink.srv.URL + "/twilio/status")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("Changed did not fire when messages were created")
	}
	cbs, err := s.WaitForCallbacks(ctx, 5*3)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string][]string{}
	for _, cb := range cbs {
		per[cb.SID] = append(per[cb.SID], cb.Status)
	}
	for sid, sts := range per {
		if got := strings.Join(sts, ","); got != "queued,sent,delivered" {
			t.Errorf("%s: callbacks %s, want queued,sent,delivered", sid, got)
		}
	}
}
