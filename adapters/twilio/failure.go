package twilio

import (
	"net/http"

	"github.com/heraldops/herald/bot"
)

// ProviderName is how Twilio's codes are named to responders ("Twilio 21610").
const ProviderName = "Twilio"

// Twilio error codes with a meaning of their own for the relay. Everything
// else a 4xx answers, or a failed status reports, is permanent.
const (
	codeTooManyRequests  = 20429 // always safe to retry (Twilio docs)
	codeUnsubscribed     = 21610 // the number sent STOP to this sender
	codeChannelNoTo      = 63003 // no WhatsApp account behind the number
	codeOutsideWindow    = 63016 // WhatsApp free-form outside the 24-hour window
	codeAccountRate      = 63017 // account and subaccounts above 2000 messages/s
	codeChannelRate      = 63018 // account or WhatsApp sender above its rate
	codeInvalidRecipient = 63024 // WhatsApp: invalid recipient / cannot receive
	codeExperiment       = 63032 // WhatsApp: Meta withholds business messages from this user
	codeDailyLimit       = 63038 // account above its daily messages limit
	codeMetaWithheld     = 63049 // WhatsApp: Meta chose not to deliver this message
	codeQueueOverflow    = 30001 // Twilio's queue for the sender overflowed
)

// Classify maps an HTTP status and a Twilio error code (REST answer or status
// callback) to the core's failure kind. HTTP status 0 means no answer.
func Classify(httpStatus, code int) bot.FailureKind {
	switch code {
	case codeTooManyRequests, codeAccountRate, codeChannelRate, codeDailyLimit, codeQueueOverflow:
		return bot.FailureRateLimited
	case codeUnsubscribed:
		return bot.FailureUnsubscribed
	case codeChannelNoTo, codeOutsideWindow, codeInvalidRecipient, codeExperiment, codeMetaWithheld:
		return bot.FailureChannelUnreachable
	}
	switch {
	case httpStatus == 0 && code == 0:
		return bot.FailureUnknown
	case httpStatus == http.StatusTooManyRequests:
		return bot.FailureRateLimited
	case httpStatus >= 500:
		return bot.FailureTemporary
	}
	return bot.FailurePermanent
}

// classified fills in the kind and the provider's name of a refusal.
func classified(pe *bot.ProviderError) *bot.ProviderError {
	pe.Kind, pe.Provider = Classify(pe.HTTPStatus, pe.Code), ProviderName
	return pe
}
