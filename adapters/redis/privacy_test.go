package redis

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
)

// dump returns every key under prefix with everything stored in it, as text.
func dump(t *testing.T, ctx context.Context, c goredis.UniversalClient, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	keys, err := c.Keys(ctx, escapeGlob(prefix)+"*").Result()
	must(t, err)
	for _, k := range keys {
		var v any
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			v = c.Get(ctx, k).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val()
		case "set":
			v = c.SMembers(ctx, k).Val()
		case "zset":
			v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
		case "list":
			v = c.LRange(ctx, k, 0, -1).Val()
		case "stream":
			v = c.XRange(ctx, k, "-", "+").Val()
		default:
			t.Fatalf("key %s has unexpected type %s", k, typ)
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}

// Phone numbers and message bodies must not be readable by anyone who can
// read Redis (or its snapshots): not in values, not in key names.
func TestNoPhoneNumberOrBodyInClearText(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now()
	const body = "Das Rechenzentrum Frankfurt ist ausgefallen"

	phoneActor := bot.Actor{ID: dana, Name: "Dana (SMS)"} // a responder driving the incident by SMS
	must(t, s.SaveIncident(ctx, bot.Incident{ID: "INC-1", Number: 1, Title: "DC down", State: bot.IncidentOpen, DeclaredBy: phoneActor}))
	must(t, s.SaveBroadcast(ctx, bot.Broadcast{ID: "B-1-1", Draft: bot.Draft{IncidentID: "INC-1", Note: body}, State: bot.BroadcastPendingApproval, RequestedBy: phoneActor}))
	must(t, s.SaveDeliveries(ctx, []bot.Delivery{newDelivery("B-1-1", "dana", dana, now), newDelivery("B-1-1", "omar", omar, now)}))
	_, err := s.UpdateDelivery(ctx, "B-1-1", "omar", func(d *bot.Delivery) error {
		d.State = bot.DeliveryFailed
		d.Attempts = []bot.Attempt{{Channel: bot.ChannelSMS, SID: "SMx", Error: "Attempt to send to unsubscribed recipient " + omar}}
		return nil
	})
	must(t, err)
	must(t, s.IndexSID(ctx, "SMx", "B-1-1", "omar"))
	must(t, s.SetOptOut(ctx, lee, true))
	must(t, s.OpenSession(ctx, dana, now))
	must(t, s.RecordContacts(ctx, []bot.Contact{{Phone: dana, IncidentID: "INC-1", BroadcastID: "B-1-1", At: now}, {Phone: omar, IncidentID: "INC-1", At: now}}, time.Hour))
	must(t, s.Audit(ctx, bot.AuditEntry{Actor: phoneActor, Action: "broadcast.request", IncidentID: "INC-1", Detail: "+49151*****01"}))
	must(t, s.Enqueue(ctx, "inbound", []byte(`{"from":"`+lee+`","body":"`+body+`"}`)))
	_, err = s.FirstTime(ctx, "inbound:"+lee, time.Minute)
	must(t, err)
	_, err = s.Reserve(ctx, "sms:"+omar, 1, 1) // a sender key that is a phone number
	must(t, err)

	all := dump(t, ctx, f.client, f.prefix)
	if len(all) < 10 {
		t.Fatalf("only %d keys written; the test is not looking at much", len(all))
	}
	for key, value := range all {
		for _, secret := range []string{"4915100000001", "14155550101", "447700900123", "Rechenzentrum"} {
			if strings.Contains(key, secret) {
				t.Errorf("key %q contains %q", key, secret)
			}
			if strings.Contains(value, secret) {
				t.Errorf("value of %q contains %q in clear text", key, secret)
			}
		}
	}

	// and it all reads back through the store
	if d, err := s.Delivery(ctx, "B-1-1", "omar"); err != nil || d.Phone != omar {
		t.Fatalf("Delivery = %+v, %v", d, err)
	}
	if jobs, err := s.Claim(ctx, "inbound", "w1", 1, 0); err != nil || !strings.Contains(string(jobs[0].Payload), body) {
		t.Fatalf("Claim = %v, %v", jobs, err)
	}
}

// Two installs sharing one Redis under different prefixes do not see each
// other's data.
func TestKeyPrefixIsolation(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := f.store
	b := New(f.client, f.prefix+"other", crypto.MustNewSealer(testKey), f.clock)
	now := f.clock.Now()

	n, err := a.NextIncidentNumber(ctx)
	must(t, err)
	must(t, a.SaveIncident(ctx, bot.Incident{ID: "INC-1", Number: n, State: bot.IncidentOpen}))
	must(t, a.SaveBroadcast(ctx, bot.Broadcast{ID: "B-1-1", Draft: bot.Draft{IncidentID: "INC-1"}, State: bot.BroadcastPendingApproval}))
	must(t, a.SaveDeliveries(ctx, []bot.Delivery{newDelivery("B-1-1", "dana", dana, now)}))
	must(t, a.SetOptOut(ctx, dana, true))
	must(t, a.OpenSession(ctx, dana, now))
	must(t, a.RecordContacts(ctx, []bot.Contact{{Phone: dana, IncidentID: "INC-1", At: now}}, time.Hour))
	must(t, a.Audit(ctx, bot.AuditEntry{Action: "incident.declare", IncidentID: "INC-1"}))
	must(t, a.Enqueue(ctx, "relay", []byte("job")))
	first, err := a.FirstTime(ctx, "slack:retry:1", time.Minute)
	must(t, err)
	if !first {
		t.Fatal("first FirstTime was false")
	}
	_, err = a.Reserve(ctx, "sms", 1, 1)
	must(t, err)

	if n, _ := b.NextIncidentNumber(ctx); n != 1 {
		t.Errorf("b's first incident number = %d", n)
	}
	if incs, _ := b.Incidents(ctx, false); len(incs) != 0 {
		t.Errorf("b sees incidents %+v", incs)
	}
	if p, _ := b.PendingApprovals(ctx); len(p) != 0 {
		t.Errorf("b sees pending approvals")
	}
	if _, err := b.Delivery(ctx, "B-1-1", "dana"); err == nil {
		t.Errorf("b sees a's delivery")
	}
	if c, _ := b.Counts(ctx, "B-1-1"); len(c) != 0 {
		t.Errorf("b sees counts %v", c)
	}
	if o, _ := b.OptedOut(ctx, []string{dana}); o[dana] {
		t.Errorf("b sees a's opt-out")
	}
	if o, _ := b.OpenSessions(ctx, []string{dana}, now); o[dana] {
		t.Errorf("b sees a's session")
	}
	if cs, _ := b.Contacts(ctx, dana, time.Time{}); len(cs) != 0 {
		t.Errorf("b sees a's contacts")
	}
	if tr, _ := b.AuditTrail(ctx, "INC-1"); len(tr) != 0 {
		t.Errorf("b sees a's audit trail")
	}
	if jobs, _ := b.Claim(ctx, "relay", "w", 10, 0); len(jobs) != 0 {
		t.Errorf("b claimed a's job")
	}
	if first, _ := b.FirstTime(ctx, "slack:retry:1", time.Minute); !first {
		t.Errorf("b's dedup saw a's key")
	}
	if wait, _ := b.Reserve(ctx, "sms", 1, 1); wait != 0 {
		t.Errorf("b's bucket was drained by a")
	}
	// And nothing of either lives outside its prefix.
	keys := f.client.Keys(ctx, escapeGlob(f.prefix)+"*").Val()
	for _, k := range keys {
		if !strings.HasPrefix(k, a.Prefix()) {
			t.Errorf("key %q outside the prefix", k)
		}
	}
}

func TestAuditTrail(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	at := f.clock.Now().UTC()
	entries := []bot.AuditEntry{
		{At: at, Actor: bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1"}, Action: "incident.declare", IncidentID: "INC-1"},
		{At: at.Add(time.Second), Actor: bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1"}, Action: "broadcast.request", IncidentID: "INC-1", Detail: "B-1-1 to executives"},
		{At: at.Add(2 * time.Second), Actor: bot.SystemActor, Action: "config.reload"},
		{At: at.Add(3 * time.Second), Actor: bot.Actor{Platform: bot.PlatformSlack, ID: "U0LEAD1"}, Action: "broadcast.approve", IncidentID: "INC-1"},
		{At: at.Add(4 * time.Second), Actor: bot.Actor{ID: "U0RESP2"}, Action: "incident.declare", IncidentID: "INC-2"},
	}
	for _, e := range entries {
		must(t, s.Audit(ctx, e))
	}
	trail, err := s.AuditTrail(ctx, "INC-1")
	must(t, err)
	if len(trail) != 3 || trail[0].Action != "incident.declare" || trail[1].Detail != "B-1-1 to executives" || trail[2].Actor.ID != "U0LEAD1" || !trail[2].At.Equal(entries[3].At) {
		t.Fatalf("AuditTrail(INC-1) = %+v", trail)
	}
	recent, err := s.RecentAudit(ctx, 2)
	must(t, err)
	if len(recent) != 2 || recent[0].Action != "broadcast.approve" || recent[1].IncidentID != "INC-2" {
		t.Fatalf("RecentAudit(2) = %+v", recent)
	}
}

func TestFirstTime(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	other := New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)
	first, err := f.store.FirstTime(ctx, "twilio:SM123", time.Minute)
	must(t, err)
	again, err := other.FirstTime(ctx, "twilio:SM123", time.Minute)
	must(t, err)
	if !first || again {
		t.Fatalf("FirstTime = %v then %v on another replica, want true then false", first, again)
	}
	if _, err := f.store.FirstTime(ctx, "x", 0); err == nil {
		t.Fatal("ttl 0 accepted")
	}
	// It expires: after ttl the key is new again.
	first, err = f.store.FirstTime(ctx, "short", 20*time.Millisecond)
	must(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for {
		again, err := f.store.FirstTime(ctx, "short", 20*time.Millisecond)
		must(t, err)
		if again {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dedup key never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !first {
		t.Fatal("first FirstTime of 'short' was false")
	}
}
