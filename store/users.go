package store

import (
	"context"
	"regexp"
	"slices"

	"github.com/redis/go-redis/v9"
)

// Users live in the {iam} group: a hash per user, the index zset of names
// (score 0, so it reads back in name order) and the set of enabled admins,
// which is what keeps the last one from being demoted, disabled or deleted.

var usernameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// Roles are the assignable roles, lowest first.
var Roles = []string{"viewer", "editor", "publisher", "admin"}

const (
	usernameRule = "use 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit"
	roleRule     = "must be viewer, editor, publisher or admin"
)

// ValidUsername checks a user name (field "username"): 1 to 64 letters,
// digits, dots, dashes or underscores, starting with a letter or digit.
func ValidUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return Invalid("username", usernameRule)
	}
	return nil
}

// ValidRole checks a role name (field "role").
func ValidRole(role string) error {
	if !slices.Contains(Roles, role) {
		return Invalid("role", roleRule)
	}
	return nil
}

const roleAdmin = "admin"

func userFields(u User) []any {
	return []any{
		"name", u.Name,
		"role", u.Role,
		"password_hash", u.PasswordHash,
		"disabled", boolField(u.Disabled),
		"created", ms(u.CreatedAt),
		"updated", ms(u.UpdatedAt),
		"version", u.Version,
	}
}

func userFromHash(h map[string]string) User {
	return User{
		Name:         h["name"],
		Role:         h["role"],
		PasswordHash: h["password_hash"],
		Disabled:     h["disabled"] == "1",
		CreatedAt:    fromMS(h["created"]),
		UpdatedAt:    fromMS(h["updated"]),
		Version:      intField(h["version"]),
	}
}

// userAudit is what the audit log keeps of a user: never the hash.
func userAudit(u User) map[string]any {
	return map[string]any{"name": u.Name, "role": u.Role, "disabled": u.Disabled}
}

func (s *Store) readUser(ctx context.Context, c redis.Cmdable, name string) (User, error) {
	h, err := c.HGetAll(ctx, s.userKey(name)).Result()
	if err != nil {
		return User{}, wrap(err)
	}
	if len(h) == 0 {
		return User{}, ErrNotFound
	}
	return userFromHash(h), nil
}

// CreateUser stores a new user with Version 1.
func (s *Store) CreateUser(ctx context.Context, a Actor, u User) (User, error) {
	v := &ValidationError{}
	if ValidUsername(u.Name) != nil {
		v.Add("username", usernameRule)
	}
	if ValidRole(u.Role) != nil {
		v.Add("role", roleRule)
	}
	if err := v.OrNil(); err != nil {
		return User{}, err
	}
	key := s.userKey(u.Name)
	err := s.change(ctx, tagIAM, []string{key}, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("user %s already exists", u.Name)
		}
		now := s.clock()
		u.CreatedAt, u.UpdatedAt, u.Version = now, now, 1
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, key, userFields(u)...)
			pipe.ZAdd(ctx, s.usersIndexKey(), redis.Z{Member: u.Name})
			if u.Role == roleAdmin && !u.Disabled {
				pipe.SAdd(ctx, s.adminsKey(), u.Name)
			}
			s.appendAudit(pipe, tagIAM, a, "user.create", u.Name, "", nil, userAudit(u))
			return nil
		})
		return err
	})
	if err != nil {
		return User{}, err
	}
	s.changed(ctx, "users", "user.create", u.Name, "", a)
	return u, nil
}

// GetUser returns a user or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	return s.readUser(ctx, s.rdb, name)
}

// ListUsers returns every user, sorted by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	names, err := s.rdb.ZRange(ctx, s.usersIndexKey(), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(names))
	if len(names) > 0 {
		_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, n := range names {
				cmds[i] = pipe.HGetAll(ctx, s.userKey(n))
			}
			return nil
		})
		if err != nil {
			return nil, wrap(err)
		}
	}
	users := make([]User, 0, len(names))
	for _, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			users = append(users, userFromHash(h))
		}
	}
	return users, nil
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	n, err := s.rdb.ZCard(ctx, s.usersIndexKey()).Result()
	return n, wrap(err)
}

// isLastAdmin reports whether u is the only enabled admin left.
func (s *Store) isLastAdmin(ctx context.Context, tx *redis.Tx, u User) (bool, error) {
	if u.Role != roleAdmin || u.Disabled {
		return false, nil
	}
	n, err := tx.SCard(ctx, s.adminsKey()).Result()
	if err != nil {
		return false, err
	}
	return n <= 1, nil
}

// updateUser is the read-check-write cycle of every user change: fn edits
// the user (returning false for "nothing to change") and queues extra
// commands through extra; the user hash, the admin set, the version and the
// audit entry are handled here.
func (s *Store) updateUser(ctx context.Context, a Actor, name, action string,
	fn func(tx *redis.Tx, u *User) (changed bool, audit [2]any, extra func(redis.Pipeliner), err error),
) (User, error) {
	var out User
	committed := false
	keys := []string{s.userKey(name), s.adminsKey(), s.userSessionsKey(name)}
	err := s.change(ctx, tagIAM, keys, func(tx *redis.Tx) error {
		committed = false
		cur, err := s.readUser(ctx, tx, name)
		if err != nil {
			return err
		}
		next := cur
		changed, audit, extra, err := fn(tx, &next)
		if err != nil {
			return err
		}
		if !changed {
			out = cur
			return nil
		}
		next.Name = name
		next.UpdatedAt = s.clock()
		next.Version = cur.Version + 1
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, s.userKey(name), userFields(next)...)
			if next.Role == roleAdmin && !next.Disabled {
				pipe.SAdd(ctx, s.adminsKey(), name)
			} else {
				pipe.SRem(ctx, s.adminsKey(), name)
			}
			if extra != nil {
				extra(pipe)
			}
			s.appendAudit(pipe, tagIAM, a, action, name, "", audit[0], audit[1])
			return nil
		})
		if err == nil {
			out, committed = next, true
		}
		return err
	})
	if err != nil {
		return User{}, err
	}
	if committed {
		s.changed(ctx, "users", action, name, "", a)
	}
	return out, nil
}

