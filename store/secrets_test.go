package store

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/secret"
)

func newKEK(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// sealedValues lists every sealed value the store holds for env: current
// entries and history records.
func sealedValues(t *testing.T, s *Store, env string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	keys, err := s.rdb.HKeys(bg, s.cfgVersionsKey(env)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if e, err := s.GetConfig(bg, env, k); err == nil && e.Type == config.TypeSecret {
			out[k] = append(out[k], e.Value)
		}
		hist, err := s.ConfigHistory(bg, env, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range hist {
			if v.Type == config.TypeSecret && v.Value != "" {
				out[k] = append(out[k], v.Value)
			}
		}
	}
	return out
}

func TestSecretRotationIsResumableAndNeverUnreadable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		kek := newKEK(t)
		sealer, err := s.OpenSecrets(bg, kek)
		if err != nil {
			t.Fatal(err)
		}
		s.SetSealer(sealer)
		if _, err := s.EnsureDefaultEnvironments(bg); err != nil {
			t.Fatal(err)
		}
		clear := map[string]string{}
		for _, env := range []string{"development", "production"} {
			for i, v := range []string{"first", "second", "third"} {
				w := ConfigWrite{Key: "payment.api_key", Type: config.TypeSecret, Value: env + "-" + v, Version: int64(i)}
				if _, err := s.SetConfig(bg, testAdmin, env, w); err != nil {
					t.Fatal(err)
				}
			}
			clear[env] = env + "-third"
			if _, err := s.SetConfig(bg, testAdmin, env, ConfigWrite{Key: "db.password", Type: config.TypeSecret, Value: "pw-" + env}); err != nil {
				t.Fatal(err)
			}
		}
		before := sealer.Keyring().Current()

		// Interrupt the rotation after two values.
		ctx, cancel := context.WithCancel(bg)
		n := 0
		s.resealHook = func() {
			if n++; n == 2 {
				cancel()
			}
		}
		if _, err := s.RotateSecrets(ctx, testAdmin, kek, sealer); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted rotation: %v", err)
		}
		s.resealHook = nil
		// Every secret still opens, whichever key seals it.
		for _, env := range []string{"development", "production"} {
			for key, vals := range sealedValues(t, s, env) {
				for _, v := range vals {
					if _, err := sealer.Open(env, key, v); err != nil {
						t.Fatalf("%s %s unreadable mid-rotation: %v", env, key, err)
					}
				}
			}
		}
		rep, err := s.RotateSecrets(bg, testAdmin, kek, sealer)
		if err != nil || !rep.Resumed || rep.KeyID == before {
			t.Fatalf("resume: %+v %v", rep, err)
		}
		// A second process with the same master key reads everything, and
		// everything is sealed with the new key.
		other, err := s.OpenSecrets(bg, kek)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range []string{"development", "production"} {
			for key, vals := range sealedValues(t, s, env) {
				for _, v := range vals {
					if id, _ := secret.KeyIDOf(v); id != rep.KeyID {
						t.Fatalf("%s %s still sealed with %s", env, key, id)
					}
					if _, err := other.Open(env, key, v); err != nil {
						t.Fatalf("%s %s: %v", env, key, err)
					}
				}
			}
			cur, _ := s.GetConfig(bg, env, "payment.api_key")
			if got, _ := other.Open(env, "payment.api_key", cur.Value); got != clear[env] {
				t.Fatalf("%s: got %q", env, got)
			}
		}
		// Nothing in Redis holds a secret in clear.
		for k, v := range dumpKeys(t, s) {
			for _, c := range []string{"development-first", "production-third", "pw-development"} {
				if strings.Contains(v, c) {
					t.Fatalf("%s holds %q in clear", k, c)
				}
			}
		}
		// A wrong master key is refused clearly.
		if _, err := s.OpenSecrets(bg, newKEK(t)); err == nil || !strings.Contains(err.Error(), "master key") {
			t.Fatalf("wrong master key: %v", err)
		}
	})
}
