// Package app wires herald together and runs it: config and environment,
// logger, Redis, adapters, the core's services, the HTTP server and the
// workers, under one errgroup with graceful shutdown. cmd/herald calls one
// function here per command.
//
// app may import everything in herald; nothing in herald may import app.
package app
