package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Each environment's changes also go into a capped stream (key
// {cfg:<env>}:changes, fields k, a, n), written in the same MULTI as the
// change itself. Consumers (the watch API, the SDK) follow it by stream id:
// unlike pub/sub it survives their reconnects, and when they fell so far
// behind that entries they needed were trimmed away, they are told to
// reset (reload everything) instead of silently missing changes.

const (
	configChangesDefault = 100
	configChangesMax     = 1000
)

// ConfigChange is one entry of an environment's change stream.
type ConfigChange struct {
	ID      string `json:"id"` // stream id, "<ms>-<seq>"
	Env     string `json:"env"`
	Key     string `json:"key"`
	Action  string `json:"action"` // set, delete, rollback, promote, import, expire
	Version int64  `json:"version"`
}

func configChanges(env string, msgs []redis.XMessage) []ConfigChange {
	out := make([]ConfigChange, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string {
			v, _ := m.Values[k].(string)
			return v
		}
		out = append(out, ConfigChange{ID: m.ID, Env: env, Key: str("k"), Action: str("a"), Version: intField(str("n"))})
	}
	return out
}

// parseChangeID accepts a stream id; "" and "0" mean the beginning.
func parseChangeID(id string) (streamID, error) {
	if id == "" || id == "0" {
		return streamID{}, nil
	}
	sid, ok := parseStreamID(id)
	if !ok {
		return streamID{}, Invalid("after", "is not a change id")
	}
	return sid, nil
}

// isNoSuchKey reports whether err is Redis refusing XINFO on a missing key.
func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// ConfigChangesAfter returns up to count changes of env after afterID
// (exclusive; "" or "0" for the beginning), oldest first. reset is true when
// the caller cannot catch up from afterID: it is older than the first entry
// the capped stream still keeps (so changes after it may have been trimmed
// away), or beyond anything the stream ever held (it comes from an earlier
// life of the environment). Then no changes are returned: the
// caller reloads everything and continues from LastConfigChangeID, read
// before the reload.
func (s *Store) ConfigChangesAfter(ctx context.Context, env, afterID string, count int64) (changes []ConfigChange, reset bool, err error) {
	if err := checkEnv(env); err != nil {
		return nil, false, err
	}
	after, err := parseChangeID(afterID)
	if err != nil {
		return nil, false, err
	}
	if count <= 0 {
		count = configChangesDefault
	}
	count = min(count, configChangesMax)
	key := s.cfgChangesKey(env)
	var info *redis.XInfoStreamCmd
	var rng *redis.XMessageSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		info = pipe.XInfoStream(ctx, key)
		rng = pipe.XRangeN(ctx, key, "("+after.String(), "+", count)
		return nil
	})
	if err != nil && !isNoSuchKey(err) {
		return nil, false, wrap(err)
	}
	if err := info.Err(); err != nil {
		if isNoSuchKey(err) {
			// No stream: nothing ever changed, unless the caller saw
			// changes of an earlier life of this environment.
			return nil, after != (streamID{}), nil
		}
		return nil, false, wrap(err)
	}
	if err := rng.Err(); err != nil {
		return nil, false, wrap(err)
	}
	st := info.Val()
	last, _ := parseStreamID(st.LastGeneratedID)
	first, _ := parseStreamID(st.FirstEntry.ID)
	// Trimming drops entries from the head only, and the store never
	// XDELs, so entries were dropped exactly when more were added than are
	// kept. A caller before the first entry kept may then have missed some;
	// this is conservative by one entry (the caller may have seen exactly
	// the last one trimmed), which costs a reload, never a lost change.
	trimmed := st.EntriesAdded > st.Length
	if last.less(after) || (trimmed && after.less(first)) {
		return nil, true, nil
	}
	return configChanges(env, rng.Val()), false, nil
}

// ReadConfigChanges waits up to block for changes of env after afterID ("$"
// for changes from now on) and returns them, oldest first; nil, nil when
// none came in time. block <= 0 does not wait. It reads ONE environment's
// stream (a multi-key XREAD would cross slots on Cluster) and holds a
// connection while it waits, so a process should have one reader per
// environment and fan its results out.
func (s *Store) ReadConfigChanges(ctx context.Context, env, afterID string, block time.Duration) ([]ConfigChange, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if afterID != "$" {
		after, err := parseChangeID(afterID)
		if err != nil {
			return nil, err
		}
		afterID = after.String()
	}
	args := &redis.XReadArgs{Streams: []string{s.cfgChangesKey(env), afterID}, Count: configChangesMax, Block: -1}
	if block > 0 {
		args.Block = max(block, time.Millisecond)
	}
	res, err := s.rdb.XRead(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err)
	}
	var out []ConfigChange
	for _, st := range res {
		out = append(out, configChanges(env, st.Messages)...)
	}
	return out, nil
}

// LastConfigChangeID returns the id of env's latest change, "0-0" when there
// is none: the position to follow the stream from after reading the
// current state.
func (s *Store) LastConfigChangeID(ctx context.Context, env string) (string, error) {
	if err := checkEnv(env); err != nil {
		return "", err
	}
	msgs, err := s.rdb.XRevRangeN(ctx, s.cfgChangesKey(env), "+", "-", 1).Result()
	if err != nil {
		return "", wrap(err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}
