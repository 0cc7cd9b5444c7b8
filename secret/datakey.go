package secret

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// DataKey is a data-encryption key. Its Key never appears in fmt output,
// JSON or slog: every rendering redacts it. Store a DataKey with Wrap.
type DataKey struct {
	ID      string
	Key     []byte
	Created time.Time
}

const (
	idPrefix   = "k"
	idRandLen  = 12
	maxIDLen   = 64
	idAlphabet = "abcdefghijklmnopqrstuvwxyz234567" // base32, lower case
)

// NewDataKey returns a fresh random data key created at now. Its ID is "k"
// followed by 12 random lower-case base32 characters (60 bits).
func NewDataKey(now time.Time) (DataKey, error) {
	var buf [KeySize + idRandLen]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return DataKey{}, fmt.Errorf("secret: reading random data key: %w", err)
	}
	id := make([]byte, 0, len(idPrefix)+idRandLen)
	id = append(id, idPrefix...)
	for _, b := range buf[KeySize:] {
		id = append(id, idAlphabet[b&31]) // 256 is a multiple of 32: uniform
	}
	key := make([]byte, KeySize)
	copy(key, buf[:KeySize])
	clear(buf[:])
	return DataKey{ID: string(id), Key: key, Created: now}, nil
}

// ValidKeyID reports whether id can name a data key: 1 to 64 characters
// from A-Z a-z 0-9 _ and -.
func ValidKeyID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func (dk DataKey) check() error {
	if !ValidKeyID(dk.ID) {
		return fmt.Errorf("secret: invalid data key id %q", clipID(dk.ID))
	}
	if len(dk.Key) != KeySize {
		return fmt.Errorf("secret: data key %s must be %d bytes, got %d", dk.ID, KeySize, len(dk.Key))
	}
	return nil
}

// clipID keeps an invalid id short in error messages.
func clipID(id string) string {
	if len(id) > maxIDLen {
		return id[:maxIDLen] + "…"
	}
	return id
}

// String renders the key without its key material.
func (dk DataKey) String() string {
	created := "zero"
	if !dk.Created.IsZero() {
		created = dk.Created.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("DataKey{ID: %q, Created: %s, Key: [redacted]}", dk.ID, created)
}

// GoString makes %#v redact the key too.
func (dk DataKey) GoString() string { return "secret." + dk.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x, ...) print the
// redacted form.
func (dk DataKey) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, dk.GoString())
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", dk.String())
	default:
		_, _ = io.WriteString(f, dk.String())
	}
}

// LogValue redacts the key in structured logs.
func (dk DataKey) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", dk.ID),
		slog.Time("created", dk.Created),
		slog.String("key", "[redacted]"),
	)
}

// MarshalJSON redacts the key: a DataKey is stored with Wrap, never as JSON.
func (dk DataKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID      string    `json:"id"`
		Created time.Time `json:"created"`
		Key     string    `json:"key"`
	}{dk.ID, dk.Created, "[redacted]"})
}

// Wrap encrypts the data key's key material under the master key kek:
// "v1:" + base64(nonce|ciphertext|tag), with the data key id as additional
// data. Created is not part of the wrapped text; keep it beside it.
func Wrap(kek []byte, dk DataKey) (string, error) {
	if err := dk.check(); err != nil {
		return "", err
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return "", fmt.Errorf("secret: master key: %w", err)
	}
	payload, err := seal(aead, dk.Key, []byte(dk.ID))
	if err != nil {
		return "", err
	}
	return wrapPrefix + base64.StdEncoding.EncodeToString(payload), nil
}

const wrapPrefix = "v1:"

// Unwrap reverses Wrap for the data key named id. A wrong master key, a
// wrong id or a damaged text is an error that satisfies
// errors.Is(err, ErrCorrupt). The returned DataKey has a zero Created.
func Unwrap(kek []byte, id, wrapped string) (DataKey, error) {
	if !ValidKeyID(id) {
		return DataKey{}, fmt.Errorf("secret: invalid data key id %q", clipID(id))
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return DataKey{}, fmt.Errorf("secret: master key: %w", err)
	}
	if len(wrapped) < len(wrapPrefix) || wrapped[:len(wrapPrefix)] != wrapPrefix {
		return DataKey{}, fmt.Errorf("secret: wrapped data key %s has an unknown format: %w", id, ErrCorrupt)
	}
	payload, ok := decodeCanonical(base64.StdEncoding, wrapped[len(wrapPrefix):])
	if !ok {
		return DataKey{}, fmt.Errorf("secret: wrapped data key %s is not valid base64: %w", id, ErrCorrupt)
	}
	key, err := open(aead, payload, []byte(id))
	if err != nil || len(key) != KeySize {
		return DataKey{}, fmt.Errorf("secret: cannot unwrap data key %s (wrong master key, or the wrapped key is damaged): %w", id, ErrCorrupt)
	}
	return DataKey{ID: id, Key: key}, nil
}

// decodeCanonical decodes s and accepts it only when it is the exact
// encoding of the result, so no two texts decode to the same bytes (the
// base64 decoders skip newlines and tolerate non-zero padding bits).
func decodeCanonical(enc *base64.Encoding, s string) ([]byte, bool) {
	b, err := enc.DecodeString(s)
	if err != nil || enc.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}
