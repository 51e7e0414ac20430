package config

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// NormalizePhone checks a phone number written with its country code
// ("+49 151 2345-6789", "+1 (415) 555-0101") and returns it in E.164
// ("+4915123456789"). There is no default region: a number without + and a
// country code is refused, as is anything libphonenumber does not know as a
// valid number.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("missing")
	}
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9', r == ' ', r == '-', r == '.', r == '(', r == ')':
		case r == '+' && i == 0:
		default:
			return "", fmt.Errorf("%q is not a valid phone number", s)
		}
	}
	if !strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("%q has no country code: write it as +<country code><number>", s)
	}
	n, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(n) || n.GetExtension() != "" {
		return "", fmt.Errorf("%q is not a valid phone number", s)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}
