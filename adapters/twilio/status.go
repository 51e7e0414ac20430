package twilio

import "github.com/heraldops/herald/bot"

// MapStatus translates a Twilio message status into the core's delivery
// state. ok is false for statuses an outbound message never has (received,
// receiving) and for anything unknown.
func MapStatus(status string) (state bot.DeliveryState, ok bool) {
	switch status {
	case "queued", "accepted", "scheduled", "sending":
		// All mean "Twilio has it and has not handed it on yet".
		return bot.DeliveryQueued, true
	case "sent":
		return bot.DeliverySent, true
	case "delivered":
		return bot.DeliveryDelivered, true
	case "read":
		return bot.DeliveryRead, true
	case "undelivered":
		return bot.DeliveryUndelivered, true
	case "failed", "canceled":
		// A canceled message will never arrive: for the relay it failed.
		return bot.DeliveryFailed, true
	}
	return "", false
}
