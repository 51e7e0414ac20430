package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCountSMS(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name       string
		body       string
		encoding   string
		characters int
		units      int
		segments   int
	}{
		{"empty", "", EncodingGSM7, 0, 0, 0},
		{"one character", "a", EncodingGSM7, 1, 1, 1},
		{"160 GSM-7 fit one segment", a(160), EncodingGSM7, 160, 160, 1},
		{"161 GSM-7 need two", a(161), EncodingGSM7, 161, 161, 2},
		{"306 GSM-7 fill two exactly", a(306), EncodingGSM7, 306, 306, 2},
		{"307 GSM-7 need three", a(307), EncodingGSM7, 307, 307, 3},
		{"é is in the GSM-7 alphabet", "Café", EncodingGSM7, 4, 4, 1},
		{"German umlauts and ß are GSM-7", "Störung behoben, Grüße", EncodingGSM7, 22, 22, 1},
		{"ê is not GSM-7", "fête", EncodingUCS2, 4, 4, 1},
		{"lowercase ç is not GSM-7 (only Ç is)", "façade", EncodingUCS2, 6, 6, 1},
		{"Greek capitals are GSM-7", "ΔΦΓΛΩΠΨΣΘΞ", EncodingGSM7, 10, 10, 1},
		{"newline and CR are GSM-7", "a\r\nb", EncodingGSM7, 4, 4, 1},
		{"tab is not GSM-7", "a\tb", EncodingUCS2, 3, 3, 1},
		{"extension characters take two septets", "€[]{}", EncodingGSM7, 5, 10, 1},
		{"every extension character", "\f^{}\\[~]|€", EncodingGSM7, 10, 20, 1},
		{"80 euro signs fill one segment", strings.Repeat("€", 80), EncodingGSM7, 80, 160, 1},
		{"81 euro signs need two", strings.Repeat("€", 81), EncodingGSM7, 81, 162, 2},
		{"159 septets plus an escape pair overflow", a(159) + "€", EncodingGSM7, 160, 161, 2},
		// 152 'a' leave one septet in the first part: the escape pair moves whole
		// into the second, so 152+2+152 = 306 septets need three segments, not two.
		{"escape pair not split at segment boundary", a(152) + "€" + a(152), EncodingGSM7, 305, 306, 3},
		{"escape pair that fits exactly", a(151) + "€" + a(153), EncodingGSM7, 305, 306, 2},
		{"70 UCS-2 fit one segment", strings.Repeat("ê", 70), EncodingUCS2, 70, 70, 1},
		{"71 UCS-2 need two", strings.Repeat("ê", 71), EncodingUCS2, 71, 71, 2},
		{"134 UCS-2 fill two exactly", strings.Repeat("ê", 134), EncodingUCS2, 134, 134, 2},
		{"135 UCS-2 need three", strings.Repeat("ê", 135), EncodingUCS2, 135, 135, 3},
		{"one non-GSM character makes everything UCS-2", a(100) + "ê", EncodingUCS2, 101, 101, 2},
		{"emoji take two UTF-16 units", "🔥", EncodingUCS2, 1, 2, 1},
		{"35 emoji fill one segment", strings.Repeat("🔥", 35), EncodingUCS2, 35, 70, 1},
		{"36 emoji need two", strings.Repeat("🔥", 36), EncodingUCS2, 36, 72, 2},
		// 66 units leave one in the first part: the surrogate pair moves whole.
		{"surrogate pair not split at segment boundary", strings.Repeat("ê", 66) + "🔥" + strings.Repeat("ê", 66), EncodingUCS2, 133, 134, 3},
		{"extension characters in UCS-2 cost one unit", "ê€", EncodingUCS2, 2, 2, 1},
		{"Chinese", "服务中断", EncodingUCS2, 4, 4, 1},
		{"invalid UTF-8 counts as a replacement character", "a\xffb", EncodingUCS2, 3, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// when
			got := CountSMS(tt.body)
			got.NotGSM = "" // TestCountSMSNamesWhatMadeItUCS2 checks it

			// then
			want := SMSInfo{Encoding: tt.encoding, Characters: tt.characters, Units: tt.units, Segments: tt.segments}
			if got != want {
				t.Errorf("CountSMS(%.20q…) = %+v, want %+v", tt.body, got, want)
			}
		})
	}
}

func TestGSM7AlphabetIsComplete(t *testing.T) {
	// The basic table has 128 positions; one of them is ESC, which we leave out.
	if n := utf8.RuneCountInString(gsm7Basic); n != 127 {
		t.Errorf("basic GSM-7 alphabet has %d characters, want 127", n)
	}
	if len(gsm7Cost) != 127+10 {
		t.Errorf("GSM-7 table has %d distinct characters, want 137 (a duplicate?)", len(gsm7Cost))
	}
}

func FuzzCountSMS(f *testing.F) {
	for _, s := range []string{"", "a", strings.Repeat("€", 81), "🔥ê", "a\xffb", strings.Repeat("a", 307)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		info := CountSMS(body)
		if body != "" && info.Segments < 1 {
			t.Fatalf("non-empty body has %d segments", info.Segments)
		}
		if info.Units < info.Characters || info.Units > 2*info.Characters {
			t.Fatalf("units %d out of range for %d characters", info.Units, info.Characters)
		}
		single, multi := gsm7Single, gsm7Multi
		if info.Encoding == EncodingUCS2 {
			single, multi = ucs2Single, ucs2Multi
		}
		if info.Units <= single && body != "" && info.Segments != 1 {
			t.Fatalf("%d units fit one segment, got %d", info.Units, info.Segments)
		}
		if info.Units > single {
			// Packing can cost at most one unit per segment boundary.
			lo := (info.Units + multi - 1) / multi
			hi := (info.Units + multi - 2) / (multi - 1)
			if info.Segments < lo || info.Segments > hi {
				t.Fatalf("%d units in %d segments, want %d..%d", info.Units, info.Segments, lo, hi)
			}
		}
	})
}

func TestCountSMSNamesWhatMadeItUCS2(t *testing.T) {
	tests := map[string]string{
		"Checkout is down, we are on it.":            "",
		"Checkout’s down — we’re on it.":             "’—",
		"Zahlungen gestört 🔥 Update um 14:30 (Köln)": "🔥",
	}
	for body, want := range tests {
		if got := CountSMS(body).NotGSM; got != want {
			t.Errorf("CountSMS(%q).NotGSM = %q, want %q", body, got, want)
		}
	}
	for r, want := range map[rune]string{'’': "'", '—': "-", '“': `"`, '…': "...", 'Ł': "L"} {
		if got, ok := GSMLookAlike(r); !ok || got != want || CountSMS(got).Encoding != EncodingGSM7 {
			t.Errorf("GSMLookAlike(%q) = %q, %v; want GSM-7 %q", r, got, ok, want)
		}
	}
	if _, ok := GSMLookAlike('🔥'); ok {
		t.Error("an emoji has no GSM-7 look-alike")
	}
}
