package thread_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/failover"
	"github.com/heraldops/herald/bot/thread"
)

// What the replay after an outage shows in the thread: every kept message
// says it was sent while chat was unreachable, including a reply that arrived
// while chat was already failing but not yet declared down, and a kept
// message's latest version after its kept edits.
func TestReplayMarksEverythingTheOutageHeldUp(t *testing.T) {
	ctx := context.Background()
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 2, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	slack := &bottest.Chat{}
	up := true
	health := func() bool { return up }
	poster := &thread.ThreadPoster{Outbox: store, Chat: slack, Limiter: store, Locker: store, KV: store,
		ChatUp: health, PerSecond: 1000}
	th := bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0INCIDENTS", RootID: "1700000000.000100"}

	// given: a reply kept while chat was failing but still counted as up
	// (its post failed), then chat declared down: a progress message kept
	// and edited twice, then the summary when chat is back.
	if err := poster.Enqueue(ctx, bot.OutboxItem{ID: "reply:SM1", Thread: th, Kind: "reply",
		Message: bot.Message{Text: "Are customers affected?"}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	up = false
	resilient := &thread.ResilientChat{Chat: slack, Platform: bot.PlatformSlack, Health: downHealth(clock),
		Outbox: store, KV: store, Clock: clock}
	ref, err := resilient.Post(ctx, th, bot.Message{Text: "Queued: 1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"Sent: 1", "Delivered: 1"} {
		if err := resilient.Update(ctx, ref, bot.Message{Text: v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.OutboxAppend(ctx, bot.OutboxItem{ID: "summary-1", Thread: th, Kind: "summary",
		Message: bot.Message{Title: "Back in chat"}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}

	// when: chat is back and the poster replays the thread
	up = true
	for range 10 {
		if err := poster.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// then
	posts := slack.Thread(th)
	if len(posts) != 3 {
		t.Fatalf("thread has %d posts, want the reply, the progress and the summary", len(posts))
	}
	for i, want := range []string{"Are customers affected?", "Delivered: 1"} {
		got := posts[i].Latest().PlainText()
		if !strings.Contains(got, want) || !strings.Contains(got, "Sent while chat was unreachable (14:02 UTC)") {
			t.Errorf("post %d reads %q, want %q marked as sent while chat was unreachable", i, got, want)
		}
	}
	if got := posts[2].Latest().PlainText(); strings.Contains(got, "Sent while chat was unreachable") {
		t.Errorf("the summary %q is marked as kept; it is written when chat is back", got)
	}
}

// downHealth is a health tracker that has declared chat down.
func downHealth(clock bot.Clock) *failover.ChatHealth {
	mode := failover.ModeSMSOnly
	h := &failover.ChatHealth{Clock: clock}
	h.Force(&mode)
	return h
}

// Every replica sees the outage end and calls ModeChanged; the thread gets
// one summary, not one per replica.
func TestOneOutageSummaryWhateverTheNumberOfReplicas(t *testing.T) {
	ctx := context.Background()
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 2, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	replicas := []*failover.Failover{{KV: store, Outbox: store, Audit: store, Clock: clock, Health: &failover.ChatHealth{Clock: clock}}, {KV: store, Outbox: store, Audit: store, Clock: clock, Health: &failover.ChatHealth{Clock: clock}}}
	th := bot.ThreadRef{Platform: bot.PlatformSlack, Channel: "C0INCIDENTS", RootID: "1700000000.000100"}

	for _, f := range replicas {
		if err := f.ModeChanged(ctx, failover.ModeSMSOnly, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.OutboxAppend(ctx, bot.OutboxItem{ID: "update-SM1", Thread: th, Kind: "update",
		Message: bot.Message{Text: "step 1 done"}, At: clock.Now(), DuringOutage: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range replicas {
		clock.Advance(3 * time.Second) // the second replica notices a little later
		if err := f.ModeChanged(ctx, failover.ModeChat, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}

	items, err := store.OutboxPeek(ctx, th, 100)
	if err != nil {
		t.Fatal(err)
	}
	summaries := 0
	for _, it := range items {
		if it.Kind == "summary" {
			summaries++
		}
	}
	if summaries != 1 {
		t.Errorf("%d outage summaries kept for the thread, want 1", summaries)
	}
}
