package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
)

// auditCap bounds the install-wide audit stream to about this many entries;
// Redis trims the oldest.
const auditCap = 1_000_000

// perIncidentAuditCap bounds one incident's trail; far above what a real
// incident produces, it only stops a runaway loop from filling Redis.
const perIncidentAuditCap = 100_000

// Audit appends an entry to the install-wide audit stream and to its
// incident's trail. Entries are sealed like every record; callers pass
// details with phone numbers already masked.
func (s *Store) Audit(ctx context.Context, e bot.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.clock.Now()
	}
	sealed, err := s.seal(e)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", e.Action, err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAdd(ctx, &goredis.XAddArgs{
			Stream: s.auditKey(), MaxLen: auditCap, Approx: true,
			Values: []any{"e", sealed},
		})
		if e.IncidentID != "" {
			p.XAdd(ctx, &goredis.XAddArgs{
				Stream: s.incidentAuditKey(e.IncidentID), MaxLen: perIncidentAuditCap, Approx: true,
				Values: []any{"e", sealed},
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auditing %s: %w", e.Action, err)
	}
	return nil
}

// AuditTrail returns an incident's audit entries, oldest first.
func (s *Store) AuditTrail(ctx context.Context, incidentID string) ([]bot.AuditEntry, error) {
	msgs, err := s.rdb.XRange(ctx, s.incidentAuditKey(incidentID), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail of %s: %w", incidentID, err)
	}
	return s.auditEntries(msgs)
}

// RecentAudit returns the install's last n audit entries, oldest first.
func (s *Store) RecentAudit(ctx context.Context, n int64) ([]bot.AuditEntry, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.auditKey(), "+", "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return s.auditEntries(msgs)
}

func (s *Store) auditEntries(msgs []goredis.XMessage) ([]bot.AuditEntry, error) {
	out := make([]bot.AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["e"].(string)
		var e bot.AuditEntry
		if err := s.open([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("reading audit entry %s: %w", m.ID, err)
		}
		out = append(out, e)
	}
	return out, nil
}
