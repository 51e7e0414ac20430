package relay

import (
	"context"
	"sync"
	"time"
)

// Twilio answers 429 when an account has too many requests in flight, not
// only when it sends too fast; the right answer is to settle just under that
// concurrency. window is a congestion window over one sender's requests in
// flight on this replica, additive increase and multiplicative decrease as
// in TCP: a refusal halves the window (once per windowCooldown, however many
// requests were refused together), each success widens it by 1/window, so
// by one after a window's worth of successes. It starts wide open and costs
// one mutex per send while nothing is refused.
type window struct {
	mu       sync.Mutex
	limit    float64
	inFlight int
	lastCut  time.Time
	freed    chan struct{} // closed and replaced when a slot frees up
}

const (
	windowMax      = 1024
	windowCooldown = 100 * time.Millisecond
)

func newWindow() *window { return &window{limit: windowMax, freed: make(chan struct{})} }

// acquire waits for a slot in the window, or for ctx to end.
func (w *window) acquire(ctx context.Context) error {
	for {
		w.mu.Lock()
		if w.inFlight < max(int(w.limit), 1) {
			w.inFlight++
			w.mu.Unlock()
			return nil
		}
		freed := w.freed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-freed:
		}
	}
}

// release gives a slot back; refused says the provider answered "too many
// requests" without a Retry-After, ok that the request went through.
func (w *window) release(now time.Time, ok, refused bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	switch {
	case refused && now.Sub(w.lastCut) >= windowCooldown:
		// Half of what was in flight when the provider said no (the
		// limit may be far above it after a quiet spell).
		w.limit = max(1, min(w.limit, float64(w.inFlight+1))/2)
		w.lastCut = now
	case ok:
		w.limit = min(windowMax, w.limit+1/w.limit)
	}
	close(w.freed)
	w.freed = make(chan struct{})
}

// senderWindow returns the window of sender key, creating it.
func (r *Relay) senderWindow(key string) *window {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.windows == nil {
		r.windows = map[string]*window{}
	}
	w, ok := r.windows[key]
	if !ok {
		w = newWindow()
		r.windows[key] = w
	}
	return w
}
