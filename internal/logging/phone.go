package logging

import "github.com/rs/zerolog"

// Phone is a phone number that masks itself wherever it is formatted: with
// %s/%v, as JSON or text, and as a zerolog object. Log numbers as
// logging.Phone(n) so that even a log sink that bypasses the MaskingWriter
// never sees them in clear.
type Phone string

// String returns the masked number.
func (p Phone) String() string { return MaskPhone(string(p)) }

// GoString masks %#v too.
func (p Phone) GoString() string { return `logging.Phone("` + p.String() + `")` }

// MarshalText masks the number in JSON, YAML and zerolog's Interface.
func (p Phone) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// MarshalZerologObject logs the number as {"masked": "+49151*****78"} when
// used with Event.Object; Event.Stringer logs it as a plain string.
func (p Phone) MarshalZerologObject(e *zerolog.Event) {
	e.Str("masked", p.String())
}

var (
	_ zerolog.LogObjectMarshaler = Phone("")
)
