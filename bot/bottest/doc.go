// Package bottest holds in-memory implementations of the core's ports for
// unit tests of bot and of the adapters: a Store (every storage port, the
// queue and the rate limiter), a recording Chat, and a settable Clock.
//
// They follow the ports' documented contracts (forward-only counts, optimistic
// updates, exactly-once FirstTime) so that tests written against them hold
// against adapters/redis too. Never use them in production wiring; the Redis
// suite covers the real store.
package bottest
