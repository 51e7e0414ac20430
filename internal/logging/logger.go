package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Formats accepted by New (LOG_FORMAT).
const (
	FormatJSON    = "json"
	FormatConsole = "console"
)

// New returns a logger writing to w at the given level ("" means info) in the
// given format ("" or "json": one JSON object per line; "console": readable
// lines for humans). Every line passes through a MaskingWriter, whatever the
// format.
func New(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	var out io.Writer
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", FormatJSON:
		out = NewMaskingWriter(w)
	case FormatConsole:
		// Mask after the console writer has formatted the line: that is the
		// text that reaches the terminal.
		out = zerolog.ConsoleWriter{
			Out:        NewMaskingWriter(w),
			NoColor:    !IsTerminal(w),
			TimeFormat: time.TimeOnly,
		}
	default:
		return zerolog.Nop(), fmt.Errorf("unknown log format %q (want %q or %q)", format, FormatJSON, FormatConsole)
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// ParseLevel parses a LOG_LEVEL value: trace, debug, info, warn, error,
// fatal, panic or disabled; "" means info.
func ParseLevel(level string) (zerolog.Level, error) {
	s := strings.ToLower(strings.TrimSpace(level))
	switch s {
	case "":
		return zerolog.InfoLevel, nil
	case "warning":
		return zerolog.WarnLevel, nil
	}
	lvl, err := zerolog.ParseLevel(s)
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.NoLevel, fmt.Errorf("unknown log level %q (want trace, debug, info, warn, error, fatal, panic or disabled)", level)
	}
	return lvl, nil
}

// IsTerminal reports whether w is a terminal a person reads.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
