package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/heraldops/herald/bot"
)

// SendWatcherDigests texts every watcher what happened in incident threads
// since their last digest, at most once per DigestInterval per watcher across
// all replicas. It does nothing while chat is up.
func (f *Failover) SendWatcherDigests(ctx context.Context) error {
	if f.Health.Up() {
		return nil
	}
	watchers, err := f.Watchers(ctx)
	if err != nil {
		return fmt.Errorf("listing watchers: %w", err)
	}
	threads, err := f.Outbox.OutboxThreads(ctx)
	if err != nil {
		return fmt.Errorf("listing kept threads: %w", err)
	}
	var all []bot.OutboxItem
	for _, th := range threads {
		items, err := f.Outbox.OutboxPeek(ctx, th, 100000)
		if err != nil {
			return fmt.Errorf("reading kept items of %s: %w", th.RootID, err)
		}
		for _, it := range items {
			if it.Kind != bot.KindEdit && it.Kind != bot.KindSummary {
				all = append(all, it)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b bot.OutboxItem) int { return a.At.Compare(b.At) })
	now := f.Clock.Now()
	bucket := now.UnixNano() / int64(f.digestInterval())
	var errs []error
	for _, w := range watchers {
		key := "watcher:" + f.phoneKey(w.Phone)
		since := time.Time{}
		if v, err := f.KV.Get(ctx, key); err == nil {
			since, _ = time.Parse(time.RFC3339Nano, v)
		}
		var fresh []bot.OutboxItem
		for _, it := range all {
			if it.At.After(since) {
				fresh = append(fresh, it)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		first, err := f.Dedup.FirstTime(ctx, key+":"+strconv.FormatInt(bucket, 10), f.digestInterval())
		if err != nil || !first {
			errs = append(errs, err)
			continue
		}
		body := WatcherDigest(fresh, f.maxDigestChars())
		if _, err := f.Messenger.Send(ctx, bot.Outbound{To: w.Phone, Channel: bot.ChannelSMS, Body: body}); err != nil {
			errs = append(errs, fmt.Errorf("texting watcher %s: %w", bot.MaskPhone(w.Phone), err))
			continue
		}
		if err := f.KV.Put(ctx, key, fresh[len(fresh)-1].At.UTC().Format(time.RFC3339Nano), 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Failover) maxDigestChars() int { return f.Settings.withDefaults().MaxDigestChars }
