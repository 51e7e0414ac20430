package slack

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// socketConcurrency bounds the envelopes handled at once over Socket Mode.
const socketConcurrency = 16

// NewSocketClient builds a Socket Mode client: api must carry the app-level
// token (slack.OptionAppLevelToken(SLACK_APP_TOKEN)).
func NewSocketClient(api *slack.Client) *socketmode.Client {
	return socketmode.New(api)
}

// RunSocketMode receives slash commands, interactions and events over a
// Socket Mode websocket instead of HTTP and feeds them to the same handling.
// Each envelope is acknowledged as soon as its answer is known, with the
// payload Slack needs (the ephemeral reply, a view_submission's
// response_action). It returns when ctx ends or the connection fails for
// good (invalid_auth).
func (f *Frontend) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(ctx) }()

	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, socketConcurrency)
	for {
		select {
		case err := <-runErr:
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("running Socket Mode: %w", err)
			}
			return nil
		case evt := <-client.Events:
			switch evt.Type {
			case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
			default:
				continue // connection lifecycle events
			}
			if evt.Request == nil {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				f.envelope(ctx, client, evt)
			})
		}
	}
}

// envelope handles one Socket Mode envelope and acknowledges it.
func (f *Frontend) envelope(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	rctx, cancel := context.WithTimeout(ctx, f.cfg.Budget)
	defer cancel()
	var payload any
	switch data := evt.Data.(type) {
	case slack.SlashCommand:
		if err := checkSlashCommand(data); err != nil {
			f.report(ctx, fmt.Errorf("socket mode envelope %s: %w", evt.Request.EnvelopeID, err))
			break
		}
		if msg := f.Command(rctx, data); msg != nil {
			payload = msg
		}
	case slack.InteractionCallback:
		resp, err := f.Interaction(rctx, data)
		if err != nil {
			f.report(ctx, fmt.Errorf("socket mode envelope %s: %w", evt.Request.EnvelopeID, err))
		}
		payload = resp
	default: // events_api: the raw payload is the same as the HTTP body
		if _, err := f.Event(rctx, evt.Request.Payload); err != nil {
			var malformed *MalformedError
			if !errors.As(err, &malformed) {
				// not acked: Slack sends it again later
				f.report(ctx, fmt.Errorf("socket mode envelope %s: %w", evt.Request.EnvelopeID, err))
				return
			}
			f.report(ctx, err)
		}
	}
	if err := client.AckCtx(ctx, evt.Request.EnvelopeID, payload); err != nil {
		f.report(ctx, fmt.Errorf("acknowledging socket mode envelope %s: %w", evt.Request.EnvelopeID, err))
	}
}
