package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/secret"
)

// Secret values are sealed with envelope encryption: data keys (kept in
// Redis wrapped by the master key) seal each value with AES-256-GCM, bound to
// its environment and key. Rotation makes a new data key current and
// re-seals every secret, entries and history alike, resumably; old data keys
// stay readable throughout, so no secret is ever unreadable.

// KeyringSealer is the Sealer of config secrets over the data keys. It is
// safe for concurrent use; Reload picks up a rotation made elsewhere.
type KeyringSealer struct {
	ring   atomic.Pointer[secret.Keyring]
	mu     sync.Mutex // serialises reloads
	reload func(context.Context) (*secret.Keyring, error)
}

func secretAAD(env, key string) []byte { return []byte("keel-config\x00" + env + "\x00" + key) }

// Seal seals a clear value for env/key with the current data key.
func (k *KeyringSealer) Seal(env, key, plaintext string) (string, error) {
	return k.ring.Load().Seal([]byte(plaintext), secretAAD(env, key))
}

// Open opens a value sealed for env/key. A data key made by another Keel
// process since this one loaded its keyring is fetched once.
func (k *KeyringSealer) Open(env, key, sealed string) (string, error) {
	b, err := k.ring.Load().Open(sealed, secretAAD(env, key))
	if errors.Is(err, secret.ErrUnknownKey) {
		if rerr := k.Reload(context.Background()); rerr == nil {
			b, err = k.ring.Load().Open(sealed, secretAAD(env, key))
		}
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Keyring returns the keyring in use.
func (k *KeyringSealer) Keyring() *secret.Keyring { return k.ring.Load() }

// Reload reads the data keys from Redis again.
func (k *KeyringSealer) Reload(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := k.reload(ctx)
	if err != nil {
		return err
	}
	k.ring.Store(r)
	return nil
}

// SetSealer installs the sealer of secret values (at start, before use).
func (s *Store) SetSealer(sl Sealer) { s.sealer = sl }

// OpenSecrets loads the data keys with the master key, creating the first
// data key on a new store, and returns the sealer for config secrets.
func (s *Store) OpenSecrets(ctx context.Context, kek []byte) (*KeyringSealer, error) {
	k := &KeyringSealer{reload: func(ctx context.Context) (*secret.Keyring, error) { return s.loadKeyring(ctx, kek) }}
	r, err := s.loadKeyring(ctx, kek)
	if errors.Is(err, ErrNotFound) {
		r, err = s.createFirstDataKey(ctx, kek)
	}
	if err != nil {
		return nil, err
	}
	k.ring.Store(r)
	return k, nil
}

// loadKeyring unwraps every data key; ErrNotFound when there is none.
func (s *Store) loadKeyring(ctx context.Context, kek []byte) (*secret.Keyring, error) {
	pipe := s.rdb.Pipeline()
	all := pipe.HGetAll(ctx, s.dataKeysKey())
	cur := pipe.Get(ctx, s.currentDataKeyKey())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap(err)
	}
	wrapped := all.Val()
	current := cur.Val()
	if len(wrapped) == 0 || current == "" {
		return nil, ErrNotFound
	}
	keys := make([]secret.DataKey, 0, len(wrapped))
	for id, w := range wrapped {
		dk, err := secret.Unwrap(kek, id, w)
		if err != nil {
			return nil, fmt.Errorf("the master key does not open data key %s: was KEEL_MASTER_KEY or the key file changed? (%w)", id, err)
		}
		keys = append(keys, dk)
	}
	return secret.NewKeyring(current, keys...)
}

func (s *Store) createFirstDataKey(ctx context.Context, kek []byte) (*secret.Keyring, error) {
	dk, err := secret.NewDataKey(s.clock())
	if err != nil {
		return nil, err
	}
	w, err := secret.Wrap(kek, dk)
	if err != nil {
		return nil, err
	}
	if err := s.rdb.SAdd(ctx, s.auditShardsKey(), tagKeys).Err(); err != nil {
		return nil, wrap(err)
	}
	err = s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, s.currentDataKeyKey()).Result()
		if err != nil || n > 0 {
			return err // another process created it first: load theirs
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, s.dataKeysKey(), dk.ID, w)
			pipe.Set(ctx, s.currentDataKeyKey(), dk.ID, 0)
			s.appendAudit(pipe, tagKeys, System, "secret.key_create", dk.ID, "", nil, map[string]any{"key_id": dk.ID})
			return nil
		})
		return err
	}, s.currentDataKeyKey())
	if err != nil {
		return nil, wrap(err)
	}
	return s.loadKeyring(ctx, kek)
}

// RotationReport says what a rotation did.
type RotationReport struct {
	KeyID    string // the data key now current
	Resumed  bool   // an interrupted rotation was finished
	Resealed int    // values re-sealed (entries and history records)
}

// casHashField sets a hash field only if it still holds the old value.
var casHashField = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`)

// casListItem replaces the first list item equal to the old value.
var casListItem = redis.NewScript(`
local pos = redis.call('LPOS', KEYS[1], ARGV[1])
if pos then
  redis.call('LSET', KEYS[1], pos, ARGV[2])
  return 1
