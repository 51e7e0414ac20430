package failover_test

import (
	"strings"
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/failover"
)

// Automatic switches are in the audit trail like manual ones: who (herald
// itself), which mode and since when.
func TestAutomaticSwitchesAreAudited(t *testing.T) {
	w := newFailoverWorld(t)
	w.chatDown()
	w.chatUp()
	var auto []bot.AuditEntry
	for _, e := range allAudit(t, w) {
		if e.Action == bot.AuditFailoverAuto {
			auto = append(auto, e)
		}
	}
	want := []string{"mode=" + string(failover.ModeSMSOnly) + " since 2026-11-23T14:00", "mode=" + string(failover.ModeChat) + " since "}
	if len(auto) != len(want) {
		t.Fatalf("failover.auto entries %+v, want %d", auto, len(want))
	}
	for i, e := range auto {
		if e.Actor != bot.SystemActor || !strings.HasPrefix(e.Detail, want[i]) {
			t.Errorf("entry %d: %+v, want by herald, detail starting %q", i+1, e, want[i])
		}
	}
	if !strings.Contains(auto[1].Detail, "SMS-only since 2026-11-23T14:00") {
		t.Errorf("coming back does not say since when chat was down: %q", auto[1].Detail)
	}
}

// A forced switch is audited once, as failover.force, not again as automatic.
func TestForcedSwitchIsNotAuditedAsAutomatic(t *testing.T) {
	w := newFailoverWorld(t)
	if err := w.failover.SetForced(w.ctx, bot.Actor{ID: "cli:alice@ops-01"}, failover.ModeSMSOnly); err != nil {
		t.Fatal(err)
	}
	for _, e := range allAudit(t, w) {
		if e.Action == bot.AuditFailoverAuto {
			t.Errorf("forced switch audited as automatic: %+v", e)
		}
	}
}

func allAudit(t *testing.T, w *failoverWorld) []bot.AuditEntry {
	t.Helper()
	es, err := w.store.AuditTrail(w.ctx, "") // the fake's "" is every entry
	if err != nil {
		t.Fatal(err)
	}
	return es
}
