package thread_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/thread"
)

// TestDigestSizeFollowsTheText: a burst of short replies shares few posts
// (50 a post), while long ones are cut by size so no post outgrows what chat
// accepts; either way every item is posted once, in order.
func TestDigestSizeFollowsTheText(t *testing.T) {
	tests := []struct {
		name      string
		items     int
		body      int // bytes of each reply's text
		wantPosts int
	}{
		{"200 short replies", 200, 20, 4},
		{"10 replies of 4,000 bytes", 10, 4000, 5}, // two a post: a third would pass 12,000 bytes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clock := bottest.NewClock(time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC))
			store := bottest.NewStore(clock)
			chat := &bottest.Chat{}
			poster := &thread.ThreadPoster{Outbox: store, Chat: chat, Limiter: store, Locker: store}
			th, err := chat.PostRoot(ctx, "C0INCIDENTS", bot.Message{Title: "root"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.items {
				text := fmt.Sprintf("reply %03d ", i) + strings.Repeat("x", tt.body)
				if err := poster.Enqueue(ctx, bot.OutboxItem{ID: fmt.Sprint("reply:", i), Thread: th, Kind: "reply",
					Message: bot.Message{Title: "Omar Haddad · it-ops · SMS", Quote: text}, At: clock.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			for range 100 {
				clock.Advance(time.Second) // the channel's rate allows the next post
				if n, err := poster.Flush(ctx, th); err != nil {
					t.Fatal(err)
				} else if n == 0 {
					break
				}
			}
			posts := chat.Thread(th)
			next := 0
			for _, p := range posts {
				txt := p.Latest().PlainText()
				if len(txt) > 13_000 {
					t.Errorf("a post of %d bytes", len(txt))
				}
				for strings.Contains(txt, fmt.Sprintf("reply %03d ", next)) {
					next++
				}
			}
			if next != tt.items {
				t.Fatalf("posts hold replies 0..%d in order, want all %d", next-1, tt.items)
			}
			if len(posts) > tt.wantPosts {
				t.Errorf("%d replies took %d posts, want at most %d", tt.items, len(posts), tt.wantPosts)
			}
		})
	}
}
