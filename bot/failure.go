package bot

import (
	"fmt"
	"strconv"
	"time"
)

// FailureKind is what a provider's refusal means, in the core's words. The
// adapter that talks to the provider classifies its codes and statuses; the
// core decides only by kind, never by a vendor's code.
type FailureKind string

const (
	// FailurePermanent: this message to this number will never be accepted
	// (invalid number, landline, filtered); trying again changes nothing.
	FailurePermanent FailureKind = "permanent"
	// FailureTemporary: the provider failed (a server error); the message
	// may even have been created, so look before sending again.
	FailureTemporary FailureKind = "temporary"
	// FailureRateLimited: too many requests; refused before anything was
	// created. The sender must slow down, the delivery must not fail.
	FailureRateLimited FailureKind = "rate_limited"
	// FailureUnsubscribed: the person opted out at the provider (STOP).
	FailureUnsubscribed FailureKind = "unsubscribed"
	// FailureChannelUnreachable: the person cannot get this message on this
	// channel (no WhatsApp account, outside the WhatsApp window); another
	// channel may reach them.
	FailureChannelUnreachable FailureKind = "channel_unreachable"
	// FailureUnknown: no answer at all (network, timeout); whether the
	// provider took the message is unknown.
	FailureUnknown FailureKind = "unknown"
)

// Retry reports whether trying again later may succeed.
func (k FailureKind) Retry() bool {
	switch k {
	case FailureTemporary, FailureRateLimited, FailureUnknown:
		return true
	}
	return false
}

// MayExist reports whether the provider may have created the message despite
// the failure, so a resend must first ask whether it exists.
func (k FailureKind) MayExist() bool { return k == FailureTemporary || k == FailureUnknown }

// ProviderCode is a provider's own error code with the provider's name, for
// responders who look it up ("Twilio 21610"); the core never decides by it.
func ProviderCode(provider string, code int) string {
	if code == 0 {
		return ""
	}
	if provider == "" {
		provider = "provider"
	}
	return provider + " " + strconv.Itoa(code)
}

// ProviderError is a provider's refusal as the adapter classified it, with
// the provider's own code and message kept for display and logs.
type ProviderError struct {
	Kind       FailureKind   // what it means; the core decides by this alone
	Provider   string        // "Twilio": who Code belongs to
	Code       int           // provider error code, 0 if none
	HTTPStatus int           // HTTP status, 0 if the request never got an answer (logs)
	Message    string        // provider's message
	RetryAfter time.Duration // how long the provider asked to wait, if it said
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("provider error %d (HTTP %d, %s): %s", e.Code, e.HTTPStatus, e.kind(), e.Message)
}

// kind is Kind, with an unclassified error taken for the most careful case:
// the outcome is unknown (look before resending, keep trying).
func (e *ProviderError) kind() FailureKind {
	if e.Kind == "" {
		return FailureUnknown
	}
	return e.Kind
}

// Failure is the error's kind (FailureUnknown when unclassified).
func (e *ProviderError) Failure() FailureKind { return e.kind() }

// Temporary reports whether trying again later may succeed: rate limits,
// server errors, no answer at all.
func (e *ProviderError) Temporary() bool { return e.kind().Retry() }

// Reference is the provider's code for responders, e.g. "Twilio 21610".
func (e *ProviderError) Reference() string { return ProviderCode(e.Provider, e.Code) }
