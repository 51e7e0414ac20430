package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	redisadapter "github.com/heraldops/herald/adapters/redis"
	"github.com/heraldops/herald/bot"
)

// AuditOptions are `herald audit [INC-n]`'s inputs.
type AuditOptions struct {
	ConfigPath string
	IncidentID string // empty: the install's latest entries
	Last       int64
	Logger     zerolog.Logger
	Out        io.Writer
	Getenv     func(string) string // nil: os.Getenv
}

// Audit prints the audit trail, one entry per line, oldest first. Entries
// never hold a raw phone number (callers store them masked).
func Audit(ctx context.Context, o AuditOptions) error {
	_, store, err := openStore(ctx, o.ConfigPath, o.Getenv)
	if err != nil {
		return err
	}
	var entries []bot.AuditEntry
	if o.IncidentID != "" {
		id, err := bot.ParseIncidentID(o.IncidentID)
		if err != nil {
			return err
		}
		if entries, err = store.AuditTrail(ctx, id); err != nil {
			return fmt.Errorf("reading the audit trail of %s: %w", id, err)
		}
	} else {
		if o.Last <= 0 {
			o.Last = 100
		}
		if entries, err = store.RecentAudit(ctx, o.Last); err != nil {
			return fmt.Errorf("reading the audit trail: %w", err)
		}
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	for _, e := range entries {
		e = maskedEntry(e)
		who := e.Actor.ID
		if e.Actor.Name != "" && e.Actor.Name != e.Actor.ID {
			who += " (" + e.Actor.Name + ")"
		}
		line := strings.Join(slices.DeleteFunc([]string{e.At.UTC().Format(time.RFC3339), e.IncidentID, string(e.Action), who, e.Detail},
			func(s string) bool { return s == "" }), "  ")
		fmt.Fprintln(out, line)
	}
	if len(entries) == 0 {
		fmt.Fprintln(out, "no audit entries")
	}
	what := fmt.Sprintf("the latest %d entries", o.Last)
	if o.IncidentID != "" {
		what = "the trail of " + o.IncidentID
	}
	return auditCLI(ctx, store, bot.AuditAuditRead, what)
}

// VerifyOptions are `herald audit verify`'s inputs.
type VerifyOptions struct {
	ConfigPath string
	Logger     zerolog.Logger
	Out        io.Writer
	Getenv     func(string) string // nil: os.Getenv
}

// AuditVerify walks the audit chain and says whether it is whole. It
// returns the exit code: 0 whole, 1 broken (the first broken entry named)
// or unreadable.
func AuditVerify(ctx context.Context, o VerifyOptions) int {
	out := writerOr(o.Out)
	_, store, err := openStore(ctx, o.ConfigPath, o.Getenv)
	if err != nil {
		fmt.Fprintf(out, "herald audit verify: %v\n", err)
		return 1
	}
	c, err := store.VerifyAudit(ctx)
	if err != nil {
		fmt.Fprintf(out, "herald audit verify: %v\n", err)
		return 1
	}
	if err := auditCLI(ctx, store, bot.AuditAuditVerify, verifyDetail(c)); err != nil {
		fmt.Fprintf(out, "herald audit verify: %v\n", err)
	}
	if b := c.Broken; b != nil {
		what := "entry " + b.ID
		if b.Action != "" {
			what = fmt.Sprintf("%s at %s (%s)", b.Action, b.At.UTC().Format(time.RFC3339), b.ID)
		}
		fmt.Fprintf(out, "broken: entry %d, %s: %s; the entries before it are whole, the rest cannot be trusted\n", b.Index, what, b.Reason)
		return 1
	}
	if c.Entries == 0 {
		fmt.Fprintln(out, "ok: 0 entries")
		return 0
	}
	from := c.First.UTC().Format(time.RFC3339)
	if c.Anchor != "" {
		from += " (older entries expired; anchored at " + c.Anchor[:12] + ")"
	}
	fmt.Fprintf(out, "ok: %d entries, chain whole from %s\n", c.Entries, from)
	return 0
}

// verifyDetail is what the audit records of a check: the result, in short.
func verifyDetail(c redisadapter.AuditCheck) string {
	if b := c.Broken; b != nil {
		return fmt.Sprintf("broken at entry %d (%s): %s", b.Index, b.ID, b.Reason)
	}
	return fmt.Sprintf("whole: %d entries", c.Entries)
}

func writerOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// maskedEntry is e as a person may read it: callers store details masked,
// but a responder driving an incident by SMS is audited under their number,
// so every field is masked again on the way out.
func maskedEntry(e bot.AuditEntry) bot.AuditEntry {
	e.Actor.ID = bot.MaskPhonesIn(e.Actor.ID)
	e.Actor.Name = bot.MaskPhonesIn(e.Actor.Name)
	e.Detail = bot.MaskPhonesIn(e.Detail)
	return e
}
