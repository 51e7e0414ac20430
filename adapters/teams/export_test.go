package teams

import "github.com/heraldops/herald/bot/command"

// CardActivityForTest exposes the activity a card is sent in, for the
// connector tests.
func CardActivityForTest(card map[string]any) outActivity { return cardActivity(card, "") }

// ParseCommandForTest exposes how a Teams message is read as a command.
func ParseCommandForTest(text, botName string) (command.Command, error) {
	return parseCommand(text, botName)
}

// TextUsageErrorForTest exposes what a person is told about a mistyped line.
func TextUsageErrorForTest(e *command.UsageError) string { return textUsageError(e) }
