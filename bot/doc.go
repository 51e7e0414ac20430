// Package bot is herald's domain core: incidents, the stakeholder directory
// (recipients, audiences, templates), broadcasts and their per-recipient
// deliveries, approval (four eyes), relay planning and the durable fan-out,
// reply routing and answers, and the failover policy.
//
// Where things are:
//   - service.go: the incident workflow the chat front ends drive (declare,
//     compose, preview, submit, approve, reject, resolve, status, list).
//   - plan.go, relay*.go, worker.go: who gets what on which channel, the
//     durable per-recipient jobs, provider rate limits, retries, status
//     callbacks and the live progress message.
//   - replies.go, reply.go, keywords.go: inbound messages: STOP/START/HELP
//     first, then the incident a reply belongs to (or triage), and a
//     responder's answer back to a stakeholder.
//   - outbox.go, resilient_chat.go: durable per-thread outboxes. Replies and
//     notices are posted from them by the ThreadPoster, paced and gathered
//     into digests in bursts; ResilientChat posts directly while chat is up
//     and keeps everything there while it is down, for an in-order replay.
//   - health.go, failover.go: whether chat is up (with hysteresis), SMS-only
//     mode, watchers' SMS digests, SMS commands from registered responders.
//   - texts*.go: every user-facing English text of the core, in one place
//     (the adapters render the neutral Message; their own words stay in
//     their text.go).
//   - ports.go, ratelimit.go, backoff.go: the ports, the in-process
//     LocalLimiter, retry backoff and Sleep.
//
// It owns the vocabulary every adapter speaks and declares the ports it needs
// (chat, messaging provider, store, queue, rate limiter, clock) as small
// interfaces beside the code that uses them. Adapters under adapters/
// implement those ports; bot never imports an adapter, an SDK, a driver or
// anything under internal/. Only the standard library may be imported here.
package bot
