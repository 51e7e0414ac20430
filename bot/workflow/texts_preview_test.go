package workflow_test

import (
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

func TestSMSLineNamesWhatMakesItUCS2AndTheFix(t *testing.T) {
	long := "Checkout is failing for card payments in the EU. We are rolling back the release from 14:05 and expect recovery by 15:00"
	tests := []struct{ name, body, want string }{
		{"plain text", "Checkout down, we are on it.", "1 segment, GSM-7, 28 characters"},
		{"typographic quote and dash cost a segment",
			long + " — we’ll update.",
			"3 segments, UCS-2, 136 characters because of — and ’: type - and ' instead and it takes 1 segment"},
		{"an emoji has no plain look-alike", "Checkout down 🔥", "1 segment, UCS-2, 15 characters because of 🔥"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := workflow.SMSLine(bot.CountSMS(tt.body), tt.body); got != tt.want {
				t.Errorf("SMSLine = %q\nwant       %q", got, tt.want)
			}
		})
	}
}

func TestWhatsAppLineShowsWhatPhonesShowNotTheTemplateID(t *testing.T) {
	p := workflow.Preview{WhatsAppTemplate: "HX0000000000000000000000000000000", WhatsAppVars: map[string]string{"1": "Checkout down", "2": "15:30"},
		PerChannel: map[bot.Channel]int{bot.ChannelWhatsApp: 5}, FreeFormWhatsApp: 2}
	want := "2 get the SMS text above (they wrote within 24 hours), 3 the approved template, filled with “Checkout down” and “15:30”"
	if got := workflow.WhatsAppLine(p); got != want {
		t.Errorf("WhatsAppLine = %q\nwant         %q", got, want)
	}
	if got := workflow.WhatsAppLine(workflow.Preview{PerChannel: map[bot.Channel]int{bot.ChannelSMS: 3}}); got != "" {
		t.Errorf("nobody on WhatsApp, yet WhatsAppLine = %q", got)
	}
}
