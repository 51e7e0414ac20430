package app

import (
	"io"

	"github.com/rs/zerolog"
)

// The functions cmd/herald calls, one per command. cmd/herald parses flags,
// builds the logger and the signal context, and hands over here.

// ServeOptions are `herald serve`'s inputs.
type ServeOptions struct {
	ConfigPath string
	Version    string
	Logger     zerolog.Logger
	// Getenv reads the environment (nil: os.Getenv). Tests that run several
	// herald replicas in one process give each its own.
	Getenv func(string) string
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
	Out        io.Writer           // the reach report for the person at the terminal
	Getenv     func(string) string // nil: os.Getenv
}