end
return 0`)

// RotateSecrets makes a new data key current and re-seals every secret with
// it, in every environment, current values and history alike. Values stay
// readable throughout (old data keys are kept). It is resumable: when it is
// interrupted, the next call finishes the same rotation.
func (s *Store) RotateSecrets(ctx context.Context, a Actor, kek []byte, sealer *KeyringSealer) (RotationReport, error) {
	var rep RotationReport
	target, err := s.rdb.HGet(ctx, s.rotationKey(), "target").Result()
	switch {
	case err == nil:
		rep.Resumed = true
	case errors.Is(err, redis.Nil):
		dk, err := secret.NewDataKey(s.clock())
		if err != nil {
			return rep, err
		}
		w, err := secret.Wrap(kek, dk)
		if err != nil {
			return rep, err
		}
		if err := s.rdb.SAdd(ctx, s.auditShardsKey(), tagKeys).Err(); err != nil {
			return rep, wrap(err)
		}
		_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, s.dataKeysKey(), dk.ID, w)
			pipe.Set(ctx, s.currentDataKeyKey(), dk.ID, 0)
			pipe.HSet(ctx, s.rotationKey(), "target", dk.ID, "started", s.clock().UnixMilli(), "by", a.Name)
			s.appendAudit(pipe, tagKeys, a, "secret.rotate_start", dk.ID, "", nil, map[string]any{"key_id": dk.ID})
			return nil
		})
		if err != nil {
			return rep, wrap(err)
		}
		target = dk.ID
	default:
		return rep, wrap(err)
	}
	rep.KeyID = target
	if err := sealer.Reload(ctx); err != nil {
		return rep, err
	}
	s.changed(ctx, "secrets", "secret.rotate_start", target, "", a)
	envs, err := s.ListEnvironments(ctx)
	if err != nil {
		return rep, err
	}
	for _, e := range envs {
		n, err := s.resealEnv(ctx, e.Name, target, sealer)
		rep.Resealed += n
		if err != nil {
			return rep, err
		}
	}
	_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, s.rotationKey())
		s.appendAudit(pipe, tagKeys, a, "secret.rotate_finish", target, "", nil, map[string]any{"key_id": target, "resealed": rep.Resealed})
		return nil
	})
	if err != nil {
		return rep, wrap(err)
	}
	s.changed(ctx, "secrets", "secret.rotate_finish", target, "", a)
	return rep, nil
}

// reseal returns the value sealed with the target key, or "" when it
// already is.
func reseal(sealer *KeyringSealer, env, key, sealed, target string) (string, error) {
	id, err := secret.KeyIDOf(sealed)
	if err != nil {
		return "", fmt.Errorf("secret %s in %s: %w", key, env, err)
	}
	if id == target {
		return "", nil
	}
	plain, err := sealer.Open(env, key, sealed)
	if err != nil {
		return "", fmt.Errorf("secret %s in %s: %w", key, env, err)
	}
	return sealer.Seal(env, key, plain)
}

// resealEnv re-seals one environment's secrets: current entries (compare
// and set, so a concurrent edit wins and is already sealed with the new key)
// and every history record of every key the environment ever had.
func (s *Store) resealEnv(ctx context.Context, env, target string, sealer *KeyringSealer) (int, error) {
	done := 0
	entriesKey := s.cfgEntriesKey(env)
	for attempt := 0; attempt < 5; attempt++ {
		entries, err := s.rdb.HGetAll(ctx, entriesKey).Result()
		if err != nil {
			return done, wrap(err)
		}
		missed := 0
		for key, raw := range entries {
			e, err := parseEntry(key, raw)
			if err != nil {
				return done, err
			}
			if e.T != config.TypeSecret {
				continue
			}
			nv, err := reseal(sealer, env, key, e.V, target)
			if err != nil || nv == "" {
				if err != nil {
					return done, err
				}
				continue
			}
			e.V = nv
			b, err := json.Marshal(e)
			if err != nil {
				return done, err
			}
			ok, err := casHashField.Run(ctx, s.rdb, []string{entriesKey}, key, raw, string(b)).Int()
			if err != nil {
				return done, wrap(err)
			}
			if ok == 1 {
				done++
				s.afterReseal()
			} else {
				missed++
			}
			if err := ctx.Err(); err != nil {
				return done, err
			}
		}
		if missed == 0 {
			break
		}
	}
	keys, err := s.rdb.HKeys(ctx, s.cfgVersionsKey(env)).Result()
	if err != nil {
		return done, wrap(err)
	}
	for _, key := range keys {
		histKey := s.cfgHistKey(env, key)
		recs, err := s.rdb.LRange(ctx, histKey, 0, -1).Result()
		if err != nil {
			return done, wrap(err)
		}
		for _, raw := range recs {
			var v storedVersion
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return done, fmt.Errorf("history of %s in %s is corrupt: %w", key, env, err)
			}
			if v.T != config.TypeSecret || v.V == "" {
				continue
			}
			nv, err := reseal(sealer, env, key, v.V, target)
			if err != nil {
				return done, err
			}
			if nv == "" {
				continue
			}
			v.V = nv
			b, err := json.Marshal(v)
			if err != nil {
				return done, err
			}
			// A record trimmed away meanwhile needs nothing.
			ok, err := casListItem.Run(ctx, s.rdb, []string{histKey}, raw, string(b)).Int()
			if err != nil {
				return done, wrap(err)
			}
			if ok == 1 {
				done++
				s.afterReseal()
			}
			if err := ctx.Err(); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// afterReseal is a test hook: it runs after each value is re-sealed.
func (s *Store) afterReseal() {
	if s.resealHook != nil {
		s.resealHook()
	}
}

// OpenSecret opens a sealed config value for delivery to an application
// whose token may receive secrets. People reveal values with RevealConfig,
// which is audited.
func (s *Store) OpenSecret(env, key, sealed string) (string, error) {
	if s.sealer == nil {
		return "", errors.New("secrets need a master key")
	}
	return s.sealer.Open(env, key, sealed)
}
