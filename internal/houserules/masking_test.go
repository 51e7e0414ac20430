package houserules

import (
	"testing"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/logging"
)

// TestTextMaskingMatchesMaskPhone: a number found in a log line is masked
// exactly as bot.MaskPhone masks it in chat, audit and terminal output, so
// people can match a log line to what they saw.
func TestTextMaskingMatchesMaskPhone(t *testing.T) {
	for _, n := range []string{"+4915112345678", "+14155550101", "whatsapp:+4915100000001"} {
		if got, want := logging.MaskText("to "+n), "to "+bot.MaskPhone(n); got != want {
			t.Errorf("logging.MaskText(%q) = %q, want %q", "to "+n, got, want)
		}
	}
}
