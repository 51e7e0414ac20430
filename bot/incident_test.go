package bot_test

import (
	"testing"

	"github.com/heraldops/herald/bot"
)

func TestParseIncidentID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"INC-42", "INC-42", true},
		{"inc-7", "INC-7", true},
		{"42", "INC-42", true},
		{" INC-3 ", "INC-3", true},
		{"INC-", "", false},
		{"INC-0042x", "", false},
		{"0", "", false},
		{"1000000000", "", false}, // ten digits: longer than any id herald hands out or reads back
		{"INC-1000000000", "", false},
		{"checkout", "", false},
	}
	for _, tt := range tests {
		got, err := bot.ParseIncidentID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseIncidentID(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if ids := bot.IncidentIDsIn("re INC-42 and inc-7, not INC-42 again"); len(ids) != 2 || ids[0] != "INC-42" || ids[1] != "INC-7" {
		t.Errorf("IncidentIDsIn = %v", ids)
	}
}
