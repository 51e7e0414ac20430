package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	s := MustNewSealer(testKey(1))
	for _, plain := range [][]byte{
		{},
		[]byte("+4915100000001"),
		[]byte(strings.Repeat("Dana, das Rechenzentrum brennt 🔥 ", 200)),
	} {
		sealed := s.Seal(plain)
		if len(plain) > 0 && bytes.Contains(sealed, plain) {
			t.Fatalf("sealed value contains the plain text")
		}
		got, err := s.Open(sealed)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealIsRandomised(t *testing.T) {
	// Equal numbers must not produce equal ciphertexts, or sealed values
	// would leak who is the same person.
	s := MustNewSealer(testKey(1))
	a, b := s.Seal([]byte("+14155550101")), s.Seal([]byte("+14155550101"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal")
	}
}

func TestOpenRejectsTamperingAndWrongKey(t *testing.T) {
	s := MustNewSealer(testKey(1))
	sealed := s.Seal([]byte("+14155550101"))
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := s.Open(bad); !errors.Is(err, ErrOpen) {
			t.Fatalf("flipping byte %d: err = %v, want ErrOpen", i, err)
		}
	}
	if _, err := s.Open(sealed[:len(sealed)-1]); !errors.Is(err, ErrOpen) {
		t.Fatalf("truncated: err = %v, want ErrOpen", err)
	}
	if _, err := s.Open(nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("empty: err = %v, want ErrOpen", err)
	}
	other := MustNewSealer(testKey(2))
	if _, err := other.Open(sealed); !errors.Is(err, ErrOpen) {
		t.Fatalf("other key: err = %v, want ErrOpen", err)
	}
}

func TestBlindIndex(t *testing.T) {
	s1, s2 := MustNewSealer(testKey(1)), MustNewSealer(testKey(2))
	phone := "+4915100000001"
	a := s1.BlindIndex(phone)
	if a != s1.BlindIndex(phone) {
		t.Fatal("blind index is not stable")
	}
	if a != s1.BlindIndex(" "+phone+"\n") {
		t.Fatal("surrounding white space changes the blind index")
	}
	if a == s1.BlindIndex("+4915100000002") {
		t.Fatal("two numbers share a blind index")
	}
	if a == s2.BlindIndex(phone) {
		t.Fatal("blind index does not depend on the key")
	}
	if strings.Contains(a, "4915100000001") || len(a) != 64 {
		t.Fatalf("blind index %q: want 64 hex characters unrelated to the number", a)
	}
}

func TestParseKey(t *testing.T) {
	key := testKey(7)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"standard base64", base64.StdEncoding.EncodeToString(key), ""},
		{"with trailing newline from a secret file", base64.StdEncoding.EncodeToString(key) + "\n", ""},
		{"unpadded", base64.RawStdEncoding.EncodeToString(key), ""},
		{"url-safe", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), ""},
		{"empty", "", "HERALD_DATA_KEY: not set"},
		{"too short", base64.StdEncoding.EncodeToString(make([]byte, 12)), "HERALD_DATA_KEY: must be base64 of 32 bytes, got 12"},
		{"too long", base64.StdEncoding.EncodeToString(make([]byte, 64)), "got 64"},
		{"not base64", "this is not a key!", "HERALD_DATA_KEY: not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if len(got) != KeySize {
				t.Fatalf("key length %d", len(got))
			}
		})
	}
}

func TestGenerateKeyParses(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	if _, err := ParseKey(a); err != nil {
		t.Fatalf("generated key does not parse: %v", err)
	}
}

func TestNewSealerRejectsWrongKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer accepted a %d-byte key", n)
		}
	}
}

func FuzzOpen(f *testing.F) {
	s := MustNewSealer(testKey(1))
	f.Add(s.Seal([]byte("+14155550101")))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Whatever is read back from Redis must never crash the reader.
		_, _ = s.Open(data)
	})
}

func BenchmarkSeal(b *testing.B) {
	s := MustNewSealer(testKey(1))
	plain := []byte(`{"broadcast_id":"B-1-1","recipient_id":"dana","phone":"+4915100000001","state":"pending"}`)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		s.Seal(plain)
	}
}
