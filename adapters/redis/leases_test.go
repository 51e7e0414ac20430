package redis

import (
	"testing"
	"time"
)

// A live consumer's renewals keep its jobs from looking idle; once it stops,
// they go idle and its lease lapses.
func TestLeasesKeepLiveConsumersJobs(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	q := f.store
	must(t, q.Enqueue(ctx, "relay", payloads(2)...))
	jobs, err := q.Claim(ctx, "relay", "live", 2, 0)
	must(t, err)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d", len(jobs))
	}
	ttl := 300 * time.Millisecond
	must(t, q.Renew(ctx, "relay", "live", ttl, []string{jobs[0].ID}))
	if alive, err := q.Alive(ctx, "live"); err != nil || !alive {
		t.Fatalf("Alive = %v, %v right after Renew", alive, err)
	}
	time.Sleep(150 * time.Millisecond)
	must(t, q.Renew(ctx, "relay", "live", ttl, []string{jobs[0].ID}))
	time.Sleep(150 * time.Millisecond)

	// The renewed job is fresh; the other one went idle.
	got, err := q.Reclaim(ctx, "relay", "other", 200*time.Millisecond, 10)
	must(t, err)
	if len(got) != 1 || got[0].ID != jobs[1].ID {
		t.Fatalf("reclaimed %+v, want only the job not renewed (%s)", got, jobs[1].ID)
	}
	if got[0].Deliveries != 2 {
		t.Errorf("reclaimed job delivered %d times, want 2 (renewals do not count)", got[0].Deliveries)
	}

	time.Sleep(2 * ttl)
	if alive, err := q.Alive(ctx, "live"); err != nil || alive {
		t.Errorf("Alive = %v, %v after the lease lapsed, want false", alive, err)
	}
}
