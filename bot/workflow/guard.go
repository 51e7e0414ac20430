package workflow

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/guard"
)

// guardFindings scans every text the draft would send when one of its
// audiences is external: each locale's SMS body (not only the locales this
// audience has today: a recipient may be added before it is approved) and
// the WhatsApp template's variables. Internal audiences are not scanned: an
// IP address is what it-ops needs to read.
func (s *Service) guardFindings(tpl *bot.Template, inc bot.Incident, d bot.Draft) ([]guard.Finding, error) {
	if !s.Directory.External(d.Audiences) {
		return nil, nil
	}
	data := bot.TemplateDataFor(inc, d)
	var texts []guard.Text
	for _, loc := range append([]string{""}, tpl.Locales()...) {
		r, err := tpl.Render(loc, data)
		if err != nil {
			return nil, fmt.Errorf("rendering the %q text for the content guard: %w", loc, err)
		}
		where := "SMS"
		if loc != "" {
			where = "SMS (" + loc + ")"
		}
		texts = append(texts, guard.Text{Where: where, Body: r.Body})
		if loc != "" {
			continue // the WhatsApp template is the same in every locale
		}
		for _, k := range slices.Sorted(maps.Keys(r.ContentVariables)) {
			texts = append(texts, guard.Text{Where: "WhatsApp {{" + k + "}}", Body: r.ContentVariables[k]})
		}
	}
	return guard.Scanner{InternalDomains: s.Settings.Guard.InternalDomains}.Scan(texts), nil
}

// broadcastFindings scans a stored broadcast again, for the audit entry of
// its approval: the approver saw what the request showed, and the request
// was rendered from the same draft. Failures are reported, not returned: the
// approval stands either way.
func (s *Service) broadcastFindings(ctx context.Context, b bot.Broadcast) []guard.Finding {
	tpl, ok := s.Directory.Template(b.Draft.Template)
	if !ok {
		return nil
	}
	inc, err := s.Incidents.Incident(ctx, b.Draft.IncidentID)
	if err != nil {
		s.report(ctx, fmt.Errorf("loading incident %s for the guard findings of %s: %w", b.Draft.IncidentID, b.ID, err))
		return nil
	}
	fs, err := s.guardFindings(tpl, inc, b.Draft)
	if err != nil {
		s.report(ctx, fmt.Errorf("scanning %s for the audit entry: %w", b.ID, err))
	}
	return fs
}
