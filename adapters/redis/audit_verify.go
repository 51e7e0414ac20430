package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldops/herald/bot"
)

// errStopWalk ends a walk early; it never leaves this package.
var errStopWalk = errors.New("stop walking")

// AuditCheck is what VerifyAudit found.
type AuditCheck struct {
	Entries int       // entries walked (up to and including a broken one)
	First   time.Time // the oldest kept entry's time
	Anchor  string    // hash the oldest kept entry names as previous ("" from the start)
	Broken  *AuditBreak
}

// AuditBreak names the first entry at which the chain is not whole.
type AuditBreak struct {
	Index  int    // 1-based position among the kept entries
	ID     string // stream id
	At     time.Time
	Action string // empty when the entry could not be opened
	Reason string
}

// VerifyAudit walks the whole chain from its oldest kept entry and checks
// that each entry opens with the data key, hashes to the hash it carries,
// and names the previous entry's hash (the anchor, for the oldest). It
// stops at the first entry that fails: everything after it is suspect.
//
// The chain proves nothing was altered, removed or reordered between its
// ends; that nothing was cut from its newest end only the last hash kept
// outside Redis (an export) can prove.
func (s *Store) VerifyAudit(ctx context.Context) (AuditCheck, error) {
	anchor, err := s.auditAnchor(ctx)
	if err != nil {
		return AuditCheck{}, err
	}
	c := AuditCheck{Anchor: anchor}
	prev := anchor
	err = s.walkAudit(ctx, s.auditKey(), "-", "+", func(r AuditRecord, openErr error) error {
		c.Entries++
		if c.Entries == 1 {
			c.First = r.At
		}
		brk := func(reason string) error {
			c.Broken = &AuditBreak{Index: c.Entries, ID: r.ID, At: r.At, Action: string(r.Action), Reason: reason}
			return errStopWalk
		}
		switch {
		case openErr != nil:
			return brk("it does not open with the data key: altered, or sealed with another key")
		case r.PrevHash != prev && c.Entries == 1:
			return brk("it does not follow the chain's anchor: entries before it were removed")
		case r.PrevHash != prev:
			return brk("it does not follow the entry before it: an entry was removed, inserted or reordered")
		case bot.AuditHash(r.AuditEntry, r.PrevHash) != r.Hash:
			return brk("its content does not match its hash: it was altered")
		}
		prev = r.Hash
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return c, fmt.Errorf("verifying the audit chain: %w", err)
	}
	return c, nil
}
