// Package slack is herald's Slack front end, built on slack-go: the
// /incident slash command, Block Kit modals (compose, preview, reject),
// button clicks, the *Reply to stakeholder* message shortcut (an answer
// modal on a stakeholder's reply post, sent through the Replier), the Events
// API or Socket Mode, and thread posts. It renders the core's neutral
// bot.Message as Block Kit (Render) and implements bot.Chat (Chat) with
// Slack's per-channel rate limit (the shared limiter, or bot.LocalLimiter),
// retries, and Trouble, the reading of errors the failover health tracker
// counts. ChannelPhones reads the phone numbers in channel members' profiles
// while Slack is up, so watchers can be texted when it is down. Its own
// words are in text.go.
//
// It drives the core only through bot.Service's workflow (the Workflow
// interface) and the small optional interfaces declared here (Replier,
// FailoverSwitch, ThreadWatcher). It must never import another adapter,
// internal/app, or a store driver; the core (bot) must never import it.
//
// # Answering within three seconds
//
// Slack wants every request acknowledged within 3 s, and a trigger_id opens a
// modal only within 3 s of the click. So:
//
//   - Modals are opened first, synchronously, before anything slow: the
//     notify command and button call views.open straight away, the only work
//     before it being a store read to find the incident when none is named.
//   - Quick reads (status, list) are answered in the acknowledgement itself.
//   - View submissions (preview, submit, reject) run the service call in the
//     request with a 2.5 s budget, because their answer (response_action) is
//     the modal's next state. A call that is still running at the budget goes
//     on in the background and reports its result ephemerally.
//   - Everything that posts into Slack or sends messages (declare, resolve,
//     approve, reply, failover switch, events) is acknowledged at once and
//     done by a bounded in-process worker pool. When the pool is full, the
//     user is told at once to try again instead of the request waiting.
//
// The pool is in-process rather than the durable queue (bot.Queue) on
// purpose: these jobs are a person's interactive request, short and
// visible. If a replica dies mid-job the person sees no result and repeats
// the command, and every service call is safe to repeat (the service
// guarantees exactly-once approval and relay). The work that must survive a
// crash, the relay's fan-out, is already made durable by the service itself.
// A durable queue here would only add a Redis round trip and a second place
// where a click can wait.
package slack
