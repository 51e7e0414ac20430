// Package ratelimit holds the in-process rate limiter (GCRA) the core uses
// when no shared limiter is wired; the Redis adapter shares the same
// algorithm across replicas.
//
// It imports only the standard library and bot.
package ratelimit
