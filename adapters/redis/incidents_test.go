package redis

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
)

func TestIncidentsRoundTripAndOrder(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store

	// given three incidents, the middle one resolved
	var saved []bot.Incident
	for i, title := range []string{"Checkout down", "Login slow", "EU latency"} {
		n, err := s.NextIncidentNumber(ctx)
		must(t, err)
		if n != int64(i+1) {
			t.Fatalf("incident number %d, want %d", n, i+1)
		}
		inc := bot.Incident{
			ID: bot.IncidentID(n), Number: n, Title: title, Severity: 2, State: bot.IncidentOpen,
			DeclaredBy: bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Rita"},
			DeclaredAt: f.clock.Now().UTC(),
			Thread:     bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0INCIDENTS", RootID: "1700000000.000100"},
		}
		must(t, s.SaveIncident(ctx, inc))
		saved = append(saved, inc)
	}
	resolved := saved[1]
	resolved.State = bot.IncidentResolved
	resolved.ResolvedAt = f.clock.Now().Add(time.Hour).UTC()
	must(t, s.SaveIncident(ctx, resolved))

	// then one reads back exactly what was saved
	got, err := s.Incident(ctx, "INC-2")
	must(t, err)
	if got.Title != "Login slow" || got.State != bot.IncidentResolved || !got.ResolvedAt.Equal(resolved.ResolvedAt) || got.Thread != resolved.Thread || got.DeclaredBy != resolved.DeclaredBy {
		t.Fatalf("Incident(INC-2) = %+v, want %+v", got, resolved)
	}

	// and lists are newest first, open ones without the resolved
	all, err := s.Incidents(ctx, false)
	must(t, err)
	if ids := incidentIDs(all); ids != "INC-3,INC-2,INC-1" {
		t.Fatalf("all incidents = %s", ids)
	}
	open, err := s.Incidents(ctx, true)
	must(t, err)
	if ids := incidentIDs(open); ids != "INC-3,INC-1" {
		t.Fatalf("open incidents = %s", ids)
	}

	if _, err := s.Incident(ctx, "INC-99"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("missing incident: err = %v, want ErrNotFound", err)
	}
}

func TestNextIncidentNumberIsUniqueAcrossReplicas(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	other := New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)

	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for i := range 10 {
		s := f.store
		if i%2 == 1 {
			s = other
		}
		wg.Go(func() {
			for range 20 {
				n, err := s.NextIncidentNumber(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[n] {
					t.Errorf("number %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for n := int64(1); n <= 200; n++ {
		if !seen[n] {
			t.Fatalf("number %d skipped", n)
		}
	}
}

func incidentIDs(incs []bot.Incident) string {
	s := ""
	for i, inc := range incs {
		if i > 0 {
			s += ","
		}
		s += inc.ID
	}
	return s
}
