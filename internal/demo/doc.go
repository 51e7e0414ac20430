// Package demo is `herald demo`'s console and seeded organisation: a web
// page (embedded, plain HTML, CSS and JavaScript, nothing fetched from
// outside) that shows a Slack-like incident channel drawn from what herald
// really posted to the Slack simulator, and one phone per stakeholder drawn
// from what herald really sent to the Twilio simulator. What a person does on
// the page becomes the request Slack or Twilio would send herald: a signed
// slash command, a signed block_actions or view_submission, a signed inbound
// SMS or WhatsApp message. Live updates reach the page by Server-Sent Events.
//
// The console's API, which the page and the tests use alike: GET / (the
// page), GET /static/* (its JS and CSS), GET /api/state (everything drawn,
// as JSON), GET /api/events (the same state as a Server-Sent Event on every
// change), POST /api/command (a slash command), /api/action (a button on a
// message), /api/view/action, /api/view/submit, /api/view/close (a modal),
// /api/phone/send (a phone texting herald) and /api/slack ({"down":true}
// makes the Slack simulator answer 503).
//
// It owns the seeded config (herald.yaml, embedded) and the glue between
// the simulators (internal/fakes) and the page. internal/app wires herald
// exactly as `herald serve` does and hands this package the simulators.
//
// It must never import bot/, adapters/ or internal/app: the demo drives
// herald from the outside, through its HTTP endpoints, like Slack and
// Twilio do, so nothing in herald's core can tell it is a demo.
package demo
