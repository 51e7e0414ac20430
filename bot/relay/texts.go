package relay

import (
	"fmt"
	"sort"
	"strings"

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
	if why := failuresByCode(b.FailedByCode); why != "" {
		m.Text = "Failed: " + why
	}
	if done {
		m.Context = Summary(b, c)
	} else {
		m.Context = fmt.Sprintf("%s · template %s · audiences %s", b.Draft.IncidentID, b.Draft.Template, strings.Join(b.Draft.Audiences, ", "))
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
	if why := failuresByCode(b.FailedByCode); why != "" {
		s += " (" + why + ")"
	}
	return s
}

// failuresByCode is "21211 invalid number ×3, 30007 filtered as spam ×1",
// most frequent first.
func failuresByCode(byCode map[int]int) string {
	codes := make([]int, 0, len(byCode))
	for code, n := range byCode {
		if n > 0 {
			codes = append(codes, code)
		}
	}
	sort.Slice(codes, func(i, j int) bool {
		if byCode[codes[i]] != byCode[codes[j]] {
			return byCode[codes[i]] > byCode[codes[j]]
		}
		return codes[i] < codes[j]
	})
	parts := make([]string, len(codes))
	for i, code := range codes {
		label := "no error code"
		if code != 0 {
			label = fmt.Sprint(code)
			if what := ProviderCodeLabel(code); what != "" {
				label += " " + what
			}
		}
		parts[i] = fmt.Sprintf("%s ×%d", label, byCode[code])
	}
	return strings.Join(parts, ", ")
}

// ProviderCodeLabel names the Twilio error codes responders meet most.
func ProviderCodeLabel(code int) string {
	switch code {
	case 20429:
		return "too many requests"
	case 21211:
		return "invalid number"
	case 21408:
		return "region not enabled"
	case 21610:
		return "unsubscribed (STOP)"
	case 21614:
		return "not a mobile number"
	case 30003:
		return "unreachable"
	case 30005:
		return "unknown number"
	case 30006:
		return "landline or unreachable carrier"
	case 30007:
		return "filtered as spam"
	case 30008:
		return "unknown carrier error"
	case 63003, 63024:
		return "not on WhatsApp"
	case 63016:
		return "outside the WhatsApp window"
	}
	return ""
}

func recipientCount(n int) string {
	if n == 1 {
		return "1 recipient"
	}
	return fmt.Sprintf("%d recipients", n)
}
