package secret

import (
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

const sealPrefix = "s1:"

// Keyring holds the data keys that can open sealed values and names the
// current one, used by Seal. Old keys stay in the ring during a rotation so
// values sealed with them still open. A Keyring is immutable and safe for
// concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	ids     []string
}

// NewKeyring builds a keyring from keys; current must be the ID of one of
// them. Key material is copied, so later changes to the slices do not
// affect the ring.
func NewKeyring(current string, keys ...DataKey) (*Keyring, error) {
	k := &Keyring{current: current, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, dk := range keys {
		if err := dk.check(); err != nil {
			return nil, err
		}
		if _, dup := k.aeads[dk.ID]; dup {
			return nil, fmt.Errorf("secret: data key %s appears twice in the keyring", dk.ID)
		}
		aead, err := newAEAD(dk.Key) // the AES key schedule copies the key
		if err != nil {
			return nil, err
		}
		k.aeads[dk.ID] = aead
		k.ids = append(k.ids, dk.ID)
	}
	if _, ok := k.aeads[current]; !ok {
		return nil, fmt.Errorf("secret: the current data key %q is not in the keyring", clipID(current))
	}
	slices.Sort(k.ids)
	return k, nil
}

// Current returns the ID of the data key Seal uses.
func (k *Keyring) Current() string { return k.current }

// IDs returns the IDs of every key in the ring, sorted.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

// Has reports whether the ring holds the data key id.
func (k *Keyring) Has(id string) bool {
	_, ok := k.aeads[id]
	return ok
}

// Seal encrypts plaintext with the current data key and returns
// "s1:<keyid>:<base64url-no-padding(nonce|ciphertext|tag)>". aad is
// authenticated, not encrypted: Open must be given the same aad.
func (k *Keyring) Seal(plaintext, aad []byte) (string, error) {
	aead, ok := k.aeads[k.current]
	if !ok {
		return "", errors.New("secret: the keyring was not built with NewKeyring")
	}
	payload, err := seal(aead, plaintext, sealAAD(k.current, aad))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(sealPrefix) + len(k.current) + 1 + base64.RawURLEncoding.EncodedLen(len(payload)))
	b.WriteString(sealPrefix)
	b.WriteString(k.current)
	b.WriteByte(':')
	b.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	return b.String(), nil
}

// Open decrypts a value produced by Seal with the same aad. It returns an
// error satisfying errors.Is(err, ErrUnknownKey) when the ring lacks the key
// named in sealed, and errors.Is(err, ErrCorrupt) for anything else wrong.
func (k *Keyring) Open(sealed string, aad []byte) ([]byte, error) {
	id, body, err := parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	payload, ok := decodeCanonical(base64.RawURLEncoding, body)
	if !ok {
		return nil, ErrCorrupt
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
	}
	return open(aead, payload, sealAAD(id, aad))
}

// KeyIDOf returns the data key id named in a sealed value, without
// decrypting it. A text that is not a well-formed sealed value is ErrCorrupt.
func KeyIDOf(sealed string) (string, error) {
	id, body, err := parseSealed(sealed)
	if err != nil {
		return "", err
	}
	if _, ok := decodeCanonical(base64.RawURLEncoding, body); !ok {
		return "", ErrCorrupt
	}
	return id, nil
}

// parseSealed splits "s1:<id>:<body>".
func parseSealed(sealed string) (id, body string, err error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", "", ErrCorrupt
	}
	id, body, ok = strings.Cut(rest, ":")
	if !ok || !ValidKeyID(id) || body == "" {
		return "", "", ErrCorrupt
	}
	return id, body, nil
}

// sealAAD binds the format version and key id to the caller's additional
// data. Key ids never contain ':', so the encoding is unambiguous.
func sealAAD(id string, aad []byte) []byte {
	out := make([]byte, 0, len(sealPrefix)+len(id)+1+len(aad))
	out = append(out, sealPrefix...)
	out = append(out, id...)
	out = append(out, ':')
	return append(out, aad...)
}
