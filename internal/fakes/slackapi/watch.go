package slackapi

import (
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack"
)

// The demo console (internal/demo) draws what a Slack client would show from
// what the fake holds, and plays the parts of the Slack client the fake
// otherwise leaves to tests: applying the response_action herald answers a
// view_submission with.

// Changed returns a channel that is closed the next time the fake records
// anything (a call, a post, an edit, a view). Take a new one after it fires.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// CurrentOutage says whether the Web API is down, and how.
func (s *Server) CurrentOutage() Outage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outage
}

// Views returns every modal the fake holds (opened, pushed or created by a
// response_action), in the order they were created, as they stand now.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.viewOrder))
	for _, id := range s.viewOrder {
		if v, ok := s.views[id]; ok {
			out = append(out, *v)
		}
	}
	return out
}

// ApplyViewUpdate replaces modal id with raw, as Slack does when herald
// answers a view_submission with response_action "update": the view keeps
// its id and gets a new hash.
func (s *Server) ApplyViewUpdate(id string, raw json.RawMessage) (View, error) {
	var mv slack.ModalViewRequest
	if err := json.Unmarshal(raw, &mv); err != nil {
		return View{}, fmt.Errorf("response_action update: the view is not a modal: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, fmt.Errorf("response_action update: no view %s", id)
	}
	v.Request, v.Raw, v.Hash = mv, raw, s.nextHashLocked()
	s.notifyLocked()
	return *v, nil
}

// ApplyViewPush adds raw as a new modal on top of the stack, as Slack does
// for response_action "push".
func (s *Server) ApplyViewPush(raw json.RawMessage) (View, error) {
	var mv slack.ModalViewRequest
	if err := json.Unmarshal(raw, &mv); err != nil {
		return View{}, fmt.Errorf("response_action push: the view is not a modal: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &View{ID: s.nextIDLocked("V"), Request: mv, Raw: raw, Hash: s.nextHashLocked()}
	s.views[v.ID] = v
	s.viewOrder = append(s.viewOrder, v.ID)
	s.notifyLocked()
	return *v, nil
}
