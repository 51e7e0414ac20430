package logging

import (
	"bytes"
)

// Masking rules. A phone number is recognised by its international prefix
// ("+", URL-encoded "%2B", JSON-escaped "\u002b") followed by at least
// minMaskDigits digits, optionally grouped by single separators as people
// write them ("+1 (415) 555-0101"). The masked form keeps the prefix as it
// was (so URL-encoded text stays URL-encoded), up to keepLead leading digits
// (country code and network or area prefix), five stars whatever the length
// (so the length is not revealed either) and the last keepTail digits.
const (
	minMaskDigits = 7 // shortest E.164 numbers in use have 7 digits
	keepLead      = 5
	keepTail      = 2
	minHidden     = 4 // never show more than len-4 digits of a number
	stars         = "*****"
	maxSepRun     = 2 // ") " between groups; more ends the number
)

// prefixLen reports whether b starts with an international prefix and how
// long it is.
func prefixLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case '+':
		return 1
	case '%':
		if len(b) >= 3 && b[1] == '2' && (b[2] == 'B' || b[2] == 'b') {
			return 3
		}
	case '\\':
		if len(b) >= 6 && b[1] == 'u' && b[2] == '0' && b[3] == '0' && b[4] == '2' && (b[5] == 'b' || b[5] == 'B') {
			return 6
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSeparator(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'
}

// scanNumber reads the digits of a number starting at b[0]. It returns how
// many bytes the number spans (ending at its last digit), how many digits it
// has, its first keepLead digits and its last keepTail digits.
func scanNumber(b []byte) (span, ndigits int, lead [keepLead]byte, tail [keepTail]byte) {
	sepRun := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case isDigit(c):
			if ndigits < keepLead {
				lead[ndigits] = c
			}
			tail[0], tail[1] = tail[1], c
			ndigits++
			span = i + 1
			sepRun = 0
		case ndigits > 0 && isSeparator(c) && sepRun < maxSepRun:
			sepRun++
		default:
			return
		}
	}
	return
}

// appendMasked appends the masked form of a number with n digits.
func appendMasked(dst, prefix []byte, n int, lead [keepLead]byte, tail [keepTail]byte) []byte {
	dst = append(dst, prefix...)
	shown := min(keepLead, n-keepTail-minHidden)
	dst = append(dst, lead[:shown]...)
	dst = append(dst, stars...)
	return append(dst, tail[:]...)
}

// appendMaskedText appends src to dst with every phone number masked. It
// returns dst unchanged and false when src holds no number, so callers can
// skip the copy.
func appendMaskedText(dst, src []byte) ([]byte, bool) {
	changed := false
	copied := 0 // src[:copied] is already in dst
	for i := 0; i < len(src); {
		j := bytes.IndexAny(src[i:], `+%\`)
		if j < 0 {
			break
		}
		start := i + j
		plen := prefixLen(src[start:])
		if plen == 0 {
			i = start + 1
			continue
		}
		span, n, lead, tail := scanNumber(src[start+plen:])
		if n < minMaskDigits {
			i = start + plen
			continue
		}
		if !changed {
			dst = append(dst, src[:start]...)
			changed = true
		} else {
			dst = append(dst, src[copied:start]...)
		}
		dst = appendMasked(dst, src[start:start+plen], n, lead, tail)
		i = start + plen + span
		copied = i
	}
	if !changed {
		return dst, false
	}
	return append(dst, src[copied:]...), true
}

// MaskText returns s with every phone number in it masked, as a herald log
// line would show it. Use it for free text that leaves herald by other
// ways than the logger (audit details, error bodies shown to users).
func MaskText(s string) string {
	out, changed := appendMaskedText(nil, []byte(s))
	if !changed {
		return s
	}
	return string(out)
}
