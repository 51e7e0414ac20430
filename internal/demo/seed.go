package demo

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/heraldops/herald/internal/config"
)

// SeedConfig is the seeded organisation's herald.yaml.
//
//go:embed herald.yaml
var SeedConfig []byte

// ConfigFileName is the name the seed is written under.
const ConfigFileName = "herald.yaml"

// WriteConfig writes the seed into dir (created if missing) and returns the
// file's path. It refuses to overwrite a herald.yaml already there: that is
// likely the user's own.
func WriteConfig(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	p := filepath.Join(dir, ConfigFileName)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("writing the demo config: %w", err)
	}
	if _, err := f.Write(SeedConfig); err != nil {
		f.Close()
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

// The seeded people whose WhatsApp is special, so that the page shows both
// ways WhatsApp falls short.
var (
	// outsideWindow have not written to herald in the last 24 hours: WhatsApp
	// only carries the approved template (Twilio Content) to them.
	outsideWindow = []string{"claire"}
	// noWhatsApp have no WhatsApp account behind their number: Twilio
	// reports 63003 and herald falls back to SMS.
	noWhatsApp = []string{"nora"}
)

// Seeded Slack users: the responder and the approver the console acts as.
var seedUsers = []User{
	{ID: "U0RESP1", Name: "Sam Rivera", Handle: "sam", Role: "responder"},
	{ID: "U0LEAD1", Name: "Jordan Lee", Handle: "jordan", Role: "approver"},
}

// User is a seeded Slack user the console can act as.
type User struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Handle string `json:"handle"`
	Role   string `json:"role"`
}

// Users are the Slack users the console can act as.
func Users() []User { return slices.Clone(seedUsers) }

// OpenSessions are the WhatsApp numbers whose 24-hour window is open at
// start (they wrote in recently): every WhatsApp recipient but those outside
// the window. herald then sends them the free-form text.
func OpenSessions(cfg *config.Config) []string {
	var out []string
	for _, r := range cfg.Recipients {
		if r.Channel == "whatsapp" && !slices.Contains(outsideWindow, r.ID) {
			out = append(out, r.Phone)
		}
	}
	return out
}

// WhatsAppFailures maps the WhatsApp address of each seeded person without
// WhatsApp to the error code Twilio's status callback reports for them.
func WhatsAppFailures(cfg *config.Config) map[string]int {
	out := map[string]int{}
	for _, r := range cfg.Recipients {
		if slices.Contains(noWhatsApp, r.ID) {
			out["whatsapp:"+r.Phone] = 63003 // Channel could not find To address
		}
	}
	return out
}

// contentTexts are the approved WhatsApp templates' texts, as Twilio's
// Content API holds them for the seeded content SIDs: the phones show what
// WhatsApp would show, with the variables filled in.
var contentTexts = map[string]string{
	"HX1a2b3c4d5e6f708192a3b4c5d6e7f801": "Service notice: {{1}}. We are investigating. Next update {{2}}. Reply to this message to reach the incident team.",
	"HX1a2b3c4d5e6f708192a3b4c5d6e7f802": "Update on {{1}}: {{2}} Next update {{3}}.",
	"HX1a2b3c4d5e6f708192a3b4c5d6e7f803": "{{1}} is resolved. Thank you for your patience.",
}
