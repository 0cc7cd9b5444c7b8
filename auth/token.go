package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
)

// API tokens look like keel_<id>_<secret>: a 12-character id that names the
// token record and a 43-character secret of 256 random bits. Only the SHA-256
// of the secret is stored; a token is shown once, when it is created.
const (
	tokenPrefix   = "keel_"
	tokenIDLen    = 12
	tokenSecretLn = 43
	idAlphabet    = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// ErrMalformedToken: the bearer value is not a Keel token.
var ErrMalformedToken = errors.New("malformed API token")

// NewToken returns a fresh token id, its secret, and the full token string.
func NewToken() (id, secret, full string) {
	idb := make([]byte, tokenIDLen)
	if _, err := rand.Read(idb); err != nil {
		panic(err)
	}
	for i := range idb {
		idb[i] = idAlphabet[int(idb[i])%len(idAlphabet)]
	}
	sb := make([]byte, 32)
	if _, err := rand.Read(sb); err != nil {
		panic(err)
	}
	id = string(idb)
	secret = base64.RawURLEncoding.EncodeToString(sb)
	return id, secret, tokenPrefix + id + "_" + secret
}

// ParseToken splits a token into its id and secret.
func ParseToken(s string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok || len(rest) != tokenIDLen+1+tokenSecretLn || rest[tokenIDLen] != '_' {
		return "", "", ErrMalformedToken
	}
	id, secret = rest[:tokenIDLen], rest[tokenIDLen+1:]
	for i := 0; i < len(id); i++ {
		if !strings.ContainsRune(idAlphabet, rune(id[i])) {
			return "", "", ErrMalformedToken
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", ErrMalformedToken
	}
	return id, secret, nil
}

// HashSecret is what the store keeps of a token's secret.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SecretMatches compares a presented secret with a stored hash in constant time.
func SecretMatches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(HashSecret(secret), hash) == 1
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
