// Package twilio is herald's Twilio adapter: it sends SMS and WhatsApp
// messages (bot.Messenger; a lean POST of Messages.json, checked against
// twilio-go's form, see send.go), looks up messages already sent for crash
// reconciliation with twilio-go (bot.MessageFinder), and receives Twilio's webhooks:
// inbound messages and delivery status callbacks, each checked against
// X-Twilio-Signature before anything else happens.
//
// It owns the mapping between Twilio's wire vocabulary (whatsapp: addresses,
// message statuses, REST error codes, webhook form fields) and the core's
// (bot.Channel, bot.DeliveryState, *bot.ProviderError, bot.Inbound,
// bot.StatusUpdate), and classifies Twilio's error codes into the core's
// provider-neutral failure kinds (failure.go). What to do with a failure, an
// inbound reply or a status is the core's business, not this package's.
//
// It imports bot/ and twilio-go; it must never import another adapter,
// internal/app or a storage driver. Phone numbers only leave it masked in
// error texts.
package twilio
