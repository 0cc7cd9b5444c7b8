package store

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Environments live in the {envs} group: a hash per environment and an index
// zset scored by Order.

var (
	envNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	envColorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// DefaultEnvColor is the color of an environment created without one.
const DefaultEnvColor = "#64748b"

const (
	maxEnvOrder = 1_000_000
	envNameRule = "use 1 to 40 lower-case letters, digits or dashes, starting with a letter or digit"
)

func envFields(e Environment) []any {
	return []any{
		"name", e.Name,
		"order", e.Order,
		"color", e.Color,
		"protected", boolField(e.Protected),
		"require_approval", boolField(e.RequireApproval),
		"parent", e.Parent,
		"created", ms(e.CreatedAt),
		"updated", ms(e.UpdatedAt),
		"version", e.Version,
	}
}

func envFromHash(h map[string]string) Environment {
	order, _ := strconv.Atoi(h["order"])
	return Environment{
		Name:            h["name"],
		Order:           order,
		Color:           h["color"],
		Protected:       h["protected"] == "1",
		RequireApproval: h["require_approval"] == "1",
		Parent:          h["parent"],
		CreatedAt:       fromMS(h["created"]),
		UpdatedAt:       fromMS(h["updated"]),
		Version:         intField(h["version"]),
	}
}

// validateEnv checks the fields that need no other environment.
func validateEnv(e Environment) error {
	v := &ValidationError{}
	if !envNameRE.MatchString(e.Name) {
		v.Add("name", envNameRule)
	}
	if !envColorRE.MatchString(e.Color) {
		v.Add("color", "must be a color like #22c55e")
	}
	if e.Order < 1 || e.Order > maxEnvOrder {
		v.Add("order", "must be between 1 and 1000000")
	}
	if e.Parent != "" && e.Parent == e.Name {
		v.Add("parent", "cannot be the environment itself")
	}
	return v.OrNil()
}

func (s *Store) readEnv(ctx context.Context, c redis.Cmdable, name string) (Environment, error) {
	h, err := c.HGetAll(ctx, s.envKey(name)).Result()
	if err != nil {
		return Environment{}, wrap(err)
	}
	if len(h) == 0 {
		return Environment{}, ErrNotFound
	}
	return envFromHash(h), nil
}

// checkParent makes sure parent exists and that following parents up from
// it never reaches name (a cycle). Each environment on the way is WATCHed
// before it is read, so two concurrent changes cannot close a cycle
// between them.
func (s *Store) checkParent(ctx context.Context, tx *redis.Tx, name, parent string) error {
	if parent == "" {
		return nil
	}
	if parent == name {
		return Invalid("parent", "cannot be the environment itself")
	}
	seen := map[string]bool{}
	for cur := parent; cur != "" && !seen[cur]; {
		if cur == name {
			return Invalid("parent", "would make a cycle: "+name+" is an ancestor of "+parent)
		}
		seen[cur] = true
		key := s.envKey(cur)
		if err := tx.Watch(ctx, key).Err(); err != nil {
			return err
		}
		vals, err := tx.HMGet(ctx, key, "name", "parent").Result()
		if err != nil {
			return err
		}
		if vals[0] == nil {
			if cur == parent {
				return Invalid("parent", "no such environment")
			}
			return nil // a dangling link higher up cannot lead back to name
		}
		cur, _ = vals[1].(string)
	}
	return nil
}

// ListEnvironments returns every environment by Order, then name.
func (s *Store) ListEnvironments(ctx context.Context) ([]Environment, error) {
	names, err := s.rdb.ZRange(ctx, s.envsIndexKey(), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(names))
	if len(names) > 0 {
		if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, n := range names {
				cmds[i] = pipe.HGetAll(ctx, s.envKey(n))
			}
			return nil
		}); err != nil {
			return nil, wrap(err)
		}
	}
	out := make([]Environment, 0, len(names))
	for _, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out = append(out, envFromHash(h))
		}
	}
	slices.SortStableFunc(out, func(a, b Environment) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// GetEnvironment returns an environment or ErrNotFound.
func (s *Store) GetEnvironment(ctx context.Context, name string) (Environment, error) {
	return s.readEnv(ctx, s.rdb, name)
}

// CreateEnvironment stores a new environment with Version 1. Color defaults
// to DefaultEnvColor and Order (when 0) to one past the highest.
func (s *Store) CreateEnvironment(ctx context.Context, a Actor, e Environment) (Environment, error) {
	if e.Color == "" {
		e.Color = DefaultEnvColor
	}
	probe := e
	if probe.Order == 0 {
		probe.Order = 1
	}
	if err := validateEnv(probe); err != nil {
		return Environment{}, err
	}
	key, index := s.envKey(e.Name), s.envsIndexKey()
	err := s.change(ctx, tagEnvs, []string{key, index}, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("environment %s already exists", e.Name)
		}
		if err := s.checkParent(ctx, tx, e.Name, e.Parent); err != nil {
			return err
		}
		if e.Order == 0 {
			top, err := tx.ZRevRangeWithScores(ctx, index, 0, 0).Result()
			if err != nil {
				return err
			}
			e.Order = 1
			if len(top) > 0 {
				e.Order = int(top[0].Score) + 1
			}
			if err := validateEnv(e); err != nil {
				return err
			}
		}
		now := s.clock()
		e.CreatedAt, e.UpdatedAt, e.Version = now, now, 1
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			s.queueCreateEnv(ctx, pipe, a, e)
			return nil
		})
		return err
	})
	if err != nil {
		return Environment{}, err
	}
	s.changed(ctx, "environments", "environment.create", e.Name, e.Name, a)
	return e, nil
}

