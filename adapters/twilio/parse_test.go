package twilio

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

var received = time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)

func TestParseInboundFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    bot.Inbound
	}{
		{"inbound_sms.form", bot.Inbound{
			MessageSID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", From: "+15017122661", To: "+15558675310",
			Channel: bot.ChannelSMS, Body: "ACK 42", ReceivedAt: received,
		}},
		{"inbound_whatsapp.form", bot.Inbound{
			MessageSID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", From: "+15017122661", To: "+14155238886",
			Channel: bot.ChannelWhatsApp, Body: "ACK 42", ProfileName: "Test User", ReceivedAt: received,
		}},
		{"inbound_whatsapp_media.form", bot.Inbound{
			MessageSID: "MMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", From: "+15017122661", To: "+14155238886",
			Channel: bot.ChannelWhatsApp, ProfileName: "Test User", ReceivedAt: received,
			Media: []bot.Media{{
				URL:         "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/MMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media/MEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				ContentType: "image/jpeg",
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := ParseInbound(twilioapi.FixtureForm(tt.fixture), received)

			if err != nil {
				t.Fatalf("ParseInbound: %v", err)
			}
			if !sameInbound(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func sameInbound(a, b bot.Inbound) bool {
	if len(a.Media) != len(b.Media) {
		return false
	}
	for i := range a.Media {
		if a.Media[i] != b.Media[i] {
			return false
		}
	}
	a.Media, b.Media = nil, nil
	return a.MessageSID == b.MessageSID && a.From == b.From && a.To == b.To && a.Channel == b.Channel &&
		a.Body == b.Body && a.ProfileName == b.ProfileName && a.ReceivedAt.Equal(b.ReceivedAt)
}

func TestParseStatusFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    bot.StatusUpdate
	}{
		{"status_callback_delivered.form", bot.StatusUpdate{
			SID: "SMdf55df64a2ff4920bb0748193cfbb640", Status: bot.DeliveryDelivered,
			To: "+31612345678", Channel: bot.ChannelWhatsApp, At: received,
		}},
		{"status_callback_read_whatsapp.form", bot.StatusUpdate{
			SID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Status: bot.DeliveryRead,
			To: "+15017122661", Channel: bot.ChannelWhatsApp, At: received,
		}},
		{"status_callback_failed_63016.form", bot.StatusUpdate{
			SID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Status: bot.DeliveryFailed, ErrorCode: 63016,
			Failure: bot.FailureChannelUnreachable, Provider: "Twilio",
			To: "+15017122661", Channel: bot.ChannelWhatsApp, At: received,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := ParseStatus(twilioapi.FixtureForm(tt.fixture), received)

			if err != nil {
				t.Fatalf("ParseStatus: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Every fixture the shared set has parses, so a new one cannot be forgotten.
func TestEveryFormFixtureParses(t *testing.T) {
	names := twilioapi.FixtureNames("*.form")
	if len(names) == 0 {
		t.Fatal("no form fixtures")
	}
	for _, name := range names {
		form := twilioapi.FixtureForm(name)
		var err error
		switch {
		case strings.HasPrefix(name, "inbound_"):
			_, err = ParseInbound(form, received)
		case strings.HasPrefix(name, "status_callback_"):
			_, err = ParseStatus(form, received)
		default:
			t.Errorf("fixture %s is neither inbound nor status: add it to this test", name)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// edit returns a fixture form with some fields changed ("" deletes).
func edit(name string, changes map[string]string) url.Values {
	f := twilioapi.FixtureForm(name)
	for k, v := range changes {
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
	}
	return f
}

func TestParseInboundRefusesMalformed(t *testing.T) {
	tests := []struct {
		name    string
		form    url.Values
		mention string
	}{
		{"no MessageSid", edit("inbound_sms.form", map[string]string{"MessageSid": ""}), "MessageSid"},
		{"MessageSid not a SID", edit("inbound_sms.form", map[string]string{"MessageSid": "hello"}), "MessageSid"},
		{"no From", edit("inbound_sms.form", map[string]string{"From": ""}), "From"},
		{"From not E.164", edit("inbound_sms.form", map[string]string{"From": "015112345678"}), "From"},
		{"WhatsApp From without a number", edit("inbound_whatsapp.form", map[string]string{"From": "whatsapp:"}), "From"},
		{"To not E.164", edit("inbound_sms.form", map[string]string{"To": "+1"}), "To"},
		{"channels differ", edit("inbound_whatsapp.form", map[string]string{"To": "+14155238886"}), "channels"},
		{"NumMedia not a number", edit("inbound_sms.form", map[string]string{"NumMedia": "one"}), "NumMedia"},
		{"NumMedia too large", edit("inbound_sms.form", map[string]string{"NumMedia": "11"}), "NumMedia"},
		{"media URL missing", edit("inbound_whatsapp_media.form", map[string]string{"NumMedia": "2"}), "MediaUrl1"},
		{"media URL not http", edit("inbound_whatsapp_media.form", map[string]string{"MediaUrl0": "javascript:alert(1)"}), "MediaUrl0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInbound(tt.form, received)

			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error = %v, want one naming %s", err, tt.mention)
			}
			if phoneLike.MatchString(err.Error()) {
				t.Errorf("error %q quotes a number", err)
			}
		})
	}
}

func TestParseStatusRefusesMalformed(t *testing.T) {
	tests := []struct {
		name    string
		form    url.Values
		mention string
	}{
		{"no MessageSid", edit("status_callback_delivered.form", map[string]string{"MessageSid": "", "SmsSid": ""}), "MessageSid"},
		{"no status", edit("status_callback_delivered.form", map[string]string{"MessageStatus": "", "SmsStatus": ""}), "MessageStatus"},
		{"unknown status", edit("status_callback_delivered.form", map[string]string{"MessageStatus": "exploded"}), "exploded"},
		{"inbound status", edit("status_callback_delivered.form", map[string]string{"MessageStatus": "received"}), "received"},
		{"ErrorCode not a number", edit("status_callback_failed_63016.form", map[string]string{"ErrorCode": "63O16"}), "ErrorCode"},
		{"To not E.164", edit("status_callback_delivered.form", map[string]string{"To": "whatsapp:+31 6 1234"}), "To"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStatus(tt.form, received)

			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error = %v, want one naming %s", err, tt.mention)
			}
		})
	}
}

func TestParseStatusFallsBackToSmsFields(t *testing.T) {
	// Older callbacks carry only SmsSid/SmsStatus.
	form := edit("status_callback_delivered.form", map[string]string{"MessageSid": "", "MessageStatus": ""})

	got, err := ParseStatus(form, received)

	if err != nil || got.SID != "SMdf55df64a2ff4920bb0748193cfbb640" || got.Status != bot.DeliveryDelivered {
		t.Errorf("got %+v, %v", got, err)
	}
}

func addFormSeeds(f *testing.F, prefix string) {
	for _, name := range twilioapi.FixtureNames(prefix + "*.form") {
		f.Add(strings.TrimSpace(string(twilioapi.Fixture(name))))
	}
}

func FuzzParseInbound(f *testing.F) {
	addFormSeeds(f, "inbound_")
	f.Add("MessageSid=SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&From=whatsapp%3A%2B15017122661&To=%2B1&NumMedia=-1")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		in, err := ParseInbound(form, received)
		if err != nil {
			if phoneLike.MatchString(err.Error()) {
				t.Errorf("error %q quotes a number", err)
			}
			return
		}
		// What the core is promised about a parsed message.
		if !e164.MatchString(in.From) || !e164.MatchString(in.To) || !in.Channel.Valid() || in.MessageSID == "" {
			t.Errorf("accepted an inbound message the core cannot use: %+v", in)
		}
		if len(in.Media) > maxMedia {
			t.Errorf("%d media", len(in.Media))
		}
		for _, m := range in.Media {
			if !strings.HasPrefix(m.URL, "http://") && !strings.HasPrefix(m.URL, "https://") {
				t.Errorf("media URL %q", m.URL)
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	addFormSeeds(f, "status_callback_")
	f.Add("MessageSid=SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&MessageStatus=sent&ErrorCode=-5")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		u, err := ParseStatus(form, received)
		if err != nil {
			return
		}
		if u.SID == "" || u.Status.Rank() < 0 || u.ErrorCode < 0 {
			t.Errorf("accepted a status the core cannot use: %+v", u)
		}
		if u.To != "" && !e164.MatchString(u.To) {
			t.Errorf("To %q is not E.164", u.To)
		}
	})
}
