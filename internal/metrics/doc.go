// Package metrics defines every Prometheus metric herald exports, in one
// place, on a registry of its own (with the Go runtime and process
// collectors), and serves it at /metrics. It also provides the HTTP
// middleware that counts and times requests by route, and the
// StatusRecorder that internal/httpserver's own middleware shares.
//
// Other packages record through the nil-safe methods of *Metrics, so tests
// and tools may pass nil. This package imports only the standard library and
// the Prometheus client; it must never import bot, adapters or internal/app.
package metrics
