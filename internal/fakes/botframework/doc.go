// Package botframework is an in-process fake of the Microsoft Bot Framework
// as a Teams bot meets it, for tests and the demo. One httptest server plays
// every part:
//
//   - the OpenID metadata document and its JWKS (an RSA key made at start-up),
//     so tests SIGN activity tokens exactly as the Bot Connector does
//     (RS256, issuer https://api.botframework.com, audience = the bot's app
//     id, a serviceurl claim, keys endorsed for "msteams");
//   - the AAD token endpoint (client_credentials -> access_token JSON);
//   - the connector REST API: POST /v3/conversations (a new channel thread),
//     POST /v3/conversations/{id}/activities[/{activityId}] (a message, a
//     reply) and PUT /v3/conversations/{id}/activities/{activityId} (update
//     a card), each checking the Bearer token the token endpoint issued.
//
// Service URLs in real activities point at Microsoft's hosts
// (https://smba.trafficmanager.net/amer/...). Transport returns an
// http.RoundTripper that sends any host to the fake, so the fixtures stay as
// they are and tests can still see which service URL herald used. Every
// connector call is recorded (Activities, WaitFor); FailNext injects the
// answers Teams gives under load (429 with Retry-After, 412, 502, 504).
// SendActivity POSTs an activity to herald with a signed token; token options
// make the bad ones (unsigned, foreign key, wrong audience, expired).
//
// It owns nothing of herald's: it must never import herald's bot, adapters or
// internal/app packages, so it stays a stand-in for Microsoft and not a
// mirror of herald's assumptions.
package botframework
