package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
)

func TestPlanWithoutAWhatsAppSenderSendsEveryoneSMS(t *testing.T) {
	tpl, errs := bot.ParseTemplate(bot.TemplateSource{Name: "investigating", SMS: "{{.Title}}: investigating",
		WhatsApp: &bot.WhatsAppTemplate{ContentSID: "HX0000000000000000000000000000000"}})
	if errs != nil {
		t.Fatal(errs)
	}
	dir, err := bot.NewDirectory([]bot.Recipient{
		{ID: "dana", Name: "Dana Weber", Phone: "+4915100000001", Channel: bot.ChannelWhatsApp},
		{ID: "omar", Name: "Omar Haddad", Phone: "+14155550101", Channel: bot.ChannelSMS},
	}, []bot.Audience{{Name: "all", Members: []string{"dana", "omar"}}}, []*bot.Template{tpl})
	if err != nil {
		t.Fatal(err)
	}
	clock := bottest.NewClock(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	for _, noWhatsApp := range []bool{false, true} {
		p := &bot.Planner{Directory: dir, Phones: store, Clock: clock, NoWhatsApp: noWhatsApp}
		plan, err := p.Plan(context.Background(), bot.Incident{ID: "INC-1", Title: "Checkout down"}, bot.Draft{Audiences: []string{"all"}, Template: "investigating"})
		if err != nil {
			t.Fatal(err)
		}
		wantWA := 1
		if noWhatsApp {
			wantWA = 0
		}
		if plan.PerChannel[bot.ChannelWhatsApp] != wantWA || plan.PerChannel[bot.ChannelSMS] != 2-wantWA {
			t.Errorf("NoWhatsApp=%v: per channel %v, want %d WhatsApp", noWhatsApp, plan.PerChannel, wantWA)
		}
	}
}
