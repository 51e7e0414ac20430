// Package guard is the content guard: it scans the texts an update will send
// (every locale's SMS body, the WhatsApp template's variables) for what
// should not leave the company: IP addresses, host names under the
// company's internal domains, e-mail addresses, secret-looking strings, file
// paths and stack traces.
//
// It is a pure function over strings: no I/O, no clock, no config loading.
// The workflow decides what a finding means (shown to the approver, or a
// refusal when the guard blocks). It imports only the standard library.
package guard
