package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// Issue 6's watcher phone cache, through herald serve: "phone numbers of
// incident-channel members cached before the outage from Slack profiles ...
// encrypted at rest, refreshed periodically". While Slack is up herald reads
// the incident channel's members and their profile phones; when Slack is
// down they get the watcher digests by SMS with the configured watchers.

const (
	priyaTyped = "+49 151 2222-3333" // as she typed it into her Slack profile
	priyaPhone = "+4915122223333"
	botPhone   = "+4915199990001"
	gonePhone  = "+4915199990002"
)

// slackWithChannelMembers is a fake Slack whose incident channel has a
// person with a profile phone, one without, a bot and a deactivated account
// (both with phones: neither is a person to text).
func slackWithChannelMembers(t *testing.T) *slackapi.Server {
	t.Helper()
	s := slackapi.New()
	t.Cleanup(s.Close)
	s.AddUser(slackapi.User{ID: "U0PRIYA", Name: "priya", RealName: "Priya Raman", Phone: priyaTyped})
	s.AddUser(slackapi.User{ID: "U0NOPHONE", Name: "noel", RealName: "Noel Park"})
	s.AddUser(slackapi.User{ID: "U0SOMEBOT", Name: "statusbot", RealName: "Status Bot", Phone: botPhone, IsBot: true})
	s.AddUser(slackapi.User{ID: "U0GONE", Name: "gone", RealName: "Gone Person", Phone: gonePhone, Deleted: true})
	s.AddUser(slackapi.User{ID: slackapi.DefaultBotUserID, Name: "herald", RealName: "herald", IsBot: true})
	s.AddChannel(slackapi.Channel{ID: foIncidents, Name: "incidents",
		Members: []string{"U0PRIYA", "U0NOPHONE", "U0SOMEBOT", "U0GONE", slackapi.DefaultBotUserID}})
	return s
}

// startWithSlack starts herald serve against the prepared fake Slack s.
func startWithSlack(t *testing.T, s *slackapi.Server) *heraldApp {
	t.Helper()
	a := startApp(t, exampleConfig, func(env map[string]string) {
		env["SLACK_API_URL"], env["SLACK_BOT_TOKEN"] = s.APIURL(), s.BotToken
	})
	a.slack = s
	return a
}

// redisDump is every key of the test's redis-server with every value it
// holds (strings, hashes, lists, sets, sorted sets, streams), as raw text.
func redisDump(t *testing.T, a *heraldApp) map[string]string {
	t.Helper()
	ctx := context.Background()
	rdb := a.redis.Client(t)
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		switch typ {
		case "string":
			v, _ := rdb.Get(ctx, k).Result()
			parts = append(parts, v)
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				parts = append(parts, f, v)
			}
		case "list":
			parts = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			parts = rdb.SMembers(ctx, k).Val()
		case "zset":
			parts = rdb.ZRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					parts = append(parts, f, toString(v))
				}
			}
		default:
			t.Fatalf("key %s has type %s, which redisDump cannot read", k, typ)
		}
		out[k] = strings.Join(parts, "\x00")
	}
	return out
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// waitWatcherCache waits until herald has stored the channel members'
// phones (the cache key exists).
func (a *heraldApp) waitWatcherCache() {
	a.t.Helper()
	a.eventually("the watcher phone cache in Redis", func() bool {
		for k := range redisDump(a.t, a) {
			if strings.HasSuffix(k, "watchers:slack") {
				return true
			}
		}
		return false
	})
}

// outageUpdateReaches takes Slack down, has the responder text an update
// for INC-1 and waits until each phone got it in a watcher digest.
func (a *heraldApp) outageUpdateReaches(update string, phones ...string) {
	a.t.Helper()
	a.slack.SetOutage(slackapi.OutageUnavailable)
	a.foWaitChatMode(true)
	a.foText(foResponderPhone, "UPDATE INC-1 "+update)
	for _, p := range phones {
		a.foWaitSMS(p, update)
	}
}

func TestWatcherPhonesCachedFromSlackGetDigestsDuringAnOutage(t *testing.T) {
	t.Parallel()
	a := startWithSlack(t, slackWithChannelMembers(t))
	a.waitWatcherCache()
	a.foDeclare("Checkout down")

	a.outageUpdateReaches("failing over to the standby database", priyaPhone, foWatcherPhone)
	if got := a.twilio.MessagesTo(priyaPhone); len(got) != 1 {
		t.Errorf("Priya got %d messages, want the one digest", len(got))
	}
	// Only people: not the bot, not the deactivated account.
	for _, p := range []string{botPhone, gonePhone} {
		if got := a.twilio.MessagesTo(p); len(got) != 0 {
			t.Errorf("%s (a bot or deactivated member) was texted: %+v", p, got)
		}
	}

	// Encrypted at rest: neither the number (in any spelling) nor her name
	// is anywhere in Redis, keys or values.
	dump := redisDump(t, a)
	if _, ok := dump["herald:inc:INC-1"]; !ok { // the scan sees herald's keys at all
		t.Fatalf("the Redis dump lacks INC-1's record: %d keys", len(dump))
	}
	for k, v := range dump {
		for _, secret := range []string{"4915122223333", "2222-3333", "22223333", "Priya"} {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("Redis key %s holds %q in clear text", k, secret)
			}
		}
	}
}

// TestWatcherPhoneCacheRetriesSoonAfterAFailure: Slack's first answer to
// conversations.members is an error (a blip at start, or the scope added a
// minute later); herald tries again soon instead of going without the
// cache until the next periodic refresh.
func TestWatcherPhoneCacheRetriesSoonAfterAFailure(t *testing.T) {
	t.Parallel()
	s := slackWithChannelMembers(t)
	s.FailNext("conversations.members", "internal_error", 1)
	a := startWithSlack(t, s)
	a.waitWatcherCache()
	if n := len(s.Calls("conversations.members")); n < 2 {
		t.Errorf("the cache was written after %d conversations.members calls, want the failed one and a retry", n)
	}
	a.foDeclare("Checkout down")
	a.outageUpdateReaches("failing over to the standby database", priyaPhone)
}

// TestWatcherDigestsFlowWhenSlackHangsAtStart: herald (re)starts while Slack
// hangs, so its first cache refresh hangs too. That must not hold up the
// rest of the periodic work: the configured watcher still gets the
// responder's SMS-declared incident and update.
func TestWatcherDigestsFlowWhenSlackHangsAtStart(t *testing.T) {
	t.Parallel()
	s := slackWithChannelMembers(t)
	s.SetOutage(slackapi.OutageHang)
	// Digests go at most once per watcher_digest_interval (2m in
	// exampleConfig): the declaration and the update may well land in two
	// digests, depending on when the housekeeping tick falls, and the second
	// must not wait minutes.
	cfg := strings.Replace(exampleConfig, "watcher_digest_interval: 2m", "watcher_digest_interval: 1s", 1)
	a := startApp(t, cfg, func(env map[string]string) {
		env["SLACK_API_URL"], env["SLACK_BOT_TOKEN"] = s.APIURL(), s.BotToken
	})
	a.slack = s
	a.foWaitChatMode(true)
	a.foText(foResponderPhone, "NEW Checkout down")
	a.foWaitSMS(foResponderPhone, "INC-1")
	a.foText(foResponderPhone, "UPDATE INC-1 failing over to the standby database")
	a.foWaitSMS(foWatcherPhone, "failing over to the standby database")
}
