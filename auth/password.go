package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. DefaultArgon2 follows the
// OWASP recommendation (19 MiB, 2 passes, 1 lane).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultArgon2 is used for every new hash.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// hashSlots bounds how many argon2 computations run at once, so a burst of
// sign-ins cannot exhaust memory.
var hashSlots = make(chan struct{}, 4)

// MinPasswordLen and MaxPasswordLen bound passwords.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// ErrPasswordMismatch: the password does not match the hash.
var ErrPasswordMismatch = errors.New("password does not match")

// CheckPasswordPolicy returns a message for a password that breaks the
// policy, or "".
func CheckPasswordPolicy(pw string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return fmt.Sprintf("Use at least %d characters.", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Sprintf("Use at most %d bytes.", MaxPasswordLen)
	case strings.TrimSpace(pw) == "":
		return "A password cannot be only spaces."
	}
	return ""
}

// HashPassword returns an argon2id hash in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	return hashWith(pw, DefaultArgon2)
}

func hashWith(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	hashSlots <- struct{}{}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	<-hashSlots
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPassword checks pw against a PHC argon2id hash in constant time.
func VerifyPassword(hash, pw string) error {
	p, salt, key, err := ParseHash(hash)
	if err != nil {
		return err
	}
	hashSlots <- struct{}{}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	<-hashSlots
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// ParseHash decodes a PHC argon2id string. It refuses parameters far outside
// what Keel writes, so a planted hash cannot make verification exhaust memory.
func ParseHash(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errors.New("unsupported argon2 version")
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, threads) != parts[3] {
		return p, nil, nil, errors.New("malformed argon2 parameters")
	}
	if p.Memory < 8 || p.Memory > 256*1024 || p.Time < 1 || p.Time > 16 || threads < 1 || threads > 16 {
		return p, nil, nil, errors.New("argon2 parameters out of range")
	}
	p.Threads = uint8(threads)
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, errors.New("malformed argon2 salt")
	}
	key, err := enc.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("malformed argon2 hash")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// dummyHash is verified against when a user does not exist, so sign-in takes
// as long for unknown users as for known ones.
var dummyHash = func() string {
	h, err := HashPassword("keel-dummy-password-for-timing")
	if err != nil {
		panic(err)
	}
	return h
}()

// VerifyDummy spends the time of one verification; use it when there is no
// user to verify against.
func VerifyDummy(pw string) { _ = VerifyPassword(dummyHash, pw) }

// RandomPassword returns a random password of n base64url characters.
func RandomPassword(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
