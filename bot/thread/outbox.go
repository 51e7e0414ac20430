package thread

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
)

// PlatformRootPoster is the optional ability of a Chat that serves several
// platforms to post a root message on a given one (the replay of a root
// message kept during an outage).
type PlatformRootPoster interface {
	PostRootOn(ctx context.Context, p bot.Platform, channel string, m bot.Message) (bot.ThreadRef, error)
}

// ThreadPoster drains thread outboxes into chat: in order, at most one post
// per second per channel (Slack's limit), combining items that arrive faster
// into digests so none waits more than a few seconds and no 429 is provoked.
type ThreadPoster struct {
	Outbox  bot.OutboxStore
	Chat    bot.Chat
	Limiter bot.RateLimiter
	Locker  bot.Locker
	// ChatUp reports whether chat is reachable; nil means always. While it
	// returns false nothing is posted (failover keeps items for the replay).
	ChatUp func() bool
	// PerSecond is the post rate per channel (default 1).
	PerSecond float64
	// MaxDigest is the most items combined into one post (default 50), and
	// MaxDigestBytes the most text (default 12,000 bytes: four Slack
	// sections, well inside a Teams card). Short replies in a burst then
	// share few posts, and a run of long ones cannot make a post chat refuses.
	MaxDigest      int
	MaxDigestBytes int
	// KV remembers where kept messages were posted, so later edits find them.
	KV bot.KV
	// Dedup spaces flood digests (KindFlood items) across replicas; nil:
	// they are posted like any reply.
	Dedup bot.Deduper
	// FloodEvery is the least time between two flood digests in one thread
	// (default 1 minute).
	FloodEvery time.Duration
	// Refused reports whether chat refused a post for good (the channel is
	// gone, herald was removed from it); nil: never. Such items move to
	// Fallback instead of blocking their thread's outbox forever.
	Refused func(error) bool
	// Fallback is where refused items go (the triage channel); zero: they
	// stay and are retried.
	Fallback bot.ThreadRef
	// OnRootPosted is called when a root message kept during an outage has
	// been posted, so the incident can point at its real thread.
	OnRootPosted func(ctx context.Context, pending, real bot.ThreadRef) error
}

// The poster's defaults, in one place.
func (p *ThreadPoster) perSecond() float64 { return cmp.Or(p.PerSecond, 1) }
func (p *ThreadPoster) maxDigest() int     { return cmp.Or(p.MaxDigest, 50) }
func (p *ThreadPoster) maxDigestBytes() int {
	return cmp.Or(p.MaxDigestBytes, 12_000)
}

// Enqueue adds an item to its thread's outbox; Run posts it.
func (p *ThreadPoster) Enqueue(ctx context.Context, item bot.OutboxItem) error {
	if p.ChatUp != nil && !p.ChatUp() {
		item.DuringOutage = true
	}
	if err := p.Outbox.OutboxAppend(ctx, item); err != nil {
		return fmt.Errorf("keeping %s %s for the thread: %w", item.Kind, item.ID, err)
	}
	return nil
}

