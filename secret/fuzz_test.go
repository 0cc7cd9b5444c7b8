package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzOpen feeds arbitrary text and additional data to Open. It must never
// panic, and it may only succeed for a text Seal produced, with the same
// additional data, returning the same plaintext.
func FuzzOpen(f *testing.F) {
	ring := mustRing(f, "k1", testKey("k1", 1), testKey("k2", 2))
	type sealing struct{ aad, plaintext []byte }
	// Produced once by Seal with the deterministic test keys. They are
	// constants because every fuzz worker runs this setup, and fresh seals
	// would differ from worker to worker.
	known := map[string]sealing{}
	for _, c := range []struct{ sealed, plaintext, aad string }{
		{"s1:k1:4XS_GbDF97DZVmbpT3KI4uZAqUSTU5oYjpG5cg", "", ""},
		{"s1:k1:x6W0-kjmpqlsG3Yq58SUw9sda82cBfM9btXNeTlPorD8inI", "hunter2", "production\x00db.password"},
		{"s1:k1:Ut5B-WkgqquO2kbxObUDdZMM2c2hPntJWPKFL2lVwfYvr7m4IF15C_iRFBm--2V03TjXNutv4vJy2t7jaRW9dJFR3TajOaAl1CfhM2jU7nHaarJCUy6Wuh0P01KCpcdpRm0xt3Kj39v-yXPqR6Sm0NGGrQxQWOuZXdcHoW7H7X4", strings.Repeat("x", 100), "a"},
		{"s1:k2:j5CILI5nTne8SK3bzQZ_bM8hrKqXSEH2YxwT8xTjRGSMEFqI1g", "other key", "b"},
	} {
		if pt, err := ring.Open(c.sealed, []byte(c.aad)); err != nil || string(pt) != c.plaintext {
			f.Fatalf("known sealed value %q does not open: %q, %v", c.sealed, pt, err)
		}
		known[c.sealed] = sealing{[]byte(c.aad), []byte(c.plaintext)}
		f.Add(c.sealed, []byte(c.aad))
		f.Add(c.sealed, []byte(c.aad+"x"))
		f.Add(c.sealed[:len(c.sealed)-1], []byte(c.aad))
		f.Add(strings.Replace(c.sealed, "s1:k1:", "s1:k2:", 1), []byte(c.aad))
	}
	f.Add("", []byte(nil))
	f.Add("s1:", []byte(nil))
	f.Add("s1:k1:", []byte(nil))
	f.Add("s1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte(nil))
	f.Add("s1:kx:AAAA", []byte(nil))
	f.Add("v1:AAAA", []byte(nil))

	f.Fuzz(func(t *testing.T, sealed string, aad []byte) {
		pt, err := ring.Open(sealed, aad)
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		k, ok := known[sealed]
		if !ok {
			t.Fatalf("Open accepted a text Seal did not produce: %q", sealed)
		}
		if !bytes.Equal(aad, k.aad) || !bytes.Equal(pt, k.plaintext) {
			t.Fatalf("Open(%q) with aad %q = %q; sealed with aad %q and plaintext %q", sealed, aad, pt, k.aad, k.plaintext)
		}
	})
}

// FuzzKeyIDOf checks that KeyIDOf never panics and agrees with Open.
func FuzzKeyIDOf(f *testing.F) {
	ring := mustRing(f, "k1", testKey("k1", 1))
	s, err := ring.Seal([]byte("x"), nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{s, "", "s1:", "s1:k1", "s1:k1:", "s1:k1:AA", "s1:k1:A", "s1:k-_Z9:AAAA", "s1:k:1:AAAA", "s1:\xff:AAAA", "v1:AAAA", "s1:kunknown:AAAA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sealed string) {
		id, err := KeyIDOf(sealed)
		_, openErr := ring.Open(sealed, nil)
		if err != nil {
			if id != "" || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("KeyIDOf(%q) = %q, %v", sealed, id, err)
			}
			if !errors.Is(openErr, ErrCorrupt) {
				t.Fatalf("KeyIDOf refused %q but Open said %v", sealed, openErr)
			}
			return
		}
		if !ValidKeyID(id) || !strings.HasPrefix(sealed, "s1:"+id+":") {
			t.Fatalf("KeyIDOf(%q) = %q", sealed, id)
		}
		if !ring.Has(id) && !errors.Is(openErr, ErrUnknownKey) {
			t.Fatalf("id %q is not in the ring but Open said %v", id, openErr)
		}
	})
}

// FuzzLoadMasterKeyEnv checks the KEEL_MASTER_KEY parser: it never panics,
// yields exactly 32 bytes or an error, and its error never repeats the value.
func FuzzLoadMasterKeyEnv(f *testing.F) {
	for _, seed := range []string{"", " ", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("ab", 32), strings.Repeat("zz", 32), "-_-_", "not a key"} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, v string) {
		if strings.TrimSpace(v) == "" {
			return // falls back to the key file: covered by the unit tests
		}
		key, source, err := LoadMasterKey(v, dir)
		if err != nil {
			if trimmed := strings.TrimSpace(v); len(trimmed) >= 8 && strings.Contains(err.Error(), trimmed) {
				t.Fatalf("error repeats the value: %v", err)
			}
			return
		}
		if len(key) != KeySize || source != MasterKeyEnv {
			t.Fatalf("key length %d from %q", len(key), source)
		}
	})
}

// FuzzUnwrap checks that Unwrap never panics and only accepts a text Wrap
// produced for that id.
func FuzzUnwrap(f *testing.F) {
	kek := testKey("kek", 9).Key
	dk := testKey("kd", 3)
	// Produced once by Wrap (a constant: every fuzz worker runs this setup).
	const w = "v1:9fpNosoK5iql/OgJiWn6GZ/taZqrDw92dXB1MA9gup/LwGeASZckeQPGoHFwKHN9ILH2lt2yJp91duZM"
	if got, err := Unwrap(kek, "kd", w); err != nil || !bytes.Equal(got.Key, dk.Key) {
		f.Fatalf("known wrapped key does not unwrap: %v", err)
	}
	f.Add("kd", w)
	f.Add("kx", w)
	f.Add("kd", w[:len(w)-2])
	f.Add("kd", "v1:")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, id, wrapped string) {
		got, err := Unwrap(kek, id, wrapped)
		if err != nil {
			return
		}
		if id != "kd" || wrapped != w || !bytes.Equal(got.Key, dk.Key) {
			t.Fatalf("Unwrap(%q, %q) accepted a text Wrap did not produce", id, wrapped)
		}
	})
}
