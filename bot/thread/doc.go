// Package thread owns everything that is posted into an incident's chat
// thread after the fact: durable per-thread outboxes (OutboxStore),
// the ThreadPoster that posts them in order, paced and gathered into
// digests in bursts, and ResilientChat, the Chat the core uses, which posts
// directly while chat is up and keeps everything in the outbox while it is
// down, for an in-order replay when it returns.
//
// It imports only the standard library and bot: never an adapter, an SDK,
// internal/, or another feature package.
package thread
