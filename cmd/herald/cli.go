package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/app"
	"github.com/heraldops/herald/internal/config"
	"github.com/heraldops/herald/internal/logging"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed (invalid config, send failed...)
	exitUsage = 2 // the command line was wrong
)

// cli is herald's command line. Flags with env tags take their default from
// the environment (see README, Environment).
type cli struct {
	LogLevel  string `name:"log-level" env:"LOG_LEVEL" default:"info" help:"trace, debug, info, warn, error."`
	LogFormat string `name:"log-format" env:"LOG_FORMAT" help:"json or console; default: console for a command typed at a terminal, json for serve and for scripts."`

	Serve      serveCmd      `cmd:"" help:"Run the bot: HTTP server and workers."`
	Demo       demoCmd       `cmd:"" help:"Try herald in a browser: simulated Slack and phones, everything in memory, no account."`
	Config     configCmd     `cmd:"" help:"Work with the config file."`
	Send       sendCmd       `cmd:"" help:"Relay an update from a terminal (when chat is down)."`
	Failover   failoverCmd   `cmd:"" help:"Force SMS-only mode on or off, or show the mode."`
	Recipients recipientsCmd `cmd:"" help:"Manage what herald keeps about recipients."`
	Audit      auditCmd      `cmd:"" help:"Print the audit trail: every command, approval, send and reply."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
}

// runEnv is what every command's Run gets.
type runEnv struct {
	ctx    context.Context
	log    zerolog.Logger
	stdout io.Writer
	code   int // exit code for commands that decide it themselves
}

type configFlag struct {
	Config string `short:"c" default:"herald.yaml" help:"Config file (default ${default})." placeholder:"FILE"`
}

type serveCmd struct{ configFlag }

func (c *serveCmd) Run(e *runEnv) error {
	return app.Serve(e.ctx, app.ServeOptions{ConfigPath: c.Config, Version: version, Logger: e.log})
}

type demoCmd struct {
	Addr        string `default:"127.0.0.1:8080" help:"Where the console listens (default ${default}); it has no authentication, keep it on loopback." placeholder:"HOST:PORT"`
	RedisURL    string `name:"redis-url" help:"Use this Redis instead of the in-process store." placeholder:"URL"`
	WriteConfig string `name:"write-config" help:"Write the seeded herald.yaml into DIR and exit." placeholder:"DIR" type:"path"`
}

func (c *demoCmd) Run(e *runEnv) error {
	return app.Demo(e.ctx, app.DemoOptions{Addr: c.Addr, RedisURL: c.RedisURL, WriteConfig: c.WriteConfig,
		Version: version, Logger: e.log, Out: e.stdout})
}

type configCmd struct {
	Validate validateCmd `cmd:"" help:"Check the config file; exit 0 if valid, 1 with every problem named by key and line."`
}

type validateCmd struct{ configFlag }

func (c *validateCmd) Run(e *runEnv) error {
	e.code = config.RunValidate(e.stdout, c.Config)
	return nil
}

type sendCmd struct {
	configFlag
	Audience []string          `required:"" help:"Audience to notify; repeat or comma-separate for several." placeholder:"NAME"`
	Template string            `required:"" help:"Template to send." placeholder:"NAME"`
	Var      map[string]string `mapsep:"none" help:"Template field, repeatable: --var next_update=14:00." placeholder:"KEY=VALUE"`
	SMSOnly  bool              `name:"sms-only" help:"Send SMS only, even to WhatsApp recipients."`
	Incident string            `help:"Incident the update is about, e.g. INC-42." placeholder:"ID"`
}

func (c *sendCmd) Run(e *runEnv) error {
	e.code = app.Send(e.ctx, app.SendOptions{
		ConfigPath: c.Config, Audiences: c.Audience, Template: c.Template, Vars: c.Var,
		SMSOnly: c.SMSOnly, IncidentID: c.Incident, Logger: e.log, Out: e.stdout,
	})
	return nil
}

type failoverCmd struct {
	configFlag
	Mode string `arg:"" enum:"on,off,status" help:"on: force SMS-only; off: automatic again; status: show the mode."`
}

func (c *failoverCmd) Run(e *runEnv) error {
	return app.Failover(e.ctx, app.FailoverOptions{ConfigPath: c.Config, Mode: c.Mode, Logger: e.log, Out: e.stdout})
}

type recipientsCmd struct {
	Forget forgetCmd `cmd:"" help:"Erase everything herald keeps about a phone number."`
}

type forgetCmd struct {
	configFlag
	Phone string `arg:"" help:"The number, E.164 (+4915112345678)."`
}

func (c *forgetCmd) Run(e *runEnv) error {
	return app.Forget(e.ctx, app.ForgetOptions{ConfigPath: c.Config, Phone: c.Phone, Logger: e.log, Out: e.stdout})
}

// auditCmd is `herald audit [INC-n]` (show, the default), `herald audit
// export` and `herald audit verify`.
type auditCmd struct {
	Show   auditShowCmd   `cmd:"" default:"withargs" hidden:"" help:"Print the audit trail (the default)."`
	Export auditExportCmd `cmd:"" help:"Write the audit trail to stdout for an auditor: JSON lines or CSV, every field."`
	Verify auditVerifyCmd `cmd:"" help:"Check the audit chain; exit 0 if whole, 1 naming the first broken entry."`
}

type auditShowCmd struct {
	configFlag
	Incident string `arg:"" optional:"" help:"Only this incident, e.g. INC-42; without it the latest entries of the install." placeholder:"ID"`
	Last     int64  `default:"100" help:"How many of the latest entries, without an incident."`
}

func (c *auditShowCmd) Run(e *runEnv) error {
	return app.Audit(e.ctx, app.AuditOptions{ConfigPath: c.Config, IncidentID: c.Incident, Last: c.Last, Logger: e.log, Out: e.stdout})
}

type auditExportCmd struct {
	configFlag
	Since    string `help:"From this time: RFC 3339, a date (2026-03-01) or a duration before now (720h)." placeholder:"T"`
	Until    string `help:"Up to this time, in the same forms." placeholder:"T"`
	Incident string `help:"Only this incident, e.g. INC-42." placeholder:"ID"`
	Format   string `default:"jsonl" enum:"jsonl,csv" help:"jsonl (one JSON object per line) or csv (with a header)."`
}

func (c *auditExportCmd) Run(e *runEnv) error {
	return app.AuditExport(e.ctx, app.ExportOptions{ConfigPath: c.Config, Since: c.Since, Until: c.Until,
		IncidentID: c.Incident, Format: c.Format, Logger: e.log, Out: e.stdout})
}

type auditVerifyCmd struct{ configFlag }

func (c *auditVerifyCmd) Run(e *runEnv) error {
	e.code = app.AuditVerify(e.ctx, app.VerifyOptions{ConfigPath: c.Config, Logger: e.log, Out: e.stdout})
	return nil
}

type versionCmd struct{}

func (versionCmd) Run(e *runEnv) error {
	_, err := fmt.Fprintln(e.stdout, versionString())
	return err
}

// versionString is "herald v1.2.3 (commit abc1234, go1.26.0, linux/amd64)".
func versionString() string {
	commit := commit
	if bi, ok := debug.ReadBuildInfo(); ok && commit == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				commit = s.Value[:7]
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("herald %s (commit %s, %s, %s/%s)", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// exitRequest carries kong's exit (after --help) out of the parser.
type exitRequest int

// newParser builds the command-line parser for c. kong's exit (after
// --help) becomes a panic with an exitRequest, which run turns into a code.
func newParser(c *cli, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(c,
		kong.Name("herald"),
		kong.Description("herald relays incident updates from Slack or Teams to stakeholders' phones (SMS, WhatsApp) and threads their replies back."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest(code)) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
}

// run parses args, runs the command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = int(req)
		}
	}()
	var c cli
	parser, err := newParser(&c, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err) // a mistake in the grammar above
		return exitError
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %v\nRun 'herald --help' for usage.\n", err)
		return exitUsage
	}
	log, err := logging.New(stderr, c.LogLevel, logFormatFor(c.LogFormat, kctx.Command(), logging.IsTerminal(stderr)))
	if err != nil {
		fmt.Fprintf(stderr, "herald: LOG_LEVEL/LOG_FORMAT: %v\n", err)
		return exitUsage
	}
	env := &runEnv{ctx: ctx, log: log, stdout: stdout}
	if err := kctx.Run(env); err != nil {
		if errors.Is(err, context.Canceled) {
			return exitOK // interrupted by a signal: a requested stop
		}
		if kctx.Command() == "serve" {
			log.Error().Err(err).Msg("herald stopped") // the daemon's log is structured
		} else {
			fmt.Fprintf(stderr, "herald %s: %v\n", kctx.Command(), err)
		}
		return exitError
	}
	return env.code
}

// logFormatFor is the log format when none is set: a person who types
// herald send or herald audit at a terminal reads console lines; serve's
// log, and anything a script or a log shipper reads, stays JSON.
func logFormatFor(set, command string, terminal bool) string {
	switch {
	case set != "":
		return set
	case command != "serve" && terminal:
		return logging.FormatConsole
	}
	return logging.FormatJSON
}
