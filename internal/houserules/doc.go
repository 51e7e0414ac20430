// Package houserules holds no code, only tests that keep the project's
// layout standing as it grows: the core (bot/...) imports nothing but the
// standard library and itself, no adapter imports another adapter, and no
// production file grows past the size a reader can hold in mind.
//
// The tests read the source tree with go/parser; they run nothing.
package houserules
