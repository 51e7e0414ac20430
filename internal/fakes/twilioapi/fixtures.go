package twilioapi

import (
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
)

//go:embed fixtures/*.json fixtures/*.form
var fixtures embed.FS

// Fixture returns a real Twilio payload by file name (inbound_sms.form,
// inbound_whatsapp.form, inbound_whatsapp_media.form,
// status_callback_delivered.form, status_callback_read_whatsapp.form,
// status_callback_failed_63016.form, message_create_response.json,
// message_list_response.json, error_20429.json, error_21610.json). It panics
// on an unknown name: that is a broken test, not a condition to handle.
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("fixtures/" + name)
	if err != nil {
		panic(fmt.Sprintf("twilioapi: no fixture %q: %v", name, err))
	}
	return b
}

// FixtureForm returns a .form fixture parsed as the form Twilio posts.
func FixtureForm(name string) url.Values {
	v, err := url.ParseQuery(string(trimNewline(Fixture(name))))
	if err != nil {
		panic(fmt.Sprintf("twilioapi: fixture %q is not a form: %v", name, err))
	}
	return v
}

// FixtureNames lists the fixtures whose names match pattern (e.g. "*.form",
// "status_callback_*.form"), sorted.
func FixtureNames(pattern string) []string {
	names, err := fs.Glob(fixtures, "fixtures/"+pattern)
	if err != nil {
		panic(fmt.Sprintf("twilioapi: bad fixture pattern %q: %v", pattern, err))
	}
	for i, n := range names {
		names[i] = n[len("fixtures/"):]
	}
	sort.Strings(names)
	return names
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
