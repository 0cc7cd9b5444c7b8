package store

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// EffectiveConfig returns the value applications in chain[0] receive for
// one key: the nearest environment of the chain that holds it wins.
// ErrNotFound when none does. One pipelined round trip.
func (s *Store) EffectiveConfig(ctx context.Context, chain []string, key string) (EffectiveEntry, error) {
	found, err := s.EffectiveConfigsFor(ctx, chain, []string{key})
	if err != nil {
		return EffectiveEntry{}, err
	}
	e, ok := found[key]
	if !ok {
		return EffectiveEntry{}, ErrNotFound
	}
	return e, nil
}

// ConfigPositions returns, for each environment of chain, the id of its
// latest change ("0-0" when none): where a watcher starts following after
// reading a snapshot. Read it before the snapshot, so nothing falls between.
func (s *Store) ConfigPositions(ctx context.Context, chain []string) (map[string]string, error) {
	if err := checkChain(chain); err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(chain))
	for i, env := range chain {
		cmds[i] = pipe.XRevRangeN(ctx, s.cfgChangesKey(env), "+", "-", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap(err)
	}
	out := make(map[string]string, len(chain))
	for i, env := range chain {
		out[env] = "0-0"
		if msgs := cmds[i].Val(); len(msgs) > 0 {
			out[env] = msgs[0].ID
		}
	}
	return out, nil
}

// EffectiveConfigsFor returns, for some keys, the values applications in
// chain[0] receive (absent keys are left out): one pipelined round trip.
func (s *Store) EffectiveConfigsFor(ctx context.Context, chain []string, keys []string) (map[string]EffectiveEntry, error) {
	if err := checkChain(chain); err != nil {
		return nil, err
	}
	out := make(map[string]EffectiveEntry, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(chain))
	for i, env := range chain {
		cmds[i] = pipe.HMGet(ctx, s.cfgEntriesKey(env), keys...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap(err)
	}
	for i, env := range chain {
		vals := cmds[i].Val()
		for j, key := range keys {
			if _, done := out[key]; done || j >= len(vals) {
				continue
			}
			raw, ok := vals[j].(string)
			if !ok {
				continue
			}
			e, err := parseEntry(key, raw)
			if err != nil {
				return nil, err
			}
			out[key] = EffectiveEntry{ConfigEntry: e.entry(env, key), SourceEnv: env}
		}
	}
	return out, nil
}
