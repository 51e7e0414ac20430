package bot_test

import (
	"testing"

	"github.com/heraldops/herald/bot"
)

func TestMaskPhone(t *testing.T) {
	tests := map[string]string{
		"+4915112345678":          "+49151*****78",
		"whatsapp:+4915112345678": "whatsapp:+49151*****78",
		"+1415":                   "+*****",
		"":                        "+*****",
	}
	for in, want := range tests {
		if got := bot.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
