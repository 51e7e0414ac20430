// Package ratelimit is herald's rate-limit arithmetic: GCRA as pure
// functions on an injected clock (gcra.go, the reference the Redis
// limiter's Lua scripts are tested against), the additive-increase,
// multiplicative-decrease constants both limiters share (aimd.go), and the
// in-process LocalLimiter built on them, for one replica and for tests.
//
// It imports only the standard library and bot.
package ratelimit
