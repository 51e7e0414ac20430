package command_test

import (
	"errors"
	"fmt"

	"github.com/heraldops/herald/bot/command"
)

// How failover's SMS interpreter reads a responder's text: one ParseSMS,
// refusals and "not available yet" put into words by this package, then a
// switch on the name with everything the command needs in its fields.
func ExampleParseSMS() {
	for _, body := range []string{
		"NOTIFY INC-1 executives,it-ops investigating next_update=14:30 UTC",
		"UPDATE INC-1 Card payments  fail for 20%",
		"new Payments failing -s 2",
		"REJECT 4821 wrong ETA",
		"STATUS",
		"NEW",
		"RESOLVE INC-1",
		"FROB",
	} {
		c, err := command.ParseSMS(body)
		var usage *command.UsageError
		switch {
		case errors.As(err, &usage):
			fmt.Println(command.Explain(command.SMS, usage))
		case !command.Offers(command.SMS, c):
			fmt.Println(command.NotAvailable(command.SMS, c))
		case c.Name == command.Notify:
			fmt.Println(c.IncidentID, c.Audiences, c.Template, c.Fields)
		case c.Name == command.Update:
			fmt.Printf("%s %q\n", c.IncidentID, c.Text)
		case c.Name == command.New:
			fmt.Println(c.Title, c.Severity)
		case c.Name == command.Approve, c.Name == command.Reject:
			fmt.Println(c.Name, c.Code, c.Reason)
		case c.Name == command.Status && c.IncidentID == "":
			fmt.Println("list the open incidents")
		}
	}
	// Output:
	// INC-1 [executives it-ops] investigating map[next_update:14:30 UTC]
	// INC-1 "Card payments  fail for 20%"
	// Payments failing 2
	// reject 4821 wrong ETA
	// list the open incidents
	// The incident needs a title: what is broken, in a few words. Usage: NEW <title> [--sev 1..4]
	// RESOLVE is not available by SMS yet.
	// herald does not know the command "FROB". Text HELP for the commands.
}
