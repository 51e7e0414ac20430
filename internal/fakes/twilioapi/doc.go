// Package twilioapi is a fake of the Twilio REST API (2010-04-01 Messages
// resource) for tests and for `herald demo`. It is an httptest server that
// speaks Twilio's wire format: form-encoded requests with HTTP Basic auth,
// the JSON shapes of a created message, a message list page and an error,
// the validation errors Twilio itself answers, and signed webhooks (status
// callbacks, inbound messages) sent back the way Twilio sends them.
//
// Point the real twilio-go client at it (see Server.HTTPClient) so tests
// exercise the library herald ships with, not a stand-in.
//
// Tests program it: inject Twilio errors for a number or for the next N
// requests, add latency, impose a global rate limit, and read back every
// accepted message.
//
// It owns nothing of herald's domain: it must never import bot/, adapters/
// or any other herald package, so it stays a faithful, independent model of
// the provider.
package twilioapi
