package relay

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
)

// The relay's user-facing text: the progress message in the incident
// thread, the summary (thread, audit, `herald send`) and the answers to
// opt-out keywords.

// ProgressMessage is the live progress message of a broadcast; done turns it
// into the final summary.
func ProgressMessage(b bot.Broadcast, c bot.Counts, done bool) bot.Message {
	title := fmt.Sprintf("Relaying %s to %s", b.ID, recipientCount(b.Total))
	if done {
		title = fmt.Sprintf("Relayed %s to %s", b.ID, recipientCount(b.Total))
	}
	m := bot.Message{Title: title}
	fields := []struct {
		label string
		n     int
	}{
		{"Waiting", Unsettled(c)},
		{"Queued", c[bot.DeliveryQueued]},
		{"Sent", c[bot.DeliverySent]},
		{"Delivered", c[bot.DeliveryDelivered]},
		{"Read", c[bot.DeliveryRead]},
		{"Failed", FailedCount(c)},
		{"Opted out", c[bot.DeliveryOptedOut]},
	}
	for _, f := range fields {
		if f.n == 0 && (f.label == "Waiting" || f.label == "Opted out" || f.label == "Read") {
			continue // only what is there, except the states everyone looks for
		}
		m.Fields = append(m.Fields, bot.Field{Label: f.label, Value: fmt.Sprint(f.n)})
	}
	if why := failureReasons(b); why != "" {
		m.Text = "Failed: " + why
	}
	if done {
		m.Context = Summary(b, c)
	} else {
		m.Context = fmt.Sprintf("%s · template %s · audiences %s", b.Draft.IncidentID, b.Draft.Template, strings.Join(b.Draft.Audiences, ", "))
		if !b.GiveUpAt.IsZero() {
			m.Context += " · " + RetryUntil(b.GiveUpAt)
		}
	}
	return m
}

// Summary is a broadcast's outcome in one line.
func Summary(b bot.Broadcast, c bot.Counts) string {
	reached := c[bot.DeliveryQueued] + c[bot.DeliverySent] + c[bot.DeliveryDelivered] + c[bot.DeliveryRead]
	s := fmt.Sprintf("%s: %d of %d accepted by the provider (%d delivered, %d read), %d failed",
		b.ID, reached, b.Total, c[bot.DeliveryDelivered], c[bot.DeliveryRead], FailedCount(c))
	if n := c[bot.DeliveryOptedOut]; n > 0 {
		s += fmt.Sprintf(", %d opted out", n)
	}
	if why := failureReasons(b); why != "" {
		s += " (" + why + ")"
	}
	return s
}

// failureReasons is "refused or undeliverable ×3, unsubscribed (STOP) ×1;
// Twilio 21211 ×2, Twilio 30007 ×1, Twilio 21610 ×1": why in words, most
// frequent first, then the provider's codes for the responders who look them
// up. Raw codes never stand alone.
func failureReasons(b bot.Broadcast) string {
	kinds := make([]bot.FailureKind, 0, len(b.FailedByKind))
	for k, n := range b.FailedByKind {
		if n > 0 {
			kinds = append(kinds, k)
		}
	}
	byCount(kinds, b.FailedByKind)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d", FailureLabel(k), b.FailedByKind[k])
	}
	codes := make([]int, 0, len(b.FailedByCode))
	for c, n := range b.FailedByCode {
		if n > 0 && c != 0 {
			codes = append(codes, c)
		}
	}
	byCount(codes, b.FailedByCode)
	refs := make([]string, len(codes))
	for i, c := range codes {
		refs[i] = fmt.Sprintf("%s ×%d", bot.ProviderCode(b.Provider, c), b.FailedByCode[c])
	}
	why := strings.Join(parts, ", ")
	if len(refs) > 0 {
		if why == "" {
			why = "provider codes"
		}
		why += "; " + strings.Join(refs, ", ")
	}
	return why
}

// byCount sorts keys by their count, most first, then by key.
func byCount[K cmp.Ordered](keys []K, n map[K]int) {
	slices.SortFunc(keys, func(a, b K) int {
		if n[a] != n[b] {
			return n[b] - n[a]
		}
		return cmp.Compare(a, b)
	})
}

// RetryUntil tells responders how long refusals the provider calls
// temporary are retried before a delivery counts as failed.
func RetryUntil(t time.Time) string {
	return "temporary refusals retried until " + t.UTC().Format("15:04") + " UTC"
}

// FailureLabel says what a failure kind means, in words for responders.
func FailureLabel(k bot.FailureKind) string {
	switch k {
	case bot.FailurePermanent:
		return "refused or undeliverable"
	case bot.FailureUnsubscribed:
		return "unsubscribed (STOP)"
	case bot.FailureChannelUnreachable:
		return "not reachable on their channel"
	case bot.FailureTemporary:
		return "provider errors until the give-up time"
	case bot.FailureRateLimited:
		return "rate limited until the give-up time"
	case bot.FailureUnknown:
		return "no answer from the provider"
	}
	return "not delivered"
}

func recipientCount(n int) string {
	if n == 1 {
		return "1 recipient"
	}
	return fmt.Sprintf("%d recipients", n)
}
