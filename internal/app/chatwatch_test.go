package app

import (
	"testing"
	"time"
)

// The watch's intervals follow failover.down_after, so an outage is noticed
// within about down_after (three failed probes span it) plus one idle probe,
// and the defaults keep production's pace: a probe every 10 s when idle,
// housekeeping every 5 s, at most 10 s between probes while down (issue
// 12: it was a minute, which delayed the replay after an outage).
func TestTimingsFollowDownAfter(t *testing.T) {
	for _, tc := range []struct {
		downAfter time.Duration
		want      chatTimings
	}{
		{30 * time.Second, chatTimings{idleProbe: 10 * time.Second, retry: 2500 * time.Millisecond, timeout: 5 * time.Second,
			downBackoff: 10 * time.Second, housekeep: 5 * time.Second}},
		{0, chatTimings{idleProbe: 10 * time.Second, retry: 2500 * time.Millisecond, timeout: 5 * time.Second,
			downBackoff: 10 * time.Second, housekeep: 5 * time.Second}},
		{2 * time.Second, chatTimings{idleProbe: 666666666, retry: 166666666, timeout: 666666666,
			downBackoff: 4 * time.Second, housekeep: 500 * time.Millisecond}},
		{time.Second, chatTimings{idleProbe: 333333333, retry: 83333333, timeout: 333333333,
			downBackoff: 2 * time.Second, housekeep: 250 * time.Millisecond}},
		{10 * time.Minute, chatTimings{idleProbe: 10 * time.Second, retry: 2500 * time.Millisecond, timeout: 5 * time.Second,
			downBackoff: 10 * time.Second, housekeep: 5 * time.Second}},
	} {
		got := timingsFor(tc.downAfter)
		if got != tc.want {
			t.Errorf("down_after %v: timings %+v, want %+v", tc.downAfter, got, tc.want)
		}
		// A forced mode (herald failover on) reaches every replica at its
		// next housekeeping tick: the README promises within 5 s.
		if got.housekeep > 5*time.Second {
			t.Errorf("down_after %v: housekeeping every %v, want at most 5s", tc.downAfter, got.housekeep)
		}
		// Three failures must fit in down_after, or the outage is noticed late.
		if d := tc.downAfter; d > 0 && d <= 30*time.Second && 2*got.retry+got.timeout > d {
			t.Errorf("down_after %v: three failed probes take %v", d, 2*got.retry+got.timeout)
		}
	}
}

func TestProbesWhileDownAreJitteredAndNeverLonger(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		got := jittered(maxDownBackoff, func() float64 { return r })
		if got > maxDownBackoff || got < maxDownBackoff*3/4 {
			t.Errorf("jittered(%v) with %v = %v, want within [3/4, 1] of it", maxDownBackoff, r, got)
		}
	}
	if jittered(maxDownBackoff, func() float64 { return 0.5 }) == jittered(maxDownBackoff, func() float64 { return 0.1 }) {
		t.Error("jitter does not spread the waits")
	}
}
