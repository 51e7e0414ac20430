// Package bot is the vocabulary and the ports of herald's core: incidents,
// actors and roles, the stakeholder directory (recipients, audiences,
// templates), drafts, broadcasts and their per-recipient deliveries, the
// neutral chat Message, inbound messages and replies, relay planning, SMS
// counting, the error types every feature refuses with, and the small
// interfaces (ports) the features need from the outside world: chat,
// messaging provider, stores, queue, rate limiter, clock.
//
// The behaviour lives in one sub-package per feature, each importing this
// package and the standard library only:
//
//	workflow   declare, compose and preview, approval (four eyes), resolve, status
//	relay      fan-out, send attempts, status callbacks, progress, sweeper, worker pool
//	thread     durable per-thread outboxes, digests, ResilientChat, posting order
//	replies    inbound routing, STOP/START/HELP keywords, flood limits, answers
//	failover   chat health, SMS-only mode, watcher digests, SMS commands
//	ratelimit  the in-process GCRA limiter
//
// Adapters under adapters/ implement the ports; internal/app wires them to
// the features. This package never imports an adapter, an SDK, a driver,
// anything under internal/, or one of its own feature packages: only the
// standard library.
package bot
