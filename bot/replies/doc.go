// Package replies routes inbound SMS and WhatsApp messages: STOP/START/HELP
// keywords first, then the incident a stakeholder's reply belongs to (by the
// sender's last contact and an incident id in the text), or triage; it
// limits floods from one number, and sends a responder's answer back to a
// stakeholder.
//
// It imports only the standard library, bot and bot/thread (replies are
// posted through the thread outboxes): never an adapter, an SDK or
// internal/.
package replies
