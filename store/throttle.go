package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// ThrottlePolicy limits failed sign-ins: after UserLimit failures for one
// account, or IPLimit failures from one address, within Window, sign-in is
// refused until the window (counted from the first failure) ends. A limit
// of 0 disables that counter.
type ThrottlePolicy struct {
	UserLimit int
	IPLimit   int
	Window    time.Duration
}

// DefaultThrottle is 5 failures per account and 20 per address in 15 minutes.
var DefaultThrottle = ThrottlePolicy{UserLimit: 5, IPLimit: 20, Window: 15 * time.Minute}

// throttleName keeps counter keys short whatever a stranger types as user
// name: names that could be real are kept, anything longer is hashed.
func throttleName(v string) string {
	if len(v) <= 64 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256-" + hex.EncodeToString(sum[:16])
}

// LoginLockedUntil returns when sign-in for username from ip opens again,
// or the zero time when it is not locked.
func (s *Store) LoginLockedUntil(ctx context.Context, p ThrottlePolicy, username, ip string) (time.Time, error) {
	type counter struct {
		limit int
		n     *redis.StringCmd
		ttl   *redis.DurationCmd
	}
	var counters []*counter
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		add := func(limit int, key string) {
			if limit > 0 {
				counters = append(counters, &counter{limit: limit, n: pipe.Get(ctx, key), ttl: pipe.PTTL(ctx, key)})
			}
		}
		add(p.UserLimit, s.throttleUserKey(throttleName(username)))
		if ip != "" {
			add(p.IPLimit, s.throttleIPKey(throttleName(ip)))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, wrap(err)
	}
	var until time.Time
	for _, c := range counters {
		n, err := c.n.Int()
		if err != nil || n < c.limit {
			continue
		}
		ttl := c.ttl.Val()
		if ttl < 0 { // no expiry (should not happen): lock for a window
			ttl = p.Window
		}
		if t := s.clock().Add(ttl); t.After(until) {
			until = t
		}
	}
	return until, nil
}

// RecordLoginFailure counts a failed sign-in against the account and a.IP
// and audits "auth.login_failed" (target username, after {reason}) in one
// transaction. Each counter's window starts at its first failure.
func (s *Store) RecordLoginFailure(ctx context.Context, p ThrottlePolicy, a Actor, username, reason string) error {
	if p.Window <= 0 {
		return Invalid("window", "must be positive")
	}
	if err := s.rdb.SAdd(ctx, s.auditShardsKey(), tagIAM).Err(); err != nil {
		return wrap(err)
	}
	window := p.Window.Milliseconds()
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		count := func(key string) {
			pipe.Incr(ctx, key)
			pipe.Do(ctx, "PEXPIRE", key, window, "NX")
		}
		count(s.throttleUserKey(throttleName(username)))
		if a.IP != "" {
			count(s.throttleIPKey(throttleName(a.IP)))
		}
		s.appendAudit(pipe, tagIAM, a, "auth.login_failed", username, "", nil, map[string]any{"reason": reason})
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	s.changed(ctx, "audit", "auth.login_failed", username, "", a)
	return nil
}

// ResetLoginFailures clears the account's counter after a successful
// sign-in (the address counter keeps running).
func (s *Store) ResetLoginFailures(ctx context.Context, username string) error {
	return wrap(s.rdb.Del(ctx, s.throttleUserKey(throttleName(username))).Err())
}
