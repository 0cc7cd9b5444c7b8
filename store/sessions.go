package store

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The session registry lives in the {iam} group beside the users: a hash per
// session (its secret id, user, times, address and browser) that expires
// after the idle timeout, a zset of handles per user and a zset of all
// handles, both scored by the absolute expiry. The gorilla/sessions data
// (written by redisstore under SessionDataPrefix) shares the slot, so
// revoking a session deletes its data in the same transaction.

// touchSessionScript extends a live session: the registry hash and the session
// data get the idle timeout again (never past the absolute end) and
// last_seen moves. A script rather than MULTI so a session that has just
// expired is not brought back as a hash without a TTL.
//
// KEYS[1] info, KEYS[2] data; ARGV[1] idle ms, ARGV[2] now ms.
var touchSessionScript = redis.NewScript(`
local expires = redis.call('HGET', KEYS[1], 'expires')
if not expires then return 0 end
local ttl = tonumber(ARGV[1])
local left = tonumber(expires) - tonumber(ARGV[2])
if left <= 0 then return 0 end
if left < ttl then ttl = left end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[1], 'last_seen', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
`)

func sessionFields(x Session) []any {
	return []any{
		"id", x.ID,
		"user", x.User,
		"created", ms(x.CreatedAt),
		"last_seen", ms(x.LastSeen),
		"expires", ms(x.ExpiresAt),
		"ip", x.IP,
		"ua", x.UserAgent,
	}
}

func sessionFromHash(handle string, h map[string]string) Session {
	return Session{
		ID:        h["id"],
		Handle:    handle,
		User:      h["user"],
		CreatedAt: fromMS(h["created"]),
		LastSeen:  fromMS(h["last_seen"]),
		ExpiresAt: fromMS(h["expires"]),
		IP:        h["ip"],
		UserAgent: h["ua"],
	}
}

// sessionTTL is how long the registry entry lives from at: the idle timeout,
// cut short by the absolute end.
func sessionTTL(idle time.Duration, at, expires time.Time) time.Duration {
	return min(idle, expires.Sub(at))
}

// CreateSession registers a signed-in session and audits "auth.login" in
// one transaction. ExpiresAt is the absolute end; the registry entry also
// lapses after idle without TouchSession. The user must exist and be
// enabled (checked under WATCH, so a concurrent disable cannot be missed).
func (s *Store) CreateSession(ctx context.Context, a Actor, sess Session, idle time.Duration) error {
	now := s.clock()
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = now
	}
	if sess.LastSeen.IsZero() {
		sess.LastSeen = sess.CreatedAt
	}
	if sess.IP == "" {
		sess.IP = a.IP
	}
	if sess.UserAgent == "" {
		sess.UserAgent = a.UserAgent
	}
	v := &ValidationError{}
	if sess.Handle == "" {
		v.Add("handle", "is required")
	}
	if sess.ID == "" {
		v.Add("id", "is required")
	}
	if sess.User == "" {
		v.Add("user", "is required")
	}
	if idle <= 0 {
		v.Add("idle", "must be positive")
	}
	if !sess.ExpiresAt.After(now) {
		v.Add("expires_at", "must be in the future")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	ttl := sessionTTL(idle, now, sess.ExpiresAt)
	info := s.sessionInfoKey(sess.Handle)
	keys := []string{s.userKey(sess.User), s.userSessionsKey(sess.User), info}
	err := s.change(ctx, tagIAM, keys, func(tx *redis.Tx) error {
		u, err := s.readUser(ctx, tx, sess.User)
		if err != nil {
			return err
		}
		if u.Disabled {
			return Conflictf("user %s is disabled", u.Name)
		}
		n, err := tx.Exists(ctx, info).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("session %s already exists", sess.Handle)
		}
		score := float64(sess.ExpiresAt.UnixMilli())
		stale := strconv.FormatInt(now.UnixMilli(), 10)
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, info, sessionFields(sess)...)
			pipe.PExpire(ctx, info, ttl)
			pipe.ZRemRangeByScore(ctx, s.userSessionsKey(sess.User), "-inf", stale)
			pipe.ZRemRangeByScore(ctx, s.sessionsIndexKey(), "-inf", stale)
			pipe.ZAdd(ctx, s.userSessionsKey(sess.User), redis.Z{Score: score, Member: sess.Handle})
			pipe.ZAdd(ctx, s.sessionsIndexKey(), redis.Z{Score: score, Member: sess.Handle})
			s.appendAudit(pipe, tagIAM, a, "auth.login", sess.User, "", nil, map[string]any{"session": sess.Handle})
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	s.changed(ctx, "sessions", "auth.login", sess.User, "", a)
	return nil
}

// GetSession returns a live session, or ErrNotFound when it is unknown, has
// been idle too long or is past its absolute end.
func (s *Store) GetSession(ctx context.Context, handle string) (Session, error) {
	h, err := s.rdb.HGetAll(ctx, s.sessionInfoKey(handle)).Result()
	if err != nil {
		return Session{}, wrap(err)
	}
	if len(h) == 0 {
		return Session{}, ErrNotFound
	}
	sess := sessionFromHash(handle, h)
	if !s.now().Before(sess.ExpiresAt) {
		return Session{}, ErrNotFound
	}
	return sess, nil
}

