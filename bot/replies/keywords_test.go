package replies_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/replies"
)

func TestKeywords(t *testing.T) {
	const phone = "+4915112345678"
	tests := []struct {
		body           string
		channel        bot.Channel
		providerSMS    bool
		startOptedOut  bool
		wantHandled    bool
		wantOptedOut   bool
		wantAnswerLike string // substring; "" means no answer
		wantAudit      string
	}{
		{body: "STOP", channel: bot.ChannelSMS, wantHandled: true, wantOptedOut: true, wantAnswerLike: "no longer receive", wantAudit: "phone.opt_out"},
		{body: "  stop  ", channel: bot.ChannelSMS, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "Stop.", channel: bot.ChannelWhatsApp, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "stop all", channel: bot.ChannelSMS, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "Unsubscribe", channel: bot.ChannelSMS, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "cancel", channel: bot.ChannelSMS, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "END", channel: bot.ChannelSMS, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "quit", channel: bot.ChannelSMS, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "STOP", channel: bot.ChannelSMS, providerSMS: true, wantHandled: true, wantOptedOut: true, wantAudit: "phone.opt_out"},
		{body: "STOP", channel: bot.ChannelWhatsApp, providerSMS: true, wantHandled: true, wantOptedOut: true, wantAnswerLike: "START", wantAudit: "phone.opt_out"},
		{body: "START", channel: bot.ChannelSMS, startOptedOut: true, wantHandled: true, wantAnswerLike: "again", wantAudit: "phone.opt_in"},
		{body: "yes", channel: bot.ChannelSMS, startOptedOut: true, wantHandled: true, wantAnswerLike: "again", wantAudit: "phone.opt_in"},
		{body: "Unstop", channel: bot.ChannelWhatsApp, startOptedOut: true, wantHandled: true, wantAnswerLike: "again", wantAudit: "phone.opt_in"},
		{body: "HELP", channel: bot.ChannelSMS, wantHandled: true, wantAnswerLike: "Call the ops desk", wantAudit: "phone.help"},
		{body: "info", channel: bot.ChannelSMS, startOptedOut: true, wantHandled: true, wantOptedOut: true, wantAnswerLike: "Call the ops desk", wantAudit: "phone.help"},
		{body: "we cannot stop the outage", channel: bot.ChannelSMS},
		{body: "STOP it please", channel: bot.ChannelSMS},
		{body: "ACK 42", channel: bot.ChannelSMS},
		{body: "", channel: bot.ChannelSMS},
		{body: "yes", channel: bot.ChannelSMS, providerSMS: true, startOptedOut: true, wantHandled: true, wantAudit: "phone.opt_in"},
	}
	for _, tt := range tests {
		t.Run(tt.body+"/"+string(tt.channel), func(t *testing.T) {
			// given
			ctx := context.Background()
			clock := bottest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
			store := bottest.NewStore(clock)
			if tt.startOptedOut {
				if err := store.SetOptOut(ctx, phone, true); err != nil {
					t.Fatal(err)
				}
			}
			k := &replies.OptOutKeywords{Phones: store, Audit: store, Clock: clock, HelpText: "Incident updates. Call the ops desk on +49 30 1234.", ProviderAnswersSMS: tt.providerSMS}
			// when
			handled, answer, err := k.HandleKeyword(ctx, bot.Inbound{MessageSID: "SM1", From: phone, Channel: tt.channel, Body: tt.body})
			// then
			if err != nil {
				t.Fatal(err)
			}
			if handled != tt.wantHandled {
				t.Errorf("handled = %v, want %v", handled, tt.wantHandled)
			}
			if (answer == "") != (tt.wantAnswerLike == "") || !strings.Contains(answer, tt.wantAnswerLike) {
				t.Errorf("answer = %q, want something with %q", answer, tt.wantAnswerLike)
			}
			opted, _ := store.OptedOut(ctx, []string{phone})
			if opted[phone] != tt.wantOptedOut {
				t.Errorf("opted out = %v, want %v", opted[phone], tt.wantOptedOut)
			}
			trail, _ := store.AuditTrail(ctx, "")
			if tt.wantAudit == "" {
				if len(trail) != 0 {
					t.Errorf("audited %+v for a normal message", trail)
				}
				return
			}
			if len(trail) != 1 || string(trail[0].Action) != tt.wantAudit {
				t.Fatalf("audit = %+v, want one %s", trail, tt.wantAudit)
			}
			for _, s := range []string{trail[0].Detail, trail[0].Actor.ID} {
				if strings.Contains(s, phone) || !strings.Contains(s, "+49151*****78") {
					t.Errorf("audit %q must carry the masked number only", s)
				}
			}
		})
	}
}
