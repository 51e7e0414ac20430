package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/heraldops/herald/bot"
)

// References keeps the conversation references herald needs to post into a
// conversation it was not just spoken to in (proactive posts: stakeholder
// replies, progress, failover replay): above all the conversation's service
// URL, which Teams hands out per region and tenant and which only arrives
// with inbound activities. They must outlive the process and be visible to
// every replica, so they are never kept only in memory; KVReferences keeps
// them in the shared bot.KV (Redis).
type References interface {
	// SaveReference stores ref under its conversation's base id (a channel
	// thread's reference is stored under the channel).
	SaveReference(ctx context.Context, ref schema.ConversationReference) error
	// Reference returns the reference of a conversation (a thread's channel
	// is looked up for a thread id); bot.ErrNotFound when none is stored.
	Reference(ctx context.Context, conversationID string) (schema.ConversationReference, error)
}

// KVReferences stores references as JSON in a bot.KV.
type KVReferences struct {
	KV bot.KV
	// TTL forgets references not refreshed for this long; 0 keeps them. Every
	// activity from a conversation refreshes its reference.
	TTL time.Duration
}

var _ References = (*KVReferences)(nil)

const refKeyPrefix = "teams:ref:"

// baseConversation strips a channel thread's ";messageid=<root>" suffix.
func baseConversation(id string) string {
	base, _, _ := strings.Cut(id, ";messageid=")
	return base
}

// SaveReference implements References.
func (s *KVReferences) SaveReference(ctx context.Context, ref schema.ConversationReference) error {
	base := baseConversation(ref.Conversation.ID)
	if base == "" || ref.ServiceURL == "" {
		return fmt.Errorf("saving conversation reference: conversation id and service URL are required")
	}
	ref.Conversation.ID = base
	ref.ActivityID = "" // a reference names a conversation, not one message in it
	b, err := json.Marshal(ref)
	if err != nil {
		return fmt.Errorf("encoding conversation reference %s: %w", base, err)
	}
	if err := s.KV.Put(ctx, refKeyPrefix+base, string(b), s.TTL); err != nil {
		return fmt.Errorf("saving conversation reference %s: %w", base, err)
	}
	return nil
}

// Reference implements References.
func (s *KVReferences) Reference(ctx context.Context, conversationID string) (schema.ConversationReference, error) {
	base := baseConversation(conversationID)
	raw, err := s.KV.Get(ctx, refKeyPrefix+base)
	if err != nil {
		return schema.ConversationReference{}, fmt.Errorf("loading conversation reference %s: %w", base, err)
	}
	var ref schema.ConversationReference
	if err := json.Unmarshal([]byte(raw), &ref); err != nil {
		return schema.ConversationReference{}, fmt.Errorf("decoding conversation reference %s: %w", base, err)
	}
	return ref, nil
}

// referenceOf is the reference an inbound activity gives for its
// conversation. For a channel the channel's id is used even when the
// activity came from inside a thread, so the incident channel is known from
// any message in it.
func referenceOf(act schema.Activity) schema.ConversationReference {
	conv := act.Conversation
	if ch := channelDataChannel(act); ch != "" {
		conv.ID = ch
	}
	conv.ID = baseConversation(conv.ID)
	return schema.ConversationReference{
		Bot:          act.Recipient,
		Conversation: conv,
		ChannelID:    act.ChannelID,
		ServiceURL:   act.ServiceURL,
	}
}

// channelDataChannel is the Teams channel an activity came from, if any
// (channelData.channel.id, or the older teamsChannelId).
func channelDataChannel(act schema.Activity) string {
	if ch, ok := act.ChannelData["channel"].(map[string]any); ok {
		if id, ok := ch["id"].(string); ok && id != "" {
			return id
		}
	}
	if id, ok := act.ChannelData["teamsChannelId"].(string); ok {
		return id
	}
	return ""
}
