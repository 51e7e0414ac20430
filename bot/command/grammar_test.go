package command_test

import (
	"testing"

	"github.com/heraldops/herald/bot/command"
	"github.com/heraldops/herald/bot/command/commandtest"
)

// TestOneGrammar runs the shared lines through every surface's parser and
// expects the same commands: the drift this package exists to end (Slack
// and Teams once read "new Checkout down -s 2" differently) fails here.
func TestOneGrammar(t *testing.T) {
	parsers := map[command.Surface]func(string) (command.Command, error){
		command.Slack: command.Parse,
		command.Teams: command.Parse,
		command.SMS:   command.ParseSMS,
	}
	for _, tc := range commandtest.Grammar(t) {
		t.Run(tc.In, func(t *testing.T) {
			for _, s := range []command.Surface{command.Slack, command.Teams, command.SMS} {
				// when
				got, err := parsers[s](tc.In)
				// then
				tc.Check(t, s, got, err)
			}
		})
	}
}
