// Package crypto protects personal data that herald keeps in Redis: phone
// numbers and message bodies are sealed with AES-256-GCM under the install's
// data key (HERALD_DATA_KEY), and phone numbers used as lookup keys are
// replaced by blind indexes (keyed HMACs) so no number appears in a key name.
//
// It owns the sealed format and the key handling. It imports only the
// standard library and must never import bot/, adapters/ or a driver: it is
// a leaf every adapter may use.
package crypto
