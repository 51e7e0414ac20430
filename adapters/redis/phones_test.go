package redis

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
)

const (
	dana = "+4915100000001"
	omar = "+14155550101"
	lee  = "+447700900123"
)

func TestOptOuts(t *testing.T) {
	ctx := ctxT(t)
	s := newFixture(t).store

	must(t, s.SetOptOut(ctx, dana, true))
	must(t, s.SetOptOut(ctx, lee, true))
	must(t, s.SetOptOut(ctx, lee, false)) // START after STOP
	got, err := s.OptedOut(ctx, []string{dana, omar, lee})
	must(t, err)
	if !got[dana] || got[omar] || got[lee] || len(got) != 1 {
		t.Fatalf("OptedOut = %v, want only dana", got)
	}
	if got, err := s.OptedOut(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("OptedOut(nil) = %v, %v", got, err)
	}
}

func TestSessionWindows(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now()

	must(t, s.OpenSession(ctx, dana, now.Add(-23*time.Hour)))
	must(t, s.OpenSession(ctx, omar, now.Add(-25*time.Hour))) // long closed: not even stored
	must(t, s.OpenSession(ctx, lee, now.Add(-2*time.Hour)))
	must(t, s.OpenSession(ctx, lee, now.Add(-20*time.Hour))) // older message arriving late must not shorten lee's window

	open, err := s.OpenSessions(ctx, []string{dana, omar, lee}, now)
	must(t, err)
	if !open[dana] || open[omar] || !open[lee] {
		t.Fatalf("OpenSessions(now) = %v, want dana and lee", open)
	}
	open, err = s.OpenSessions(ctx, []string{dana, lee}, now.Add(90*time.Minute))
	must(t, err)
	if open[dana] || !open[lee] {
		t.Fatalf("OpenSessions(now+90m) = %v, want only lee (dana's window closed at now+1h)", open)
	}
	if n := f.client.Exists(ctx, s.sessionKey(s.sealer.BlindIndex(omar))).Val(); n != 0 {
		t.Fatal("a window that closed before it was recorded was stored")
	}
}

// Redis must drop a session window when it closes, not keep it forever:
// miniredis lets the test move Redis time forward.
func TestSessionWindowExpiresInRedis(t *testing.T) {
	ctx := ctxT(t)
	mr := miniredis.RunT(t)
	c := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	clock := newClock()
	s := New(c, "", crypto.MustNewSealer(testKey), clock)

	must(t, s.OpenSession(ctx, dana, clock.Now()))
	if len(mr.Keys()) != 1 {
		t.Fatalf("keys = %v", mr.Keys())
	}
	mr.FastForward(bot.WhatsAppSessionWindow - time.Second)
	if len(mr.Keys()) != 1 {
		t.Fatal("window dropped before it closed")
	}
	mr.FastForward(2 * time.Second)
	if len(mr.Keys()) != 0 {
		t.Fatalf("window still stored after it closed: %v", mr.Keys())
	}
}

func TestContacts(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now().UTC()

	must(t, s.RecordContacts(ctx, []bot.Contact{
		{Phone: dana, IncidentID: "INC-1", BroadcastID: "B-1-1", At: now.Add(-3 * time.Hour)},
		{Phone: dana, IncidentID: "INC-2", BroadcastID: "B-2-1", At: now.Add(-2 * time.Hour)},
		{Phone: omar, IncidentID: "INC-2", BroadcastID: "B-2-1", At: now.Add(-2 * time.Hour)},
	}, 30*24*time.Hour))
	// a newer update about INC-1 makes it dana's most recent incident
	must(t, s.RecordContacts(ctx, []bot.Contact{{Phone: dana, IncidentID: "INC-1", BroadcastID: "B-1-2", At: now.Add(-time.Hour)}}, 30*24*time.Hour))
	// an older one arriving late changes nothing
	must(t, s.RecordContacts(ctx, []bot.Contact{{Phone: dana, IncidentID: "INC-1", BroadcastID: "B-1-0", At: now.Add(-5 * time.Hour)}}, 30*24*time.Hour))

	got, err := s.Contacts(ctx, dana, now.Add(-24*time.Hour))
	must(t, err)
	if len(got) != 2 || got[0].IncidentID != "INC-1" || got[0].BroadcastID != "B-1-2" || got[1].IncidentID != "INC-2" {
		t.Fatalf("Contacts(dana) = %+v, want INC-1 (B-1-2) then INC-2", got)
	}
	if got[0].Phone != dana || !got[0].At.Equal(now.Add(-time.Hour)) {
		t.Fatalf("contact detail = %+v", got[0])
	}
	got, err = s.Contacts(ctx, dana, now.Add(-90*time.Minute))
	must(t, err)
	if len(got) != 1 || got[0].IncidentID != "INC-1" {
		t.Fatalf("Contacts(dana, since 90m) = %+v", got)
	}
	if got, _ := s.Contacts(ctx, lee, time.Time{}); len(got) != 0 {
		t.Fatalf("Contacts(lee) = %+v, want none", got)
	}
}

