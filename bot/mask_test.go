package bot_test

import (
	"testing"

	"github.com/heraldops/herald/bot"
)

func TestMaskPhone(t *testing.T) {
	tests := map[string]string{
		"+4915112345678":          "+49151*****78",
		"whatsapp:+4915112345678": "whatsapp:+49151*****78",
		"whatsapp:+4915100000001": "whatsapp:+49151*****01",
		"4915112345678":           "+49151*****78", // known to be a phone: masked even without +
		"+1 415 555 0101":         "+14155*****01",
		"+1415":                   "+*****", // too short to show any digit safely
		"+4915":                   "+*****",
		"":                        "+*****",
	}
	for in, want := range tests {
		if got := bot.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
