package relay_test

import (
	"strings"
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
)

// The relay decides by the adapter's kind, never by a vendor's code: a code
// that meant "unsubscribed" at Twilio means nothing here unless the kind
// says so, and the kind works without any code.
func TestRelayDecidesByKindNotByCode(t *testing.T) {
	tests := []struct {
		name       string
		err        *bot.ProviderError
		wantOptOut bool
	}{
		{"unsubscribed kind without a code opts out", &bot.ProviderError{Kind: bot.FailureUnsubscribed, Provider: "Acme"}, true},
		{"21610 classified permanent does not", &bot.ProviderError{Kind: bot.FailurePermanent, Provider: "Acme", Code: 21610}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRelayFixture(t, true)
			f.msgr.failNext(bot.ChannelSMS, phOmar, tt.err)
			b := f.approved("B-7-1", []string{"it-ops"}, false)
			f.start(b)
			if errs := f.drain(); len(errs) > 0 {
				t.Fatal(errs)
			}
			if d := f.delivery(b.ID, "omar"); d.State != bot.DeliveryFailed || d.Attempts[0].Failure != tt.err.Kind {
				t.Errorf("delivery %s, attempt failure %q, want failed %s", d.State, d.Attempts[0].Failure, tt.err.Kind)
			}
			opted, _ := f.store.OptedOut(f.ctx, []string{phOmar})
			if opted[phOmar] != tt.wantOptOut {
				t.Errorf("opted out = %v, want %v", opted[phOmar], tt.wantOptOut)
			}
			if n := f.broadcast(b.ID).FailedByKind[tt.err.Kind]; n != 1 {
				t.Errorf("FailedByKind[%s] = %d, want 1", tt.err.Kind, n)
			}
		})
	}
}

func TestWhatsAppFallsBackOnTheUnreachableKindWhateverTheCode(t *testing.T) {
	f := newRelayFixture(t, true)
	f.msgr.failNext(bot.ChannelWhatsApp, phLea, &bot.ProviderError{Kind: bot.FailureChannelUnreachable, Provider: "Acme", Code: 4711})
	b := f.approved("B-7-1", []string{"it-ops"}, false)
	f.start(b)
	if errs := f.drain(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if d := f.delivery(b.ID, "lea"); !d.FellBack || d.State != bot.DeliveryQueued {
		t.Errorf("lea: fell back %v, state %s; want the SMS fallback queued", d.FellBack, d.State)
	}
}

// The summary says why in words and names the provider's codes for the
// responders who look them up; a code never stands alone.
func TestSummaryNamesFailuresInWordsWithTheProvidersCodes(t *testing.T) {
	b := bot.Broadcast{
		ID: "INC-7-B1", Total: 6, Provider: "Twilio",
		FailedByKind: map[bot.FailureKind]int{bot.FailurePermanent: 2, bot.FailureUnsubscribed: 1},
		FailedByCode: map[int]int{21211: 1, 30007: 1, 21610: 1},
	}
	c := bot.Counts{bot.DeliveryQueued: 3, bot.DeliveryFailed: 3}

	s := relay.Summary(b, c)
	m := relay.ProgressMessage(b, c, false)

	want := "refused or undeliverable ×2, unsubscribed (STOP) ×1; Twilio 21211 ×1, Twilio 21610 ×1, Twilio 30007 ×1"
	if !strings.Contains(s, want) || m.Text != "Failed: "+want {
		t.Errorf("summary %q / progress %q, want %q in both", s, m.Text, want)
	}
}
