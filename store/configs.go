package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/secret"
	"github.com/redis/go-redis/v9"
)

// Configuration lives in one hash-tag group per environment, {cfg:<env>}:
//
//	entries   HASH   config key → compact JSON of the entry (storedEntry)
//	versions  HASH   config key → last version number ever used
//	keys      ZSET   every key (score 0, read by ZRANGEBYLEX)
//	by-tag:T  ZSET   the keys carrying tag T
//	by-type:T ZSET   the keys of type T
//	hist:K    LIST   K's version records, newest first, trimmed to the limit
//	expiry    ZSET   key → expiry in Unix ms
//	changes   STREAM k (key), a (action), n (version); capped
//	rev       STRING the environment's revision, bumped by every change
//	audit     STREAM the group's audit entries
//
// Every change is one MULTI/EXEC that WATCHes the entries and versions
// hashes, so a change and its indexes, history, change-stream entry,
// revision and audit entry commit together or not at all. Secret values are
// sealed before they reach Redis; audit entries and events only ever carry
// secret.Mask in their place.

const (
	defaultHistoryLimit    = 100
	defaultChangeStreamLen = 10000
	// approxTrimFrom is the stream cap from which XADD trims approximately.
	approxTrimFrom = 1000

	maxConfigTTL      = 10 * 365 * 24 * time.Hour
	maxConfigTags     = 20
	maxDescriptionLen = 2000
	maxCommentLen     = 2000

	configListDefault = 50
	configListMax     = 500
)

// Sealer seals and opens secret values; the secrets layer implements it. A
// sealed value is bound to its place (env and key): it opens nowhere else.
type Sealer interface {
	Seal(env, key, plaintext string) (string, error)
	Open(env, key, sealed string) (string, error)
}

// ConfigEntry is the current value of one config key in one environment.
type ConfigEntry struct {
	Env  string      `json:"env"`
	Key  string      `json:"key"`
	Type config.Type `json:"type"`
	// Value is the canonical text (config.Normalize); for a secret it is the
	// SEALED text, never the clear value.
	Value       string    `json:"value"`
	Description string    `json:"description,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
	Comment     string    `json:"comment,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"` // zero: no expiry
}

// Deleted reports whether e stands for a key that a write deleted
// (ApplyConfigs returns such entries for deletes: Type empty).
func (e ConfigEntry) Deleted() bool { return e.Type == "" }

// ConfigWrite is one change to one key.
type ConfigWrite struct {
	Key    string
	Delete bool
	Type   config.Type
	// Value is the raw text, normalized by the store; the clear text for a
	// secret (sealed by the store), unless KeepSecret or SealedEnv says
	// otherwise.
	Value       string
	Description string
	Tags        []string
	// TTL makes the entry expire that long after the write; 0 means no
	// expiry (a write without TTL removes an earlier one).
	TTL     time.Duration
	Comment string
	// Version is the version being replaced: 0 when the key must not exist
	// yet. For a Delete it must match the current version (0 for a key
	// that does not exist makes the delete a no-op).
	Version int64
	// KeepSecret writes a secret that keeps its current sealed value (an
	// edit of a secret's description only, or the import of a masked
	// secret). The key must currently hold a secret.
	KeepSecret bool
	// SealedEnv, for a secret, says Value is not clear text but a sealed
	// value taken from the same key in environment SealedEnv (its entry or
	// its history: a rollback, a promotion). The store opens it there and
	// seals it again for this environment, or keeps it as it is when
	// SealedEnv is this environment, so the clear text never leaves the
	// store.
	SealedEnv string
}

// ConfigConflict is the conflict of a write whose Version is stale. It
// matches ErrConflict under errors.Is and unwraps to a *ConflictError whose
// message names the key.
type ConfigConflict struct {
	Key string
	// Current is the entry as it is now; Current.Version is 0 when the key
	// does not exist (it was deleted).
	Current ConfigEntry
	err     *ConflictError
}

func (c *ConfigConflict) Error() string { return c.err.Message }

// Unwrap returns the *ConflictError carrying the message.
func (c *ConfigConflict) Unwrap() error { return c.err }

// ConfigVersion is one record of a key's history.
type ConfigVersion struct {
	Version int64       `json:"version"`
	Action  string      `json:"action"` // set, delete, rollback, promote, import, expire
	Type    config.Type `json:"type,omitempty"`
	// Value is the canonical text; SEALED for secrets.
	Value       string    `json:"value"`
	Description string    `json:"description,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	Author      string    `json:"author"`
	Time        time.Time `json:"time"`
	Comment     string    `json:"comment,omitempty"`
	PrevVersion int64     `json:"prev_version,omitempty"`
	// Deleted: this version removed the key (Type and Value are empty).
	Deleted bool `json:"deleted,omitempty"`
}

// EffectiveEntry is an entry as an environment sees it through inheritance.
type EffectiveEntry struct {
	ConfigEntry
	// SourceEnv is the environment of the chain the value comes from.
	SourceEnv string `json:"source_env"`
}

// Revision identifies the state of an environment chain: "<env>:<rev>"
// joined by "," in chain order. It changes whenever any environment of the
// chain changes, so it serves as an ETag.
type Revision string

// ConfigQuery filters and pages ListConfigs.
type ConfigQuery struct {
	Prefix string
	Tag    string
	Type   config.Type
	Cursor string // the last key of the previous page
	Limit  int    // default 50, at most 500
}

