package bottest

import (
	"context"
	"fmt"

	"github.com/heraldops/herald/bot"
)

func dkey(broadcastID, recipientID string) string { return broadcastID + "/" + recipientID }

// SaveDeliveries creates the deliveries that do not exist yet; existing ones
// are left as they are (as the Redis store does), so a start run again
// neither resets nor double-counts anyone.
func (s *Store) SaveDeliveries(_ context.Context, ds []bot.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		k := dkey(d.BroadcastID, d.RecipientID)
		if _, ok := s.deliveries[k]; ok {
			continue
		}
		s.deliveries[k] = enc(d)
		s.count(d.BroadcastID, d.State, +1)
	}
	return nil
}

func (s *Store) count(broadcastID string, st bot.DeliveryState, n int) {
	c := s.counts[broadcastID]
	if c == nil {
		c = bot.Counts{}
		s.counts[broadcastID] = c
	}
	c[st] += n
	if c[st] == 0 {
		delete(c, st)
	}
}

func (s *Store) Delivery(_ context.Context, broadcastID, recipientID string) (bot.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.deliveries[dkey(broadcastID, recipientID)]
	if !ok {
		return bot.Delivery{}, fmt.Errorf("delivery %s/%s: %w", broadcastID, recipientID, bot.ErrNotFound)
	}
	return dec[bot.Delivery](raw), nil
}

func (s *Store) UpdateDelivery(_ context.Context, broadcastID, recipientID string, fn func(*bot.Delivery) error) (bot.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dkey(broadcastID, recipientID)
	raw, ok := s.deliveries[k]
	if !ok {
		return bot.Delivery{}, fmt.Errorf("delivery %s: %w", k, bot.ErrNotFound)
	}
	d := dec[bot.Delivery](raw)
	before := d.State
	if err := fn(&d); err != nil {
		return bot.Delivery{}, err
	}
	s.deliveries[k] = enc(d)
	if d.State != before {
		s.count(broadcastID, before, -1)
		s.count(broadcastID, d.State, +1)
	}
	return d, nil
}

func (s *Store) IndexSID(_ context.Context, sid, broadcastID, recipientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sids[sid] = [2]string{broadcastID, recipientID}
	return nil
}

func (s *Store) DeliveryBySID(ctx context.Context, sid string) (bot.Delivery, error) {
	s.mu.Lock()
	ids, ok := s.sids[sid]
	s.mu.Unlock()
	if !ok {
		return bot.Delivery{}, fmt.Errorf("message %s: %w", sid, bot.ErrNotFound)
	}
	return s.Delivery(ctx, ids[0], ids[1])
}

func (s *Store) Counts(_ context.Context, broadcastID string) (bot.Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := bot.Counts{}
	for k, v := range s.counts[broadcastID] {
		out[k] = v
	}
	return out, nil
}

// ---- phones ----
