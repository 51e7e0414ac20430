package app

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/config"
)

// terminal is who runs a one-shot command: the operating system's account
// and host, which the person had to log in to, and HERALD_OPERATOR, which
// they may set to anything and so only ever adds to the record.
type terminal struct {
	user, host, operator string
}

// currentUser and hostname are the process's identity; tests replace them.
var (
	currentUser = func() (string, error) {
		u, err := user.Current()
		if err != nil {
			return "", err
		}
		return u.Username, nil
	}
	hostname = os.Hostname
)

// currentTerminal reads the identity of this process. HERALD_OPERATOR is
// read here rather than carried from config.Env because, like the OS user
// and the host, it describes the process, not the install.
func currentTerminal() terminal {
	t := terminal{user: "unknown", host: "unknown", operator: strings.TrimSpace(os.Getenv("HERALD_OPERATOR"))}
	if u, err := currentUser(); err == nil && u != "" {
		t.user = u
	}
	if h, err := hostname(); err == nil && h != "" {
		t.host = h
	}
	return t
}

// actor is the terminal as the audit trail records it:
// cli:alice@ops-01, named "alice (HERALD_OPERATOR=oncall-lead)".
func (t terminal) actor() bot.Actor {
	name := t.user
	if t.operator != "" {
		name += " (HERALD_OPERATOR=" + t.operator + ")"
	}
	return bot.Actor{ID: "cli:" + t.user + "@" + t.host, Name: name}
}

// terminalActor is the person at the terminal, for the audit trail.
func terminalActor() bot.Actor { return currentTerminal().actor() }

// RefusedError is a command the config's roles.operators does not allow
// the OS user to run.
type RefusedError struct {
	User, Command string
	Operators     []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused: %s may only be run by the OS users in roles.operators (%s), and you are %s",
		e.Command, strings.Join(e.Operators, ", "), e.User)
}

// allowOperator refuses command unless roles.operators is empty or names the
// OS user, and audits the refusal. The OS user is checked, never
// HERALD_OPERATOR: anyone can set a variable, while the account is what
// the host authenticated.
func allowOperator(ctx context.Context, cfg *config.Config, audit bot.AuditLog, command string) error {
	ops := cfg.RoleConfig.Operators
	t := currentTerminal()
	if len(ops) == 0 || slices.Contains(ops, t.user) {
		return nil
	}
	err := &RefusedError{User: t.user, Command: command, Operators: ops}
	if aerr := audit.Audit(ctx, bot.AuditEntry{Actor: t.actor(), Action: bot.AuditCLIRefused,
		Detail: command + ": " + t.user + " is not in roles.operators"}); aerr != nil {
		return fmt.Errorf("%w (and the refusal could not be audited: %w)", err, aerr)
	}
	return err
}

// auditCLI records a command that changed nothing (a read, a check), so the
// trail shows who looked as well as who acted. A failure to record is not
// the person's to fix; it is returned for the caller to report.
func auditCLI(ctx context.Context, audit bot.AuditLog, action bot.AuditAction, detail string) error {
	if err := audit.Audit(ctx, bot.AuditEntry{Actor: terminalActor(), Action: action, Detail: detail}); err != nil {
		return fmt.Errorf("auditing %s: %w", action, err)
	}
	return nil
}
