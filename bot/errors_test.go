package bot_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/heraldops/herald/bot"
)

func TestRefusalTellsThePersonsSituationFromHeraldsFault(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"missing role", fmt.Errorf("declaring: %w", &bot.ForbiddenError{Role: bot.RoleResponder, Action: "declare an incident"}), true},
		{"draft problems", &bot.ValidationError{Problems: map[string]string{"template": "Choose a template."}}, true},
		{"not found", fmt.Errorf("loading INC-9: %w", bot.ErrNotFound), true},
		{"already decided", &bot.DecidedError{BroadcastID: "INC-1-B1", State: bot.BroadcastApproved}, true},
		{"store down", errors.New("redis: connection refused"), false},
	}
	for _, tt := range tests {
		if got := bot.Refusal(tt.err); got != tt.want {
			t.Errorf("%s: Refusal = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestErrorRefIsShortStableAndTellsErrorsApart(t *testing.T) {
	a, b := errors.New("redis: connection refused"), errors.New("slack: channel_not_found")
	if !regexp.MustCompile(`^E-[0-9A-F]{6}$`).MatchString(bot.ErrorRef(a)) {
		t.Errorf("ErrorRef = %q, want E- and six hex digits", bot.ErrorRef(a))
	}
	if bot.ErrorRef(a) != bot.ErrorRef(errors.New(a.Error())) {
		t.Error("the same error text gave two references; the log line could not be found")
	}
	if bot.ErrorRef(a) == bot.ErrorRef(b) {
		t.Error("two different errors gave one reference")
	}
}
