package thread

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/heraldops/herald/bot"
)

// ResilientChat is the Chat the core uses: while chat is up it posts
// directly; while it is down (or a post fails with chat trouble) everything
// meant for a thread goes into that thread's durable outbox instead, to be
// replayed in order when chat returns. Nothing meant for a thread is lost.
type ResilientChat struct {
	Chat bot.Chat
	// Platform is the chat platform of root messages posted through this
	// Chat; kept root messages remember it for the replay.
	Platform bot.Platform
	Health   HealthSignal
	Outbox   bot.OutboxStore
	KV       bot.KV // where kept messages' real ids are found after the replay
	Clock    bot.Clock
}

// HealthSignal says whether chat answers right now; the failover package's
// ChatHealth is the one herald runs with. Nil means chat is always tried.
type HealthSignal interface{ Up() bool }

// keptPrefix marks a MessageRef of a message kept in the outbox.
const keptPrefix = "kept-"

var _ bot.Chat = (*ResilientChat)(nil)

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *ResilientChat) up() bool { return c.Health == nil || c.Health.Up() }

// PostRoot posts an incident's root message, or keeps it for the replay and
// returns a pending thread that the incident's later messages collect under.
func (c *ResilientChat) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	if c.up() {
		var th bot.ThreadRef
		var err error
		if pc, ok := c.Chat.(PlatformRootPoster); ok && c.Platform != "" {
			th, err = pc.PostRootOn(ctx, c.Platform, channel, m)
		} else {
			th, err = c.Chat.PostRoot(ctx, channel, m)
		}
		if err == nil || c.up() {
			return th, err
		}
	}
	th := bot.ThreadRef{Platform: c.Platform, Channel: channel, RootID: bot.PendingPrefix + newID()}
	item := bot.OutboxItem{ID: "root", Thread: th, Kind: bot.KindRoot, Message: m, At: c.Clock.Now(), DuringOutage: true}
	if err := c.Outbox.OutboxAppend(ctx, item); err != nil {
		return bot.ThreadRef{}, fmt.Errorf("keeping the root message for the replay: %w", err)
	}
	return th, nil
}

// Post posts into a thread, or keeps the message in the thread's outbox and
// returns a "kept-" reference that Update understands.
func (c *ResilientChat) Post(ctx context.Context, th bot.ThreadRef, m bot.Message) (bot.MessageRef, error) {
	if c.up() && !th.IsPending() {
		ref, err := c.Chat.Post(ctx, th, m)
		if err == nil || c.up() {
			return ref, err
		}
	}
	id := keptPrefix + newID()
	item := bot.OutboxItem{ID: id, Thread: th, Kind: bot.KindPost, Message: m, At: c.Clock.Now(), DuringOutage: true}
	if err := c.Outbox.OutboxAppend(ctx, item); err != nil {
		return bot.MessageRef{}, fmt.Errorf("keeping a thread message for the replay: %w", err)
	}
	return bot.MessageRef{Thread: th, ID: id}, nil
}

// Update edits a message. While chat is down, or for a message that is
// itself still kept, the new version is kept as an "edit" item; the replay
// applies only the latest version of each message.
func (c *ResilientChat) Update(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	if strings.HasPrefix(ref.ID, keptPrefix) && c.KV != nil {
		// Posted by the replay since? Then edit the real message.
		if real, err := c.KV.Get(ctx, keptKey(ref.ID)); err == nil {
			var th bot.ThreadRef
			if err := decodeThread(real, &th, &ref); err == nil {
				ref.Thread = th
			}
		}
	}
	if c.up() && ref.ID != "" && !strings.HasPrefix(ref.ID, keptPrefix) && !ref.Thread.IsPending() {
		err := c.Chat.Update(ctx, ref, m)
		if err == nil || c.up() {
			return err
		}
	}
	item := bot.OutboxItem{ID: "edit-" + newID(), Thread: ref.Thread, Kind: bot.KindEdit, Message: m, At: c.Clock.Now(), DuringOutage: true, EditOf: ref.ID}
	if err := c.Outbox.OutboxAppend(ctx, item); err != nil {
		return fmt.Errorf("keeping a message edit for the replay: %w", err)
	}
	return nil
}

func keptKey(id string) string { return "kept:" + id }

// encodeThread and decodeThread store where a kept message ended up.
func encodeThread(ref bot.MessageRef) string {
	return string(ref.Thread.Platform) + "|" + ref.Thread.Channel + "|" + ref.Thread.RootID + "|" + ref.ID
}

func decodeThread(s string, th *bot.ThreadRef, ref *bot.MessageRef) error {
	parts := strings.Split(s, "|")
	if len(parts) != 4 {
		return fmt.Errorf("malformed kept message reference %q", s)
	}
	*th = bot.ThreadRef{Platform: bot.Platform(parts[0]), Channel: parts[1], RootID: parts[2]}
	ref.ID = parts[3]
	return nil
}
