// Package workflow is the incident workflow every chat front end drives
// (Slack, Teams, and SMS during failover): declare an incident, compose and
// preview an update, ask for approval (four eyes where an audience requires
// it), approve or reject, resolve, status and list. It hands approved
// broadcasts to the relay through its Relayer port, and renders the chat
// messages of these steps (texts.go).
//
// It imports only the standard library and bot: never an adapter, an SDK,
// internal/, or another feature package.
package workflow
