package thread

import (
	"strconv"
	"time"

	"github.com/heraldops/herald/bot"
)

// textDuringOutage marks a post replayed after an outage with when it was
// first meant to appear.
func textDuringOutage(at time.Time) string {
	return "Sent while chat was unreachable (" + at.UTC().Format("15:04 UTC") + ")"
}

// textDigestTitle heads a digest of n posts that waited together (a reply
// burst, or a replay after an outage).
func textDigestTitle(n int) string {
	return strconv.Itoa(n) + " messages arrived together"
}

// textRerouted explains a message that its own thread refused for good.
func textRerouted(th bot.ThreadRef, cause error) string {
	return "Could not be posted in its incident thread (" + th.Channel + ", " + cause.Error() + "); posted here instead."
}
