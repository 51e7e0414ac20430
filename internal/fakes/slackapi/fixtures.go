package slackapi

import (
	"embed"
	"fmt"
)

//go:embed fixtures/*.json fixtures/*.form fixtures/*.txt
var fixtures embed.FS

// Fixture returns a real Slack payload by file name (slash_command.form,
// block_actions.json, view_submission.json, event_message_in_thread.json,
// url_verification.json, socket_mode_slash_command.json,
// chat_postMessage_response.json, rate_limited_response.txt). It panics on
// an unknown name: that is a broken test, not a condition to handle.
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("fixtures/" + name)
	if err != nil {
		panic(fmt.Sprintf("slackapi: no fixture %q: %v", name, err))
	}
	return b
}
