// Package e2e holds cross-package tests and benchmarks that run herald's
// engines through their real adapters: a real redis-server (internal/redistest),
// twilio-go over loopback HTTP to the fake Twilio API (internal/fakes/twilioapi).
// It has no code of its own; nothing may import it.
package e2e
