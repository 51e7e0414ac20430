// Package slackapi is an in-process fake of Slack for tests and the demo: an
// httptest server speaking the real Web API wire format (form and JSON
// requests, {"ok":false,"error":...} answers, 429 with Retry-After), a Socket
// Mode websocket, and a Signer that signs requests to herald the way Slack
// does. The real slack-go client is pointed at it with
//
//	slack.New(fake.BotToken, slack.OptionAPIURL(fake.APIURL()))
//
// It records every call so tests can assert what a user would have seen in
// Slack (Posts, ThreadPosts, Updates, ViewsOpened, WaitFor), enforces Slack's
// per-channel posting rate when asked, and injects failures (error codes,
// 503s, hangs) for failover tests.
//
// It owns nothing of herald's: it must never import herald's bot, adapters or
// internal/app packages, so that it stays a faithful stand-in for Slack and
// not a mirror of herald's assumptions.
package slackapi
