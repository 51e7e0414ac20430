package bot

import (
	"context"
	"fmt"
	"time"
)

// WhatsAppSessionWindow is how long after a person's last WhatsApp message
// herald may write to them free-form (WhatsApp's customer service window).
const WhatsAppSessionWindow = 24 * time.Hour

// PlannedRecipient is one person a broadcast will reach, with the channel
// and the exact text chosen for them.
type PlannedRecipient struct {
	Recipient Recipient
	Channel   Channel
	// FreeForm is true when a WhatsApp message may carry Rendered.Body because
	// the person's session window is open; otherwise WhatsApp uses the template.
	FreeForm bool
	Rendered Rendered
}

// Plan is what a draft would send: who gets it, on which channel, with which
// text. Preview shows it; the relay turns it into deliveries.
type Plan struct {
	Incident   Incident
	Template   *Template
	Recipients []PlannedRecipient
	OptedOut   []Recipient
	// PerChannel counts Recipients by channel.
	PerChannel       map[Channel]int
	ApprovalRequired bool
}

// Planner expands drafts into plans. It is shared by the preview and the relay
// so that what the responder sees is exactly what is sent.
type Planner struct {
	Directory *Directory
	Phones    PhoneStore
	Clock     Clock
	// NoWhatsApp is set when no WhatsApp sender is configured: everyone is
	// planned on SMS, as with Draft.SMSOnly.
	NoWhatsApp bool
}

// Plan expands the draft's audiences, de-duplicates people by phone, drops
// opted-out numbers, picks each person's channel and renders their text.
func (p *Planner) Plan(ctx context.Context, inc Incident, d Draft) (Plan, error) {
	tpl, ok := p.Directory.Template(d.Template)
	if !ok {
		return Plan{}, fmt.Errorf("unknown template %q", d.Template)
	}
	people, err := p.Directory.Expand(d.Audiences)
	if err != nil {
		return Plan{}, err
	}
	phones := make([]string, len(people))
	var waPhones []string
	for i, r := range people {
		phones[i] = r.Phone
		if r.Channel == ChannelWhatsApp && !d.SMSOnly && !p.NoWhatsApp {
			waPhones = append(waPhones, r.Phone)
		}
	}
	optedOut, err := p.Phones.OptedOut(ctx, phones)
	if err != nil {
		return Plan{}, fmt.Errorf("checking opt-outs: %w", err)
	}
	open := map[string]bool{}
	if len(waPhones) > 0 {
		if open, err = p.Phones.OpenSessions(ctx, waPhones, p.Clock.Now()); err != nil {
			return Plan{}, fmt.Errorf("checking WhatsApp session windows: %w", err)
		}
	}
	data := TemplateDataFor(inc, d)
	rendered := map[string]Rendered{}
	plan := Plan{
		Incident:         inc,
		Template:         tpl,
		PerChannel:       map[Channel]int{},
		ApprovalRequired: p.Directory.ApprovalRequired(d.Audiences),
	}
	for _, r := range people {
		if optedOut[r.Phone] {
			plan.OptedOut = append(plan.OptedOut, r)
			continue
		}
		out, ok := rendered[r.Locale]
		if !ok {
			if out, err = tpl.Render(r.Locale, data); err != nil {
				return Plan{}, err
			}
			rendered[r.Locale] = out
		}
		pr := PlannedRecipient{Recipient: r, Channel: r.Channel, Rendered: out}
		if d.SMSOnly || p.NoWhatsApp || !pr.Channel.Valid() {
			pr.Channel = ChannelSMS
		}
		if pr.Channel == ChannelWhatsApp {
			pr.FreeForm = open[r.Phone]
			if !pr.FreeForm && out.ContentSID == "" {
				// Outside the session window WhatsApp only carries approved
				// templates; without one, SMS is the only way to reach them.
				pr.Channel = ChannelSMS
			}
		}
		plan.PerChannel[pr.Channel]++
		plan.Recipients = append(plan.Recipients, pr)
	}
	return plan, nil
}
