// Command herald is the incident communication bot. main only sets up the
// signal context; cli.go parses the command line (kong: serve, config
// validate, send, failover, recipients forget, version), builds the logger
// and hands over to internal/app, one function per command.
//
// It stays short: no wiring and no workflow here. It imports kong, zerolog,
// internal/app, internal/config and internal/logging; it must never import
// bot or an adapter directly (internal/app does the wiring).
package main
