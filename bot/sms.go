package bot

import (
	"slices"
	"unicode/utf8"
)

// SMSInfo is how carriers will count an SMS body.
type SMSInfo struct {
	Encoding   string // "GSM-7" or "UCS-2"
	Characters int    // characters as the user sees them
	Units      int    // septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2)
	Segments   int    // 1 up to 160/70 units, then 153/67 per segment
	// NotGSM lists, in order of first use, the characters that made the
	// body UCS-2 (each doubles what a segment costs); empty for GSM-7.
	// A string, so an SMSInfo stays comparable.
	NotGSM string
}

// SMS encodings as carriers name them.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// SMS segment sizes (3GPP TS 23.038 / 23.040). A multipart message gives up
// part of every segment to the concatenation header, so a long text needs more
// segments than its length divided by the single-segment size suggests.
const (
	gsm7Single = 160 // septets in a lone segment
	gsm7Multi  = 153 // septets per segment of a multipart message
	ucs2Single = 70  // UTF-16 code units in a lone segment
	ucs2Multi  = 67  // UTF-16 code units per segment of a multipart message
)

// gsm7Basic is the GSM 03.38 default alphabet. ESC (0x1B) is left out: it is
// the escape to the extension table, not a character anyone can type.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Extension holds the characters reached through ESC: each costs two
// septets, and the pair is never split across segments.
const gsm7Extension = "\f^{}\\[~]|€"

var gsm7Cost = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsm7Basic {
		m[r] = 1
	}
	for _, r := range gsm7Extension {
		m[r] = 2
	}
	return m
}()

// CountSMS says how carriers will count body: GSM-7 when every character is
// in the GSM 03.38 alphabet (extension characters take two septets), else
// UCS-2 (characters outside the Basic Multilingual Plane, such as emoji, take
// two UTF-16 units). Segments are counted by packing characters into segments
// the way phones split them, because an escape pair or a surrogate pair is
// never cut in half; that can cost one more segment than plain division.
// An empty body has zero segments.
func CountSMS(body string) SMSInfo {
	info := SMSInfo{Encoding: EncodingGSM7, Characters: utf8.RuneCountInString(body)}
	if body == "" {
		return info
	}
	costs := make([]int, 0, len(body))
	gsm := true
	for _, r := range body {
		c, ok := gsm7Cost[r]
		if !ok {
			gsm = false
			break
		}
		costs = append(costs, c)
	}
	single, multi := gsm7Single, gsm7Multi
	if !gsm {
		info.Encoding = EncodingUCS2
		info.NotGSM = notGSM(body)
		single, multi = ucs2Single, ucs2Multi
		costs = costs[:0]
		for _, r := range body {
			// Invalid UTF-8 reaches us as U+FFFD, which is one unit like any
			// other BMP character.
			costs = append(costs, utf16Units(r))
		}
	}
	for _, c := range costs {
		info.Units += c
	}
	if info.Units <= single {
		info.Segments = 1
		return info
	}
	info.Segments = 1
	used := 0
	for _, c := range costs {
		if used+c > multi {
			info.Segments++
			used = 0
		}
		used += c
	}
	return info
}

func utf16Units(r rune) int {
	if r >= 0x10000 && r <= utf8.MaxRune {
		return 2
	}
	return 1
}

func notGSM(body string) string {
	var out []rune
	for _, r := range body {
		if _, ok := gsm7Cost[r]; !ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return string(out)
}

// IsGSM reports whether r is in the GSM 03.38 alphabet (basic or extension).
func IsGSM(r rune) bool { _, ok := gsm7Cost[r]; return ok }

// GSMLookAlike is the GSM-7 stand-in for a character that word processors
// and phones type instead of a plain one (typographic quotes and dashes, an
// ellipsis, a no-break space, accented Latin letters outside GSM-7: "Ł" is
// "L"); ok is false when there is none (emoji, CJK).
func GSMLookAlike(r rune) (string, bool) {
	if s, ok := lookAlikes[r]; ok {
		return s, true
	}
	if b, ok := bareLatin[r]; ok {
		return string(b), true
	}
	return "", false
}

var lookAlikes = map[rune]string{
	'\u2018': "'", '\u2019': "'", '\u201a': "'", '\u201c': `"`, '\u201d': `"`, '\u201e': `"`,
	'\u2013': "-", '\u2014': "-", '\u2212': "-", '\u00a0': " ", '\u2009': " ", '\u202f': " ",
	'\u2026': "...", '\u2022': "*", '\u00b7': "*",
}

// latinFrom and latinTo pair the Latin letters outside GSM-7 (Latin-1 and
// Latin Extended-A: Polish, Czech, Nordic, Turkish, Romanian names) with
// their bare letter, so "Łódź" reads "Lodz" rather than losing letters.
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
