package botframework

import (
	"embed"
	"fmt"
)

//go:embed fixtures/*.json
var fixtures embed.FS

// Fixture returns a real Teams activity by file name
// (channel_message_mention.json, card_submit_message.json,
// adaptive_card_action_invoke.json, conversation_update_bot_added.json). It
// panics on an unknown name: that is a broken test, not a condition to handle.
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("fixtures/" + name)
	if err != nil {
		panic(fmt.Sprintf("botframework: no fixture %q: %v", name, err))
	}
	return b
}
