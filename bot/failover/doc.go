// Package failover keeps incidents running when chat is down: ChatHealth
// decides whether chat is up (with hysteresis), Failover switches herald to
// SMS-only mode, sends watchers their SMS digests of thread activity, and
// interprets SMS commands from registered responders (HELP, STATUS, NEW,
// UPDATE, NOTIFY, APPROVE, REJECT), which drive the same workflow as chat.
//
// It imports only the standard library, bot, bot/thread and bot/workflow:
// never an adapter, an SDK or internal/.
package failover
