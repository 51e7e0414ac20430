package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/heraldops/herald/bot"
)

// Twilio sends at most 10 media items with one message.
const maxMedia = 10

var messageSID = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// ParseInbound reads the form Twilio posts for an incoming SMS or WhatsApp
// message (fixtures/twilio/inbound_*.form). The error text is a reason fit
// for a 400 answer; it never quotes a phone number.
func ParseInbound(form url.Values, now time.Time) (bot.Inbound, error) {
	sid := form.Get("MessageSid")
	if !messageSID.MatchString(sid) {
		return bot.Inbound{}, errors.New("MessageSid is missing or not a message SID")
	}
	from, fromCh, err := parseAddress("From", form.Get("From"))
	if err != nil {
		return bot.Inbound{}, err
	}
	to, toCh, err := parseAddress("To", form.Get("To"))
	if err != nil {
		return bot.Inbound{}, err
	}
	if fromCh != toCh {
		return bot.Inbound{}, errors.New("From and To are on different channels")
	}
	in := bot.Inbound{
		MessageSID:  sid,
		From:        from,
		To:          to,
		Channel:     fromCh,
		Body:        strings.ToValidUTF8(form.Get("Body"), "\uFFFD"),
		ProfileName: strings.ToValidUTF8(form.Get("ProfileName"), "\uFFFD"),
		ReceivedAt:  now,
	}
	n := 0
	if v := form.Get("NumMedia"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxMedia {
			return bot.Inbound{}, fmt.Errorf("NumMedia must be a number from 0 to %d", maxMedia)
		}
	}
	for i := range n {
		key := "MediaUrl" + strconv.Itoa(i)
		u, err := url.Parse(form.Get(key))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bot.Inbound{}, fmt.Errorf("%s is missing or not an http(s) URL", key)
		}
		in.Media = append(in.Media, bot.Media{
			URL:         u.String(),
			ContentType: form.Get("MediaContentType" + strconv.Itoa(i)),
		})
	}
	return in, nil
}

// ParseStatus reads the form Twilio posts to a StatusCallback URL
// (fixtures/twilio/status_callback_*.form).
func ParseStatus(form url.Values, now time.Time) (bot.StatusUpdate, error) {
	sid := form.Get("MessageSid")
	if sid == "" {
		sid = form.Get("SmsSid") // older callbacks
	}
	if !messageSID.MatchString(sid) {
		return bot.StatusUpdate{}, errors.New("MessageSid is missing or not a message SID")
	}
	status := form.Get("MessageStatus")
	if status == "" {
		status = form.Get("SmsStatus")
	}
	if status == "" {
		return bot.StatusUpdate{}, errors.New("MessageStatus is missing")
	}
	state, ok := MapStatus(status)
	if !ok {
		return bot.StatusUpdate{}, fmt.Errorf("MessageStatus %q is not a status of an outgoing message", maskPhones(truncate(status, 32)))
	}
	u := bot.StatusUpdate{SID: sid, Status: state, At: now}
	if v := form.Get("ErrorCode"); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil || code < 0 {
			return bot.StatusUpdate{}, errors.New("ErrorCode is not a number")
		}
		u.ErrorCode = code
	}
	u.ErrorMessage = strings.ToValidUTF8(form.Get("ErrorMessage"), "\uFFFD")
	if state == bot.DeliveryFailed || state == bot.DeliveryUndelivered {
		// Twilio answered (HTTP 200 in spirit): the code alone says why.
		u.Failure, u.Provider = Classify(http.StatusOK, u.ErrorCode), ProviderName
	}
	if v := form.Get("To"); v != "" {
		to, ch, err := parseAddress("To", v)
		if err != nil {
			return bot.StatusUpdate{}, err
		}
		u.To, u.Channel = to, ch
	}
	if form.Get("ChannelPrefix") == "whatsapp" {
		u.Channel = bot.ChannelWhatsApp
	}
	return u, nil
}

// parseAddress splits a Twilio address ("+1555...", "whatsapp:+1555...")
// into an E.164 number and its channel.
func parseAddress(field, v string) (string, bot.Channel, error) {
	ch := bot.ChannelSMS
	if rest, ok := strings.CutPrefix(v, whatsappPrefix); ok {
		v, ch = rest, bot.ChannelWhatsApp
	}
	if v == "" {
		return "", "", fmt.Errorf("%s is missing", field)
	}
	if !e164.MatchString(v) {
		return "", "", fmt.Errorf("%s is not an E.164 phone number", field)
	}
	return v, ch, nil
}

// truncate shortens attacker-supplied text before it is echoed in an error.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
