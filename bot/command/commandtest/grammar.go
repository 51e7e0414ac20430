package commandtest

import (
	_ "embed"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/heraldops/herald/bot/command"
)

//go:embed grammar.json
var grammarJSON []byte

// Case is one line and what it must parse to: Want or Err on every surface,
// except that SMSErr, when set, is what SMS answers instead (SMS asks for
// more than chat: UPDATE and NOTIFY name their incident, NOTIFY its audience
// and template).
type Case struct {
	In     string              `json:"in"`
	Want   *command.Command    `json:"want"`
	Err    *command.UsageError `json:"err"`
	SMSErr *command.UsageError `json:"sms_err"`
}

// Grammar returns the shared cases.
func Grammar(tb testing.TB) []Case {
	tb.Helper()
	var file struct {
		Cases []Case `json:"cases"`
	}
	if err := json.Unmarshal(grammarJSON, &file); err != nil {
		tb.Fatalf("reading grammar.json: %v", err)
	}
	for _, c := range file.Cases {
		if (c.Want == nil) == (c.Err == nil) {
			tb.Fatalf("grammar.json: %q needs exactly one of want and err", c.In)
		}
	}
	return file.Cases
}

// Expect returns what the case wants on surface s: a command or a refusal.
func (c Case) Expect(s command.Surface) (*command.Command, *command.UsageError) {
	if s == command.SMS && c.SMSErr != nil {
		return nil, c.SMSErr
	}
	return c.Want, c.Err
}

// Check fails tb unless got and err are what the case wants on surface s.
func (c Case) Check(tb testing.TB, s command.Surface, got command.Command, err error) {
	tb.Helper()
	want, wantErr := c.Expect(s)
	if wantErr != nil {
		var ue *command.UsageError
		if !errors.As(err, &ue) || *ue != *wantErr {
			tb.Fatalf("%s %q: got %+v, %v; want refusal %+v", s, c.In, got, err, *wantErr)
		}
		return
	}
	if err != nil {
		tb.Fatalf("%s %q: unexpected error %v", s, c.In, err)
	}
	if !reflect.DeepEqual(got, *want) {
		tb.Fatalf("%s %q:\n got %+v\nwant %+v", s, c.In, got, *want)
	}
}
