// Package command owns herald's one command grammar: the words after
// /incident in Slack, after @herald in Teams, and the SMS commands that
// registered responders text while chat is down. It turns a line of text
// into a Command, or into a *UsageError that says which command was meant
// and what is wrong with it, and it holds every word people read about
// commands: help, usage, refusals of a mistyped line and "not available
// yet", each rendered in its surface's own syntax (Slack `/incident new`,
// Teams @herald new, SMS NEW).
//
// One grammar, because two parsers for one grammar drift: Slack and Teams
// used to read `new Checkout down -s 2` differently. Aliases (declare for
// new, ? and INFO for help), flag spellings (-s, --sev, --severity, --sev=2,
// SEV2) and the words that no front end acts on yet (reach, cancel,
// scheduled, tag, clock, and new's --drill, --tag, --detected) are decided
// here, once, so every surface reads a line the same way.
//
// What stays in the adapters is what only one platform does to text before
// it is a command line: Slack's &amp; escapes and <@U123|name> references,
// Teams' <at>herald</at> mentions. What a command does is the front ends'
// business; this package only says what was asked.
//
// It imports only the standard library and github.com/heraldops/herald/bot,
// and from bot only the vocabulary that stays in the root package: incident
// ids and severities. It must never import adapters or another bot/ feature
// package, so every front end can use it.
package command
