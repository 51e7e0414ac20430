package slack

import (
	"context"
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// Once the failover health tracker has declared Slack down, a failing post
// is handed back at once, so the caller keeps it for the replay instead of
// retrying through the outage.
func TestChatStopsRetryingOnceChatIsDeclaredDown(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	// The first 503 tips the tracker over.
	chat, _ := newChat(t, fake, ChatOptions{MaxAttempts: 5, Up: func() bool { return len(fake.Calls()) == 0 }})
	fake.SetOutage(slackapi.OutageUnavailable)
	if _, err := chat.Post(context.Background(), bot.ThreadRef{Channel: "C0X", RootID: "1.1"}, bot.Message{Text: "x"}); err == nil {
		t.Fatal("post succeeded during an outage")
	}
	if n := len(fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d attempts after chat was declared down, want 1", n)
	}
}
