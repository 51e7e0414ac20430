package main

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"version", []string{"version"}, nil, 0, "herald dev (commit ", ""},
		{"help lists every command", []string{"--help"}, nil, 0, "recipients forget", ""},
		{"no command", nil, nil, 2, "", "expected one of"},
		{"unknown command", []string{"deploy"}, nil, 2, "", "unexpected argument deploy"},
		{"valid config", []string{"config", "validate", "--config", "testdata/herald.yaml"}, nil, 0, "ok: 2 recipients, 2 audiences, 1 templates", ""},
		{"invalid config names key and line", []string{"config", "validate", "-c", "testdata/invalid.yaml"}, nil, 1, `invalid.yaml:4: audiences[0].members[1]: unknown recipient "nobody"`, ""},
		{"missing config", []string{"config", "validate", "--config", "testdata/absent.yaml"}, nil, 1, "absent.yaml", ""},
		{"failover needs a known mode", []string{"failover", "maybe"}, nil, 2, "", `must be one of "on","off","status"`},
		{"send needs audience and template", []string{"send", "--template", "investigating"}, nil, 2, "", "--audience"},
		{"forget needs a phone", []string{"recipients", "forget"}, nil, 2, "", "<phone>"},
		{"audit export knows its formats", []string{"audit", "export", "--format", "xml"}, nil, 2, "", `must be one of "jsonl","csv"`},
		{"audit export refuses a time it cannot read", []string{"audit", "export", "--since", "yesterday", "-c", "testdata/herald.yaml"}, nil, 1, "", `"yesterday" is not a time`},
		{"bad LOG_LEVEL", []string{"version"}, map[string]string{"LOG_LEVEL": "loud"}, 2, "", `unknown log level "loud"`},
		{"bad --log-format", []string{"--log-format", "xml", "version"}, nil, 2, "", `unknown log format "xml"`},
		{"serve fails without its config", []string{"serve", "--config", "testdata/absent.yaml"}, nil, 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LOG_LEVEL", "")
			t.Setenv("LOG_FORMAT", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, stdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr)
			}
		})
	}
}

func TestSendFlags(t *testing.T) {
	var c cli
	p, err := newParser(&c, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Parse([]string{"send",
		"--audience", "executives,it-ops", "--audience", "customers",
		"--template", "investigating",
		"--var", "next_update=14:00; call us", "--var", "note=a=b",
		"--sms-only", "--incident", "INC-42",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Send
	if want := []string{"executives", "it-ops", "customers"}; !reflect.DeepEqual(s.Audience, want) {
		t.Errorf("audiences %q, want %q", s.Audience, want)
	}
	// A value may hold ';' and '=': only the first '=' splits.
	if want := map[string]string{"next_update": "14:00; call us", "note": "a=b"}; !reflect.DeepEqual(s.Var, want) {
		t.Errorf("vars %q, want %q", s.Var, want)
	}
	if !s.SMSOnly || s.Incident != "INC-42" || s.Template != "investigating" || s.Config != "herald.yaml" {
		t.Errorf("flags not parsed: %+v", s)
	}
}

func TestLogLevelFromEnvironment(t *testing.T) {
	t.Setenv("LOG_LEVEL", "debug")
	t.Setenv("LOG_FORMAT", "console")
	var c cli
	p, err := newParser(&c, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"version"}); err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "debug" || c.LogFormat != "console" {
		t.Fatalf("LOG_LEVEL/LOG_FORMAT not read: %q %q", c.LogLevel, c.LogFormat)
	}
}

func TestLogFormatIsForWhoReadsIt(t *testing.T) {
	tests := []struct {
		set, command string
		terminal     bool
		want         string
	}{
		{"", "serve", true, "json"},            // the daemon's log is structured, even when started by hand
		{"", "send", true, "console"},          // a person at a terminal
		{"", "audit", false, "json"},           // a script or a pipe
		{"json", "send", true, "json"},         // LOG_FORMAT wins
		{"console", "serve", false, "console"}, // LOG_FORMAT wins
	}
	for _, tt := range tests {
		if got := logFormatFor(tt.set, tt.command, tt.terminal); got != tt.want {
			t.Errorf("logFormatFor(%q, %q, terminal=%v) = %q, want %q", tt.set, tt.command, tt.terminal, got, tt.want)
		}
	}
}

// herald demo --write-config writes the seeded config, which validates as it
// is, and refuses to overwrite one already there (likely the user's own).
func TestDemoWriteConfig(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "demo", "--write-config", dir)
	if code != 0 || !strings.Contains(stdout, "herald demo: wrote "+dir+"/herald.yaml") {
		t.Fatalf("demo --write-config: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "config", "validate", "--config", dir+"/herald.yaml")
	if code != 0 || !strings.Contains(stdout, "ok: 20 recipients, 3 audiences, 3 templates") {
		t.Fatalf("the written config does not validate: exit %d, %s", code, stdout)
	}
	if code, _, stderr = runCLI(t, "demo", "--write-config", dir); code != 1 || !strings.Contains(stderr, "file exists") {
		t.Fatalf("a second --write-config: exit %d, stderr %q; want 1 and a refusal", code, stderr)
	}
}
