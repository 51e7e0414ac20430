package slack

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/heraldops/herald/bot/failover"
)

// ChannelPhones lists the members of a channel who have a phone number in
// their Slack profile, as watchers herald can text when Slack is down. It
// needs the users:read and users:read.phone scopes; numbers that normalize
// rejects (no country code) are skipped. Call it while Slack is up.
func ChannelPhones(ctx context.Context, api *slack.Client, channel string, normalize func(string) (string, error)) ([]failover.Watcher, error) {
	var out []failover.Watcher
	params := &slack.GetUsersInConversationParameters{ChannelID: channel, Limit: 200}
	for {
		ids, cursor, err := api.GetUsersInConversationContext(ctx, params)
		if err != nil {
			return nil, fmt.Errorf("listing members of %s: %w", channel, err)
		}
		for _, id := range ids {
			u, err := api.GetUserInfoContext(ctx, id)
			if err != nil {
				if Trouble(err) || ctx.Err() != nil {
					return nil, fmt.Errorf("reading profile of %s: %w", id, err)
				}
				continue // one unreadable member (user_not_found...) must not cost the others
			}
			if u.IsBot || u.Deleted || u.Profile.Phone == "" {
				continue
			}
			phone, err := normalize(u.Profile.Phone)
			if err != nil {
				continue
			}
			name := u.RealName
			if name == "" {
				name = u.Name
			}
			out = append(out, failover.Watcher{Name: name, Phone: phone})
		}
		if cursor == "" {
			return out, nil
		}
		params.Cursor = cursor
	}
}
