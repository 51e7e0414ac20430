package teams_test

import (
	"context"
	"errors"
	"testing"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/heraldops/herald/adapters/teams"
	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
)

func TestReferencesSurviveTheProcess(t *testing.T) {
	ctx := context.Background()
	kv := bottest.NewStore(nil) // stands in for Redis: shared by every replica
	writer := &teams.KVReferences{KV: kv}
	err := writer.SaveReference(ctx, schema.ConversationReference{
		ActivityID:   "1771290107407",
		Bot:          schema.ChannelAccount{ID: "28:bot"},
		Conversation: schema.ConversationAccount{ID: incidentChannel + ";messageid=1771290107407", ConversationType: "channel", TenantID: "t1"},
		ChannelID:    "msteams",
		ServiceURL:   fixtureService,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another replica, any thread of the channel.
	reader := &teams.KVReferences{KV: kv}
	ref, err := reader.Reference(ctx, incidentChannel+";messageid=999")
	if err != nil {
		t.Fatal(err)
	}
	if ref.ServiceURL != fixtureService || ref.Conversation.ID != incidentChannel || ref.Conversation.TenantID != "t1" || ref.ActivityID != "" {
		t.Fatalf("reference = %+v, want the channel's, without a message id", ref)
	}
	if _, err := reader.Reference(ctx, "a:unknown"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("unknown conversation: err = %v, want ErrNotFound", err)
	}
	if err := writer.SaveReference(ctx, schema.ConversationReference{Conversation: schema.ConversationAccount{ID: "a:1"}}); err == nil {
		t.Fatal("saved a reference without a service URL")
	}
}
