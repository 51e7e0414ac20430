package app

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	redisadapter "github.com/heraldops/herald/adapters/redis"
	"github.com/heraldops/herald/bot"
)

// Formats `herald audit export` writes.
const (
	ExportJSONL = "jsonl"
	ExportCSV   = "csv"
)

// ExportOptions are `herald audit export`'s inputs.
type ExportOptions struct {
	ConfigPath string
	Since      string // RFC 3339, a date (2026-03-01) or a duration before now (720h); empty: from the oldest kept entry
	Until      string // the same; empty: up to the newest
	IncidentID string // empty: every incident and the install's own entries
	Format     string // ExportJSONL (default) or ExportCSV
	Logger     zerolog.Logger
	Out        io.Writer
	Getenv     func(string) string // nil: os.Getenv
}

// ExportedEntry is one line of an export: every field of the entry, its
// place in the chain, numbers masked. The names are a contract with the
// auditor's tools: they never change once used.
type ExportedEntry struct {
	Time          string `json:"time"` // RFC 3339, UTC, with the entry's own precision
	ActorPlatform string `json:"actor_platform"`
	ActorID       string `json:"actor_id"`
	ActorName     string `json:"actor_name"`
	Action        string `json:"action"`
	Incident      string `json:"incident"`
	Detail        string `json:"detail"`
	Hash          string `json:"hash"`
	PrevHash      string `json:"prev_hash"`
}

// exportColumns is the CSV header, in ExportedEntry's order.
var exportColumns = []string{"time", "actor_platform", "actor_id", "actor_name", "action", "incident", "detail", "hash", "prev_hash"}

func exported(r redisadapter.AuditRecord) ExportedEntry {
	e := maskedEntry(r.AuditEntry)
	return ExportedEntry{
		Time: e.At.UTC().Format(time.RFC3339Nano), ActorPlatform: string(e.Actor.Platform), ActorID: e.Actor.ID, ActorName: e.Actor.Name,
		Action: string(e.Action), Incident: e.IncidentID, Detail: e.Detail, Hash: r.Hash, PrevHash: r.PrevHash,
	}
}

func (x ExportedEntry) row() []string {
	return []string{x.Time, x.ActorPlatform, x.ActorID, x.ActorName, x.Action, x.Incident, x.Detail, x.Hash, x.PrevHash}
}

// AuditExport writes the audit entries in range to Out, one per line (JSON
// lines) or row (CSV with a header), oldest first.
func AuditExport(ctx context.Context, o ExportOptions) error {
	now := time.Now()
	since, err := parseWhen(o.Since, now)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	until, err := parseWhen(o.Until, now)
	if err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	if o.IncidentID != "" {
		if o.IncidentID, err = bot.ParseIncidentID(o.IncidentID); err != nil {
			return fmt.Errorf("--incident: %w", err)
		}
	}
	var write func(ExportedEntry) error
	var flush func() error
	out := writerOr(o.Out)
	switch o.Format {
	case "", ExportJSONL:
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		write = func(x ExportedEntry) error { return enc.Encode(x) }
		flush = func() error { return nil }
	case ExportCSV:
		w := csv.NewWriter(out)
		if err := w.Write(exportColumns); err != nil {
			return fmt.Errorf("writing the CSV header: %w", err)
		}
		write = func(x ExportedEntry) error { return w.Write(x.row()) }
		flush = func() error { w.Flush(); return w.Error() }
	default:
		return fmt.Errorf("unknown format %q (jsonl or csv)", o.Format)
	}
	cfg, store, err := openStore(ctx, o.ConfigPath, o.Getenv)
	if err != nil {
		return err
	}
	if err := allowOperator(ctx, cfg, store, "herald audit export"); err != nil {
		return err
	}
	// Recorded before the walk, so the export a person takes away holds the
	// record of its own taking.
	if err := auditCLI(ctx, store, bot.AuditAuditExport, exportDetail(o)); err != nil {
		return err
	}
	err = store.AuditRange(ctx, o.IncidentID, since, until, func(r redisadapter.AuditRecord) error { return write(exported(r)) })
	if err != nil {
		return fmt.Errorf("exporting the audit trail: %w", err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("writing the export: %w", err)
	}
	return nil
}

// exportDetail says what was exported, for the audit.
func exportDetail(o ExportOptions) string {
	return fmt.Sprintf("format=%s since=%s until=%s incident=%s", cmp.Or(o.Format, ExportJSONL),
		cmp.Or(o.Since, "-"), cmp.Or(o.Until, "-"), cmp.Or(o.IncidentID, "all"))
}

// parseWhen reads a --since or --until: RFC 3339, a date (midnight UTC), or
// a duration meaning that long before now. Empty is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-03-01T09:00:00Z), a date (2026-03-01) or a duration before now (24h)", s)
}
