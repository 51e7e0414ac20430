package command

import (
	"strings"

	"github.com/heraldops/herald/bot"
)

// smsSegment is what one GSM-7 SMS holds, in septets. Carriers expect the
// answer to HELP in one message, naming who sends it.
const smsSegment = 160

// smsHelpForm is the SMS help with the organisation's name in front.
const smsHelpForm = " incidents: STATUS, NEW <title>, UPDATE INC-n <text>, NOTIFY INC-n <audience> <template>, APPROVE <code>, REJECT <code>, HELP <cmd>"

// smsHelp lists the SMS commands in one GSM-7 segment, led by the
// organisation's name. A name too long for the segment is shortened; its
// characters outside GSM-7 are replaced or dropped, because one of them
// would turn the whole answer into UCS-2, 70 characters a segment, and the
// list would not fit at all. Config validation should keep org GSM-7.
func smsHelp(org string) string {
	org = gsmOnly(org)
	if org == "" {
		org = "herald"
	}
	budget := smsSegment - septets(smsHelpForm)
	if septets(org) > budget {
		org = cutToSeptets(org, budget)
	}
	return org + smsHelpForm
}

// cutToSeptets shortens a GSM-7 s to at most n septets, at a word boundary
// when there is one: "Acme Holdings" reads better than "Acme Hold".
func cutToSeptets(s string, n int) string {
	r := []rune(s)
	for len(r) > 0 && septets(string(r)) > n {
		r = r[:len(r)-1]
	}
	cut := string(r)
	if len(cut) < len(s) && s[len(cut)] != ' ' {
		if i := strings.LastIndexByte(cut, ' '); i > 0 {
			cut = cut[:i]
		}
	}
	return strings.TrimSpace(cut)
}

// septets counts s in GSM-7 septets; -1 if s needs UCS-2.
func septets(s string) int {
	info := bot.CountSMS(s)
	if info.Encoding != bot.EncodingGSM7 {
		return -1
	}
	return info.Units
}

// gsmExtended costs two septets each; an organisation's name is kept to
// the basic set, so shortening it counts plainly.
const gsmExtended = "\f^{}\\[~]|€"

// gsmOnly returns s in GSM-7 basic characters, single-spaced: look-alikes
// and accented letters replaced, anything else dropped.
func gsmOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			b.WriteRune(' ')
		case bot.IsGSM(r) && !strings.ContainsRune(gsmExtended, r):
			b.WriteRune(r)
		default:
			if alike, ok := bot.GSMLookAlike(r); ok {
				b.WriteString(alike)
			}
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
