package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// NextIncidentNumber hands out 1, 2, 3... across all replicas (INCR).
func (s *Store) NextIncidentNumber(ctx context.Context) (int64, error) {
	n, err := s.rdb.Incr(ctx, s.incidentSeqKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("numbering a new incident: %w", err)
	}
	return n, nil
}

// SaveIncident creates or replaces an incident. The indexes are written
// before the record, and readers check each record's state, so a crash in
// between never hides an incident nor lists a resolved one as open.
func (s *Store) SaveIncident(ctx context.Context, inc bot.Incident) error {
	if inc.ID == "" {
		return errors.New("saving incident: empty id")
	}
	sealed, err := s.seal(inc)
	if err != nil {
		return fmt.Errorf("saving incident %s: %w", inc.ID, err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		z := goredis.Z{Score: float64(inc.Number), Member: inc.ID}
		p.ZAdd(ctx, s.incidentsKey(), z)
		if inc.State == bot.IncidentResolved {
			p.ZRem(ctx, s.openIncidentsKey(), inc.ID)
		} else {
			p.ZAdd(ctx, s.openIncidentsKey(), z)
		}
		p.Set(ctx, s.incidentKey(inc.ID), sealed, 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving incident %s: %w", inc.ID, err)
	}
	return nil
}

// Incident returns one incident, or bot.ErrNotFound.
func (s *Store) Incident(ctx context.Context, id string) (bot.Incident, error) {
	var inc bot.Incident
	if err := s.load(ctx, s.rdb, s.incidentKey(id), &inc); err != nil {
		return bot.Incident{}, fmt.Errorf("loading incident %s: %w", id, err)
	}
	return inc, nil
}

// Incidents lists incidents by number, newest first; openOnly leaves
// resolved ones out.
func (s *Store) Incidents(ctx context.Context, openOnly bool) ([]bot.Incident, error) {
	index := s.incidentsKey()
	if openOnly {
		index = s.openIncidentsKey()
	}
	ids, err := s.rdb.ZRevRange(ctx, index, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.incidentKey(id)
	}
	raws, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	out := make([]bot.Incident, 0, len(ids))
	for i, raw := range raws {
		if raw == nil {
			continue // indexed but not yet (or no longer) written
		}
		var inc bot.Incident
		if err := s.open(raw, &inc); err != nil {
			return nil, fmt.Errorf("reading incident %s: %w", ids[i], err)
		}
		if openOnly && inc.State == bot.IncidentResolved {
			continue
		}
		out = append(out, inc)
	}
	return out, nil
}