// SessionWithUser reads a live session and its user in one round trip, for
// the check every signed-in request makes. ErrNotFound when either is gone
// or the session belongs to someone else.
func (s *Store) SessionWithUser(ctx context.Context, handle, user string) (Session, User, error) {
	pipe := s.rdb.Pipeline()
	sessCmd := pipe.HGetAll(ctx, s.sessionInfoKey(handle))
	userCmd := pipe.HGetAll(ctx, s.userKey(user))
	if _, err := pipe.Exec(ctx); err != nil {
		return Session{}, User{}, wrap(err)
	}
	sh, uh := sessCmd.Val(), userCmd.Val()
	if len(sh) == 0 || len(uh) == 0 {
		return Session{}, User{}, ErrNotFound
	}
	sess := sessionFromHash(handle, sh)
	if sess.User != user || !s.now().Before(sess.ExpiresAt) {
		return Session{}, User{}, ErrNotFound
	}
	return sess, userFromHash(uh), nil
}

// TouchSession records activity at at: the registry entry and the session
// data live idle longer (never past the absolute end). ErrNotFound when the
// session is gone.
func (s *Store) TouchSession(ctx context.Context, handle string, idle time.Duration, at time.Time) error {
	if idle <= 0 {
		return Invalid("idle", "must be positive")
	}
	info := s.sessionInfoKey(handle)
	id, err := s.rdb.HGet(ctx, info, "id").Result()
	if err != nil {
		return wrap(err)
	}
	ok, err := touchSessionScript.Run(ctx, s.rdb, []string{info, s.sessionDataKey(id)},
		idle.Milliseconds(), at.UnixMilli()).Int()
	if err != nil {
		return wrap(err)
	}
	if ok == 0 {
		return ErrNotFound
	}
	return nil
}

// ListSessions returns the live sessions of user ("" for everyone), most
// recently seen first. Index members whose registry entry has lapsed are
// dropped from the index on the way (best effort).
func (s *Store) ListSessions(ctx context.Context, user string) ([]Session, error) {
	index := s.sessionsIndexKey()
	if user != "" {
		index = s.userSessionsKey(user)
	}
	handles, err := s.rdb.ZRange(ctx, index, 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	if len(handles) == 0 {
		return []Session{}, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(handles))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, h := range handles {
			cmds[i] = pipe.HGetAll(ctx, s.sessionInfoKey(h))
		}
		return nil
	}); err != nil {
		return nil, wrap(err)
	}
	now := s.now()
	out := make([]Session, 0, len(handles))
	var gone []any
	for i, c := range cmds {
		h := c.Val()
		if len(h) == 0 {
			gone = append(gone, handles[i])
			continue
		}
		if sess := sessionFromHash(handles[i], h); now.Before(sess.ExpiresAt) {
			out = append(out, sess)
		}
	}
	if len(gone) > 0 {
		// Best effort: a failure here only leaves the lapsed handles for the
		// next listing.
		_, _ = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.ZRem(ctx, s.sessionsIndexKey(), gone...)
			if user != "" {
				pipe.ZRem(ctx, s.userSessionsKey(user), gone...)
			}
			return nil
		})
	}
	slices.SortStableFunc(out, func(x, y Session) int { return y.LastSeen.Compare(x.LastSeen) })
	return out, nil
}

// RevokeSession ends someone's session (an admin, or the user from the
// sessions page); audit "session.revoke". ErrNotFound if it is gone.
func (s *Store) RevokeSession(ctx context.Context, a Actor, handle string) error {
	return s.endSession(ctx, a, handle, "session.revoke")
}

// EndSession is sign-out; audit "auth.logout".
func (s *Store) EndSession(ctx context.Context, a Actor, handle string) error {
	return s.endSession(ctx, a, handle, "auth.logout")
}

func (s *Store) endSession(ctx context.Context, a Actor, handle, action string) error {
	info := s.sessionInfoKey(handle)
	var user string
	err := s.change(ctx, tagIAM, []string{info}, func(tx *redis.Tx) error {
		vals, err := tx.HMGet(ctx, info, "id", "user").Result()
		if err != nil {
			return err
		}
		id, _ := vals[0].(string)
		user, _ = vals[1].(string)
		if user == "" {
			return ErrNotFound
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			s.queueEndSessions(ctx, pipe, user, []sessionRef{{handle: handle, id: id}}, "")
			s.appendAudit(pipe, tagIAM, a, action, user, "", map[string]any{"session": handle}, nil)
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	s.changed(ctx, "sessions", action, user, "", a)
	return nil
}

// sessionRef names a session and its secret id (to find its data key).
type sessionRef struct{ handle, id string }

// userSessionRefs reads the sessions a user has in the registry (inside a
// WATCH of the user's session zset, so a new sign-in retries the change).
func (s *Store) userSessionRefs(ctx context.Context, c redis.Cmdable, user string) ([]sessionRef, error) {
	handles, err := c.ZRange(ctx, s.userSessionsKey(user), 0, -1).Result()
	if err != nil || len(handles) == 0 {
		return nil, err
	}
	cmds := make([]*redis.StringCmd, len(handles))
	if _, err := c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, h := range handles {
			cmds[i] = pipe.HGet(ctx, s.sessionInfoKey(h), "id")
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	refs := make([]sessionRef, len(handles))
	for i, h := range handles {
		refs[i] = sessionRef{handle: h, id: cmds[i].Val()}
	}
	return refs, nil
}

// queueEndSessions queues the deletion of sessions (registry entry, data,
// index members), except the one whose handle is keep.
func (s *Store) queueEndSessions(ctx context.Context, pipe redis.Pipeliner, user string, refs []sessionRef, keep string) {
	for _, r := range refs {
		if r.handle == keep {
			continue
		}
		pipe.Del(ctx, s.sessionInfoKey(r.handle))
		if r.id != "" {
			pipe.Del(ctx, s.sessionDataKey(r.id))
		}
		pipe.ZRem(ctx, s.userSessionsKey(user), r.handle)
		pipe.ZRem(ctx, s.sessionsIndexKey(), r.handle)
	}
}
