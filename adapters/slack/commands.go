package slack

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/command"
	"github.com/heraldops/herald/bot/workflow"
)

// ephemeralMsg is a slash command answer only the person sees.
func ephemeralMsg(r reply) *slack.Msg {
	m := &slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: r.text}
	if len(r.blocks) > 0 {
		m.Blocks = slack.Blocks{BlockSet: r.blocks}
	}
	return m
}

// Command handles one /incident command and returns the acknowledgement to
// send at once (nil: an empty one). Slow work is left to the worker pool;
// a modal is opened before returning.
func (f *Frontend) Command(ctx context.Context, sc slack.SlashCommand) *slack.Msg {
	cmd, err := parseCommand(sc.Text)
	var usage *command.UsageError
	if errors.As(err, &usage) {
		return ephemeralMsg(slackText(textUsageError(usage)))
	}
	if !command.Offers(command.Slack, cmd) {
		// Parsed but not acted on here yet (reach, a --drill, SMS's UPDATE):
		// say so, rather than "unknown command" or dropping a flag.
		return ephemeralMsg(slackText(textNotAvailable(cmd)))
	}
	by := actorOf(sc.UserID, sc.UserName)
	switch cmd.Name {
	case command.Help:
		return ephemeralMsg(slackText(textHelp(cmd.Topic)))

	case command.New:
		ok := f.enqueue("declare", func(ctx context.Context) error {
			inc, err := f.cfg.Workflow.Declare(ctx, by, cmd.Title, cmd.Severity, sc.ChannelID)
			if err != nil {
				return f.tell(ctx, sc, coreMessage(f.refusal(ctx, fmt.Errorf("declaring %q: %w", cmd.Title, err))))
			}
			if inc.Thread.Channel != "" && inc.Thread.Channel != sc.ChannelID {
				return f.tell(ctx, sc, slackText(textDeclaredElsewhere(inc)))
			}
			return nil
		})
		return f.accepted(ok, textDeclaring(cmd.Title, cmd.Severity))

	case command.Notify:
		inc, r := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if inc == "" {
			return ephemeralMsg(r)
		}
		if err := f.openCompose(ctx, sc.TriggerID, composeMeta{Incident: inc, Channel: sc.ChannelID}); err != nil {
			return ephemeralMsg(f.modalError(ctx, err))
		}
		return nil

	case command.Status:
		inc, r := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if inc == "" {
			return ephemeralMsg(r)
		}
		rep, err := f.cfg.Workflow.Status(ctx, inc)
		if err != nil {
			return ephemeralMsg(coreMessage(f.refusal(ctx, fmt.Errorf("reporting on %s: %w", inc, err))))
		}
		return ephemeralMsg(coreMessage(workflow.StatusMessage(rep, f.cfg.Clock.Now())))

	case command.List:
		incs, err := f.cfg.Workflow.List(ctx, !cmd.All)
		if err != nil {
			return ephemeralMsg(coreMessage(f.refusal(ctx, fmt.Errorf("listing incidents: %w", err))))
		}
		return ephemeralMsg(coreMessage(workflow.ListMessage(bot.PlatformSlack, incs, !cmd.All, f.cfg.Clock.Now())))

	case command.Resolve:
		inc, r := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if inc == "" {
			return ephemeralMsg(r)
		}
		ok := f.enqueue("resolve", func(ctx context.Context) error {
			if _, err := f.cfg.Workflow.Resolve(ctx, by, inc); err != nil {
				return f.tell(ctx, sc, coreMessage(f.refusal(ctx, fmt.Errorf("resolving %s: %w", inc, err))))
			}
			return nil
		})
		return f.accepted(ok, textResolving(inc))

	case command.Reply:
		if f.cfg.Replier == nil {
			return ephemeralMsg(slackText(textReplyMissing))
		}
		id, r := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if id == "" {
			return ephemeralMsg(r)
		}
		ok := f.enqueue("reply", func(ctx context.Context) error {
			inc, err := f.cfg.Workflow.Incident(ctx, id)
			if err == nil {
				var r bot.Recipient
				if r, err = f.cfg.Replier.Answer(ctx, by, inc, cmd.Who, cmd.Text); err == nil {
					return f.tell(ctx, sc, slackText(textReplied(r)))
				}
			}
			return f.tell(ctx, sc, coreMessage(f.refusal(ctx, fmt.Errorf("answering %s about %s: %w", cmd.Who, id, err))))
		})
		return f.accepted(ok, textReplying(cmd.Who))

	case command.Failover:
		if f.cfg.Failover == nil {
			return ephemeralMsg(slackText(textFailoverMissing))
		}
		ok := f.enqueue("failover", func(ctx context.Context) error {
			if err := f.cfg.Failover.SetFailover(ctx, by, cmd.On); err != nil {
				return f.tell(ctx, sc, coreMessage(f.refusal(ctx, fmt.Errorf("switching failover: %w", err))))
			}
			return f.tell(ctx, sc, slackText(textFailoverSwitched(cmd.On)))
		})
		return f.accepted(ok, textFailoverSwitching(cmd.On))
	}
	return ephemeralMsg(slackText(textNotAvailable(cmd)))
}

func (f *Frontend) accepted(ok bool, text string) *slack.Msg {
	if !ok {
		return ephemeralMsg(slackText(textBusy))
	}
	return ephemeralMsg(slackText(text))
}

// tell answers the person who typed a command, in its channel.
func (f *Frontend) tell(ctx context.Context, sc slack.SlashCommand, r reply) error {
	return f.ephemeral(ctx, sc.ChannelID, sc.UserID, r)
}

// resolveIncident finds the incident a command is about: the one named, or
// the newest open one in the channel, or the only open one anywhere. When
// there is none, id is empty and r says why.
func (f *Frontend) resolveIncident(ctx context.Context, named, channel string) (id string, r reply) {
	if named != "" {
		return named, reply{}
	}
	inc, err := f.cfg.Workflow.NewestOpen(ctx, channel)
	if err == nil {
		return inc.ID, reply{}
	}
	if !errors.Is(err, bot.ErrNotFound) {
		return "", coreMessage(f.refusal(ctx, fmt.Errorf("finding the open incident in %s: %w", channel, err)))
	}
	open, err := f.cfg.Workflow.List(ctx, true)
	if err != nil {
		return "", coreMessage(f.refusal(ctx, fmt.Errorf("listing open incidents: %w", err)))
	}
	switch len(open) {
	case 0:
		return "", slackText(textNoOpenIncident)
	case 1:
		return open[0].ID, reply{}
	}
	return "", slackText(textManyOpen)
}
