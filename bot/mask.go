package bot

import (
	"strings"
)

// Masking keeps the first maskLead digits (country code and network prefix,
// so people can tell numbers apart by origin) and the last maskTail; a
// number with fewer than maskMinDigits digits shows none (the shortest
// E.164 numbers in use have 7 digits).
const (
	maskLead      = 5
	maskTail      = 2
	maskMinDigits = 7
)

// MaskPhone hides the middle of a phone number for logs, audit details,
// chat posts and terminal output: "+4915112345678" -> "+49151*****78". A
// channel prefix stays ("whatsapp:+49151*****01"); a number written with
// spaces or without its "+" is masked the same way. It is the one masking
// rule of herald: internal/logging masks numbers found in free text with
// the same shape.
func MaskPhone(phone string) string {
	scheme := ""
	if s, number, ok := strings.Cut(phone, ":"); ok {
		scheme, phone = s+":", number // whatsapp:+49... keeps its channel
	}
	var digits []byte
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < maskMinDigits {
		return scheme + "+*****"
	}
	return scheme + "+" + string(digits[:maskLead]) + "*****" + string(digits[len(digits)-maskTail:])
}
