package demo

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldops/herald/internal/config"
)

type phoneCard struct{ PhoneState }

// phoneCards are the seeded stakeholders, then the people who drive herald
// by SMS when Slack is down: the responder, the approver and the watchers.
func phoneCards(cfg *config.Config) []*phoneCard {
	var out []*phoneCard
	for _, r := range cfg.Recipients {
		p := &phoneCard{PhoneState{ID: r.ID, Name: r.Name, Number: r.Phone, Channel: r.Channel, ReplyVia: r.Channel,
			Locale: r.Locale, Role: "stakeholder", Audiences: []string{}}}
		for _, a := range cfg.Audiences {
			if slices.Contains(a.Members, r.ID) {
				p.Audiences = append(p.Audiences, a.Name)
			}
		}
		switch {
		case slices.Contains(outsideWindow, r.ID):
			p.Note = "no message in 24 h: WhatsApp template only"
		case slices.Contains(noWhatsApp, r.ID):
			p.Note = "no WhatsApp account: falls back to SMS"
			p.ReplyVia = "sms"
		}
		out = append(out, p)
	}
	staff := func(id, name, phone, role, note string) {
		out = append(out, &phoneCard{PhoneState{ID: id, Name: name, Number: phone, Channel: "sms", ReplyVia: "sms",
			Role: role, Note: note, Audiences: []string{}}})
	}
	for i, ph := range cfg.RoleConfig.ResponderPhones {
		staff(fmt.Sprintf("responder-%d", i+1), staffName("responder", i), ph, "responder", "texts STATUS, NOTIFY, APPROVE when Slack is down")
	}
	for i, ph := range cfg.RoleConfig.ApproverPhones {
		staff(fmt.Sprintf("approver-%d", i+1), staffName("approver", i), ph, "approver", "approves by SMS code when Slack is down")
	}
	for i, w := range cfg.Watchers {
		staff(fmt.Sprintf("watcher-%d", i+1), w.Name, w.Phone, "watcher", "gets thread digests when Slack is down")
	}
	return out
}

// staffName names the i-th responder or approver phone after the seeded
// Slack user with that role.
func staffName(role string, i int) string {
	n := 0
	for _, u := range seedUsers {
		if u.Role == role {
			if n == i {
				return u.Name
			}
			n++
		}
	}
	return strings.ToUpper(role[:1]) + role[1:]
}

// PhoneSendRequest is a phone texting herald's number.
type PhoneSendRequest struct {
	Phone string `json:"phone"` // the card's id
	Text  string `json:"text"`
	Photo bool   `json:"photo"` // attach a photo, as MMS or WhatsApp media
}

func (c *Console) phoneSend(ctx context.Context, in PhoneSendRequest) (any, error) {
	p, ok := c.byID[in.Phone]
	if !ok {
		return nil, badRequest("unknown phone " + in.Phone)
	}
	text := strings.TrimSpace(in.Text)
	if text == "" && !in.Photo {
		return nil, badRequest("nothing to send")
	}
	tw := c.o.Twilio
	form := tw.InboundSMS(p.Number, c.o.SMSFrom, text)
	if p.ReplyVia == "whatsapp" {
		form = tw.InboundWhatsApp(p.Number, strings.TrimPrefix(c.o.WhatsAppFrom, "whatsapp:"), p.Name, text)
	}
	media := ""
	if in.Photo {
		media = c.o.HeraldURL + "/demo/photo.jpg"
		form.Set("NumMedia", "1")
		form.Set("MediaUrl0", media)
		form.Set("MediaContentType0", "image/jpeg")
		if p.ReplyVia == "whatsapp" {
			form.Set("MessageType", "image")
		}
	}
	b := Bubble{SID: form.Get("MessageSid"), Dir: "out", Channel: p.ReplyVia, Body: text, Media: media,
		Status: "received", At: time.Now().UnixMilli()}
	c.mu.Lock()
	c.inbound = append(c.inbound, inboundMsg{Phone: p.Number, Bubble: b})
	c.mu.Unlock()
	c.changed()
	code, body, err := tw.SendInbound(ctx, c.o.HeraldURL+"/twilio/inbound", form)
	if err != nil {
		return nil, fmt.Errorf("texting herald: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("herald answered the inbound message with HTTP %d: %s", code, body)
	}
	return map[string]any{"ok": true, "sid": b.SID}, nil
}

var photo struct {
	once sync.Once
	jpeg []byte
}

// servePhoto is the picture a phone sends: made here, so nothing is
// fetched from outside.
func servePhoto(w http.ResponseWriter, r *http.Request) {
	photo.once.Do(func() {
		img := image.NewRGBA(image.Rect(0, 0, 320, 200))
		for y := 0; y < 200; y++ {
			for x := 0; x < 320; x++ {
				// A server rack at dusk, more or less.
				c := color.RGBA{R: uint8(40 + y/3), G: uint8(60 + x/8), B: uint8(120 + y/4), A: 255}
				if x > 110 && x < 210 && y > 30 && y < 180 {
					c = color.RGBA{R: 30, G: 34, B: 40, A: 255}
					if (y-30)%24 < 4 {
						c = color.RGBA{R: 70, G: 76, B: 86, A: 255}
					}
					if x > 190 && x < 198 && (y-30)%24 > 8 && (y-30)%24 < 14 {
						c = color.RGBA{R: 240, G: 60, B: 60, A: 255}
					}
				}
				img.Set(x, y, c)
			}
		}
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
		photo.jpeg = buf.Bytes()
	})
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = w.Write(photo.jpeg)
}
