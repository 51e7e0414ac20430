package app

import (
	"context"
	"errors"
	"io"

	"github.com/rs/zerolog"
)

// The functions cmd/herald calls, one per command. cmd/herald parses flags,
// builds the logger and the signal context, and hands over here.

// errNotWired is returned until the wiring lands.
var errNotWired = errors.New("not wired yet")

// ServeOptions are `herald serve`'s inputs.
type ServeOptions struct {
	ConfigPath string
	Version    string
	Logger     zerolog.Logger
}

// Serve runs the bot (HTTP server and workers) until ctx is cancelled, then
// shuts down gracefully.
func Serve(ctx context.Context, o ServeOptions) error {
	return errNotWired
}

// SendOptions are `herald send`'s inputs: relay an update from a terminal
// when chat is down.
type SendOptions struct {
	ConfigPath string
	Audiences  []string
	Template   string
	Vars       map[string]string
	SMSOnly    bool
	IncidentID string // empty: the newest open incident, or a new one
	Logger     zerolog.Logger
	Out        io.Writer // the reach report for the person at the terminal
}

// Send relays one update and reports on Out. It returns the process exit
// code: 0 sent, 1 failed.
func Send(ctx context.Context, o SendOptions) int {
	if o.Out != nil {
		io.WriteString(o.Out, "herald send: "+errNotWired.Error()+"\n")
	}
	return 1
}

// Failover modes `herald failover` accepts.
const (
	FailoverOn     = "on"     // force SMS-only mode
	FailoverOff    = "off"    // back to automatic (chat health decides)
	FailoverStatus = "status" // print the current mode
)

// FailoverOptions are `herald failover on|off|status`'s inputs.
type FailoverOptions struct {
	ConfigPath string
	Mode       string // FailoverOn, FailoverOff or FailoverStatus
	Logger     zerolog.Logger
	Out        io.Writer
}

// Failover forces SMS-only mode on, hands the decision back to the chat
// health check (off), or prints the current mode (status).
func Failover(ctx context.Context, o FailoverOptions) error {
	return errNotWired
}

// ForgetOptions are `herald recipients forget <phone>`'s inputs.
type ForgetOptions struct {
	ConfigPath string
	Phone      string
	Logger     zerolog.Logger
	Out        io.Writer
}

// Forget erases everything herald keeps about one phone number (GDPR
// erasure).
func Forget(ctx context.Context, o ForgetOptions) error {
	return errNotWired
}