// Run drains every outbox until ctx ends, checking every interval.
func (p *ThreadPoster) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := p.FlushAll(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FlushAll posts what waits in every thread's outbox, one digest per thread
// per call.
func (p *ThreadPoster) FlushAll(ctx context.Context) error {
	if p.ChatUp != nil && !p.ChatUp() {
		return nil
	}
	threads, err := p.Outbox.OutboxThreads(ctx)
	if err != nil {
		return fmt.Errorf("listing thread outboxes: %w", err)
	}
	var errs []error
	for _, th := range threads {
		if _, err := p.Flush(ctx, th); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Flush posts the front of one thread's outbox if the channel's rate allows
// it now: a kept root message (then the rest of the thread moves under the
// real root), a kept edit (only the latest version of a message is applied),
// a kept message, or a digest of the replies and updates that wait. It
// returns how many items left the outbox.
func (p *ThreadPoster) Flush(ctx context.Context, th bot.ThreadRef) (int, error) {
	release, ok, err := p.Locker.TryLock(ctx, "poster:"+string(th.Platform)+":"+th.Channel+":"+th.RootID, 30*time.Second)
	if err != nil || !ok {
		return 0, err
	}
	defer release()
	items, err := p.Outbox.OutboxPeek(ctx, th, lookahead)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	markKeptBeforeSummary(items)
	first := items[0]
	if first.Kind == bot.KindEdit && supersededEdit(items) {
		return 1, p.drop(ctx, th, 1)
	}
	if first.Kind == bot.KindFlood && p.Dedup != nil {
		due, err := p.Dedup.FirstTime(ctx, "flood-digest:"+string(th.Platform)+":"+th.Channel+":"+th.RootID, cmp.Or(p.FloodEvery, time.Minute))
		if err != nil || !due {
			return 0, err // the next flood digest of this thread is due later
		}
	}
	if err := p.wait(ctx, th); err != nil {
		return 0, err
	}
	// From here on the post is finished even if ctx ends (a replica shutting
	// down): a post chat took but that never left the outbox would be posted
	// again by the replica that takes over. Bounded well inside the lease.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), postGrace)
	defer cancel()
	switch first.Kind {
	case "root":
		return p.flushRoot(ctx, th, first)
	case bot.KindEdit:
		n, err := p.flushEdit(ctx, th, first)
		if err != nil && p.refused(err) {
			// The message is gone or cannot be edited: a newer version has
			// nowhere to go, and the thread must not wait on it.
			return 1, errors.Join(err, p.drop(ctx, th, 1))
		}
		return n, err
	case "post":
		ref, err := p.Chat.Post(ctx, th, withOutageNote(first))
		if err != nil && p.refused(err) {
			return p.reroute(ctx, th, items[:1], err)
		}
		if err != nil {
			return 0, fmt.Errorf("posting a kept message into thread %s: %w", th.RootID, err)
		}
		if p.KV != nil {
			if err := p.KV.Put(ctx, keptKey(first.ID), encodeThread(ref), 0); err != nil {
				return 0, fmt.Errorf("remembering where kept message %s went: %w", first.ID, err)
			}
		}
		return 1, p.drop(ctx, th, 1)
	}
	n, size := 1, len(first.Message.PlainText())
	for n < len(items) && n < p.maxDigest() && digestible(items[n].Kind) &&
		// a flood waits for its own, spaced digest; a flood digest takes along
		// whatever follows, to keep the order
		(first.Kind == bot.KindFlood || items[n].Kind != bot.KindFlood) {
		if size += len(items[n].Message.PlainText()); size > p.maxDigestBytes() {
			break
		}
		n++
	}
	msg := withOutageNote(first)
	if n > 1 {
		msg = Digest(items[:n])
	}
	if _, err := p.Chat.Post(ctx, th, msg); err != nil {
		if p.refused(err) {
			return p.reroute(ctx, th, items[:n], err)
		}
		return 0, fmt.Errorf("posting %d waiting item(s) into thread %s: %w", n, th.RootID, err)
	}
	return n, p.drop(ctx, th, n)
}

func (p *ThreadPoster) refused(err error) bool { return p.Refused != nil && p.Refused(err) }

// reroute moves items their thread refused for good to the fallback thread,
// each saying where it was meant to go, so nothing is lost and the thread's
// outbox is not blocked. Without a fallback (or if the fallback itself
// refuses) they stay and the error is returned.
func (p *ThreadPoster) reroute(ctx context.Context, th bot.ThreadRef, items []bot.OutboxItem, cause error) (int, error) {
	if p.Fallback.Channel == "" || p.Fallback == th {
		return 0, fmt.Errorf("posting into thread %s/%s, refused for good: %w", th.Channel, th.RootID, cause)
	}
	for _, it := range items {
		it.Thread = p.Fallback
		it.Message.Context = strings.TrimSpace(it.Message.Context + "\n" + textRerouted(th, cause))
		if err := p.Outbox.OutboxAppend(ctx, it); err != nil {
			return 0, fmt.Errorf("moving a refused item to %s: %w", p.Fallback.Channel, err)
		}
	}
	return len(items), errors.Join(fmt.Errorf("thread %s/%s refused %d item(s) for good (moved to %s): %w",
		th.Channel, th.RootID, len(items), p.Fallback.Channel, cause), p.drop(ctx, th, len(items)))
}

// postGrace bounds how long a started post may run on after its replica
// began shutting down; less than the 30 s poster lease.
const postGrace = 20 * time.Second

// lookahead is how far Flush looks for a newer version of a kept edit.
const lookahead = 200

func (p *ThreadPoster) wait(ctx context.Context, th bot.ThreadRef) error {
	wait, err := p.Limiter.Reserve(ctx, "chat:"+string(th.Platform)+":"+th.Channel, p.perSecond(), 1)
	if err != nil {
		return fmt.Errorf("waiting for the chat rate limit: %w", err)
	}
	if wait > 0 {
		return bot.Sleep(ctx, wait)
	}
	return nil
}

func (p *ThreadPoster) drop(ctx context.Context, th bot.ThreadRef, n int) error {
	if err := p.Outbox.OutboxDrop(ctx, th, n); err != nil {
		return fmt.Errorf("dropping %d posted item(s) from the outbox of %s: %w", n, th.RootID, err)
	}
	return nil
}

// flushRoot posts a root message kept while chat was down, then moves the
// thread's other kept items under the real root.
func (p *ThreadPoster) flushRoot(ctx context.Context, pending bot.ThreadRef, root bot.OutboxItem) (int, error) {
	var real bot.ThreadRef
	var err error
	if pc, ok := p.Chat.(PlatformRootPoster); ok && pending.Platform != "" {
		real, err = pc.PostRootOn(ctx, pending.Platform, pending.Channel, withOutageNote(root))
	} else {
		real, err = p.Chat.PostRoot(ctx, pending.Channel, withOutageNote(root))
	}
	if err != nil {
		return 0, fmt.Errorf("posting a kept root message in %s: %w", pending.Channel, err)
	}
	if p.OnRootPosted != nil {
		if err := p.OnRootPosted(ctx, pending, real); err != nil {
			return 0, err
		}
	}
	if err := p.drop(ctx, pending, 1); err != nil {
		return 0, err
	}
	for {
		rest, err := p.Outbox.OutboxPeek(ctx, pending, lookahead)
		if err != nil || len(rest) == 0 {
			return 1, err
		}
		for _, it := range rest {
			it.Thread = real
			if err := p.Outbox.OutboxAppend(ctx, it); err != nil {
				return 1, fmt.Errorf("moving kept items to thread %s: %w", real.RootID, err)
			}
		}
		if err := p.drop(ctx, pending, len(rest)); err != nil {
			return 1, err
		}
	}
}

// flushEdit applies the latest kept version of a message.
func (p *ThreadPoster) flushEdit(ctx context.Context, th bot.ThreadRef, edit bot.OutboxItem) (int, error) {
	ref := bot.MessageRef{Thread: th, ID: edit.EditOf}
	if strings.HasPrefix(edit.EditOf, keptPrefix) {
		if p.KV == nil {
			return 1, p.drop(ctx, th, 1)
		}
		real, err := p.KV.Get(ctx, keptKey(edit.EditOf))
		if err != nil {
			return 0, fmt.Errorf("finding where kept message %s went: %w", edit.EditOf, err)
		}
		if err := decodeThread(real, &ref.Thread, &ref); err != nil {
			return 0, err
		}
	}
	m := edit.Message
	if strings.HasPrefix(edit.EditOf, keptPrefix) {
		// The message itself was kept during the outage: its latest version
		// must still say so.
		m = withOutageNote(edit)
	}
	if err := p.Chat.Update(ctx, ref, m); err != nil {
		return 0, fmt.Errorf("applying a kept edit to message %s: %w", ref.ID, err)
	}
	return 1, p.drop(ctx, th, 1)
}

// markKeptBeforeSummary marks every item ahead of an outage summary as kept
// during the outage. The summary is appended when chat comes back, so what
// waits before it was held up by the outage, including items that arrived
// while chat was already failing but before herald had declared it down.
func markKeptBeforeSummary(items []bot.OutboxItem) {
	for i, it := range items {
		if it.Kind == bot.KindSummary {
			for j := range items[:i] {
				items[j].DuringOutage = true
			}
			return
		}
	}
}

// supersededEdit reports whether a later kept edit replaces items[0].
func supersededEdit(items []bot.OutboxItem) bool {
	for _, it := range items[1:] {
		if it.Kind == bot.KindEdit && it.EditOf == items[0].EditOf {
			return true
		}
	}
	return false
}

func digestible(kind bot.ItemKind) bool {
	switch kind {
	case bot.KindRoot, bot.KindPost, bot.KindSummary, bot.KindEdit:
		return false
	}
	return true
}

func withOutageNote(it bot.OutboxItem) bot.Message {
	m := it.Message
	if it.DuringOutage {
		m.Context = strings.TrimSpace(m.Context + "\n" + textDuringOutage(it.At))
	}
	return m
}

// Digest combines several waiting items into one message, each item's text
// kept whole and in order.
func Digest(items []bot.OutboxItem) bot.Message {
	var b strings.Builder
	outage := false
	for i, it := range items {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(it.Message.PlainText())
		outage = outage || it.DuringOutage
	}
	m := bot.Message{
		Title: textDigestTitle(len(items)),
		Text:  b.String(),
	}
	if outage {
		m.Context = textDuringOutage(items[0].At)
	}
	return m
}

// Validate says which required dependencies are missing. ChatUp, KV,
// Dedup, Refused and OnRootPosted are optional (see their comments).
func (p *ThreadPoster) Validate() error {
	return bot.RequireDeps("thread.ThreadPoster", map[string]bool{
		"Outbox": p.Outbox != nil, "Chat": p.Chat != nil, "Limiter": p.Limiter != nil, "Locker": p.Locker != nil,
	})
}
