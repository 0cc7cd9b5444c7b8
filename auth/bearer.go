package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/keelhq/keel/store"
)

// Tokens authenticates API requests that carry `Authorization: Bearer <token>`.
//
// Token records are cached in memory for a few seconds, so a busy consumer
// costs no Redis round trip per request. A revocation reaches the cache of
// every Keel process through the live-update stream (Invalidate) at once;
// the cache lifetime bounds the delay if that message is lost.
type Tokens struct {
	st  *store.Store
	now func() time.Time
	// touchEvery limits how often last-used times are written.
	touchEvery time.Duration
	cacheFor   time.Duration

	mu    sync.Mutex
	cache map[string]cachedToken
}

type cachedToken struct {
	rec     store.Token
	fetched time.Time
}

// maxCachedTokens bounds the cache; past it, the cache starts over.
const maxCachedTokens = 10000

// NewTokens returns the API-token authenticator.
func NewTokens(st *store.Store) *Tokens {
	return &Tokens{st: st, now: time.Now, touchEvery: time.Minute, cacheFor: 5 * time.Second, cache: map[string]cachedToken{}}
}

// Invalidate forgets a cached token (after a revocation); "" forgets all.
func (t *Tokens) Invalidate(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id == "" {
		clear(t.cache)
		return
	}
	delete(t.cache, id)
}

func (t *Tokens) lookup(ctx context.Context, id string, now time.Time) (store.Token, error) {
	t.mu.Lock()
	c, ok := t.cache[id]
	t.mu.Unlock()
	if ok && now.Sub(c.fetched) < t.cacheFor {
		return c.rec, nil
	}
	rec, err := t.st.GetToken(ctx, id)
	if err != nil {
		return store.Token{}, err
	}
	t.mu.Lock()
	if len(t.cache) >= maxCachedTokens {
		clear(t.cache)
	}
	t.cache[id] = cachedToken{rec: rec, fetched: now}
	t.mu.Unlock()
	return rec, nil
}

// BearerToken extracts the token of an Authorization header value, or "".
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Authenticate resolves a bearer token to a principal. Unknown, revoked,
// expired and malformed tokens all yield ErrUnauthenticated.
func (t *Tokens) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	id, secret, err := ParseToken(raw)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	now := t.now()
	rec, err := t.lookup(ctx, id, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrUnauthenticated
		}
		return nil, err
	}
	if !SecretMatches(secret, rec.SecretHash) || rec.Expired(now) {
		return nil, ErrUnauthenticated
	}
	role, err := ParseRole(rec.Role)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	if now.Sub(rec.LastUsedAt) >= t.touchEvery {
		_ = t.st.TouchToken(ctx, id, now) // best effort: a missed last-used time is harmless
		t.mu.Lock()
		if c, ok := t.cache[id]; ok {
			c.rec.LastUsedAt = now
			t.cache[id] = c
		}
		t.mu.Unlock()
	}
	return &Principal{Kind: KindToken, Name: rec.Name, Role: role, EnvScope: rec.Env, TokenID: rec.ID, ReadSecrets: rec.ReadSecrets}, nil
}

// TokenSpec describes a token to issue.
type TokenSpec struct {
	Name string
	Role Role
	Env  string        // optional environment scope
	TTL  time.Duration // 0: never expires
	// ReadSecrets lets the token receive secret values from the consumer API.
	ReadSecrets bool
}

// Issue creates a token record and returns the full token, shown once.
func (t *Tokens) Issue(ctx context.Context, actor store.Actor, spec TokenSpec) (store.Token, string, error) {
	id, secret, full := NewToken()
	rec := store.Token{
		ID: id, Name: spec.Name, Role: spec.Role.String(), Env: spec.Env, CreatedBy: actor.Name,
		CreatedAt: t.now(), SecretHash: HashSecret(secret), ReadSecrets: spec.ReadSecrets,
	}
	ttl := spec.TTL
	if ttl > 0 {
		rec.ExpiresAt = rec.CreatedAt.Add(ttl)
	}
	saved, err := t.st.CreateToken(ctx, actor, rec)
	if err != nil {
		return store.Token{}, "", err
	}
	return saved, full, nil
}