// storedEntry is the JSON form of an entry in the entries hash.
type storedEntry struct {
	T config.Type `json:"t"`
	V string      `json:"v"`
	D string      `json:"d,omitempty"`
	G []string    `json:"g,omitempty"`
	N int64       `json:"n"`
	U int64       `json:"u"`
	B string      `json:"b,omitempty"`
	C string      `json:"c,omitempty"`
	X int64       `json:"x,omitempty"`
}

func (e storedEntry) entry(env, key string) ConfigEntry {
	out := ConfigEntry{Env: env, Key: key, Type: e.T, Value: e.V, Description: e.D, Tags: e.G,
		Version: e.N, UpdatedAt: fromMillis(e.U), UpdatedBy: e.B, Comment: e.C}
	if e.X > 0 {
		out.ExpiresAt = fromMillis(e.X)
	}
	return out
}

// sameContent reports whether two entries hold the same data (bookkeeping
// aside).
func (e storedEntry) sameContent(o storedEntry) bool {
	return e.T == o.T && e.V == o.V && e.D == o.D && slices.Equal(e.G, o.G) && e.X == o.X
}

func parseEntry(key, raw string) (storedEntry, error) {
	var e storedEntry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return storedEntry{}, fmt.Errorf("config %s: stored entry is corrupt: %w", key, err)
	}
	return e, nil
}

// storedVersion is the JSON form of one history record.
type storedVersion struct {
	N int64       `json:"n"`
	A string      `json:"a"`
	T config.Type `json:"t,omitempty"`
	V string      `json:"v,omitempty"`
	D string      `json:"d,omitempty"`
	G []string    `json:"g,omitempty"`
	B string      `json:"b,omitempty"`
	U int64       `json:"u"`
	C string      `json:"c,omitempty"`
	P int64       `json:"p,omitempty"`
}

func (v storedVersion) version() ConfigVersion {
	return ConfigVersion{Version: v.N, Action: v.A, Type: v.T, Value: v.V, Description: v.D, Tags: v.G,
		Author: v.B, Time: fromMillis(v.U), Comment: v.C, PrevVersion: v.P, Deleted: isDeleteAction(v.A)}
}

// History actions.
const (
	actionSet      = "set"
	actionDelete   = "delete"
	actionRollback = "rollback"
	actionPromote  = "promote"
	actionImport   = "import"
	actionExpire   = "expire"
)

func isDeleteAction(a string) bool { return a == actionDelete || a == actionExpire }

// applyActions are the actions callers may pass to ApplyConfigs.
var applyActions = []string{actionSet, actionImport, actionPromote, actionRollback}

