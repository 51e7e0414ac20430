package bot

import (
	"unicode/utf8"
)

// SMSInfo is how carriers will count an SMS body.
type SMSInfo struct {
	Encoding   string // "GSM-7" or "UCS-2"
	Characters int    // characters as the user sees them
	Units      int    // septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2)
	Segments   int    // 1 up to 160/70 units, then 153/67 per segment
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
