package app

import (
	"context"
	"strings"
	"testing"
	"time"

	redisadapter "github.com/heraldops/herald/adapters/redis"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/redistest"
)

// A terminal send whose start failed must say whether sending again is safe,
// and must not leave a broadcast the serving replicas would send later.
func TestAbandonSendTellsWhetherToSendAgain(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	store := redisadapter.New(srv.Client(t), "app-test", crypto.MustNewSealer([]byte(strings.Repeat("k", crypto.KeySize))), nil)
	h := &herald{store: store, clock: bot.SystemClock{}}
	for _, tt := range []struct {
		state     bot.BroadcastState
		wantState bot.BroadcastState
		wantSays  string
	}{
		{bot.BroadcastApproved, bot.BroadcastRejected, "safe to run the same herald send again"},
		{bot.BroadcastSending, bot.BroadcastSending, "Do not send it again"},
	} {
		id := "INC-1-T" + string(tt.state)
		b := bot.Broadcast{ID: id, Draft: bot.Draft{IncidentID: "INC-1"}, State: tt.state, RequestedAt: time.Now()}
		if err := store.SaveBroadcast(ctx, b); err != nil {
			t.Fatal(err)
		}
		says := h.abandonSend(ctx, id)
		got, err := store.Broadcast(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != tt.wantState || !strings.Contains(says, tt.wantSays) {
			t.Errorf("%s: state %s, says %q; want %s and %q", tt.state, got.State, says, tt.wantState, tt.wantSays)
		}
	}
}
