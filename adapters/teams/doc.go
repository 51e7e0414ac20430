// Package teams is herald's Microsoft Teams front end, through the Bot
// Framework: the same incident flow as Slack, on the same core.
//
// It owns:
//   - Handler: POST /teams/messages. Every activity's JWT is checked by
//     Validator (signature by a key from the Bot Framework's OpenID metadata,
//     issuer, audience = TEAMS_APP_ID, expiry, serviceurl claim, channel
//     endorsement) before anything else; a failed check is a 401 that changes
//     nothing. Typed commands (@herald incident new <title> --sev 2, notify,
//     status, list, resolve, reply, help; no mention needed in a personal
//     chat) and card clicks (Action.Submit messages and adaptiveCard/action
//     invokes) drive the workflow; redelivered activities and repeated clicks
//     act once (bot.Deduper). Panics are recovered at the boundary.
//   - Chat (bot.Chat): the incident's root message starts a reply chain in
//     the incident channel (teams.incident_channel); everything else goes into
//     that chain; progress and approval outcomes update their cards in place.
//   - Connector and TokenSource: a small Bot Connector client with a cached
//     token, ~7 messages/s per conversation (the shared limiter, or
//     bot.LocalLimiter in one process), and retries of 429/412/502/503/504
//     with backoff and jitter.
//   - References: conversation references (service URLs) kept in the shared
//     store, never only in memory, so any replica can post proactively.
//   - Render, ComposeCard, PreviewCard: the neutral bot.Message and the
//     compose flow as Adaptive Cards 1.4 (golden files in testdata/).
//
// From github.com/infracloudio/msbotbuilder-go it uses the schema (Activity,
// ConversationReference, Attachment...) and the auth.TokenValidator
// interface, which Validator implements. It does not use the library's token
// validation (hard-coded metadata URL, metadata fetched per request without
// closing the body, JWKS cache without a lock) nor its connector client
// (nil dereference when the token endpoint is unreachable, no context, no
// activity ids, zero-value fields in outgoing JSON).
//
// It must never import other adapters, internal/app or a store driver: the
// store arrives as bot ports (bot.KV, bot.Deduper, bot.RateLimiter).
package teams
