package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey returns a deterministic data key whose bytes start at seed.
func testKey(id string, seed byte) DataKey {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = seed + byte(i)*7
	}
	return DataKey{ID: id, Key: k, Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func mustRing(t testing.TB, current string, keys ...DataKey) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, keys...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

var sealedRE = regexp.MustCompile(`^s1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$`)

func TestSealOpenRoundTrip(t *testing.T) {
	dk, err := NewDataKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ring := mustRing(t, dk.ID, dk)
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty plaintext, no aad", nil, nil},
		{"empty plaintext with aad", []byte{}, []byte("production\x00db.password")},
		{"ascii", []byte("hunter2"), []byte("production\x00db.password")},
		{"unicode", []byte("pässwörd ✓ 密码"), []byte("staging\x00api/key")},
		{"binary", []byte{0, 1, 2, 255, 254, '\n', ':'}, []byte{0}},
		{"large", big, []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s1, err := ring.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if !sealedRE.MatchString(s1) || !strings.HasPrefix(s1, "s1:"+dk.ID+":") {
				t.Fatalf("sealed text %q has the wrong format", s1[:min(len(s1), 80)])
			}
			s2, err := ring.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if s1 == s2 {
				t.Fatal("two seals of the same plaintext are equal: nonces are not fresh")
			}
			for _, s := range []string{s1, s2} {
				got, err := ring.Open(s, tt.aad)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !bytes.Equal(got, tt.plaintext) {
					t.Fatalf("Open = %q, want %q", got[:min(len(got), 40)], tt.plaintext[:min(len(tt.plaintext), 40)])
				}
				if got == nil {
					t.Fatal("Open returned nil for a valid value; want a non-nil (possibly empty) slice")
				}
			}
			if len(tt.plaintext) > 8 && strings.Contains(s1, string(tt.plaintext)) {
				t.Fatal("sealed text contains the plaintext")
			}
			id, err := KeyIDOf(s1)
			if err != nil || id != dk.ID {
				t.Fatalf("KeyIDOf = %q, %v; want %q", id, err, dk.ID)
			}
		})
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	a := testKey("ka", 1)
	twin := DataKey{ID: "ktwin", Key: bytes.Clone(a.Key)} // same key material, other id
	b := testKey("kb", 2)
	ring := mustRing(t, "ka", a, twin, b)
	aad := []byte("production\x00db.password")
	sealed, err := ring.Seal([]byte("correct horse"), aad)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(sealed, "s1:ka:")
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("flip every bit of nonce, ciphertext and tag", func(t *testing.T) {
		for i := range payload {
			for bit := 0; bit < 8; bit++ {
				p := bytes.Clone(payload)
				p[i] ^= 1 << bit
				s := "s1:ka:" + base64.RawURLEncoding.EncodeToString(p)
				if _, err := ring.Open(s, aad); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("byte %d bit %d flipped: err = %v, want ErrCorrupt", i, bit, err)
				}
			}
		}
	})

	tests := []struct {
		name   string
		sealed string
		aad    []byte
		want   error
	}{
		{"other aad", sealed, []byte("staging\x00db.password"), ErrCorrupt},
		{"no aad", sealed, nil, ErrCorrupt},
		{"aad with extra byte", sealed, append(bytes.Clone(aad), 0), ErrCorrupt},
		{"relabelled to another key", "s1:kb:" + body, aad, ErrCorrupt},
		{"relabelled to a key with the same material", "s1:ktwin:" + body, aad, ErrCorrupt},
		{"unknown key id", "s1:kmissing:" + body, aad, ErrUnknownKey},
		{"truncated tag", sealed[:len(sealed)-1], aad, ErrCorrupt},
		{"nonce only", "s1:ka:" + base64.RawURLEncoding.EncodeToString(payload[:12]), aad, ErrCorrupt},
		{"extra character", sealed + "A", aad, ErrCorrupt},
		{"padded", sealed + "=", aad, ErrCorrupt},
		{"newline inside", sealed[:10] + "\n" + sealed[10:], aad, ErrCorrupt},
		{"trailing newline", sealed + "\n", aad, ErrCorrupt},
		{"standard alphabet", "s1:ka:" + base64.RawStdEncoding.EncodeToString(payload) + "+/", aad, ErrCorrupt},
		{"other version", "s2" + sealed[2:], aad, ErrCorrupt},
		{"no version", sealed[3:], aad, ErrCorrupt},
		{"empty", "", aad, ErrCorrupt},
		{"no body", "s1:ka:", aad, ErrCorrupt},
		{"no id", "s1::" + body, aad, ErrCorrupt},
		{"id with a bad character", "s1:k a:" + body, aad, ErrCorrupt},
		{"wrapped key format", "v1:" + body, aad, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ring.Open(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open err = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatalf("Open returned plaintext %q with an error", got)
			}
			if strings.Contains(err.Error(), "correct horse") {
				t.Fatalf("error %q contains the plaintext", err)
			}
		})
	}

	// Non-zero padding bits in the last character decode to the same bytes
	// with a lenient decoder; they must not open.
	t.Run("non-canonical last character", func(t *testing.T) {
		last := body[len(body)-1]
		idx := strings.IndexByte(b64url, last)
		opened := 0
		for j := range 64 {
			if j == idx {
				continue
			}
			s := sealed[:len(sealed)-1] + string(b64url[j])
			if _, err := ring.Open(s, aad); err == nil {
				opened++
			}
		}
		if opened != 0 {
			t.Fatalf("%d variants of the last character opened", opened)
		}
	})
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestKeyringRotation(t *testing.T) {
	old := testKey("kold", 10)
	cur := testKey("knew", 20)
	aad := []byte("env\x00key")

	before := mustRing(t, "kold", old)
	sealedOld, err := before.Seal([]byte("v1"), aad)
	if err != nil {
		t.Fatal(err)
	}

	during := mustRing(t, "knew", cur, old)
	if got := during.Current(); got != "knew" {
		t.Fatalf("Current = %q", got)
	}
	if got := during.IDs(); strings.Join(got, ",") != "knew,kold" {
		t.Fatalf("IDs = %v", got)
	}
	if !during.Has("kold") || during.Has("kother") {
		t.Fatal("Has is wrong")
	}
	pt, err := during.Open(sealedOld, aad)
	if err != nil || string(pt) != "v1" {
		t.Fatalf("old value during rotation: %q, %v", pt, err)
	}
	sealedNew, err := during.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := KeyIDOf(sealedNew); id != "knew" {
		t.Fatalf("re-sealed with %q, want knew", id)
	}

	after := mustRing(t, "knew", cur)
	if _, err := after.Open(sealedOld, aad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old value after rotation: err = %v, want ErrUnknownKey", err)
	}
	if pt, err := after.Open(sealedNew, aad); err != nil || string(pt) != "v1" {
		t.Fatalf("new value after rotation: %q, %v", pt, err)
	}
}