func fromMillis(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// configAudit is what the audit log keeps of an entry: a secret's value is
// always secret.Mask.
type configAudit struct {
	Type        config.Type `json:"type"`
	Value       string      `json:"value"`
	Version     int64       `json:"version"`
	Description string      `json:"description,omitempty"`
	Tags        []string    `json:"tags,omitempty"`
	ExpiresAt   time.Time   `json:"expires_at,omitzero"`
}

// auditOf returns the audit document of e, or an untyped nil when there is
// no entry (so appendAudit leaves the side out).
func auditOf(e *storedEntry) any {
	if e == nil {
		return nil
	}
	value := e.V
	if e.T == config.TypeSecret {
		value = secret.Mask
	}
	return configAudit{Type: e.T, Value: value, Version: e.N, Description: e.D, Tags: e.G, ExpiresAt: fromMillis(e.X)}
}

// checkEnv checks an environment name (field "env").
func checkEnv(env string) error {
	if !envNameRE.MatchString(env) {
		return Invalid("env", envNameRule)
	}
	return nil
}

// errNoMasterKey refuses a secret when the store has no Sealer.
func errNoMasterKey(field string) error { return Invalid(field, "Secrets need a master key.") }

// openSecret opens a sealed value of env's key.
func (s *Store) openSecret(env, key, sealed string) (string, error) {
	if s.sealer == nil {
		return "", errNoMasterKey("value")
	}
	clear, err := s.sealer.Open(env, key, sealed)
	if err != nil {
		return "", fmt.Errorf("open secret %s in %s: %w", key, env, err)
	}
	return clear, nil
}

// valueMessage renders a config.Normalize error for the "value" field.
func valueMessage(err error) string {
	var ve *config.ValueError
	if errors.As(err, &ve) {
		if ve.Line == 0 {
			return ve.Message
		}
		// "line L, column C: ..." leads; the message need not repeat it.
		at := fmt.Sprintf("line %d, column %d", ve.Line, ve.Column)
		return at + ": " + strings.Replace(ve.Message, " at "+at, "", 1)
	}
	return err.Error()
}

// configOp is one validated write on its way into the transaction.
type configOp struct {
	w     ConfigWrite
	tags  []string
	value string // canonical; sealed for a secret; "" for KeepSecret
	// governing is the schema that applies to the key, kept to check a
	// secret kept from the current entry.
	governing *activeSchema
}

// ApplyConfigs writes several changes to one environment, all or nothing,
// in one MULTI/EXEC. action is "set", "import", "promote" or "rollback": the
// history action and (as "config.<action>") the audit action of each
// written key; deletes record "delete" and config.delete. Every write is
// validated first (key, type, value, tags, TTL, description, comment, and
// the schema of the most specific matching pattern): any invalid write
// gives a *ValidationError and nothing is written. Its fields are "key",
// "type", "value", "tags", "ttl_seconds", "description", "comment" for a
// single write, prefixed with the config key ("db.host: value") for
// several. A stale Version gives a *ConfigConflict naming the key, and
// nothing is written either. A write that would change nothing (same type,
// value, description, tags and expiry) is skipped: no version, no history.
//
// Each written key gets one history record, one change-stream entry, one
// audit entry and, after the commit, one event (topic "configs"); the
// environment's revision goes up once per call. The result holds one entry
// per write, in order: the entry as written (or as it is, for a skipped
// write); for a delete, an entry with an empty Type, the version of the
// delete record (0 when the key did not exist) and no value.
func (s *Store) ApplyConfigs(ctx context.Context, a Actor, env, action string, writes []ConfigWrite) ([]ConfigEntry, error) {
	if !slices.Contains(applyActions, action) {
		return nil, Invalid("action", "must be set, import, promote or rollback")
	}
	return s.applyConfigs(ctx, a, env, action, writes)
}

// SetConfig writes one key: ApplyConfigs with action "set".
func (s *Store) SetConfig(ctx context.Context, a Actor, env string, w ConfigWrite) (ConfigEntry, error) {
	w.Delete = false
	out, err := s.applyConfigs(ctx, a, env, actionSet, []ConfigWrite{w})
	if err != nil {
		return ConfigEntry{}, err
	}
	return out[0], nil
}

// DeleteConfig deletes one key whose current version is version. It returns
// ErrNotFound when the key does not exist and version is 0, and a
// *ConfigConflict when version is not the current one.
func (s *Store) DeleteConfig(ctx context.Context, a Actor, env, key string, version int64, comment string) error {
	out, err := s.applyConfigs(ctx, a, env, actionSet, []ConfigWrite{{Key: key, Delete: true, Version: version, Comment: comment}})
	if err != nil {
		return err
	}
	if out[0].Version == 0 {
		return ErrNotFound
	}
	return nil
}

// prepareConfigWrites validates writes without reading the current state
// and seals clear secrets. Every problem goes into one ValidationError.
func (s *Store) prepareConfigWrites(ctx context.Context, env string, writes []ConfigWrite) ([]configOp, error) {
	single := len(writes) == 1
	field := func(key, f string) string { return fieldFor(single, key, f) }
	var set schemaSet
	for _, w := range writes {
		if !w.Delete {
			var err error
			if set, err = s.loadSchemas(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	v := &ValidationError{}
	ops := make([]configOp, len(writes))
	seen := make(map[string]bool, len(writes))
	for i, w := range writes {
		op := configOp{w: w}
		if err := config.ValidKey(w.Key); err != nil {
			v.Add(field(w.Key, "key"), err.Error())
		} else if seen[w.Key] {
			v.Add(field(w.Key, "key"), "appears more than once in one change")
		}
		seen[w.Key] = true
		if w.Version < 0 {
			v.Add(field(w.Key, "version"), "cannot be negative")
		}
		if len(w.Comment) > maxCommentLen || !utf8.ValidString(w.Comment) {
			v.Add(field(w.Key, "comment"), fmt.Sprintf("must be valid text of at most %d bytes", maxCommentLen))
		}
		if w.Delete {
			ops[i] = op
			continue
		}
		if t, err := config.ParseType(string(w.Type)); err != nil {
			msg := err.Error()
			if w.Type == "" {
				msg = "Choose a type: string, number, boolean, json or secret."
			}
			v.Add(field(w.Key, "type"), msg)
		} else {
			w.Type, op.w.Type = t, t
		}
		if w.TTL < 0 || w.TTL > maxConfigTTL {
			v.Add(field(w.Key, "ttl_seconds"), "must be between 0 (no expiry) and 10 years")
		}
		if len(w.Description) > maxDescriptionLen || !utf8.ValidString(w.Description) {
			v.Add(field(w.Key, "description"), fmt.Sprintf("must be valid text of at most %d bytes", maxDescriptionLen))
		}
		tags, msg := normalizeTags(w.Tags)
		if msg != "" {
			v.Add(field(w.Key, "tags"), msg)
		}
		op.tags = tags
		op.governing = set.forKey(w.Key)
		if op.governing != nil && op.governing.err != nil {
			v.Add(field(w.Key, "value"), fmt.Sprintf("the schema for %s cannot be used: %v", op.governing.Pattern, op.governing.err))
		}
		isSecret := w.Type == config.TypeSecret
		switch {
		case isSecret && w.KeepSecret:
			// Resolved from the current entry inside the transaction.
		case isSecret && w.SealedEnv != "":
			if err := checkEnv(w.SealedEnv); err != nil {
				v.Add(field(w.Key, "value"), "comes from an invalid environment")
				break
			}
			op.value = w.Value
			if w.SealedEnv == env && op.governing == nil {
				break // kept as it is: nothing to check
			}
			if s.sealer == nil {
				v.Add(field(w.Key, "value"), "Secrets need a master key.")
				break
			}
			clear, err := s.openSecret(w.SealedEnv, w.Key, w.Value)
			if err != nil {
				return nil, err
			}
			if msg := checkValue(op.governing, config.TypeSecret, clear); msg != "" {
				v.Add(field(w.Key, "value"), msg)
				break
			}
			if w.SealedEnv != env {
				op.value = clear // sealed for env below
			}
		case w.KeepSecret:
			v.Add(field(w.Key, "value"), "only a secret can keep its current value")
		default:
			if !w.Type.Valid() {
				break // reported on "type"
			}
			canon, err := config.Normalize(w.Type, w.Value)
			if err != nil {
				v.Add(field(w.Key, "value"), valueMessage(err))
				break
			}
			if msg := checkValue(op.governing, w.Type, canon); msg != "" {
				v.Add(field(w.Key, "value"), msg)
				break
			}
			if isSecret && s.sealer == nil {
				v.Add(field(w.Key, "value"), "Secrets need a master key.")
			}
			op.value = canon
		}
		ops[i] = op
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	// Seal only once everything is valid.
	for i := range ops {
		op := &ops[i]
		w := op.w
		if w.Delete || w.Type != config.TypeSecret || w.KeepSecret || w.SealedEnv == env {
			continue
		}
		sealed, err := s.sealer.Seal(env, w.Key, op.value)
		if err != nil {
			return nil, fmt.Errorf("seal secret %s in %s: %w", w.Key, env, err)
		}
		op.value = sealed
	}
	return ops, nil
}

// checkValue validates canonical text against the governing schema and
// returns the "value" message, "" when valid.
func checkValue(as *activeSchema, t config.Type, canonical string) string {
	if as == nil || as.compiled == nil {
		return ""
	}
	if viol := validateValue(as.compiled, t, canonical); len(viol) > 0 {
		return schemaMessage(viol)
	}
	return ""
}

// normalizeTags checks tags and returns them sorted without duplicates, or
// a message for the "tags" field.
func normalizeTags(tags []string) ([]string, string) {
	if len(tags) == 0 {
		return nil, ""
	}
	out := slices.Clone(tags)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, t := range out {
		if err := config.ValidTag(t); err != nil {
			return nil, fmt.Sprintf("%q: %v", t, err)
		}
	}
	if len(out) > maxConfigTags {
		return nil, fmt.Sprintf("at most %d tags", maxConfigTags)
	}
	return out, ""
}

// configChange is one key's committed change, for the events.
type configChange struct {
	key, action string
}

// applyConfigs is ApplyConfigs for any action, including "expire".
func (s *Store) applyConfigs(ctx context.Context, a Actor, env, action string, writes []ConfigWrite) ([]ConfigEntry, error) {
	return s.applyConfigsWith(ctx, a, env, action, writes, nil)
}

// applyHook joins a caller's own reads and writes to a config change, so
// that they commit in the same MULTI/EXEC as the writes (a promotion and
// its record, say). Every key it touches must be in the environment's
// group.
type applyHook struct {
	// watch are the hook's keys to WATCH besides the entries and versions.
	watch []string
	// before runs once WATCH is set, before the entries are read: it reads
	// what it needs through tx and may refuse the change. It runs again on
	// every retry.
	before func(tx *redis.Tx) error
	// queue adds the hook's commands to the MULTI, after the writes; out is
	// the result of every write, as ApplyConfigs returns it. With a hook
	// the transaction runs even when no write changes anything.
	queue func(pipe redis.Pipeliner, out []ConfigEntry)
}

// plannedConfig is one write that changes something, on its way into the
// transaction.
type plannedConfig struct {
	op        *configOp
	cur, next *storedEntry
	version   int64
	record    storedVersion
}

// applyConfigsWith is applyConfigs with an optional hook.
func (s *Store) applyConfigsWith(ctx context.Context, a Actor, env, action string, writes []ConfigWrite, hook *applyHook) ([]ConfigEntry, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if len(writes) == 0 && hook == nil {
		return nil, nil
	}
	ops, err := s.prepareConfigWrites(ctx, env, writes)
	if err != nil {
		return nil, err
	}
	tag := cfgTag(env)
	entriesKey, versionsKey := s.cfgEntriesKey(env), s.cfgVersionsKey(env)
	fields := make([]string, len(ops))
	for i, op := range ops {
		fields[i] = op.w.Key
	}
	watch := []string{entriesKey, versionsKey}
	if hook != nil {
		watch = append(watch, hook.watch...)
	}
	var out []ConfigEntry
	var changes []configChange
	err = s.change(ctx, tag, watch, func(tx *redis.Tx) error {
		out, changes = nil, nil
		if hook != nil && hook.before != nil {
			if err := hook.before(tx); err != nil {
				return err
			}
		}
		curVals, verVals, err := s.readConfigState(ctx, tx, env, fields)
		if err != nil {
			return err
		}
		var plan []plannedConfig
		plan, out, err = s.planConfigOps(env, action, a, ops, curVals, verVals, s.clock())
		if err != nil {
			return err
		}
		if len(plan) == 0 && hook == nil {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, p := range plan {
				key := p.op.w.Key
				s.queueConfigChange(ctx, pipe, env, key, p.cur, p.next, p.version, p.record)
				auditAction := "config." + p.record.A
				s.appendAudit(pipe, tag, a, auditAction, key, env, auditOf(p.cur), auditOf(p.next))
			}
			if len(plan) > 0 {
				pipe.Incr(ctx, s.cfgRevKey(env))
			}
			if hook != nil && hook.queue != nil {
				hook.queue(pipe, out)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, p := range plan {
			changes = append(changes, configChange{key: p.op.w.Key, action: "config." + p.record.A})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.configsChanged(ctx, env, changes, a)
	return out, nil
}

// readConfigState reads the current entries and last version numbers of
// keys (HMGET values: a string, or nil when absent) in one round trip.
func (s *Store) readConfigState(ctx context.Context, c redis.Cmdable, env string, keys []string) (cur, ver []any, err error) {
	if len(keys) == 0 {
		return nil, nil, nil
	}
	var curCmd, verCmd *redis.SliceCmd
	if _, err := c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		curCmd = pipe.HMGet(ctx, s.cfgEntriesKey(env), keys...)
		verCmd = pipe.HMGet(ctx, s.cfgVersionsKey(env), keys...)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return curCmd.Val(), verCmd.Val(), nil
}

// planConfigOps checks validated ops against the current state (curVals and
// verVals as readConfigState returns them) and works out what each writes:
// the plan of the writes that change something and the result of every
// write. A stale version gives a *ConfigConflict.
func (s *Store) planConfigOps(env, action string, a Actor, ops []configOp, curVals, verVals []any, now time.Time) ([]plannedConfig, []ConfigEntry, error) {
	out := make([]ConfigEntry, len(ops))
	var plan []plannedConfig
	for i := range ops {
		op := &ops[i]
		w := op.w
		var cur *storedEntry
		if raw, ok := curVals[i].(string); ok {
			e, err := parseEntry(w.Key, raw)
			if err != nil {
				return nil, nil, err
			}
			cur = &e
		}
		if err := checkConfigVersion(env, w, cur); err != nil {
			return nil, nil, err
		}
		if w.Delete && cur == nil {
			out[i] = ConfigEntry{Env: env, Key: w.Key}
			continue
		}
		last := int64(0)
		if raw, ok := verVals[i].(string); ok {
			last, _ = strconv.ParseInt(raw, 10, 64)
		}
		if cur != nil {
			last = max(last, cur.N)
		}
		p := plannedConfig{op: op, cur: cur, version: last + 1}
		rec := storedVersion{N: p.version, A: action, B: a.Name, U: now.UnixMilli(), C: w.Comment, P: last}
		if w.Delete {
			if action != actionExpire {
				rec.A = actionDelete
			}
			p.record = rec
			plan = append(plan, p)
			out[i] = ConfigEntry{Env: env, Key: w.Key, Version: p.version, UpdatedAt: now, UpdatedBy: a.Name, Comment: w.Comment}
			continue
		}
		value := op.value
		if w.Type == config.TypeSecret && w.KeepSecret {
			if cur == nil || cur.T != config.TypeSecret {
				return nil, nil, Invalid(fieldFor(len(ops) == 1, w.Key, "value"), "there is no current secret value to keep; enter a value")
			}
			value = cur.V
			if op.governing != nil {
				if s.sealer == nil {
					return nil, nil, Invalid(fieldFor(len(ops) == 1, w.Key, "value"), "Secrets need a master key.")
				}
				clear, err := s.openSecret(env, w.Key, value)
				if err != nil {
					return nil, nil, err
				}
				if msg := checkValue(op.governing, config.TypeSecret, clear); msg != "" {
					return nil, nil, Invalid(fieldFor(len(ops) == 1, w.Key, "value"), msg)
				}
			}
		}
		next := storedEntry{T: w.Type, V: value, D: w.Description, G: op.tags,
			N: p.version, U: now.UnixMilli(), B: a.Name, C: w.Comment}
		if w.TTL > 0 {
			next.X = now.Add(w.TTL).UnixMilli()
		}
		if cur != nil && cur.sameContent(next) {
			out[i] = cur.entry(env, w.Key)
			continue
		}
		p.next = &next
		rec.T, rec.V, rec.D, rec.G = next.T, next.V, next.D, next.G
		p.record = rec
		plan = append(plan, p)
		out[i] = next.entry(env, w.Key)
	}
	return plan, out, nil
}

// CheckConfigs validates writes to env exactly as ApplyConfigs does (key,
// type, value, tags, TTL, description, comment, schema, and each Version
// against the current entry) without writing anything: nil when
// ApplyConfigs would accept them now, else the same *ValidationError or
// *ConfigConflict. Previews use it.
func (s *Store) CheckConfigs(ctx context.Context, env string, writes []ConfigWrite) error {
	if err := checkEnv(env); err != nil {
		return err
	}
	if len(writes) == 0 {
		return nil
	}
	ops, err := s.prepareConfigWrites(ctx, env, writes)
	if err != nil {
		return err
	}
	fields := make([]string, len(ops))
	for i, op := range ops {
		fields[i] = op.w.Key
	}
	curVals, verVals, err := s.readConfigState(ctx, s.rdb, env, fields)
	if err != nil {
		return wrap(err)
	}
	_, _, err = s.planConfigOps(env, actionSet, System, ops, curVals, verVals, s.clock())
	return err
}

// fieldFor names a ValidationError field: f for a single write, "<key>: f"
// for one of several.
func fieldFor(single bool, key, f string) string {
	if single {
		return f
	}
	return key + ": " + f
}

// checkConfigVersion compares the version a write replaces with the current
// entry (nil: the key does not exist).
func checkConfigVersion(env string, w ConfigWrite, cur *storedEntry) error {
	conflict := func(format string, args ...any) error {
		c := &ConfigConflict{Key: w.Key, err: Conflictf(format, args...)}
		if cur != nil {
			c.Current = cur.entry(env, w.Key)
		} else {
			c.Current = ConfigEntry{Env: env, Key: w.Key}
		}
		return c
	}
	switch {
	case cur == nil && w.Version == 0:
		return nil
	case cur == nil:
		return conflict("config %s was deleted by someone else; reload and try again", w.Key)
	case w.Version == 0 && !w.Delete:
		return conflict("config %s already exists (version %d); reload and edit it", w.Key, cur.N)
	case w.Version != cur.N:
		return conflict("config %s was changed by someone else (now version %d); reload and try again", w.Key, cur.N)
	}
	return nil
}

// queueConfigChange queues, inside the caller's MULTI, every write of one
// key's change: entry, version counter, indexes, expiry, history and the
// change-stream entry. next nil deletes the key.
func (s *Store) queueConfigChange(ctx context.Context, pipe redis.Pipeliner, env, key string, cur, next *storedEntry, version int64, rec storedVersion) {
	entries, index, expiry := s.cfgEntriesKey(env), s.cfgIndexKey(env), s.cfgExpiryKey(env)
	var curTags, nextTags []string
	if cur != nil {
		curTags = cur.G
		if next == nil || next.T != cur.T {
			pipe.ZRem(ctx, s.cfgTypeIndexKey(env, string(cur.T)), key)
		}
	}
	if next == nil {
		pipe.HDel(ctx, entries, key)
		pipe.ZRem(ctx, index, key)
		pipe.ZRem(ctx, expiry, key)
	} else {
		nextTags = next.G
		b, _ := json.Marshal(next)
		pipe.HSet(ctx, entries, key, b)
		pipe.ZAdd(ctx, index, redis.Z{Member: key})
		pipe.ZAdd(ctx, s.cfgTypeIndexKey(env, string(next.T)), redis.Z{Member: key})
		if next.X > 0 {
			pipe.ZAdd(ctx, expiry, redis.Z{Score: float64(next.X), Member: key})
		} else if cur != nil && cur.X > 0 {
			pipe.ZRem(ctx, expiry, key)
		}
	}
	for _, t := range curTags {
		if !slices.Contains(nextTags, t) {
			pipe.ZRem(ctx, s.cfgTagIndexKey(env, t), key)
		}
	}
	for _, t := range nextTags {
		pipe.ZAdd(ctx, s.cfgTagIndexKey(env, t), redis.Z{Member: key})
	}
	pipe.HSet(ctx, s.cfgVersionsKey(env), key, version)
	hist := s.cfgHistKey(env, key)
	b, _ := json.Marshal(rec)
	pipe.LPush(ctx, hist, b)
	pipe.LTrim(ctx, hist, 0, int64(s.historyLimit-1))
	pipe.XAdd(ctx, &redis.XAddArgs{
		Stream: s.cfgChangesKey(env),
		MaxLen: s.changeStreamLen,
		Approx: s.changeStreamLen >= approxTrimFrom,
		Values: []any{"k", key, "a", rec.A, "n", version},
	})
}

// configsChanged announces committed changes, one event per key, in one
// pipeline. Like changed, it is best effort and outlives a cancelled
// request.
func (s *Store) configsChanged(ctx context.Context, env string, changes []configChange, a Actor) {
	if len(changes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	at := s.clock()
	pipe := s.rdb.Pipeline()
	for _, c := range changes {
		b, err := json.Marshal(Event{Topic: "configs", Action: c.action, Target: c.key, Env: env,
			Actor: a.Name, RequestID: a.RequestID, At: at})
		if err != nil {
			continue
		}
		pipe.Publish(ctx, s.EventsChannel(), b)
	}
	_, _ = pipe.Exec(ctx)
}

// GetConfig returns the current entry of key in env, or ErrNotFound.
func (s *Store) GetConfig(ctx context.Context, env, key string) (ConfigEntry, error) {
	if err := checkEnv(env); err != nil {
		return ConfigEntry{}, err
	}
	raw, err := s.rdb.HGet(ctx, s.cfgEntriesKey(env), key).Result()
	if err != nil {
		return ConfigEntry{}, wrap(err)
	}
	e, err := parseEntry(key, raw)
	if err != nil {
		return ConfigEntry{}, err
	}
	return e.entry(env, key), nil
}

// ListConfigs returns one page of env's entries sorted by key, the cursor
// of the next page ("" on the last) and the number of keys in the whole
// environment. It reads the index of the most selective filter (the tag's,
// else the type's, else all keys) by ZRANGEBYLEX from the prefix or the
// cursor, filters by the other criterion and reads the page's entries with
// one HMGET: two round trips for a page when no second filter skips keys.
func (s *Store) ListConfigs(ctx context.Context, env string, q ConfigQuery) ([]ConfigEntry, string, int64, error) {
	if err := checkEnv(env); err != nil {
		return nil, "", 0, err
	}
	if q.Type != "" {
		if _, err := config.ParseType(string(q.Type)); err != nil {
			return nil, "", 0, Invalid("type", err.Error())
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = configListDefault
	}
	limit = min(limit, configListMax)
	index, filterType := s.cfgIndexKey(env), false
	switch {
	case q.Tag != "":
		index, filterType = s.cfgTagIndexKey(env, q.Tag), q.Type != ""
	case q.Type != "":
		index = s.cfgTypeIndexKey(env, string(q.Type))
	}
	lo, hi := "-", "+"
	if q.Prefix != "" {
		lo, hi = "["+q.Prefix, "("+q.Prefix+"\xff"
	}
	if q.Cursor != "" && q.Cursor >= q.Prefix {
		lo = "(" + q.Cursor
	}
	batch := int64(limit + 1)
	if filterType {
		batch = max(batch, 200)
	}
	entriesKey := s.cfgEntriesKey(env)
	var (
		out   []ConfigEntry
		total int64
	)
	for round := 0; ; round++ {
		rng := &redis.ZRangeBy{Min: lo, Max: hi, Count: batch}
		var keys []string
		if round == 0 {
			var keysCmd *redis.StringSliceCmd
			var totalCmd *redis.IntCmd
			if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				keysCmd = pipe.ZRangeByLex(ctx, index, rng)
				totalCmd = pipe.ZCard(ctx, s.cfgIndexKey(env))
				return nil
			}); err != nil {
				return nil, "", 0, wrap(err)
			}
			keys, total = keysCmd.Val(), totalCmd.Val()
		} else {
			var err error
			if keys, err = s.rdb.ZRangeByLex(ctx, index, rng).Result(); err != nil {
				return nil, "", 0, wrap(err)
			}
		}
		if len(keys) == 0 {
			break
		}
		vals, err := s.rdb.HMGet(ctx, entriesKey, keys...).Result()
		if err != nil {
			return nil, "", 0, wrap(err)
		}
		for i, v := range vals {
			raw, ok := v.(string)
			if !ok {
				continue
			}
			e, err := parseEntry(keys[i], raw)
			if err != nil {
				return nil, "", 0, err
			}
			if filterType && e.T != q.Type {
				continue
			}
			out = append(out, e.entry(env, keys[i]))
			if len(out) > limit {
				break
			}
		}
		if len(out) > limit || int64(len(keys)) < batch {
			break
		}
		lo = "(" + keys[len(keys)-1]
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Key
	}
	return out, next, total, nil
}

// entriesFromHash decodes an entries hash, sorted by key.
func entriesFromHash(env string, h map[string]string) ([]ConfigEntry, error) {
	out := make([]ConfigEntry, 0, len(h))
	for k, raw := range h {
		e, err := parseEntry(k, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, e.entry(env, k))
	}
	slices.SortFunc(out, func(a, b ConfigEntry) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}

// AllConfigs returns every entry of env, sorted by key.
func (s *Store) AllConfigs(ctx context.Context, env string) ([]ConfigEntry, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	h, err := s.rdb.HGetAll(ctx, s.cfgEntriesKey(env)).Result()
	if err != nil {
		return nil, wrap(err)
	}
	return entriesFromHash(env, h)
}

func checkChain(chain []string) error {
	if len(chain) == 0 {
		return Invalid("env", "is required")
	}
	for _, env := range chain {
		if err := checkEnv(env); err != nil {
			return err
		}
	}
	return nil
}

func revisionOf(chain []string, revs []*redis.StringCmd) Revision {
	parts := make([]string, len(chain))
	for i, env := range chain {
		rev := revs[i].Val()
		if rev == "" {
			rev = "0"
		}
		parts[i] = env + ":" + rev
	}
	return Revision(strings.Join(parts, ","))
}

// EffectiveConfigs returns what the first environment of chain sees: its
// own entries and those it inherits from the rest of the chain ([env,
// parent, grandparent, ...], resolved by the caller), the nearest winning,
// sorted by key, with the chain's revision. One pipelined round trip: each
// environment's revision is read before its entries, so the revision is
// never newer than the entries it comes with.
func (s *Store) EffectiveConfigs(ctx context.Context, chain []string) ([]EffectiveEntry, Revision, error) {
	if err := checkChain(chain); err != nil {
		return nil, "", err
	}
	revs := make([]*redis.StringCmd, len(chain))
	hashes := make([]*redis.MapStringStringCmd, len(chain))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, env := range chain {
			revs[i] = pipe.Get(ctx, s.cfgRevKey(env))
			hashes[i] = pipe.HGetAll(ctx, s.cfgEntriesKey(env))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", wrap(err)
	}
	seen := map[string]bool{}
	var out []EffectiveEntry
	for i, env := range chain {
		if err := hashes[i].Err(); err != nil {
			return nil, "", wrap(err)
		}
		for k, raw := range hashes[i].Val() {
			if seen[k] {
				continue
			}
			seen[k] = true
			e, err := parseEntry(k, raw)
			if err != nil {
				return nil, "", err
			}
			out = append(out, EffectiveEntry{ConfigEntry: e.entry(env, k), SourceEnv: env})
		}
	}
	slices.SortFunc(out, func(a, b EffectiveEntry) int { return cmp.Compare(a.Key, b.Key) })
	return out, revisionOf(chain, revs), nil
}

// ConfigRevision returns the revision of chain in one pipelined round trip.
func (s *Store) ConfigRevision(ctx context.Context, chain []string) (Revision, error) {
	if err := checkChain(chain); err != nil {
		return "", err
	}
	revs := make([]*redis.StringCmd, len(chain))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, env := range chain {
			revs[i] = pipe.Get(ctx, s.cfgRevKey(env))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return "", wrap(err)
	}
	return revisionOf(chain, revs), nil
}

// ConfigHistory returns key's versions in env, newest first (as many as the
// history limit keeps), or ErrNotFound when the key never existed.
func (s *Store) ConfigHistory(ctx context.Context, env, key string) ([]ConfigVersion, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	raws, err := s.rdb.LRange(ctx, s.cfgHistKey(env, key), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	if len(raws) == 0 {
		return nil, ErrNotFound
	}
	out := make([]ConfigVersion, len(raws))
	for i, raw := range raws {
		var v storedVersion
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("config %s: history record is corrupt: %w", key, err)
		}
		out[i] = v.version()
	}
	return out, nil
}

// RollbackConfig makes a new version of key holding what version toVersion
// held (validated again, schema included; a secret keeps its sealed value
// as it is). Rolling back to a version that deleted the key deletes it.
// currentVersion is the version being replaced (0 when the key is deleted
// now). ErrNotFound when toVersion is no longer in the history.
func (s *Store) RollbackConfig(ctx context.Context, a Actor, env, key string, toVersion, currentVersion int64, comment string) (ConfigEntry, error) {
	history, err := s.ConfigHistory(ctx, env, key)
	if err != nil {
		return ConfigEntry{}, err
	}
	i := slices.IndexFunc(history, func(v ConfigVersion) bool { return v.Version == toVersion })
	if i < 0 {
		return ConfigEntry{}, ErrNotFound
	}
	old := history[i]
	w := ConfigWrite{Key: key, Version: currentVersion, Comment: comment}
	if old.Deleted {
		if currentVersion == 0 {
			return ConfigEntry{}, Invalid("version", "the key is already deleted")
		}
		w.Delete = true
	} else {
		w.Type, w.Value, w.Description, w.Tags = old.Type, old.Value, old.Description, old.Tags
		if old.Type == config.TypeSecret {
			w.SealedEnv = env
		}
	}
	out, err := s.applyConfigs(ctx, a, env, actionRollback, []ConfigWrite{w})
	if err != nil {
		return ConfigEntry{}, err
	}
	return out[0], nil
}

// ExpireConfigs removes env's keys whose expiry is at or before now, each
// in its own transaction (history "expire", audit config.expire by the
// System actor, a change-stream entry, an event). A key changed meanwhile
// is left alone. Safe to run concurrently: each key is removed once. It
// returns how many keys it removed.
func (s *Store) ExpireConfigs(ctx context.Context, env string, now time.Time) (int, error) {
	if err := checkEnv(env); err != nil {
		return 0, err
	}
	due, err := s.rdb.ZRangeByScore(ctx, s.cfgExpiryKey(env), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10)}).Result()
	if err != nil {
		return 0, wrap(err)
	}
	removed := 0
	for _, key := range due {
		ok, err := s.expireConfig(ctx, env, key, now)
		if err != nil {
			return removed, err
		}
		if ok {
			removed++
		}
	}
	return removed, nil
}

// expireConfig removes key if its entry has lapsed at now.
func (s *Store) expireConfig(ctx context.Context, env, key string, now time.Time) (bool, error) {
	raw, err := s.rdb.HGet(ctx, s.cfgEntriesKey(env), key).Result()
	if errors.Is(err, redis.Nil) {
		// An expiry without an entry: drop it if it is still stale.
		return false, s.dropStaleExpiry(ctx, env, key)
	}
	if err != nil {
		return false, wrap(err)
	}
	e, err := parseEntry(key, raw)
	if err != nil {
		return false, err
	}
	if e.X == 0 || e.X > now.UnixMilli() {
		if e.X == 0 {
			return false, s.dropStaleExpiry(ctx, env, key)
		}
		return false, nil
	}
	out, err := s.applyConfigs(ctx, System, env, actionExpire, []ConfigWrite{{Key: key, Delete: true, Version: e.N}})
	switch {
	case errors.Is(err, ErrConflict):
		return false, nil // changed or removed meanwhile; a later sweep decides
	case err != nil:
		return false, err
	}
	return out[0].Version > 0, nil
}

// dropStaleExpiry removes key from the expiry schedule when its entry is
// gone or has no expiry (a state no change leaves behind, but the schedule
// must not grow with it).
func (s *Store) dropStaleExpiry(ctx context.Context, env, key string) error {
	entries, expiry := s.cfgEntriesKey(env), s.cfgExpiryKey(env)
	return s.change(ctx, cfgTag(env), []string{entries, expiry}, func(tx *redis.Tx) error {
		raw, err := tx.HGet(ctx, entries, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if err == nil {
			e, err := parseEntry(key, raw)
			if err != nil || e.X > 0 {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.ZRem(ctx, expiry, key)
			return nil
		})
		return err
	})
}

// SweepExpiredConfigs runs ExpireConfigs over envs and returns how many
// keys it removed in all.
func (s *Store) SweepExpiredConfigs(ctx context.Context, envs []string, now time.Time) (int, error) {
	total := 0
	for _, env := range envs {
		n, err := s.ExpireConfigs(ctx, env, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// RevealConfig returns the clear value of a secret and writes the audit
// entry secret.reveal (in the environment's group) before handing it out.
// The caller checks that the actor may reveal secrets. A key that is not a
// secret gives a ValidationError on "key".
func (s *Store) RevealConfig(ctx context.Context, a Actor, env, key string) (string, error) {
	e, err := s.GetConfig(ctx, env, key)
	if err != nil {
		return "", err
	}
	if e.Type != config.TypeSecret {
		return "", Invalid("key", "is not a secret")
	}
	clear, err := s.openSecret(env, key, e.Value)
	if err != nil {
		return "", err
	}
	tag := cfgTag(env)
	if err := s.rdb.SAdd(ctx, s.auditShardsKey(), tag).Err(); err != nil {
		return "", wrap(err)
	}
	pipe := s.rdb.Pipeline()
	s.appendAudit(pipe, tag, a, "secret.reveal", key, env, nil, map[string]any{"version": e.Version})
	if _, err := pipe.Exec(ctx); err != nil {
		return "", wrap(err)
	}
	s.changed(ctx, "audit", "secret.reveal", key, env, a)
	return clear, nil
}
