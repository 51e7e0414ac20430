// Package httpserver owns herald's HTTP server and its lifecycle: sane
// timeouts, the route table (Go 1.22 ServeMux patterns such as
// "POST /slack/commands"), the operational endpoints /healthz, /readyz and
// /metrics, request logging, panic recovery, request metrics, and graceful
// shutdown that lets in-flight requests finish.
//
// Adapters register their webhook handlers; readiness checks are plain
// functions, so this package knows nothing of Redis or chat. It imports
// internal/logging and internal/metrics only; it must never import bot,
// adapters or internal/app.
package httpserver
