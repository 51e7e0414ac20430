// Package relay is the durable fan-out: it plans an approved broadcast into
// one job per recipient on a queue, sends each job through the Messenger
// port with provider rate limits and retries, applies status callbacks
// (states only move forward, WhatsApp falls back to SMS), keeps the
// progress message in the thread up to date, reconciles jobs a crash left
// in sending, and sweeps broadcasts whose start was interrupted. The worker
// pool that consumes the queue lives here too (worker.go).
//
// It imports only the standard library and bot: never an adapter, an SDK,
// internal/, or another feature package.
package relay
