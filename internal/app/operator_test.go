package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/bot"
)

// asOSUser makes the process's OS user name and host those given.
func asOSUser(t *testing.T, name, host string) {
	t.Helper()
	u, h := currentUser, hostname
	currentUser = func() (string, error) { return name, nil }
	hostname = func() (string, error) { return host, nil }
	t.Cleanup(func() { currentUser, hostname = u, h })
}

// configWithOperators is the example config with roles.operators set.
func configWithOperators(t *testing.T, operators string) string {
	t.Helper()
	raw, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := strings.Replace(string(raw), "roles:\n", "roles:\n  operators: "+operators+"\n", 1)
	path := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTerminalActorNamesUserHostAndOperator(t *testing.T) {
	tests := []struct {
		operator string
		want     bot.Actor
	}{
		{"", bot.Actor{ID: "cli:alice@ops-01", Name: "alice"}},
		{"oncall-lead", bot.Actor{ID: "cli:alice@ops-01", Name: "alice (HERALD_OPERATOR=oncall-lead)"}},
	}
	for _, tt := range tests {
		asOSUser(t, "alice", "ops-01")
		t.Setenv("HERALD_OPERATOR", tt.operator)
		if got := terminalActor(); got != tt.want {
			t.Errorf("HERALD_OPERATOR=%q: actor %+v, want %+v", tt.operator, got, tt.want)
		}
	}
}

// roles.operators decides who may send, fail over, forget and export at the
// terminal; a refusal says so in a sentence, changes nothing and is audited.
func TestOperatorsRestrictTheCLI(t *testing.T) {
	ctx := context.Background()
	store, _ := cliRedis(t)
	t.Setenv("HERALD_OPERATOR", "oncall-lead")
	t.Setenv("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")
	t.Setenv("TWILIO_AUTH_TOKEN", "token")
	t.Setenv("TWILIO_SMS_FROM", "+15005550006")
	t.Setenv("TWILIO_API_URL", "http://127.0.0.1:1") // nothing may leave the machine
	t.Setenv("HERALD_PUBLIC_URL", "http://127.0.0.1:1")
	restricted := configWithOperators(t, "[alice, bob]")
	open := exampleConfig // no roles.operators: anyone

	run := map[string]func(cfg string) error{
		"herald send": func(cfg string) error {
			var out bytes.Buffer
			if Send(ctx, SendOptions{ConfigPath: cfg, Audiences: []string{"it-ops"}, Template: "investigating",
				Vars: map[string]string{"next_update": "14:00"}, Logger: zerolog.Nop(), Out: &out}) != 0 {
				return errors.New(out.String())
			}
			return nil
		},
		"herald failover on": func(cfg string) error {
			return Failover(ctx, FailoverOptions{ConfigPath: cfg, Mode: FailoverOn})
		},
		"herald recipients forget": func(cfg string) error {
			return Forget(ctx, ForgetOptions{ConfigPath: cfg, Phone: "+14155550101"})
		},
		"herald audit export": func(cfg string) error {
			return AuditExport(ctx, ExportOptions{ConfigPath: cfg, Out: &bytes.Buffer{}})
		},
	}
	for command, fn := range run {
		t.Run(command, func(t *testing.T) {
			// given mallory, who is not an operator
			asOSUser(t, "mallory", "ops-01")
			// when she runs the command
			err := fn(restricted)
			// then it is refused, in a sentence, and the refusal audited
			want := "refused: " + command + " may only be run by the OS users in roles.operators (alice, bob), and you are mallory"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("mallory ran %s: %v; want %q", command, err, want)
			}
			last, aerr := store.RecentAudit(ctx, 1)
			if aerr != nil || len(last) != 1 {
				t.Fatalf("RecentAudit = %v, %v", last, aerr)
			}
			wantEntry := bot.AuditEntry{At: last[0].At, Actor: bot.Actor{ID: "cli:mallory@ops-01", Name: "mallory (HERALD_OPERATOR=oncall-lead)"},
				Action: bot.AuditCLIRefused, Detail: command + ": mallory is not in roles.operators"}
			if last[0] != wantEntry {
				t.Errorf("last audit entry %+v, want %+v", last[0], wantEntry)
			}
			// and where the list is not set, or names her, it is not refused
			// (a send that is let through would relay: checked elsewhere)
			if command == "herald send" {
				return
			}
			for _, cfg := range []string{open, configWithOperators(t, "[alice, mallory]")} {
				if err := fn(cfg); err != nil && strings.Contains(err.Error(), "refused") {
					t.Errorf("with %s: %v", cfg, err)
				}
			}
		})
	}
}

// Every terminal action lands in the audit with who ran it.
func TestEveryCLIActionIsAuditedWithItsOperator(t *testing.T) {
	ctx := context.Background()
	store, _ := cliRedis(t)
	asOSUser(t, "alice", "ops-01")
	t.Setenv("HERALD_OPERATOR", "oncall-lead")
	steps := []struct {
		run  func() error
		want bot.AuditAction
	}{
		{func() error { return Failover(ctx, FailoverOptions{ConfigPath: exampleConfig, Mode: FailoverOn}) }, bot.AuditFailoverForce},
		{func() error { return Failover(ctx, FailoverOptions{ConfigPath: exampleConfig, Mode: FailoverStatus}) }, bot.AuditFailoverStatus},
		{func() error { return Failover(ctx, FailoverOptions{ConfigPath: exampleConfig, Mode: FailoverOff}) }, bot.AuditFailoverForce},
		{func() error { return Forget(ctx, ForgetOptions{ConfigPath: exampleConfig, Phone: "+14155550101"}) }, bot.AuditRecipientForget},
		{func() error { return Audit(ctx, AuditOptions{ConfigPath: exampleConfig}) }, bot.AuditAuditRead},
		{func() error { return AuditExport(ctx, ExportOptions{ConfigPath: exampleConfig}) }, bot.AuditAuditExport},
		{func() error {
			if AuditVerify(ctx, VerifyOptions{ConfigPath: exampleConfig}) != 0 {
				return errors.New("verify failed")
			}
			return nil
		}, bot.AuditAuditVerify},
	}
	for i, s := range steps {
		if err := s.run(); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	entries, err := store.RecentAudit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(steps) {
		t.Fatalf("%d entries for %d commands: %+v", len(entries), len(steps), entries)
	}
	for i, e := range entries {
		if e.Action != steps[i].want || e.Actor.ID != "cli:alice@ops-01" || e.Actor.Name != "alice (HERALD_OPERATOR=oncall-lead)" {
			t.Errorf("entry %d: %s by %+v, want %s by cli:alice@ops-01", i+1, e.Action, e.Actor, steps[i].want)
		}
	}
}
