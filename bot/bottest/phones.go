package bottest

import (
	"context"
	"sort"
	"time"

	"github.com/heraldops/herald/bot"
)

func (s *Store) SetOptOut(_ context.Context, phone string, optedOut bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if optedOut {
		s.optOut[phone] = true
	} else {
		delete(s.optOut, phone)
	}
	return nil
}

func (s *Store) OptedOut(_ context.Context, phones []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range phones {
		if s.optOut[p] {
			out[p] = true
		}
	}
	return out, nil
}

func (s *Store) OpenSession(_ context.Context, phone string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.sessions[phone]) {
		s.sessions[phone] = at
	}
	return nil
}

func (s *Store) OpenSessions(_ context.Context, phones []string, at time.Time) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range phones {
		if last, ok := s.sessions[p]; ok && at.Sub(last) < bot.WhatsAppSessionWindow {
			out[p] = true
		}
	}
	return out, nil
}

func (s *Store) RecordContacts(_ context.Context, cs []bot.Contact, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		s.contacts[c.Phone] = append(s.contacts[c.Phone], contactEntry{c: c, expires: c.At.Add(ttl)})
	}
	return nil
}

func (s *Store) Contacts(_ context.Context, phone string, since time.Time) ([]bot.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Clock.Now()
	latest := map[string]bot.Contact{}
	for _, e := range s.contacts[phone] {
		if now.After(e.expires) || e.c.At.Before(since) {
			continue
		}
		if cur, ok := latest[e.c.IncidentID]; !ok || e.c.At.After(cur.At) {
			latest[e.c.IncidentID] = e.c
		}
	}
	out := make([]bot.Contact, 0, len(latest))
	for _, c := range latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

func (s *Store) Forget(_ context.Context, phone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.optOut, phone)
	delete(s.sessions, phone)
	delete(s.contacts, phone)
	return nil
}

// ---- audit, dedup ----