func TestNewKeyringErrors(t *testing.T) {
	a := testKey("ka", 1)
	tests := []struct {
		name    string
		current string
		keys    []DataKey
		want    string
	}{
		{"no keys", "ka", nil, "not in the keyring"},
		{"current absent", "kb", []DataKey{a}, "not in the keyring"},
		{"duplicate id", "ka", []DataKey{a, a}, "twice"},
		{"short key", "kx", []DataKey{{ID: "kx", Key: make([]byte, 16)}}, "32 bytes"},
		{"nil key", "kx", []DataKey{{ID: "kx"}}, "32 bytes"},
		{"id with colon", "k:x", []DataKey{{ID: "k:x", Key: a.Key}}, "invalid data key id"},
		{"empty id", "", []DataKey{{ID: "", Key: a.Key}}, "invalid data key id"},
		{"long id", strings.Repeat("k", 65), []DataKey{{ID: strings.Repeat("k", 65), Key: a.Key}}, "invalid data key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeyring(tt.current, tt.keys...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewKeyring = %v, %v; want error containing %q", k, err, tt.want)
			}
		})
	}
}

func TestZeroKeyring(t *testing.T) {
	var k Keyring
	if _, err := k.Seal([]byte("x"), nil); err == nil {
		t.Fatal("a zero Keyring sealed a value")
	}
	if _, err := k.Open("s1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open on a zero Keyring: %v", err)
	}
}

func TestKeyringIsImmutable(t *testing.T) {
	dk := testKey("ka", 3)
	ring := mustRing(t, "ka", dk)
	sealed, err := ring.Seal([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	clear(dk.Key) // the caller scribbles over its copy
	if pt, err := ring.Open(sealed, nil); err != nil || string(pt) != "x" {
		t.Fatalf("Open after caller changed the key: %q, %v", pt, err)
	}
	ids := ring.IDs()
	ids[0] = "changed"
	if ring.IDs()[0] != "ka" {
		t.Fatal("IDs exposes internal state")
	}
}

func TestNewDataKey(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	idRE := regexp.MustCompile(`^k[a-z2-7]{12}$`)
	seen := map[string]bool{}
	keys := map[string]bool{}
	for range 200 {
		dk, err := NewDataKey(now)
		if err != nil {
			t.Fatal(err)
		}
		if !idRE.MatchString(dk.ID) {
			t.Fatalf("ID %q does not match %s", dk.ID, idRE)
		}
		if len(dk.Key) != KeySize || !dk.Created.Equal(now) {
			t.Fatalf("key length %d, created %v", len(dk.Key), dk.Created)
		}
		if seen[dk.ID] || keys[string(dk.Key)] {
			t.Fatal("NewDataKey repeated an id or a key")
		}
		seen[dk.ID] = true
		keys[string(dk.Key)] = true
		if !ValidKeyID(dk.ID) {
			t.Fatalf("ValidKeyID(%q) = false", dk.ID)
		}
	}
}

func TestKeyIDOf(t *testing.T) {
	ring := mustRing(t, "k1", testKey("k1", 0))
	sealed, err := ring.Seal([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{sealed, "k1", false},
		{"s1:abc_DEF-9:AAAA", "abc_DEF-9", false},
		{"", "", true},
		{"s1:", "", true},
		{"s1:k1", "", true},
		{"s1:k1:", "", true},
		{"s1:k1:AAAA=", "", true},
		{"s1:k1:A", "", true}, // not a whole byte
		{"s1:k.1:AAAA", "", true},
		{"v1:AAAA", "", true},
		{"plain text", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := KeyIDOf(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("KeyIDOf(%q) = %q, %v; want ErrCorrupt", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("KeyIDOf(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestKeyringConcurrentUse(t *testing.T) {
	a, b := testKey("ka", 1), testKey("kb", 2)
	old := mustRing(t, "ka", a)
	ring := mustRing(t, "kb", a, b)
	oldSealed, err := old.Seal([]byte("old"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				pt := []byte{byte(g), byte(i)}
				aad := []byte{byte(i)}
				s, err := ring.Seal(pt, aad)
				if err != nil {
					errs <- err
					return
				}
				got, err := ring.Open(s, aad)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- errors.New("round trip failed under concurrency")
					return
				}
				if got, err := ring.Open(oldSealed, []byte("aad")); err != nil || string(got) != "old" {
					errs <- errors.New("old value failed under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
