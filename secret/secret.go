// Package secret is Keel's envelope encryption.
//
// A 32-byte master key (the key-encryption key, KEK) wraps data keys (DEKs,
// also 32 bytes); configuration values are sealed with a data key. Both
// layers use AES-256-GCM with a fresh random 12-byte nonce per operation.
//
// Text formats (stable, stored in Redis):
//
//	s1:<keyid>:<base64url-no-padding(nonce|ciphertext|tag)>   a sealed value
//	v1:<base64-std-padded(nonce|ciphertext|tag)>              a wrapped data key
//
// A sealed value authenticates, as additional data, the format version, its
// key id and the caller's additional data (Keel passes the environment and the
// key), so a ciphertext copied to another place, or relabelled with another
// key id, does not open. A wrapped data key authenticates its key id.
//
// Nothing in this package puts plaintext or key material into an error or a
// String method: DataKey prints as DataKey{ID: ..., Key: [redacted]} under
// every fmt verb, in JSON and in slog. Authentication tags are checked in
// constant time by crypto/cipher; the package compares no secret bytes
// itself. Sealed and wrapped texts are accepted only in their canonical
// encoding, so no two texts open to the same value.
//
// The package is pure: no Redis, no HTTP. Storing wrapped keys and rotating
// secrets is the store's job.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the size in bytes of master keys and data keys (AES-256).
const KeySize = 32

// Mask is what Keel shows in place of a secret value that is not revealed.
const Mask = "••••"

const (
	nonceSize = 12
	tagSize   = 16
)

var (
	// ErrUnknownKey is returned by Open when the sealed text names a data key
	// the keyring does not hold.
	ErrUnknownKey = errors.New("secret: the value was sealed with a data key this keyring does not hold")
	// ErrCorrupt is returned for any malformed, tampered or misplaced
	// ciphertext (including the wrong additional data or the wrong master key).
	ErrCorrupt = errors.New("secret: the encrypted value is damaged or does not belong here")
)

// newAEAD builds AES-256-GCM for a 32-byte key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: a key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return aead, nil
}

// seal encrypts plaintext under aead with a fresh random nonce and returns
// nonce|ciphertext|tag.
func seal(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("secret: reading random nonce: %w", err)
	}
	return aead.Seal(out, out[:nonceSize], plaintext, aad), nil
}

// open reverses seal; any failure is ErrCorrupt.
func open(aead cipher.AEAD, payload, aad []byte) ([]byte, error) {
	if len(payload) < nonceSize+tagSize {
		return nil, ErrCorrupt
	}
	pt, err := aead.Open(nil, payload[:nonceSize], payload[nonceSize:], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
