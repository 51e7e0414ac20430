package failover

import (
	"cmp"
	"sync"
	"time"

	"github.com/heraldops/herald/bot"
)

// ChatMode is whether herald can use chat or runs the incident over SMS.
type ChatMode string

const (
	ModeChat    ChatMode = "chat"     // chat reachable: normal operation
	ModeSMSOnly ChatMode = "sms-only" // chat unreachable or failover forced on
)

// HealthSettings tunes how quickly herald gives up on chat and trusts it again.
type HealthSettings struct {
	// DownAfter is how long chat calls must keep failing, with no success in
	// between, before chat is declared down (default 30s).
	DownAfter time.Duration
	// MinFailures is how many failed calls that needs at least (default 3), so
	// one slow call does not start an outage.
	MinFailures int
	// UpAfterSuccesses is how many consecutive successful calls or probes bring
	// chat back (default 3). Any failure in between starts the count again:
	// a flapping chat stays in SMS-only mode instead of flipping every second.
	UpAfterSuccesses int
}

// ChatHealth turns the stream of chat API results into a mode with
// hysteresis. Adapters call Observe after every Web API call (trouble means a
// connection error, a timeout or a 5xx; a 4xx answer proves chat is up).
// It is a pure state machine on an injected clock, safe for concurrent use.
type ChatHealth struct {
	Settings HealthSettings
	Clock    bot.Clock
	// OnChange, if set, is called (outside the lock) when the mode flips,
	// with the time the new mode began: for an outage, the first failure
	// of the run that ended in it (herald declares it only DownAfter later),
	// so what is reported as the outage covers all of it.
	OnChange func(mode ChatMode, at time.Time)

	mu           sync.Mutex
	down         bool
	failingSince time.Time
	failures     int
	successes    int
	since        time.Time // when the current mode began
	forced       *ChatMode // manual override (drills, outages herald cannot see)
}

// withDefaults fills what is not set: the one place the defaults live.
func (s HealthSettings) withDefaults() HealthSettings {
	s.DownAfter = cmp.Or(s.DownAfter, 30*time.Second)
	s.MinFailures = cmp.Or(s.MinFailures, 3)
	s.UpAfterSuccesses = cmp.Or(s.UpAfterSuccesses, 3)
	return s
}

func (h *ChatHealth) settings() HealthSettings { return h.Settings.withDefaults() }

// Observe records one chat call's outcome: ok false means trouble.
func (h *ChatHealth) Observe(ok bool) {
	s := h.settings()
	now := h.Clock.Now()
	var changed bool
	h.mu.Lock()
	if ok {
		h.failures, h.failingSince = 0, time.Time{}
		if h.down {
			h.successes++
			if h.successes >= s.UpAfterSuccesses {
				h.down, h.successes, h.since, changed = false, 0, now, true
			}
		}
	} else {
		h.successes = 0
		if h.failures == 0 {
			h.failingSince = now
		}
		h.failures++
		if !h.down && h.failures >= s.MinFailures && now.Sub(h.failingSince) >= s.DownAfter {
			h.down, h.since, changed = true, h.failingSince, true
		}
	}
	mode, forced, since := h.modeLocked(), h.forced != nil, h.since
	h.mu.Unlock()
	if changed && !forced && h.OnChange != nil {
		h.OnChange(mode, since)
	}
}

// Force overrides the observed mode (herald failover on|off); nil clears the
// override and the observed mode applies again.
func (h *ChatHealth) Force(mode *ChatMode) {
	now := h.Clock.Now()
	h.mu.Lock()
	before := h.modeLocked()
	h.forced = mode
	after := h.modeLocked()
	if before != after {
		h.since = now
	}
	h.mu.Unlock()
	if before != after && h.OnChange != nil {
		h.OnChange(after, now)
	}
}

// Mode is the mode in force.
func (h *ChatHealth) Mode() ChatMode {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.modeLocked()
}

// Up reports whether chat may be used.
func (h *ChatHealth) Up() bool { return h.Mode() == ModeChat }

// Forced reports whether a manual override is in force.
func (h *ChatHealth) Forced() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.forced != nil
}

// Since is when the current mode began (zero if it never changed).
func (h *ChatHealth) Since() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.since
}

func (h *ChatHealth) modeLocked() ChatMode {
	if h.forced != nil {
		return *h.forced
	}
	if h.down {
		return ModeSMSOnly
	}
	return ModeChat
}
