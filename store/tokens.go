package store

import (
	"context"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// API tokens live in the {iam} group: a hash per token and an index zset
// scored by creation time. Only the SHA-256 of the secret is kept.

var tokenIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// touchTokenScript sets last_used only on a token that still exists, so a
// request racing a revocation does not leave a stray hash behind.
var touchTokenScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
return 1
`)

func tokenFields(t Token) []any {
	return []any{
		"id", t.ID,
		"name", t.Name,
		"role", t.Role,
		"env", t.Env,
		"created_by", t.CreatedBy,
		"created", ms(t.CreatedAt),
		"expires", ms(t.ExpiresAt),
		"last_used", ms(t.LastUsedAt),
		"secret_hash", hex.EncodeToString(t.SecretHash),
		"read_secrets", boolField(t.ReadSecrets),
	}
}

func tokenFromHash(h map[string]string) Token {
	secret, _ := hex.DecodeString(h["secret_hash"])
	return Token{
		ID:          h["id"],
		Name:        h["name"],
		Role:        h["role"],
		Env:         h["env"],
		CreatedBy:   h["created_by"],
		CreatedAt:   fromMS(h["created"]),
		ExpiresAt:   fromMS(h["expires"]),
		LastUsedAt:  fromMS(h["last_used"]),
		SecretHash:  secret,
		ReadSecrets: h["read_secrets"] == "1",
	}
}

// tokenAudit is what the audit log keeps of a token: never the secret hash.
func tokenAudit(t Token) map[string]any {
	m := map[string]any{"id": t.ID, "name": t.Name, "role": t.Role, "env": t.Env, "read_secrets": t.ReadSecrets, "expires_at": nil}
	if !t.ExpiresAt.IsZero() {
		m["expires_at"] = t.ExpiresAt
	}
	return m
}

// CreateToken stores a new API token. ID is chosen by the caller (the public
// part of the token); CreatedAt is set here and CreatedBy defaults to the
// actor. An Env scope must name an existing environment.
func (s *Store) CreateToken(ctx context.Context, a Actor, t Token) (Token, error) {
	now := s.clock()
	t.Name = strings.TrimSpace(t.Name)
	t.CreatedAt = now
	t.LastUsedAt = time.Time{}
	if t.CreatedBy == "" {
		t.CreatedBy = a.Name
	}
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = time.UnixMilli(t.ExpiresAt.UnixMilli()).UTC()
	}
	v := &ValidationError{}
	if !tokenIDRE.MatchString(t.ID) {
		v.Add("id", "use 1 to 64 letters, digits, dashes or underscores")
	}
	if n := utf8.RuneCountInString(t.Name); n < 1 || n > 100 {
		v.Add("name", "must be 1 to 100 characters")
	}
	if ValidRole(t.Role) != nil {
		v.Add("role", roleRule)
	}
	if len(t.SecretHash) == 0 {
		v.Add("secret", "is required")
	}
	if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(now) {
		v.Add("expires_at", "must be in the future")
	}
	if t.Env != "" {
		if !envNameRE.MatchString(t.Env) {
			v.Add("env", "is not an environment name")
		} else if n, err := s.rdb.Exists(ctx, s.envKey(t.Env)).Result(); err != nil {
			return Token{}, wrap(err)
		} else if n == 0 {
			v.Add("env", "no such environment")
		}
	}
	if err := v.OrNil(); err != nil {
		return Token{}, err
	}
	key := s.tokenKey(t.ID)
	err := s.change(ctx, tagIAM, []string{key}, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("token %s already exists", t.ID)
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, key, tokenFields(t)...)
			pipe.ZAdd(ctx, s.tokensIndexKey(), redis.Z{Score: float64(now.UnixMilli()), Member: t.ID})
			s.appendAudit(pipe, tagIAM, a, "token.create", t.ID, t.Env, nil, tokenAudit(t))
			return nil
		})
		return err
	})
	if err != nil {
		return Token{}, err
	}
	s.changed(ctx, "tokens", "token.create", t.ID, t.Env, a)
	return t, nil
}

// GetToken returns a token or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id string) (Token, error) {
	h, err := s.rdb.HGetAll(ctx, s.tokenKey(id)).Result()
	if err != nil {
		return Token{}, wrap(err)
	}
	if len(h) == 0 {
		return Token{}, ErrNotFound
	}
	return tokenFromHash(h), nil
}

// ListTokens returns every token, newest first.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.tokensIndexKey(), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if len(ids) > 0 {
		if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = pipe.HGetAll(ctx, s.tokenKey(id))
			}
			return nil
		}); err != nil {
			return nil, wrap(err)
		}
	}
	out := make([]Token, 0, len(ids))
	for _, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out = append(out, tokenFromHash(h))
		}
	}
	return out, nil
}

// RevokeToken deletes a token; audit "token.revoke". ErrNotFound if absent.
func (s *Store) RevokeToken(ctx context.Context, a Actor, id string) error {
	key := s.tokenKey(id)
	var t Token
	err := s.change(ctx, tagIAM, []string{key}, func(tx *redis.Tx) error {
		h, err := tx.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		if len(h) == 0 {
			return ErrNotFound
		}
		t = tokenFromHash(h)
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, key)
			pipe.ZRem(ctx, s.tokensIndexKey(), id)
			s.appendAudit(pipe, tagIAM, a, "token.revoke", id, t.Env, tokenAudit(t), nil)
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	s.changed(ctx, "tokens", "token.revoke", id, t.Env, a)
	return nil
}

// TouchToken records that the token was used at at (no audit, no event).
// ErrNotFound if it is gone.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	n, err := touchTokenScript.Run(ctx, s.rdb, []string{s.tokenKey(id)}, at.UnixMilli()).Int()
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
