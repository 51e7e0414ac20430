package redis

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/redistest"
)

// Every operation must work on Redis Cluster: a one-node cluster refuses
// multi-key commands, transactions and scripts whose keys are in different
// slots (CROSSSLOT), so this run catches a missing hash tag.
func TestEveryOperationWorksOnCluster(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.StartCluster(t)
	c, err := Open(ctx, srv.URL())
	must(t, err)
	t.Cleanup(func() { c.Close() })
	if _, ok := c.(*goredis.ClusterClient); !ok {
		t.Fatalf("Open(%s) gave a %T, want a cluster client", srv.URL(), c)
	}
	clock := newClock()
	s := New(c, "", crypto.MustNewSealer(testKey), clock, WithRetention(24*time.Hour))
	now := clock.Now()
	must(t, s.Ping(ctx))

	// incidents
	n, err := s.NextIncidentNumber(ctx)
	must(t, err)
	must(t, s.SaveIncident(ctx, bot.Incident{ID: bot.IncidentID(n), Number: n, State: bot.IncidentOpen}))
	if incs, err := s.Incidents(ctx, true); err != nil || len(incs) != 1 {
		t.Fatalf("Incidents = %v, %v", incs, err)
	}

	// broadcasts, approval, deliveries
	must(t, s.SaveBroadcast(ctx, newBroadcast("B-1-1", "INC-1", bot.BroadcastPendingApproval, now)))
	if p, err := s.PendingApprovals(ctx); err != nil || len(p) != 1 {
		t.Fatalf("PendingApprovals = %v, %v", p, err)
	}
	_, err = s.UpdateBroadcast(ctx, "B-1-1", func(b *bot.Broadcast) error { b.State = bot.BroadcastApproved; return nil })
	must(t, err)
	if a, err := s.BroadcastsInState(ctx, bot.BroadcastApproved); err != nil || len(a) != 1 {
		t.Fatalf("BroadcastsInState(approved) = %v, %v", a, err)
	}
	if bs, err := s.BroadcastsOf(ctx, "INC-1"); err != nil || len(bs) != 1 || bs[0].State != bot.BroadcastApproved {
		t.Fatalf("BroadcastsOf = %v, %v", bs, err)
	}
	must(t, s.SaveDeliveries(ctx, []bot.Delivery{newDelivery("B-1-1", "dana", dana, now), newDelivery("B-1-1", "omar", omar, now)}))
	_, err = s.UpdateDelivery(ctx, "B-1-1", "dana", func(d *bot.Delivery) error {
		d.State = bot.DeliveryQueued
		d.Attempts = []bot.Attempt{{SID: "SM1"}}
		return nil
	})
	must(t, err)
	must(t, s.IndexSID(ctx, "SM1", "B-1-1", "dana"))
	if d, err := s.DeliveryBySID(ctx, "SM1"); err != nil || d.RecipientID != "dana" {
		t.Fatalf("DeliveryBySID = %v, %v", d, err)
	}
	assertCounts(t, s, "B-1-1", bot.Counts{bot.DeliveryPending: 1, bot.DeliveryQueued: 1})

	// phones
	must(t, s.SetOptOut(ctx, omar, true))
	if o, err := s.OptedOut(ctx, []string{dana, omar}); err != nil || !o[omar] || o[dana] {
		t.Fatalf("OptedOut = %v, %v", o, err)
	}
	must(t, s.OpenSession(ctx, dana, now))
	if o, err := s.OpenSessions(ctx, []string{dana, omar}, now); err != nil || !o[dana] || o[omar] {
		t.Fatalf("OpenSessions = %v, %v", o, err)
	}
	must(t, s.RecordContacts(ctx, []bot.Contact{{Phone: dana, IncidentID: "INC-1", At: now}, {Phone: dana, IncidentID: "INC-2", At: now}}, time.Hour))
	if cs, err := s.Contacts(ctx, dana, time.Time{}); err != nil || len(cs) != 2 {
		t.Fatalf("Contacts = %v, %v", cs, err)
	}
	must(t, s.Forget(ctx, dana))
	if _, err := s.Delivery(ctx, "B-1-1", "dana"); err == nil {
		t.Fatal("Forget left dana's delivery on the cluster")
	}

	// audit, dedup, queue, rate limit
	must(t, s.Audit(ctx, bot.AuditEntry{Action: "incident.declare", IncidentID: "INC-1"}))
	if tr, err := s.AuditTrail(ctx, "INC-1"); err != nil || len(tr) != 1 {
		t.Fatalf("AuditTrail = %v, %v", tr, err)
	}
	if first, err := s.FirstTime(ctx, "k", time.Minute); err != nil || !first {
		t.Fatalf("FirstTime = %v, %v", first, err)
	}
	must(t, s.Enqueue(ctx, "relay", payloads(3)...))
	jobs, err := s.Claim(ctx, "relay", "a", 2, 0)
	must(t, err)
	if len(jobs) != 2 {
		t.Fatalf("Claim = %v", jobs)
	}
	re, err := s.Reclaim(ctx, "relay", "b", 0, 10)
	must(t, err)
	if len(re) != 2 || re[0].Deliveries != 2 {
		t.Fatalf("Reclaim = %+v", re)
	}
	must(t, s.Ack(ctx, "relay", re[0].ID, re[1].ID))
	if _, err := s.Reserve(ctx, "sms", 10, 1); err != nil {
		t.Fatal(err)
	}
	must(t, s.Pause(ctx, "sms", time.Second))
}
