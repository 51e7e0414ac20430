package workflow

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/heraldops/herald/bot"
)

// The preview's lines, shared by every front end (the compose step, the
// approval request, SMS approvals): plain sentences that responders and
// approvers read before anything reaches a phone.

// SMSLine says how carriers will count the SMS: "1 segment, GSM-7, 142
// characters". When a few characters turned it into UCS-2 (which halves
// what a segment holds), it names them and the plain look-alike that
// would save segments: "3 segments, UCS-2 because of ’ and —: type ' and
// - instead and it takes 2".
//
// info is the count of body (Preview.SMS and Preview.SMSBody).
func SMSLine(info bot.SMSInfo, body string) string {
	line := fmt.Sprintf("%s, %s, %d characters", bot.Plural(info.Segments, "segment", "segments"), info.Encoding, info.Characters)
	if info.NotGSM == "" {
		return line
	}
	var named, alikes []string
	plain := body
	for _, r := range info.NotGSM {
		named = append(named, string(r))
		if alike, ok := bot.GSMLookAlike(r); ok {
			alikes = append(alikes, quoteAlike(alike))
			plain = strings.ReplaceAll(plain, string(r), alike)
		}
	}
	line += " because of " + joinAnd(named)
	after := bot.CountSMS(plain)
	if after.Encoding == bot.EncodingGSM7 && after.Segments < info.Segments {
		line += fmt.Sprintf(": type %s instead and it takes %s", joinAnd(alikes), bot.Plural(after.Segments, "segment", "segments"))
	} else if after.Encoding == bot.EncodingGSM7 {
		line += fmt.Sprintf(" (%s would keep it GSM-7)", joinAnd(alikes))
	}
	return line
}

func quoteAlike(s string) string {
	if s == " " {
		return "a plain space"
	}
	return s
}

// RecipientsLine is "12 people: 9 WhatsApp, 3 SMS".
func RecipientsLine(p Preview) string {
	var parts []string
	for _, ch := range []bot.Channel{bot.ChannelWhatsApp, bot.ChannelSMS} {
		if n := p.PerChannel[ch]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, ch.Label()))
		}
	}
	if len(parts) == 0 {
		return bot.People(p.Total)
	}
	return bot.People(p.Total) + ": " + strings.Join(parts, ", ")
}

// WhatsAppLine says what WhatsApp recipients will see, in words an approver
// can check, to be shown after a "WhatsApp" label: the SMS text for those who wrote to herald in the last 24
// hours, else the template Meta approved, filled with the values listed.
// Empty when nobody gets WhatsApp. The template's id is not shown: it says
// nothing to a person.
func WhatsAppLine(p Preview) string {
	wa := p.PerChannel[bot.ChannelWhatsApp]
	if wa == 0 {
		return ""
	}
	if p.WhatsAppTemplate == "" {
		return "the SMS text above"
	}
	var vals []string
	for _, k := range slices.Sorted(maps.Keys(p.WhatsAppVars)) {
		vals = append(vals, "“"+p.WhatsAppVars[k]+"”")
	}
	filled := ""
	if len(vals) > 0 {
		filled = ", filled with " + joinAnd(vals)
	}
	switch p.FreeFormWhatsApp {
	case 0:
		return fmt.Sprintf("the approved template%s", filled)
	case wa:
		return "the SMS text above (everyone wrote to herald within 24 hours)"
	}
	return fmt.Sprintf("%d get the SMS text above (they wrote within 24 hours), %d the approved template%s",
		p.FreeFormWhatsApp, wa-p.FreeFormWhatsApp, filled)
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
