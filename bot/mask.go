package bot

import (
	"strings"
)

// MaskPhone hides the middle of a phone number for logs, audit details and
// triage posts: "+4915112345678" -> "+49151*****78". The country code and
// network prefix stay readable so people can tell numbers apart by origin.
func MaskPhone(phone string) string {
	if scheme, number, ok := strings.Cut(phone, ":"); ok {
		return scheme + ":" + MaskPhone(number) // whatsapp:+49... keeps its channel
	}
	if len(phone) < 9 {
		return "+*****"
	}
	return phone[:6] + "*****" + phone[len(phone)-2:]
}
