package failover_test

import (
	"testing"
	"time"

	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/failover"
)

func TestChatHealthGoesDownAfterSustainedFailureAndUpAfterSuccesses(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC))
	var changes []failover.ChatMode
	var began []time.Time
	h := &failover.ChatHealth{Clock: clock, Settings: failover.HealthSettings{DownAfter: 10 * time.Second, UpAfterSuccesses: 3},
		OnChange: func(m failover.ChatMode, at time.Time) { changes, began = append(changes, m), append(began, at) }}
	firstFailure := clock.Now()

	// given: chat fails every second
	for range 10 {
		h.Observe(false)
		clock.Advance(time.Second)
		if !h.Up() {
			t.Fatalf("declared down after %v, want only after 10s of failures", clock.Now())
		}
	}
	h.Observe(false) // 10s after the first failure
	if h.Up() {
		t.Fatal("still up after 10s of failures")
	}
	// when: two successes, a failure, then three successes
	for _, ok := range []bool{true, true, false, true, true} {
		h.Observe(ok)
		if h.Up() {
			t.Fatal("came back up without 3 consecutive successes")
		}
	}
	h.Observe(true)
	// then
	if !h.Up() {
		t.Fatal("not up after 3 consecutive successes")
	}
	if len(changes) != 2 || changes[0] != failover.ModeSMSOnly || changes[1] != failover.ModeChat {
		t.Errorf("mode changes = %v, want [sms-only chat]", changes)
	}
	// The outage is reported from its first failure, not from when herald
	// declared it, and the recovery from the success that ended it.
	if len(began) != 2 || !began[0].Equal(firstFailure) || !began[1].Equal(clock.Now()) {
		t.Errorf("modes began at %v, want [%v %v]", began, firstFailure, clock.Now())
	}
}

func TestChatHealthDoesNotFlipFlopWhenChatFlaps(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC))
	flips := 0
	h := &failover.ChatHealth{Clock: clock, Settings: failover.HealthSettings{DownAfter: 5 * time.Second},
		OnChange: func(failover.ChatMode, time.Time) { flips++ }}
	// Slack failing every other second for ten minutes.
	for i := range 600 {
		h.Observe(i%2 == 0)
		clock.Advance(time.Second)
	}
	if flips > 1 {
		t.Errorf("mode flipped %d times while chat flapped, want at most once", flips)
	}
}

func TestChatHealthManualOverride(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC))
	h := &failover.ChatHealth{Clock: clock}
	on := failover.ModeSMSOnly
	h.Force(&on)
	if h.Up() || !h.Forced() {
		t.Fatal("failover on did not switch to SMS-only")
	}
	for range 5 {
		h.Observe(true)
	}
	if h.Up() {
		t.Fatal("successful calls ended a forced failover")
	}
	h.Force(nil)
	if !h.Up() {
		t.Fatal("failover off did not return to chat")
	}
}
