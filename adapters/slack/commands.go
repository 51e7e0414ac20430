package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot"
)

// ephemeralMsg is a slash command answer only the person sees.
func ephemeralMsg(text string) *slack.Msg {
	return &slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: text}
}

// Command handles one /incident command and returns the acknowledgement to
// send at once (nil: an empty one). Slow work is left to the worker pool;
// a modal is opened before returning.
func (f *Frontend) Command(ctx context.Context, sc slack.SlashCommand) *slack.Msg {
	cmd, err := ParseCommand(sc.Text)
	if err != nil {
		return ephemeralMsg(f.userMessage(ctx, err))
	}
	by := actorOf(sc.UserID, sc.UserName)
	switch cmd.Name {
	case cmdHelp:
		return ephemeralMsg(textUsage)

	case cmdNew:
		ok := f.enqueue("declare", func(ctx context.Context) error {
			inc, err := f.cfg.Workflow.Declare(ctx, by, cmd.Title, cmd.Severity, sc.ChannelID)
			if err != nil {
				return f.tell(ctx, sc, f.userMessage(ctx, fmt.Errorf("declaring %q: %w", cmd.Title, err)))
			}
			if inc.Thread.Channel != "" && inc.Thread.Channel != sc.ChannelID {
				return f.tell(ctx, sc, textDeclaredElsewhere(inc))
			}
			return nil
		})
		return f.accepted(ok, textDeclaring(cmd.Title, cmd.Severity))

	case cmdNotify:
		inc, msg := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if msg != "" {
			return ephemeralMsg(msg)
		}
		if err := f.openCompose(ctx, sc.TriggerID, composeMeta{Incident: inc, Channel: sc.ChannelID}); err != nil {
			return ephemeralMsg(f.modalError(ctx, err))
		}
		return nil

	case cmdStatus:
		inc, msg := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if msg != "" {
			return ephemeralMsg(msg)
		}
		rep, err := f.cfg.Workflow.Status(ctx, inc)
		if err != nil {
			return ephemeralMsg(f.userMessage(ctx, fmt.Errorf("reporting on %s: %w", inc, err)))
		}
		return ephemeralMsg(textStatus(rep))

	case cmdList:
		incs, err := f.cfg.Workflow.List(ctx, !cmd.All)
		if err != nil {
			return ephemeralMsg(f.userMessage(ctx, fmt.Errorf("listing incidents: %w", err)))
		}
		if len(incs) == 0 {
			if cmd.All {
				return ephemeralMsg(textNoIncidentsAtAll)
			}
			return ephemeralMsg(textNoIncidents)
		}
		lines := make([]string, 0, len(incs))
		for _, inc := range incs {
			lines = append(lines, textIncidentLine(inc))
		}
		return ephemeralMsg(strings.Join(lines, "\n"))

	case cmdResolve:
		inc, msg := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if msg != "" {
			return ephemeralMsg(msg)
		}
		ok := f.enqueue("resolve", func(ctx context.Context) error {
			if _, err := f.cfg.Workflow.Resolve(ctx, by, inc); err != nil {
				return f.tell(ctx, sc, f.userMessage(ctx, fmt.Errorf("resolving %s: %w", inc, err)))
			}
			return nil
		})
		return f.accepted(ok, textResolving(inc))

	case cmdReply:
		if f.cfg.Replier == nil {
			return ephemeralMsg(textReplyMissing)
		}
		id, msg := f.resolveIncident(ctx, cmd.IncidentID, sc.ChannelID)
		if msg != "" {
			return ephemeralMsg(msg)
		}
		ok := f.enqueue("reply", func(ctx context.Context) error {
			inc, err := f.cfg.Workflow.Incident(ctx, id)
			if err == nil {
				var r bot.Recipient
				if r, err = f.cfg.Replier.Answer(ctx, by, inc, cmd.Who, cmd.Text); err == nil {
					return f.tell(ctx, sc, textReplied(r))
				}
			}
			return f.tell(ctx, sc, f.userMessage(ctx, fmt.Errorf("answering %s about %s: %w", cmd.Who, id, err)))
		})
		return f.accepted(ok, textReplying(cmd.Who))

	case cmdFailover:
		if f.cfg.Failover == nil {
			return ephemeralMsg(textFailoverMissing)
		}
		ok := f.enqueue("failover", func(ctx context.Context) error {
			if err := f.cfg.Failover.SetFailover(ctx, by, cmd.On); err != nil {
				return f.tell(ctx, sc, f.userMessage(ctx, fmt.Errorf("switching failover: %w", err)))
			}
			return f.tell(ctx, sc, textFailoverSwitched(cmd.On))
		})
		return f.accepted(ok, textFailoverSwitching(cmd.On))
	}
	return ephemeralMsg(textUsage)
}

func (f *Frontend) accepted(ok bool, text string) *slack.Msg {
	if !ok {
		return ephemeralMsg(textBusy)
	}
	return ephemeralMsg(text)
}

// tell answers the person who typed a command, in its channel.
func (f *Frontend) tell(ctx context.Context, sc slack.SlashCommand, text string) error {
	return f.ephemeral(ctx, sc.ChannelID, sc.UserID, text)
}

// resolveIncident finds the incident a command is about: the one named, or
// the newest open one in the channel, or the only open one anywhere. msg is
// what to tell the person when there is none.
func (f *Frontend) resolveIncident(ctx context.Context, id, channel string) (incidentID, msg string) {
	if id != "" {
		return id, ""
	}
	inc, err := f.cfg.Workflow.NewestOpen(ctx, channel)
	if err == nil {
		return inc.ID, ""
	}
	if !errors.Is(err, bot.ErrNotFound) {
		return "", f.userMessage(ctx, fmt.Errorf("finding the open incident in %s: %w", channel, err))
	}
	open, err := f.cfg.Workflow.List(ctx, true)
	if err != nil {
		return "", f.userMessage(ctx, fmt.Errorf("listing open incidents: %w", err))
	}
	switch len(open) {
	case 0:
		return "", textNoOpenIncident
	case 1:
		return open[0].ID, ""
	}
	return "", textManyOpen
}
