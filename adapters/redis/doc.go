// Package redis is herald's shared state in Redis: incidents, broadcasts and
// their deliveries, what herald knows per phone (opt-outs, WhatsApp session
// windows, recent contacts), the audit trail, de-duplication, the durable
// work queue (Streams with a consumer group), the per-thread outboxes of
// posts waiting for chat, leases (Locker), small shared values (KV), and the
// token buckets that keep every replica together under the providers' rate
// limits (GCRA in Lua; gcra.go is its reference in Go).
//
// One Store implements bot's storage, queue, outbox, lock, KV and rate-limit
// ports. Every key
// starts with the store's prefix, so several installs can share one Redis.
// Every record is sealed with internal/crypto before it is written, and
// phone numbers appear in key names and sets only as blind indexes. Keys that
// a transaction or script touches together share a {hash tag}, so the same
// code runs on a single Redis, behind Sentinel, and on Redis Cluster.
//
// It imports bot, internal/crypto and go-redis; it must never import another
// adapter or internal/app.
package redis
