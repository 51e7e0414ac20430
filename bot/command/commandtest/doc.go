// Package commandtest holds the one grammar's shared test cases
// (grammar.json): lines that must give the same command, or the same
// refusal, on every surface. bot/command's tests read them as typed; the
// Slack and Teams adapters' tests read them through their platforms'
// escaping and mention stripping, so a front end that pre-processes text
// differently fails there, not in production.
//
// It imports only the standard library and bot/command; only tests import it.
package commandtest
