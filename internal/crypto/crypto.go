package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a data key: AES-256.
const KeySize = 32

// version prefixes every sealed value so the format (or the key, once key
// rotation exists) can change without guessing what old values are.
const version byte = 1

// ErrOpen is returned when a sealed value cannot be opened: it was tampered
// with, truncated, or sealed under another key.
var ErrOpen = errors.New("cannot open sealed value (wrong HERALD_DATA_KEY or corrupted data)")

// Sealer encrypts and authenticates values at rest and computes blind indexes.
// It is safe for concurrent use.
type Sealer struct {
	aead     cipher.AEAD
	indexKey []byte
}

// NewSealer builds a Sealer from a 32-byte data key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating AES cipher: %w", err)
	}
	// The random-nonce GCM draws a fresh 96-bit nonce from crypto/rand for
	// every message and prepends it, so callers cannot reuse a nonce.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("creating AES-GCM: %w", err)
	}
	// The blind-index key is derived, not the data key itself, so that an
	// HMAC output can never be related to the encryption key's use.
	indexKey, err := hkdf.Key(sha256.New, key, nil, "herald blind index v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving blind-index key: %w", err)
	}
	return &Sealer{aead: aead, indexKey: indexKey}, nil
}

// Seal encrypts plain; every call gives a different result.
func (s *Sealer) Seal(plain []byte) []byte {
	out := make([]byte, 1, 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = version
	return s.aead.Seal(out, nil, plain, []byte{version})
}

// Open decrypts what Seal produced and checks it was not altered.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	if len(sealed) < 1+s.aead.NonceSize()+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short (%d bytes)", ErrOpen, len(sealed))
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrOpen, sealed[0])
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], sealed[:1])
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// BlindIndex returns a stable, keyed, one-way token for an E.164 number
// (hex HMAC-SHA256). Stores use it in key names and sets instead of the
// number: the same number always gives the same token under one data key,
// and without the key the token reveals nothing, not even by trying every
// possible number.
func (s *Sealer) BlindIndex(phone string) string {
	m := hmac.New(sha256.New, s.indexKey)
	m.Write([]byte(strings.TrimSpace(phone)))
	return hex.EncodeToString(m.Sum(nil))
}

// ParseKey decodes HERALD_DATA_KEY: standard base64 (padded or not, URL-safe
// accepted too) of exactly 32 bytes. Surrounding white space, such as the
// newline of a mounted secret file, is ignored.
func ParseKey(b64 string) ([]byte, error) {
	s := strings.TrimSpace(b64)
	if s == "" {
		return nil, errors.New("HERALD_DATA_KEY: not set: generate one with `openssl rand -base64 32`")
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("HERALD_DATA_KEY: not valid base64 (generate one with `openssl rand -base64 32`): %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("HERALD_DATA_KEY: must be base64 of %d bytes, got %d", KeySize, len(key))
	}
	return key, nil
}

// GenerateKey returns a fresh random data key, base64-encoded as
// HERALD_DATA_KEY expects it (demo mode, tests).
func GenerateKey() string {
	key := make([]byte, KeySize)
	rand.Read(key) // never fails since Go 1.24: it crashes the program instead
	return base64.StdEncoding.EncodeToString(key)
}

// MustNewSealer is NewSealer for keys known to be valid (tests, demo); it
// panics on a bad key.
func MustNewSealer(key []byte) *Sealer {
	s, err := NewSealer(key)
	if err != nil {
		panic(err)
	}
	return s
}
