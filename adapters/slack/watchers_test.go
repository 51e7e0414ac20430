package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldops/herald/bot/failover"
	"github.com/heraldops/herald/internal/fakes/slackapi"
)

func TestChannelPhonesReadsProfilesAcrossPages(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	// 250 members without phones first, so the ones with phones are on the
	// second page of conversations.members (ChannelPhones asks 200 at a time)
	var members []string
	for i := range 250 {
		id := fmt.Sprintf("UFILL%03d", i)
		fake.AddUser(slackapi.User{ID: id, Name: id})
		members = append(members, id)
	}
	for _, u := range []slackapi.User{
		{ID: "U1", Name: "lead", RealName: "Ops Lead", Phone: "+49 151 1234 5679"},
		{ID: "U2", Name: "nophone"},
		{ID: "U3", Name: "local", Phone: "0151 1234"}, // no country code: normalize refuses
		{ID: "U4", Name: "bot", Phone: "+1 415 555 0100", IsBot: true},
		{ID: "U5", Name: "gone", Phone: "+1 415 555 0101", Deleted: true},
		{ID: "U6", Name: "sre", Phone: "+1 (415) 555-0102"},
	} {
		fake.AddUser(u)
		members = append(members, u.ID)
	}
	fake.AddChannel(slackapi.Channel{ID: "C0INCIDENTS", Name: "incidents", Members: members})
	normalize := func(s string) (string, error) {
		if !strings.HasPrefix(s, "+") {
			return "", errors.New("no country code")
		}
		return "+" + strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s), nil
	}

	got, err := ChannelPhones(context.Background(), fake.Client(), "C0INCIDENTS", normalize)
	if err != nil {
		t.Fatal(err)
	}
	want := []failover.Watcher{{Name: "Ops Lead", Phone: "+4915112345679"}, {Name: "sre", Phone: "+14155550102"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("watchers %+v, want %+v", got, want)
	}
	if pages := len(fake.Calls("conversations.members")); pages != 2 {
		t.Fatalf("%d member pages read, want 2", pages)
	}
}

func TestChannelPhonesFailsWhenSlackDoes(t *testing.T) {
	fake := slackapi.New(slackapi.WithStrictChannels())
	defer fake.Close()
	_, err := ChannelPhones(context.Background(), fake.Client(), "C0NOPE", func(s string) (string, error) { return s, nil })
	if err == nil || !strings.Contains(err.Error(), "listing members of C0NOPE: channel_not_found") {
		t.Fatalf("err %v", err)
	}
}

func TestChannelPhonesSkipsAMemberWhoseProfileCannotBeRead(t *testing.T) {
	fake := slackapi.New()
	defer fake.Close()
	fake.AddUser(slackapi.User{ID: "U1", Name: "lead", RealName: "Ops Lead", Phone: "+4915112345679"})
	// UBOT0 is a member (herald's own bot, say) that users.info does not know.
	fake.AddChannel(slackapi.Channel{ID: "C0INCIDENTS", Name: "incidents", Members: []string{"UBOT0", "U1"}})
	got, err := ChannelPhones(context.Background(), fake.Client(), "C0INCIDENTS", func(s string) (string, error) { return s, nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Phone != "+4915112345679" {
		t.Fatalf("watchers %+v, want the Ops Lead despite the unreadable member", got)
	}
}
