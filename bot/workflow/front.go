package workflow

import (
	"context"

	"github.com/heraldops/herald/bot"
)

// Front is the workflow as every chat front end drives it (Slack, Teams):
// *Service is it. Declared once here, since both front ends need exactly
// this set; each can be tested with a stand-in.
type Front interface {
	Declare(ctx context.Context, by bot.Actor, title string, severity int, channel string) (bot.Incident, error)
	Incident(ctx context.Context, id string) (bot.Incident, error)
	List(ctx context.Context, openOnly bool) ([]bot.Incident, error)
	NewestOpen(ctx context.Context, channel string) (bot.Incident, error)
	Status(ctx context.Context, id string) (StatusReport, error)
	Resolve(ctx context.Context, by bot.Actor, id string) (bot.Incident, error)
	Preview(ctx context.Context, by bot.Actor, d bot.Draft) (Preview, error)
	Submit(ctx context.Context, by bot.Actor, d bot.Draft) (bot.Broadcast, error)
	Approve(ctx context.Context, by bot.Actor, broadcastID string) (bot.Broadcast, error)
	Reject(ctx context.Context, by bot.Actor, broadcastID, reason string) (bot.Broadcast, error)
}

var _ Front = (*Service)(nil)
