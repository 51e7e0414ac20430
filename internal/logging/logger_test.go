package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// The numbers below must never appear in any log output.
var secretNumbers = []string{"4915112345678", "14155550101", "4915100000001"}

func assertNoNumbers(t *testing.T, out string) {
	t.Helper()
	for _, n := range secretNumbers {
		if strings.Contains(out, n) {
			t.Errorf("log output contains the full number %s:\n%s", n, out)
		}
	}
}

type recipientLog struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// logEverything logs phone numbers in every way code tends to: as a field,
// inside a struct, in the message, in an error, in a URL-encoded form.
func logEverything(log zerolog.Logger) {
	form := url.Values{"From": {"whatsapp:+4915112345678"}, "To": {"+14155550101"}, "Body": {"ok"}}
	log.Info().Str("to", "+4915112345678").Msg("sent update")
	log.Info().Interface("recipient", recipientLog{Name: "Dana", Phone: "+4915100000001"}).Msg("planned")
	log.Warn().Msg("reply from whatsapp:+4915112345678 matched no incident")
	log.Error().Err(fmt.Errorf("sending to %s: %w", "+14155550101", errors.New("twilio 21610"))).Msg("send failed")
	log.Debug().Str("body", form.Encode()).Msg("inbound webhook")
}

func TestLoggerMasksEveryLine(t *testing.T) {
	for _, format := range []string{"json", "console", ""} {
		t.Run("format="+format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, "debug", format)
			if err != nil {
				t.Fatal(err)
			}
			logEverything(log)
			out := buf.String()
			assertNoNumbers(t, out)
			if got := strings.Count(out, "\n"); got != 5 {
				t.Errorf("got %d lines, want 5:\n%s", got, out)
			}
			for _, want := range []string{"+49151*****78", "%2B14155*****01", "+49151*****01", "send failed"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestJSONLinesStayValidJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	logEverything(log)
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("line is not JSON after masking: %v\n%s", err, sc.Text())
		}
		if m["time"] == nil || m["level"] == nil {
			t.Errorf("line lacks time or level: %s", sc.Text())
		}
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		level, format, wantErr string
	}{
		{"verbose", "json", `unknown log level "verbose"`},
		{"info", "xml", `unknown log format "xml"`},
	}
	for _, tt := range tests {
		if _, err := New(io.Discard, tt.level, tt.format); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%q, %q) error = %v, want %q", tt.level, tt.format, err, tt.wantErr)
		}
	}
}

func TestLevelFilters(t *testing.T) {
	tests := []struct {
		level     string
		wantDebug bool
		wantWarn  bool
	}{
		{"", false, true}, // default info
		{"debug", true, true},
		{"WARNING", false, true},
		{"error", false, false},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log, err := New(&buf, tt.level, "json")
		if err != nil {
			t.Fatalf("level %q: %v", tt.level, err)
		}
		log.Debug().Msg("dbg")
		log.Warn().Msg("wrn")
		if got := strings.Contains(buf.String(), "dbg"); got != tt.wantDebug {
			t.Errorf("level %q: debug logged = %v, want %v", tt.level, got, tt.wantDebug)
		}
		if got := strings.Contains(buf.String(), "wrn"); got != tt.wantWarn {
			t.Errorf("level %q: warn logged = %v, want %v", tt.level, got, tt.wantWarn)
		}
	}
}

// lineRecorder records each Write separately, so the test can see whether
// lines were split or merged.
type lineRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *lineRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func TestConcurrentWritesKeepLinesWhole(t *testing.T) {
	rec := &lineRecorder{}
	log, err := New(rec, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perG = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				log.Info().Int("g", g).Int("i", i).Str("to", "+4915112345678").Msg("sent")
			}
		}()
	}
	wg.Wait()
	if len(rec.writes) != goroutines*perG {
		t.Fatalf("got %d writes, want %d", len(rec.writes), goroutines*perG)
	}
	for _, w := range rec.writes {
		if strings.Count(w, "\n") != 1 || !strings.HasSuffix(w, "\n") {
			t.Fatalf("write is not exactly one line: %q", w)
		}
		assertNoNumbers(t, w)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMaskingWriterReportsErrors(t *testing.T) {
	w := NewMaskingWriter(failingWriter{})
	if _, err := w.Write([]byte("+4915112345678\n")); err == nil {
		t.Fatal("want the underlying error")
	}
}

func TestMaskingWriterReportsInputLength(t *testing.T) {
	var buf bytes.Buffer
	in := []byte("to +4915112345678\n")
	n, err := NewMaskingWriter(&buf).Write(in)
	if err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v; want %d, nil (io.Writer contract)", n, err, len(in))
	}
}

func BenchmarkMaskingWriter(b *testing.B) {
	lines := map[string][]byte{
		"no-number":   []byte(`{"level":"info","time":"2025-01-01T10:00:00Z","route":"POST /slack/commands","code":200,"message":"request"}` + "\n"),
		"with-number": []byte(`{"level":"info","time":"2025-01-01T10:00:00Z","to":"whatsapp:+4915112345678","sid":"SM0123","message":"sent"}` + "\n"),
	}
	for name, line := range lines {
		b.Run(name, func(b *testing.B) {
			w := NewMaskingWriter(io.Discard)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(line); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(line))*float64(b.N)/b.Elapsed().Seconds(), "bytes/s")
		})
	}
}
