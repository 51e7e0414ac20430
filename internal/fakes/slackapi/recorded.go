package slackapi

import (
	"context"
	"fmt"
)

// RateLimited counts the posts the channel rate (WithChannelRate) refused.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// Calls returns every call received, in order; with methods given, only
// calls of those methods.
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// Posts returns the messages posted in channel (top-level and in threads), in
// posting order, as they stand now.
func (s *Server) Posts(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		out = append(out, *m)
	}
	return out
}

// ThreadPosts returns the replies in the thread under root ts in channel.
func (s *Server) ThreadPosts(channel, ts string) []Message {
	var out []Message
	for _, m := range s.Posts(channel) {
		if m.ThreadTS == ts && m.TS != ts {
			out = append(out, m)
		}
	}
	return out
}

// Message returns one message by channel and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	for _, m := range s.Posts(channel) {
		if m.TS == ts {
			return m, true
		}
	}
	return Message{}, false
}

// Ephemerals returns the ephemeral messages posted (chat.postEphemeral).
func (s *Server) Ephemerals() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.ephemerals...)
}

// Updates returns the successful chat.update calls.
func (s *Server) Updates() []Call {
	var out []Call
	for _, c := range s.Calls("chat.update") {
		if c.OK() {
			out = append(out, c)
		}
	}
	return out
}

// ViewsOpened returns the modals opened with views.open, in order, as opened.
func (s *Server) ViewsOpened() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]View(nil), s.opened...)
}

// View returns a modal as it stands now (after views.update).
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return *v, true
}

// WaitFor waits until a recorded call satisfies pred and returns the first
// one that does, or the context's error.
func (s *Server) WaitFor(ctx context.Context, pred func(Call) bool) (Call, error) {
	var found Call
	err := s.waitUntil(ctx, func() bool {
		for _, c := range s.calls {
			if pred(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitForMethod waits for the n-th (1-based) successful call of method.
func (s *Server) WaitForMethod(ctx context.Context, method string, n int) (Call, error) {
	var found Call
	err := s.waitUntil(ctx, func() bool {
		seen := 0
		for _, c := range s.calls {
			if c.Method == method && c.OK() {
				if seen++; seen == n {
					found = c
					return true
				}
			}
		}
		return false
	})
	return found, err
}

// waitUntil re-evaluates done (with s.mu held) whenever something is
// recorded, until it is true or ctx ends.
func (s *Server) waitUntil(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		ok := done()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for Slack: %w", ctx.Err())
		}
	}
}

// notifyLocked wakes every WaitFor; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
