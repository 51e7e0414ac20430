// Package bottest holds in-memory implementations of the core's ports for
// unit tests of bot and of the adapters: a Store (every storage port, the
// queue, thread outboxes, locks, KV, and bot.LocalLimiter as its rate
// limiter), a recording Chat, and a settable Clock. It imports only bot and
// the standard library.
//
// They follow the ports' documented contracts (forward-only counts, optimistic
// updates, exactly-once FirstTime) so that tests written against them hold
// against adapters/redis too. Never use them in production wiring; the Redis
// suite covers the real store.
package bottest
