package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/schema"
	"github.com/redis/go-redis/v9"
)

// Configuration schemas live in the {schemas} group: a hash per pattern
// (doc, version, updated, by), the zset of patterns (score 0) and a revision
// counter that tells every Keel process when its compiled copies are stale.
// A config key is validated by the most specific pattern that matches it.

// ConfigSchema is a JSON Schema document attached to a config key or key
// pattern ("db.*").
type ConfigSchema struct {
	Pattern   string    `json:"pattern"`
	Doc       []byte    `json:"doc"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// activeSchema is a stored schema with its compiled form; err is set instead
// when the stored document no longer compiles.
type activeSchema struct {
	ConfigSchema
	compiled *schema.Schema
	err      error
}

// schemaSet is every schema, most specific pattern first.
type schemaSet []activeSchema

// forKey returns the schema that governs key, or nil.
func (set schemaSet) forKey(key string) *activeSchema {
	for i := range set {
		if config.MatchPattern(set[i].Pattern, key) {
			return &set[i]
		}
	}
	return nil
}

// comparePatterns orders patterns most specific first: a higher
// config.Specificity, then the longer pattern, then by text, so the choice
// between two equally specific patterns never depends on load order.
func comparePatterns(a, b string) int {
	if c := cmp.Compare(config.Specificity(b), config.Specificity(a)); c != 0 {
		return c
	}
	if c := cmp.Compare(len(b), len(a)); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

func sortSchemas(set schemaSet) {
	slices.SortFunc(set, func(a, b activeSchema) int { return comparePatterns(a.Pattern, b.Pattern) })
}

// maxCompiledSchemas bounds the cache of compiled documents; past it the
// cache starts over (schemas are few; this only guards against churn).
const maxCompiledSchemas = 1024

// schemaCache keeps the schema set of the last revision read, and compiled
// documents by content hash, so a config write costs one GET for schemas.
type schemaCache struct {
	mu       sync.Mutex
	loaded   bool
	rev      string
	set      schemaSet
	compiled map[[sha256.Size]byte]*schema.Schema
}

func newSchemaCache() *schemaCache {
	return &schemaCache{compiled: map[[sha256.Size]byte]*schema.Schema{}}
}

// compile returns the compiled form of doc, from the cache when it has it.
func (c *schemaCache) compile(doc []byte) (*schema.Schema, error) {
	sum := sha256.Sum256(doc)
	c.mu.Lock()
	sch, ok := c.compiled[sum]
	c.mu.Unlock()
	if ok {
		return sch, nil
	}
	sch, err := schema.Compile(doc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.compiled) >= maxCompiledSchemas {
		clear(c.compiled)
	}
	c.compiled[sum] = sch
	c.mu.Unlock()
	return sch, nil
}

func schemaFromHash(h map[string]string) ConfigSchema {
	return ConfigSchema{
		Pattern:   h["pattern"],
		Doc:       []byte(h["doc"]),
		Version:   intField(h["version"]),
		UpdatedAt: fromMS(h["updated"]),
		UpdatedBy: h["by"],
	}
}

func schemaFields(c ConfigSchema) []any {
	return []any{"pattern", c.Pattern, "doc", string(c.Doc), "version", c.Version,
		"updated", ms(c.UpdatedAt), "by", c.UpdatedBy}
}

// schemaAudit is what the audit log keeps of a schema.
func schemaAudit(c ConfigSchema) map[string]any {
	return map[string]any{"pattern": c.Pattern, "version": c.Version, "schema": json.RawMessage(c.Doc)}
}

// readSchemas reads every stored schema, sorted by pattern.
func (s *Store) readSchemas(ctx context.Context) ([]ConfigSchema, error) {
	patterns, err := s.rdb.ZRange(ctx, s.schemaPatternsKey(), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(patterns))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, p := range patterns {
			cmds[i] = pipe.HGetAll(ctx, s.schemaKey(p))
		}
		return nil
	}); err != nil {
		return nil, wrap(err)
	}
	out := make([]ConfigSchema, 0, len(patterns))
	for _, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out = append(out, schemaFromHash(h))
		}
	}
	return out, nil
}

// loadSchemas returns the current schema set, compiled. It reads the
// revision first, then the schemas, so a set cached under a revision is
// never older than that revision.
func (s *Store) loadSchemas(ctx context.Context) (schemaSet, error) {
	rev, err := s.rdb.Get(ctx, s.schemasRevKey()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap(err)
	}
	c := s.schemas
	c.mu.Lock()
	if c.loaded && c.rev == rev {
		set := c.set
		c.mu.Unlock()
		return set, nil
	}
	c.mu.Unlock()
	list, err := s.readSchemas(ctx)
	if err != nil {
		return nil, err
	}
	set := make(schemaSet, len(list))
	for i, cs := range list {
		set[i].ConfigSchema = cs
		set[i].compiled, set[i].err = c.compile(cs.Doc)
	}
	sortSchemas(set)
	c.mu.Lock()
	c.loaded, c.rev, c.set = true, rev, set
	c.mu.Unlock()
	return set, nil
}

// validatePatternAndDoc checks a schema's pattern (field "pattern") and
// document (field "schema").
func (s *Store) validatePatternAndDoc(pattern string, doc []byte) (*schema.Schema, error) {
	v := &ValidationError{}
	if err := config.ValidPattern(pattern); err != nil {
		v.Add("pattern", err.Error())
	}
	var sch *schema.Schema
	if len(doc) == 0 {
		v.Add("schema", "is required")
	} else {
		compiled, err := s.schemas.compile(doc)
		if err != nil {
			v.Add("schema", err.Error())
		}
		sch = compiled
	}
	return sch, v.OrNil()
}

func (s *Store) readSchema(ctx context.Context, c redis.Cmdable, pattern string) (ConfigSchema, bool, error) {
	h, err := c.HGetAll(ctx, s.schemaKey(pattern)).Result()
	if err != nil {
		return ConfigSchema{}, false, err
	}
	if len(h) == 0 {
		return ConfigSchema{}, false, nil
	}
	return schemaFromHash(h), true, nil
}

// PutSchema creates or replaces the schema of pattern. version is the
// Version the caller edited: 0 for a new schema (it must not exist yet);
// otherwise it must be the current one, or the result is a ConflictError.
// The pattern is checked with config.ValidPattern (field "pattern") and the
// document compiled (field "schema"). It does not check the values the
// schema governs: SchemaImpact tells what would break.
func (s *Store) PutSchema(ctx context.Context, a Actor, pattern string, doc []byte, version int64) (ConfigSchema, error) {
	if _, err := s.validatePatternAndDoc(pattern, doc); err != nil {
		return ConfigSchema{}, err
	}
	if version < 0 {
		return ConfigSchema{}, Invalid("version", "cannot be negative")
	}
	key := s.schemaKey(pattern)
	var out ConfigSchema
	err := s.change(ctx, tagSchemas, []string{key}, func(tx *redis.Tx) error {
		cur, exists, err := s.readSchema(ctx, tx, pattern)
		if err != nil {
			return err
		}
		switch {
		case version == 0 && exists:
			return Conflictf("a schema for %s already exists; reload and edit it", pattern)
		case version != 0 && !exists:
			return Conflictf("the schema for %s was deleted by someone else; reload and try again", pattern)
		case exists && cur.Version != version:
			return Conflictf("the schema for %s was changed by someone else; reload and try again", pattern)
		}
		next := ConfigSchema{Pattern: pattern, Doc: slices.Clone(doc), Version: cur.Version + 1,
			UpdatedAt: s.clock(), UpdatedBy: a.Name}
		var before any
		if exists {
			before = schemaAudit(cur)
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, key, schemaFields(next)...)
			pipe.ZAdd(ctx, s.schemaPatternsKey(), redis.Z{Member: pattern})
			pipe.Incr(ctx, s.schemasRevKey())
			s.appendAudit(pipe, tagSchemas, a, "schema.put", pattern, "", before, schemaAudit(next))
			return nil
		})
		out = next
		return err
	})
	if err != nil {
		return ConfigSchema{}, err
	}
	s.changed(ctx, "schemas", "schema.put", pattern, "", a)
	return out, nil
}

// DeleteSchema removes the schema of pattern. version is the Version the
// caller saw (0 skips the check); ErrNotFound when there is none.
func (s *Store) DeleteSchema(ctx context.Context, a Actor, pattern string, version int64) error {
	key := s.schemaKey(pattern)
	err := s.change(ctx, tagSchemas, []string{key}, func(tx *redis.Tx) error {
		cur, exists, err := s.readSchema(ctx, tx, pattern)
		if err != nil {
			return err
		}
		if !exists {
			return ErrNotFound
		}
		if version != 0 && cur.Version != version {
			return Conflictf("the schema for %s was changed by someone else; reload and try again", pattern)
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, key)
			pipe.ZRem(ctx, s.schemaPatternsKey(), pattern)
			pipe.Incr(ctx, s.schemasRevKey())
			s.appendAudit(pipe, tagSchemas, a, "schema.delete", pattern, "", schemaAudit(cur), nil)
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	s.changed(ctx, "schemas", "schema.delete", pattern, "", a)
	return nil
}

// GetSchema returns the schema of exactly pattern, or ErrNotFound.
func (s *Store) GetSchema(ctx context.Context, pattern string) (ConfigSchema, error) {
	cur, exists, err := s.readSchema(ctx, s.rdb, pattern)
	if err != nil {
		return ConfigSchema{}, wrap(err)
	}
	if !exists {
		return ConfigSchema{}, ErrNotFound
	}
	return cur, nil
}

// ListSchemas returns every schema, sorted by pattern.
func (s *Store) ListSchemas(ctx context.Context) ([]ConfigSchema, error) {
	return s.readSchemas(ctx)
}

// SchemaFor returns the schema that governs key (the most specific matching
// pattern) and its compiled form; nil, nil, nil when no schema applies.
// Compiled schemas are cached in the process by document hash.
func (s *Store) SchemaFor(ctx context.Context, key string) (*ConfigSchema, *schema.Schema, error) {
	set, err := s.loadSchemas(ctx)
	if err != nil {
		return nil, nil, err
	}
	as := set.forKey(key)
	if as == nil {
		return nil, nil, nil
	}
	if as.err != nil {
		return nil, nil, fmt.Errorf("the schema for %s no longer compiles: %w", as.Pattern, as.err)
	}
	cs := as.ConfigSchema
	return &cs, as.compiled, nil
}

// SchemaBreak is a current value that a schema would reject.
type SchemaBreak struct {
	Env        string             `json:"env"`
	Key        string             `json:"key"`
	Violations []schema.Violation `json:"violations"`
}

// SchemaImpact tells which current values in envs would break if pattern's
// schema became doc: the keys that match pattern and for which pattern would
// be the most specific schema. Secrets are opened with the Sealer to be
// checked; violations never quote values. Breaks come in the order of envs,
// then by key.
func (s *Store) SchemaImpact(ctx context.Context, pattern string, doc []byte, envs []string) ([]SchemaBreak, error) {
	sch, err := s.validatePatternAndDoc(pattern, doc)
	if err != nil {
		return nil, err
	}
	set, err := s.loadSchemas(ctx)
	if err != nil {
		return nil, err
	}
	candidates := slices.DeleteFunc(slices.Clone(set), func(a activeSchema) bool { return a.Pattern == pattern })
	candidates = append(candidates, activeSchema{ConfigSchema: ConfigSchema{Pattern: pattern}, compiled: sch})
	sortSchemas(candidates)
	var out []SchemaBreak
	for _, env := range envs {
		entries, err := s.AllConfigs(ctx, env)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !config.MatchPattern(pattern, e.Key) || candidates.forKey(e.Key).Pattern != pattern {
				continue
			}
			value := e.Value
			if e.Type == config.TypeSecret {
				if value, err = s.openSecret(env, e.Key, e.Value); err != nil {
					return nil, err
				}
			}
			if viol := validateValue(sch, e.Type, value); len(viol) > 0 {
				out = append(out, SchemaBreak{Env: env, Key: e.Key, Violations: viol})
			}
		}
	}
	return out, nil
}

// schemaMessage renders violations for a "value" field: each as
// "<pointer>: <rule>: <message>", joined by "; ".
func schemaMessage(viol []schema.Violation) string {
	parts := make([]string, len(viol))
	for i, v := range viol {
		parts[i] = v.String()
	}
	return strings.Join(parts, "; ")
}

// validateValue checks canonical text of type t against sch.
func validateValue(sch *schema.Schema, t config.Type, canonical string) []schema.Violation {
	v, err := config.Any(t, canonical)
	if err != nil {
		// Canonical text always decodes; if it does not, say so rather
		// than let the value through.
		return []schema.Violation{{Rule: "type", Message: "The stored value cannot be read: " + err.Error()}}
	}
	return sch.Validate(v)
}
