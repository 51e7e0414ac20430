package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
)

// fullIncident is every kind of thing a real incident audits, in order.
func fullIncident(at time.Time) []bot.AuditEntry {
	ann := bot.Actor{Platform: bot.PlatformSlack, ID: "U0RESP1", Name: "Ann"}
	lead := bot.Actor{Platform: bot.PlatformSlack, ID: "U0LEAD1", Name: "Lee"}
	bySMS := bot.Actor{ID: "+4915112345678", Name: "+49151*****78"} // a responder driving the incident by SMS
	es := []bot.AuditEntry{
		{Actor: ann, Action: bot.AuditIncidentDeclare, Detail: "Checkout down, sev 1"},
		{Actor: ann, Action: bot.AuditBroadcastRequest, Detail: "INC-1-B1 to executives"},
		{Actor: lead, Action: bot.AuditBroadcastApprove, Detail: "INC-1-B1"},
		{Actor: bot.SystemActor, Action: bot.AuditBroadcastDone, Detail: "INC-1-B1: 2 delivered"},
		{Actor: bot.Actor{ID: "+49151*****01", Name: "Dana Weber"}, Action: bot.AuditReplyReceive, Detail: "from +49151*****01"},
		{Actor: ann, Action: bot.AuditReplyAnswer, Detail: "to dana"},
		{Actor: bySMS, Action: bot.AuditSMSCommand("STATUS")},
		{Actor: ann, Action: bot.AuditIncidentResolve},
	}
	for i := range es {
		es[i].At = at.Add(time.Duration(i) * time.Minute)
		es[i].IncidentID = "INC-1"
	}
	return es
}

func TestAuditExportParsesAsJSONLinesAndCSV(t *testing.T) {
	ctx := context.Background()
	store, _ := cliRedis(t)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	incident := fullIncident(at)
	other := bot.AuditEntry{At: at.Add(30 * time.Second), Actor: bot.SystemActor, Action: bot.AuditConfigReload, Detail: "3 audiences"}
	for i, e := range incident {
		if err := store.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := store.Audit(ctx, other); err != nil {
				t.Fatal(err)
			}
		}
	}

	tests := []struct {
		name        string
		opts        ExportOptions
		wantActions []bot.AuditAction
	}{
		{"the incident's every action", ExportOptions{IncidentID: "INC-1"}, actionsOf(incident)},
		{"the whole install", ExportOptions{Until: "2026-03-01T23:59:59Z"}, append([]bot.AuditAction{incident[0].Action, other.Action}, actionsOf(incident[1:])...)},
		{"a window", ExportOptions{Since: "2026-03-01T09:02:00Z", Until: "2026-03-01T09:03:00Z"}, actionsOf(incident[2:4])},
		{"between two dates", ExportOptions{Since: "2026-03-02", Until: "2026-03-03"}, nil},
	}
	for _, tt := range tests {
		for _, format := range []string{ExportJSONL, ExportCSV} {
			t.Run(tt.name+" as "+format, func(t *testing.T) {
				var out bytes.Buffer
				o := tt.opts
				o.ConfigPath, o.Format, o.Out = exampleConfig, format, &out
				if err := AuditExport(ctx, o); err != nil {
					t.Fatal(err)
				}
				got := parseExport(t, format, out.Bytes())
				if len(got) != len(tt.wantActions) {
					t.Fatalf("%d entries, want %d:\n%s", len(got), len(tt.wantActions), out.String())
				}
				for i, x := range got {
					if x.Action != string(tt.wantActions[i]) {
						t.Errorf("entry %d is %s, want %s", i+1, x.Action, tt.wantActions[i])
					}
					if _, err := time.Parse(time.RFC3339, x.Time); err != nil || len(x.Hash) != 64 {
						t.Errorf("entry %d: time %q (%v), hash %q", i+1, x.Time, err, x.Hash)
					}
					if i > 0 && tt.name == "the whole install" && x.PrevHash != got[i-1].Hash {
						t.Errorf("entry %d names %q as previous, want %q", i+1, x.PrevHash, got[i-1].Hash)
					}
				}
				if strings.Contains(out.String(), "+4915112345678") {
					t.Errorf("the export shows a full phone number:\n%s", out.String())
				}
			})
		}
	}
	// every field of one entry, exactly
	var out bytes.Buffer
	if err := AuditExport(ctx, ExportOptions{ConfigPath: exampleConfig, IncidentID: "INC-1", Since: "2026-03-01T09:06:00Z", Until: "2026-03-01T09:06:00Z", Out: &out}); err != nil {
		t.Fatal(err)
	}
	got := parseExport(t, ExportJSONL, out.Bytes())
	want := ExportedEntry{Time: "2026-03-01T09:06:00Z", ActorID: "+49151*****78", ActorName: "+49151*****78", Action: "sms.status", Incident: "INC-1"}
	if len(got) != 1 || len(got[0].PrevHash) != 64 {
		t.Fatalf("export of one entry = %+v", got)
	}
	got[0].Hash, got[0].PrevHash = "", ""
	if got[0] != want {
		t.Errorf("exported %+v, want %+v", got[0], want)
	}
}

func actionsOf(es []bot.AuditEntry) []bot.AuditAction {
	var out []bot.AuditAction
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

// parseExport reads an export back the way an auditor's tools would:
// encoding/json line by line, or encoding/csv with its header.
func parseExport(t *testing.T, format string, raw []byte) []ExportedEntry {
	t.Helper()
	var out []ExportedEntry
	if format == ExportJSONL {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			var x ExportedEntry
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&x); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			out = append(out, x)
		}
		return out
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, raw)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(exportColumns, ",") {
		t.Fatalf("CSV header %v, want %v", rows, exportColumns)
	}
	for _, r := range rows[1:] {
		out = append(out, ExportedEntry{Time: r[0], ActorPlatform: r[1], ActorID: r[2], ActorName: r[3], Action: r[4], Incident: r[5], Detail: r[6], Hash: r[7], PrevHash: r[8]})
	}
	return out
}
