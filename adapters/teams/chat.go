package teams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/heraldops/herald/bot"
)

// Chat posts into Teams: incident root messages in the incident channel,
// everything else into the root's reply chain. It finds each conversation's
// service URL in the stored conversation references, so any replica after
// any restart can post into any incident's thread.
type Chat struct {
	Connector *Connector
	Refs      References
	// TenantID is sent when starting channel threads (single-tenant bots).
	TenantID string
	// DefaultServiceURL is used for a conversation with no stored reference
	// (herald has not heard from it yet); empty: such posts fail, saying so.
	DefaultServiceURL string
}

var _ bot.Chat = (*Chat)(nil)

// isChannel tells a Teams channel (which has reply chains) from a personal
// or group chat (which has not). The stored reference knows; without one,
// channel ids have the "@thread.tacv2" (or older "@thread.skype") form.
func isChannel(ref schema.ConversationReference, conversationID string) bool {
	if t := ref.Conversation.ConversationType; t != "" {
		return t == "channel"
	}
	base := baseConversation(conversationID)
	return strings.HasSuffix(base, "@thread.tacv2") || strings.HasSuffix(base, "@thread.skype")
}

// serviceURL finds where to post for a conversation.
func (c *Chat) serviceURL(ctx context.Context, conversationID string) (schema.ConversationReference, string, error) {
	ref, err := c.Refs.Reference(ctx, conversationID)
	switch {
	case err == nil && ref.ServiceURL != "":
		return ref, ref.ServiceURL, nil
	case err != nil && !errors.Is(err, bot.ErrNotFound):
		return ref, "", err
	case c.DefaultServiceURL != "":
		return ref, c.DefaultServiceURL, nil
	}
	return ref, "", fmt.Errorf("no conversation reference for %s: add herald to that team or chat first (or set a default service URL): %w",
		baseConversation(conversationID), bot.ErrNotFound)
}

// threadConversation is the conversation id that posts into a thread: a
// channel's "<channel>;messageid=<root>", or a chat's own id (chats have no
// reply chains, so the thread is the chat).
func threadConversation(ref schema.ConversationReference, th bot.ThreadRef) string {
	if th.RootID != "" && isChannel(ref, th.Channel) {
		return baseConversation(th.Channel) + ";messageid=" + th.RootID
	}
	return th.Channel
}

// PostRoot starts the incident's thread: a new reply chain in a channel
// (POST /v3/conversations), or a plain message in a chat.
func (c *Chat) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	channel = baseConversation(channel)
	ref, surl, err := c.serviceURL(ctx, channel)
	if err != nil {
		return bot.ThreadRef{}, fmt.Errorf("posting incident root message in %s: %w", channel, err)
	}
	act := cardActivity(Render(m), m.PlainText())
	if isChannel(ref, channel) {
		_, rootID, err := c.Connector.CreateThread(ctx, surl, channel, c.tenant(ref), act)
		if err != nil {
			return bot.ThreadRef{}, fmt.Errorf("posting incident root message in %s: %w", channel, err)
		}
		return bot.ThreadRef{Platform: bot.PlatformTeams, Channel: channel, RootID: rootID}, nil
	}
	id, err := c.Connector.Send(ctx, surl, channel, "", act)
	if err != nil {
		return bot.ThreadRef{}, fmt.Errorf("posting incident root message in %s: %w", channel, err)
	}
	return bot.ThreadRef{Platform: bot.PlatformTeams, Channel: channel, RootID: id}, nil
}

func (c *Chat) tenant(ref schema.ConversationReference) string {
	if ref.Conversation.TenantID != "" {
		return ref.Conversation.TenantID
	}
	return c.TenantID
}

// Post posts m into the thread's reply chain.
func (c *Chat) Post(ctx context.Context, th bot.ThreadRef, m bot.Message) (bot.MessageRef, error) {
	return c.PostCard(ctx, th, Render(m), m.PlainText())
}

// PostCard posts any card into the thread's reply chain (the compose card).
func (c *Chat) PostCard(ctx context.Context, th bot.ThreadRef, card map[string]any, summary string) (bot.MessageRef, error) {
	ref, surl, err := c.serviceURL(ctx, th.Channel)
	if err != nil {
		return bot.MessageRef{}, fmt.Errorf("posting into thread %s/%s: %w", th.Channel, th.RootID, err)
	}
	id, err := c.Connector.Send(ctx, surl, threadConversation(ref, th), "", cardActivity(card, summary))
	if err != nil {
		return bot.MessageRef{}, fmt.Errorf("posting into thread %s/%s: %w", th.Channel, th.RootID, err)
	}
	return bot.MessageRef{Thread: th, ID: id}, nil
}

// Update replaces a message herald posted (approval outcome, live
// progress). Where Teams does not allow the edit (the message is gone, or
// too old), the new version is posted as a follow-up in the thread instead,
// so the update is never lost.
func (c *Chat) Update(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	return c.UpdateCard(ctx, ref, Render(m), m.PlainText())
}

// UpdateCard replaces a card herald posted, falling back to a follow-up.
func (c *Chat) UpdateCard(ctx context.Context, ref bot.MessageRef, card map[string]any, summary string) error {
	cref, surl, err := c.serviceURL(ctx, ref.Thread.Channel)
	if err != nil {
		return fmt.Errorf("updating message %s: %w", ref.ID, err)
	}
	act := cardActivity(card, summary)
	err = c.Connector.Update(ctx, surl, threadConversation(cref, ref.Thread), ref.ID, act)
	var ce *ConnectorError
	if errors.As(err, &ce) && !ce.Temporary() && ce.Status != http.StatusUnauthorized {
		if _, perr := c.Connector.Send(ctx, surl, threadConversation(cref, ref.Thread), "", act); perr == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("updating message %s: %w", ref.ID, err)
	}
	return nil
}

// replyTo answers an inbound activity in its own conversation (for a channel
// message, in the thread it was typed in).
func (c *Chat) replyTo(ctx context.Context, in schema.Activity, act outActivity) error {
	_, err := c.Connector.Send(ctx, in.ServiceURL, in.Conversation.ID, "", act)
	if err != nil {
		return fmt.Errorf("answering activity %s: %w", in.ID, err)
	}
	return nil
}

// updateSource replaces the card an inbound card action came from.
func (c *Chat) updateSource(ctx context.Context, in schema.Activity, card map[string]any, summary string) error {
	if in.ReplyToID == "" {
		return c.replyTo(ctx, in, cardActivity(card, summary))
	}
	err := c.Connector.Update(ctx, in.ServiceURL, in.Conversation.ID, in.ReplyToID, cardActivity(card, summary))
	if err != nil {
		return fmt.Errorf("updating card %s: %w", in.ReplyToID, err)
	}
	return nil
}
