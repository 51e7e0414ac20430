package bottest

import (
	"context"
	"fmt"
	"sync"

	"github.com/heraldops/herald/bot"
)

var _ bot.Chat = (*Chat)(nil)

// Post is one message Chat received.
type Post struct {
	Ref     bot.MessageRef
	Root    bool // a root message (PostRoot)
	Message bot.Message
	Updates []bot.Message // later versions, in order
}

// Chat records every post and update. Fail, when set, is returned by every call.
type Chat struct {
	mu    sync.Mutex
	posts []*Post
	seq   int
	Fail  error
}

func (c *Chat) next() string {
	c.seq++
	return fmt.Sprintf("1700000000.%06d", c.seq)
}

// PostRoot records a root message and returns its thread.
func (c *Chat) PostRoot(_ context.Context, channel string, m bot.Message) (bot.ThreadRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Fail != nil {
		return bot.ThreadRef{}, c.Fail
	}
	id := c.next()
	th := bot.ThreadRef{Platform: bot.PlatformSlack, Channel: channel, RootID: id}
	c.posts = append(c.posts, &Post{Ref: bot.MessageRef{Thread: th, ID: id}, Root: true, Message: m})
	return th, nil
}

// Post records a thread message.
func (c *Chat) Post(_ context.Context, th bot.ThreadRef, m bot.Message) (bot.MessageRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Fail != nil {
		return bot.MessageRef{}, c.Fail
	}
	ref := bot.MessageRef{Thread: th, ID: c.next()}
	c.posts = append(c.posts, &Post{Ref: ref, Message: m})
	return ref, nil
}

// Update records a new version of an earlier message.
func (c *Chat) Update(_ context.Context, ref bot.MessageRef, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Fail != nil {
		return c.Fail
	}
	for _, p := range c.posts {
		if p.Ref.ID == ref.ID && p.Ref.Thread.Channel == ref.Thread.Channel {
			p.Updates = append(p.Updates, m)
			return nil
		}
	}
	return fmt.Errorf("message %s not found", ref.ID)
}

// Posts returns copies of every post so far, in order.
func (c *Chat) Posts() []Post {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Post, len(c.posts))
	for i, p := range c.posts {
		out[i] = *p
		out[i].Updates = append([]bot.Message(nil), p.Updates...)
	}
	return out
}

// Thread returns the messages posted into a thread (not the root), in order.
func (c *Chat) Thread(th bot.ThreadRef) []Post {
	var out []Post
	for _, p := range c.Posts() {
		if !p.Root && p.Ref.Thread == th {
			out = append(out, p)
		}
	}
	return out
}

// Latest returns the latest version of a message.
func (p Post) Latest() bot.Message {
	if len(p.Updates) > 0 {
		return p.Updates[len(p.Updates)-1]
	}
	return p.Message
}
