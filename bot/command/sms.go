package command

import (
	"strings"
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

// gsmBasic is the GSM 03.38 basic character set (without the escape);
// gsmExtended costs two septets each (an escape, then the character).
const (
	gsmBasic    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€"
)

// septets counts s in GSM-7 septets; -1 if s needs UCS-2.
func septets(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExtended, r):
			n += 2
		default:
			return -1
		}
	}
	return n
}

// lookAlikes are the GSM-7 stand-ins for what word processors and phones
// type instead of plain quotes and dashes.
var lookAlikes = strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201c", `"`, "\u201d", `"`,
	"\u2013", "-", "\u2014", "-", "\u00a0", " ", "\u2026", "...")

// gsmOnly returns s in GSM-7 basic characters, single-spaced: look-alikes
// and accented letters replaced, anything else dropped.
func gsmOnly(s string) string {
	s = lookAlikes.Replace(s)
	var b strings.Builder
	for _, r := range s {
		if r != '\n' && r != '\r' && strings.ContainsRune(gsmBasic, r) {
			b.WriteRune(r)
		} else if bare, ok := bareLatin[r]; ok {
			b.WriteRune(bare)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// latinFrom and latinTo pair the Latin letters outside GSM-7 (Latin-1 and
// Latin Extended-A: Polish, Czech, Nordic, Turkish, Romanian names) with
// their bare letter, so "Łódź" reads "Lodz" over SMS rather than losing
// letters.
const (
	latinFrom = "ÀÁÂÃÈÊËÌÍÎÏÐÒÓÔÕÙÚÛÝáâãçêëíîïðóôõúûýÿĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľŁłŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽž"
	latinTo   = "AAAAEEEIIIIDOOOOUUUYaaaceeiiidooouuyyAaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiJjKkLlLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZz"
)

var bareLatin = func() map[rune]rune {
	from, to := []rune(latinFrom), []rune(latinTo)
	m := make(map[rune]rune, len(from))
	for i, r := range from {
		m[r] = to[i]
	}
	return m
}()
