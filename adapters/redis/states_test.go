package redis

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
)

// inStates lists the in-flight sets as "state: ids" lines, for one readable
// comparison per step.
func inStates(ctx context.Context, t *testing.T, s *Store) map[bot.BroadcastState]string {
	t.Helper()
	out := map[bot.BroadcastState]string{}
	for _, st := range inFlightStates {
		bs, err := s.BroadcastsInState(ctx, st)
		must(t, err)
		out[st] = broadcastIDs(bs)
	}
	return out
}

func TestBroadcastsInStateFollowEveryStateMove(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now()
	move := func(id string, to bot.BroadcastState) {
		t.Helper()
		_, err := s.UpdateBroadcast(ctx, id, func(b *bot.Broadcast) error { b.State = to; return nil })
		must(t, err)
	}
	const (
		pending  = bot.BroadcastPendingApproval
		approved = bot.BroadcastApproved
		sending  = bot.BroadcastSending
	)
	must(t, s.SaveBroadcast(ctx, newBroadcast("INC-1-B1", "INC-1", pending, now)))
	must(t, s.SaveBroadcast(ctx, newBroadcast("INC-1-B2", "INC-1", approved, now.Add(time.Second))))
	must(t, s.SaveBroadcast(ctx, newBroadcast("INC-2-B1", "INC-2", approved, now.Add(-time.Second))))

	steps := []struct {
		name string
		do   func()
		want map[bot.BroadcastState]string
	}{
		{"saved", func() {},
			map[bot.BroadcastState]string{pending: "INC-1-B1", approved: "INC-2-B1,INC-1-B2", sending: ""}},
		{"approved", func() { move("INC-1-B1", approved) },
			map[bot.BroadcastState]string{pending: "", approved: "INC-2-B1,INC-1-B1,INC-1-B2", sending: ""}},
		{"claimed by the relay", func() { move("INC-1-B1", sending); move("INC-1-B2", sending) },
			map[bot.BroadcastState]string{pending: "", approved: "INC-2-B1", sending: "INC-1-B1,INC-1-B2"}},
		{"handed back after a failed start", func() { move("INC-1-B2", approved) },
			map[bot.BroadcastState]string{pending: "", approved: "INC-2-B1,INC-1-B2", sending: "INC-1-B1"}},
		{"done", func() { move("INC-1-B1", bot.BroadcastDone) },
			map[bot.BroadcastState]string{pending: "", approved: "INC-2-B1,INC-1-B2", sending: ""}},
		{"saved over with another state", func() {
			must(t, s.SaveBroadcast(ctx, newBroadcast("INC-2-B1", "INC-2", sending, now.Add(-time.Second))))
		}, map[bot.BroadcastState]string{pending: "", approved: "INC-1-B2", sending: "INC-2-B1"}},
		{"an update that changes nothing else", func() {
			_, err := s.UpdateBroadcast(ctx, "INC-2-B1", func(b *bot.Broadcast) error { b.Total = 7; return nil })
			must(t, err)
		}, map[bot.BroadcastState]string{pending: "", approved: "INC-1-B2", sending: "INC-2-B1"}},
	}
	for _, st := range steps {
		st.do()
		// The sets themselves, before a reader filters or tidies: a
		// broadcast leaves its old state's set as it moves.
		for state, want := range st.want {
			members, err := f.client.SMembers(ctx, s.stateKey(state)).Result()
			must(t, err)
			sort.Strings(members)
			wantIDs := strings.Split(want, ",")
			if want == "" {
				wantIDs = []string{}
			}
			sort.Strings(wantIDs)
			if strings.Join(members, ",") != strings.Join(wantIDs, ",") {
				t.Errorf("after %s: the %s set holds %v, want %v", st.name, state, members, wantIDs)
			}
		}
		got := inStates(ctx, t, s)
		for state, want := range st.want {
			if got[state] != want {
				t.Errorf("after %s: %s = %q, want %q (oldest request first)", st.name, state, got[state], want)
			}
		}
	}
	for _, st := range []bot.BroadcastState{bot.BroadcastDone, bot.BroadcastRejected, bot.BroadcastExpired} {
		if _, err := s.BroadcastsInState(ctx, st); err == nil {
			t.Errorf("BroadcastsInState(%s) gave no error; final states are not indexed", st)
		}
	}
}

func TestBroadcastsInStateSkipsStaleEntries(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	s := f.store
	now := f.clock.Now()
	must(t, s.SaveBroadcast(ctx, newBroadcast("INC-1-B1", "INC-1", bot.BroadcastDone, now)))
	must(t, s.SaveBroadcast(ctx, newBroadcast("INC-1-B2", "INC-1", bot.BroadcastApproved, now)))
	must(t, s.SaveBroadcast(ctx, newBroadcast("INC-1-B3", "INC-1", bot.BroadcastSending, now)))
	// given: what a crash between index and record leaves behind
	must(t, f.client.SAdd(ctx, s.stateKey(bot.BroadcastSending), "INC-1-B1", "INC-1-B2", "INC-9-B9").Err())

	got, err := s.BroadcastsInState(ctx, bot.BroadcastSending)
	must(t, err)
	if ids := broadcastIDs(got); ids != "INC-1-B3" {
		t.Fatalf("sending = %s, want only INC-1-B3", ids)
	}
	members, err := f.client.SMembers(ctx, s.stateKey(bot.BroadcastSending)).Result()
	must(t, err)
	set := map[string]bool{}
	for _, m := range members {
		set[m] = true
	}
	// The done one is tidied away; the approved one may be on its way back
	// here and the missing one may be being saved, so they stay.
	if set["INC-1-B1"] || !set["INC-1-B2"] || !set["INC-9-B9"] || !set["INC-1-B3"] {
		t.Errorf("sending set after reading = %v", members)
	}
}

func TestBroadcastsInStateKeepToTheirPrefix(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := f.store
	b := New(f.client, f.prefix+"other", crypto.MustNewSealer(testKey), f.clock)
	now := f.clock.Now()
	for i, st := range inFlightStates {
		must(t, a.SaveBroadcast(ctx, newBroadcast("INC-1-B"+string(rune('1'+i)), "INC-1", st, now)))
	}
	must(t, b.SaveBroadcast(ctx, newBroadcast("INC-1-B9", "INC-1", bot.BroadcastSending, now)))

	for _, st := range inFlightStates {
		ofA, err := a.BroadcastsInState(ctx, st)
		must(t, err)
		ofB, err := b.BroadcastsInState(ctx, st)
		must(t, err)
		wantB := ""
		if st == bot.BroadcastSending {
			wantB = "INC-1-B9"
		}
		if len(ofA) != 1 || ofA[0].State != st {
			t.Errorf("a's %s = %s, want its one broadcast", st, broadcastIDs(ofA))
		}
		if ids := broadcastIDs(ofB); ids != wantB {
			t.Errorf("b's %s = %q, want %q", st, ids, wantB)
		}
	}
}
