package twilio

import (
	"regexp"

	"github.com/heraldops/herald/bot"
)

// phoneLike finds anything that could be a phone number in free text: an
// optional +, then 7 to 15 digits (URL-encoded numbers in a transport error
// show up as bare digits after %2B).
var phoneLike = regexp.MustCompile(`\+?[0-9]{7,15}`)

// maskPhones masks every phone-like number in a text that may reach a log:
// Twilio quotes numbers in some errors ("Invalid 'To' Phone Number: +1555..."),
// and transport errors quote the request URL.
func maskPhones(s string) string {
	return phoneLike.ReplaceAllStringFunc(s, bot.MaskPhone)
}