func (s *Store) queueCreateEnv(ctx context.Context, pipe redis.Pipeliner, a Actor, e Environment) {
	pipe.HSet(ctx, s.envKey(e.Name), envFields(e)...)
	pipe.ZAdd(ctx, s.envsIndexKey(), redis.Z{Score: float64(e.Order), Member: e.Name})
	s.appendAudit(pipe, tagEnvs, a, "environment.create", e.Name, e.Name, nil, e)
}

// sameEnv reports whether two versions of an environment differ only in
// bookkeeping.
func sameEnv(a, b Environment) bool {
	return a.Order == b.Order && a.Color == b.Color && a.Protected == b.Protected &&
		a.RequireApproval == b.RequireApproval && a.Parent == b.Parent
}

// UpdateEnvironment applies fn to the current environment and stores the
// result. version is the Version the caller edited (0: do not check); if the
// environment changed since, it returns a ConflictError. The name cannot
// change. A change that alters nothing is not written. fn may run more than
// once (the transaction retries when the environment changes meanwhile), so
// it should only edit its argument.
func (s *Store) UpdateEnvironment(ctx context.Context, a Actor, name string, version int64, fn func(*Environment) error) (Environment, error) {
	key, index := s.envKey(name), s.envsIndexKey()
	var out Environment
	committed := false
	err := s.change(ctx, tagEnvs, []string{key, index}, func(tx *redis.Tx) error {
		committed = false
		cur, err := s.readEnv(ctx, tx, name)
		if err != nil {
			return err
		}
		if version != 0 && cur.Version != version {
			return Conflictf("environment %s was changed by someone else; reload and try again", name)
		}
		next := cur
		if err := fn(&next); err != nil {
			return err
		}
		if next.Name != name {
			return Invalid("name", "cannot be changed")
		}
		if next.Color == "" {
			next.Color = DefaultEnvColor
		}
		if err := validateEnv(next); err != nil {
			return err
		}
		if sameEnv(cur, next) {
			out = cur
			return nil
		}
		if next.Parent != cur.Parent {
			if err := s.checkParent(ctx, tx, name, next.Parent); err != nil {
				return err
			}
		}
		next.CreatedAt = cur.CreatedAt
		next.UpdatedAt = s.clock()
		next.Version = cur.Version + 1
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, key, envFields(next)...)
			pipe.ZAdd(ctx, index, redis.Z{Score: float64(next.Order), Member: name})
			s.appendAudit(pipe, tagEnvs, a, "environment.update", name, name, cur, next)
			return nil
		})
		if err == nil {
			out, committed = next, true
		}
		return err
	})
	if err != nil {
		return Environment{}, err
	}
	if committed {
		s.changed(ctx, "environments", "environment.update", name, name, a)
	}
	return out, nil
}

// DeleteEnvironment removes an environment; it refuses while another
// environment names it as parent.
func (s *Store) DeleteEnvironment(ctx context.Context, a Actor, name string) error {
	key, index := s.envKey(name), s.envsIndexKey()
	err := s.change(ctx, tagEnvs, []string{key, index}, func(tx *redis.Tx) error {
		cur, err := s.readEnv(ctx, tx, name)
		if err != nil {
			return err
		}
		names, err := tx.ZRange(ctx, index, 0, -1).Result()
		if err != nil {
			return err
		}
		others := slices.DeleteFunc(names, func(n string) bool { return n == name })
		if len(others) > 0 {
			// Watch every other environment before reading its parent, so one
			// made a child meanwhile makes this transaction retry.
			keys := make([]string, len(others))
			for i, n := range others {
				keys[i] = s.envKey(n)
			}
			if err := tx.Watch(ctx, keys...).Err(); err != nil {
				return err
			}
			cmds := make([]*redis.StringCmd, len(others))
			if _, err := tx.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = pipe.HGet(ctx, k, "parent")
				}
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for i, c := range cmds {
				if c.Val() == name {
					return Conflictf("environment %s is the parent of %s; change %s first", name, others[i], others[i])
				}
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, key)
			pipe.ZRem(ctx, index, name)
			s.appendAudit(pipe, tagEnvs, a, "environment.delete", name, name, cur, nil)
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	s.changed(ctx, "environments", "environment.delete", name, name, a)
	return nil
}

// DefaultEnvironments are what a new instance starts with.
var DefaultEnvironments = []Environment{
	{Name: "development", Order: 1, Color: "#22c55e"},
	{Name: "staging", Order: 2, Color: "#f59e0b"},
	{Name: "production", Order: 3, Color: "#ef4444", Protected: true, RequireApproval: true},
}

// EnsureDefaultEnvironments creates DefaultEnvironments, as the System
// actor, when there is no environment at all. created says whether it did.
func (s *Store) EnsureDefaultEnvironments(ctx context.Context) (bool, error) {
	index := s.envsIndexKey()
	created := false
	err := s.change(ctx, tagEnvs, []string{index}, func(tx *redis.Tx) error {
		created = false
		n, err := tx.ZCard(ctx, index).Result()
		if err != nil || n > 0 {
			return err
		}
		now := s.clock()
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, e := range DefaultEnvironments {
				e.CreatedAt, e.UpdatedAt, e.Version = now, now, 1
				s.queueCreateEnv(ctx, pipe, System, e)
			}
			return nil
		})
		created = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	if created {
		for _, e := range DefaultEnvironments {
			s.changed(ctx, "environments", "environment.create", e.Name, e.Name, System)
		}
	}
	return created, nil
}