// Each contact is forgotten ttl after it was made, even while newer
// contacts of the same phone are kept.
func TestContactsExpireWithRetention(t *testing.T) {
	ctx := ctxT(t)
	mr := miniredis.RunT(t)
	c := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	clock := newClock()
	s := New(c, "", crypto.MustNewSealer(testKey), clock)
	const ttl = 7 * 24 * time.Hour
	now := clock.Now()

	must(t, s.RecordContacts(ctx, []bot.Contact{
		{Phone: dana, IncidentID: "INC-1", BroadcastID: "B-1-1", At: now.Add(-6 * 24 * time.Hour)},
		{Phone: dana, IncidentID: "INC-2", BroadcastID: "B-2-1", At: now},
	}, ttl))
	mr.FastForward(25 * time.Hour) // INC-1's contact is now 7 days and 1 hour old
	clock.Add(25 * time.Hour)
	got, err := s.Contacts(ctx, dana, time.Time{})
	must(t, err)
	if len(got) != 1 || got[0].IncidentID != "INC-2" {
		t.Fatalf("after 25h: %+v, want only INC-2", got)
	}
	mr.FastForward(ttl)
	if keys := mr.Keys(); len(keys) != 0 {
		t.Fatalf("after retention, keys remain: %v", keys)
	}
}

func TestForgetErasesAPhone(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now()

	// given dana and omar with everything herald keeps per phone
	for _, p := range []string{dana, omar} {
		must(t, s.SetOptOut(ctx, p, true))
		must(t, s.OpenSession(ctx, p, now))
		must(t, s.RecordContacts(ctx, []bot.Contact{{Phone: p, IncidentID: "INC-1", BroadcastID: "B-1-1", At: now}}, 24*time.Hour))
	}
	must(t, s.SaveDeliveries(ctx, []bot.Delivery{
		newDelivery("B-1-1", "dana", dana, now),
		newDelivery("B-1-1", "omar", omar, now),
		newDelivery("B-2-1", "dana", dana, now),
	}))
	_, err := s.UpdateDelivery(ctx, "B-1-1", "dana", func(d *bot.Delivery) error {
		d.State = bot.DeliveryQueued
		d.Attempts = []bot.Attempt{{Channel: bot.ChannelWhatsApp, SID: "SMdana", State: bot.DeliveryQueued}}
		return nil
	})
	must(t, err)
	must(t, s.IndexSID(ctx, "SMdana", "B-1-1", "dana"))

	// when dana is forgotten
	must(t, s.Forget(ctx, dana))

	// then nothing about dana is left, and omar is untouched
	if out, _ := s.OptedOut(ctx, []string{dana, omar}); out[dana] || !out[omar] {
		t.Fatalf("opt-outs after Forget = %v", out)
	}
	if open, _ := s.OpenSessions(ctx, []string{dana, omar}, now); open[dana] || !open[omar] {
		t.Fatalf("sessions after Forget = %v", open)
	}
	if cs, _ := s.Contacts(ctx, dana, time.Time{}); len(cs) != 0 {
		t.Fatalf("dana's contacts after Forget: %+v", cs)
	}
	if cs, _ := s.Contacts(ctx, omar, time.Time{}); len(cs) != 1 {
		t.Fatalf("omar's contacts after Forget: %+v", cs)
	}
	for _, bid := range []string{"B-1-1", "B-2-1"} {
		if _, err := s.Delivery(ctx, bid, "dana"); err == nil {
			t.Fatalf("dana's delivery in %s survived Forget", bid)
		}
	}
	if _, err := s.DeliveryBySID(ctx, "SMdana"); err == nil {
		t.Fatal("dana's SID index survived Forget")
	}
	if _, err := s.Delivery(ctx, "B-1-1", "omar"); err != nil {
		t.Fatalf("omar's delivery: %v", err)
	}
	bi := s.sealer.BlindIndex(dana)
	if keys := f.client.Keys(ctx, escapeGlob(f.prefix)+"*"+bi+"*").Val(); len(keys) != 0 {
		t.Fatalf("keys about dana remain: %v", keys)
	}
}