// SetUserRole changes a user's role. The last enabled admin keeps theirs.
func (s *Store) SetUserRole(ctx context.Context, a Actor, name, role string) (User, error) {
	if err := ValidRole(role); err != nil {
		return User{}, err
	}
	return s.updateUser(ctx, a, name, "user.set_role", func(tx *redis.Tx, u *User) (bool, [2]any, func(redis.Pipeliner), error) {
		if u.Role == role {
			return false, [2]any{}, nil, nil
		}
		if role != roleAdmin {
			last, err := s.isLastAdmin(ctx, tx, *u)
			if err != nil {
				return false, [2]any{}, nil, err
			}
			if last {
				return false, [2]any{}, nil, Conflictf("%s is the last enabled admin; make another user admin first", u.Name)
			}
		}
		before := map[string]any{"role": u.Role}
		u.Role = role
		return true, [2]any{before, map[string]any{"role": role}}, nil, nil
	})
}

// SetUserDisabled disables or enables a user. Disabling also ends all the
// user's sessions in the same transaction; the last enabled admin cannot be
// disabled.
func (s *Store) SetUserDisabled(ctx context.Context, a Actor, name string, disabled bool) (User, error) {
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	return s.updateUser(ctx, a, name, action, func(tx *redis.Tx, u *User) (bool, [2]any, func(redis.Pipeliner), error) {
		if u.Disabled == disabled {
			return false, [2]any{}, nil, nil
		}
		before := map[string]any{"disabled": u.Disabled}
		after := map[string]any{"disabled": disabled}
		var extra func(redis.Pipeliner)
		if disabled {
			last, err := s.isLastAdmin(ctx, tx, *u)
			if err != nil {
				return false, [2]any{}, nil, err
			}
			if last {
				return false, [2]any{}, nil, Conflictf("%s is the last enabled admin and cannot be disabled", u.Name)
			}
			refs, err := s.userSessionRefs(ctx, tx, u.Name)
			if err != nil {
				return false, [2]any{}, nil, err
			}
			after["sessions_revoked"] = len(refs)
			extra = func(pipe redis.Pipeliner) { s.queueEndSessions(ctx, pipe, u.Name, refs, "") }
		}
		u.Disabled = disabled
		return true, [2]any{before, after}, extra, nil
	})
}

// SetPassword stores a new password hash and ends every session of the user
// except keepSessionHandle (the one that made the change, if any), in one
// transaction. action is "user.reset_password" (an admin did it) or
// "user.change_password" (the user did). The audit entry never holds the
// hash.
func (s *Store) SetPassword(ctx context.Context, a Actor, name, hash, action, keepSessionHandle string) error {
	if action != "user.reset_password" && action != "user.change_password" {
		return Invalid("action", "must be user.reset_password or user.change_password")
	}
	if hash == "" {
		return Invalid("password", "is required")
	}
	_, err := s.updateUser(ctx, a, name, action, func(tx *redis.Tx, u *User) (bool, [2]any, func(redis.Pipeliner), error) {
		refs, err := s.userSessionRefs(ctx, tx, u.Name)
		if err != nil {
			return false, [2]any{}, nil, err
		}
		revoked := 0
		for _, r := range refs {
			if r.handle != keepSessionHandle {
				revoked++
			}
		}
		u.PasswordHash = hash
		after := map[string]any{"sessions_revoked": revoked}
		return true, [2]any{nil, after}, func(pipe redis.Pipeliner) {
			s.queueEndSessions(ctx, pipe, u.Name, refs, keepSessionHandle)
		}, nil
	})
	return err
}

// DeleteUser removes a user with their sessions and sign-in counter. The
// last enabled admin cannot be deleted.
func (s *Store) DeleteUser(ctx context.Context, a Actor, name string) error {
	keys := []string{s.userKey(name), s.adminsKey(), s.userSessionsKey(name)}
	err := s.change(ctx, tagIAM, keys, func(tx *redis.Tx) error {
		u, err := s.readUser(ctx, tx, name)
		if err != nil {
			return err
		}
		last, err := s.isLastAdmin(ctx, tx, u)
		if err != nil {
			return err
		}
		if last {
			return Conflictf("%s is the last enabled admin and cannot be deleted", u.Name)
		}
		refs, err := s.userSessionRefs(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, s.userKey(name), s.throttleUserKey(throttleName(name)))
			pipe.ZRem(ctx, s.usersIndexKey(), name)
			pipe.SRem(ctx, s.adminsKey(), name)
			s.queueEndSessions(ctx, pipe, name, refs, "")
			pipe.Del(ctx, s.userSessionsKey(name))
			s.appendAudit(pipe, tagIAM, a, "user.delete", name, "", userAudit(u), nil)
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	s.changed(ctx, "users", "user.delete", name, "", a)
	return nil
}
