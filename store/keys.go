package store

import "strings"

// Hash tags group keys that change together so every atomic step stays in one
// Redis Cluster slot. Each group also holds its own audit stream, so a change
// and its audit entry are written by one MULTI/EXEC even on Cluster.
const (
	tagIAM      = "iam"      // users, sessions, API tokens, sign-in throttling
	tagEnvs     = "envs"     // environments
	tagSettings = "settings" // instance settings
	tagAudit    = "audit"    // standalone audit entries (RecordEvent)
)

// key builds a key inside a hash-tag group: <prefix>{<tag>}:<parts...>.
func (s *Store) key(tag string, parts ...string) string {
	var b strings.Builder
	b.WriteString(s.prefix)
	b.WriteByte('{')
	b.WriteString(tag)
	b.WriteString("}:")
	b.WriteString(strings.Join(parts, ":"))
	return b.String()
}

// plain builds a key outside any group: <prefix><parts...>.
func (s *Store) plain(parts ...string) string {
	return s.prefix + strings.Join(parts, ":")
}

// --- users, sessions, tokens, throttling ({iam}) ---

func (s *Store) userKey(name string) string          { return s.key(tagIAM, "user", name) }
func (s *Store) usersIndexKey() string               { return s.key(tagIAM, "users") }
func (s *Store) adminsKey() string                   { return s.key(tagIAM, "admins") } // enabled admins
func (s *Store) userSessionsKey(name string) string  { return s.key(tagIAM, "user-sessions", name) }
func (s *Store) sessionsIndexKey() string            { return s.key(tagIAM, "sessions") }
func (s *Store) sessionInfoKey(handle string) string { return s.key(tagIAM, "session-info", handle) }

// SessionDataPrefix is the key prefix under which gorilla/sessions data is
// kept (by redisstore); it shares the {iam} slot so revocation can delete it
// atomically with the session registry.
func (s *Store) SessionDataPrefix() string { return s.key(tagIAM, "session-data") + ":" }

func (s *Store) sessionDataKey(id string) string    { return s.SessionDataPrefix() + id }
func (s *Store) tokenKey(id string) string          { return s.key(tagIAM, "token", id) }
func (s *Store) tokensIndexKey() string             { return s.key(tagIAM, "tokens") }
func (s *Store) throttleUserKey(name string) string { return s.key(tagIAM, "throttle", "user", name) }
func (s *Store) throttleIPKey(ip string) string     { return s.key(tagIAM, "throttle", "ip", ip) }

// --- environments ({envs}) ---

func (s *Store) envKey(name string) string { return s.key(tagEnvs, "env", name) }
func (s *Store) envsIndexKey() string      { return s.key(tagEnvs, "envs") }

// --- settings ({settings}) ---

func (s *Store) settingsKey() string { return s.key(tagSettings, "settings") }

// --- audit ---

// auditKey is the audit stream of one hash-tag group.
func (s *Store) auditKey(tag string) string { return s.key(tag, "audit") }

// auditShardsKey is the set of groups that have an audit stream.
func (s *Store) auditShardsKey() string { return s.plain("audit-shards") }

// --- coordination ---

func (s *Store) leaseKey(name string) string { return s.plain("lease", name) }

// EventsChannel is the pub/sub channel that carries change events.
func (s *Store) EventsChannel() string { return s.plain("events") }

// --- configuration ({cfg:<env>}, one group per environment) ---

// cfgTag is the hash-tag group of one environment's configuration: its
// entries, indexes, histories, expiry schedule, change stream, revision and
// audit stream all live in one slot.
func cfgTag(env string) string { return "cfg:" + env }

// cfgEntriesKey is the hash of every entry: config key → compact JSON.
func (s *Store) cfgEntriesKey(env string) string { return s.key(cfgTag(env), "entries") }

// cfgVersionsKey is the hash config key → last version number ever used, so
// a key deleted and created again keeps counting.
func (s *Store) cfgVersionsKey(env string) string { return s.key(cfgTag(env), "versions") }

// cfgIndexKey is the zset (score 0) of every key, read lexicographically.
func (s *Store) cfgIndexKey(env string) string { return s.key(cfgTag(env), "keys") }

// cfgTagIndexKey is the zset (score 0) of the keys carrying one tag.
func (s *Store) cfgTagIndexKey(env, tag string) string { return s.key(cfgTag(env), "by-tag", tag) }

// cfgTypeIndexKey is the zset (score 0) of the keys of one type.
func (s *Store) cfgTypeIndexKey(env, typ string) string { return s.key(cfgTag(env), "by-type", typ) }

// cfgHistKey is the list of one key's version records, newest first.
func (s *Store) cfgHistKey(env, key string) string { return s.key(cfgTag(env), "hist", key) }

// cfgExpiryKey is the zset key → expiry in Unix milliseconds.
func (s *Store) cfgExpiryKey(env string) string { return s.key(cfgTag(env), "expiry") }

// cfgChangesKey is the capped stream of changes that consumers follow.
func (s *Store) cfgChangesKey(env string) string { return s.key(cfgTag(env), "changes") }

// cfgRevKey is the environment's revision counter, bumped by every change.
func (s *Store) cfgRevKey(env string) string { return s.key(cfgTag(env), "rev") }

// --- configuration schemas ({schemas}) ---

const tagSchemas = "schemas"

func (s *Store) schemaKey(pattern string) string { return s.key(tagSchemas, "schema", pattern) }
func (s *Store) schemaPatternsKey() string       { return s.key(tagSchemas, "patterns") }

// schemasRevKey counts schema changes, so a process knows when its compiled
// copies are stale with one GET.
func (s *Store) schemasRevKey() string { return s.key(tagSchemas, "rev") }

// --- secrets ({keys}) ---

// tagKeys groups the data keys that seal secret values.
const tagKeys = "keys"

// dataKeysKey is the hash data key id → data key wrapped by the master key.
func (s *Store) dataKeysKey() string { return s.key(tagKeys, "data-keys") }

// currentDataKeyKey names the data key that seals new values.
func (s *Store) currentDataKeyKey() string { return s.key(tagKeys, "current") }

// rotationKey holds the state of a rotation in progress (target key id).
func (s *Store) rotationKey() string { return s.key(tagKeys, "rotation") }

// --- promotions and change requests ({cfg:<env>} of the target) ---
//
// A promotion or change request lives in its target environment's group, so
// applying its values and recording it is one MULTI/EXEC.

// cfgPromotionSeqKey numbers the promotions and change requests into env:
// their ids are "<env>-<n>".
func (s *Store) cfgPromotionSeqKey(env string) string { return s.key(cfgTag(env), "promotion-seq") }

// cfgPromotionKey is the JSON record of one promotion or change request.
func (s *Store) cfgPromotionKey(env, id string) string { return s.key(cfgTag(env), "promotion", id) }

// cfgPromotionsKey is the zset of applied promotions (direct ones and
// approved change requests) by time applied in Unix ms.
func (s *Store) cfgPromotionsKey(env string) string { return s.key(cfgTag(env), "promotions") }

// cfgRequestsKey is the zset of every change request by creation in Unix ms.
func (s *Store) cfgRequestsKey(env string) string { return s.key(cfgTag(env), "requests") }

// cfgPendingRequestsKey is the zset of the pending change requests.
func (s *Store) cfgPendingRequestsKey(env string) string {
	return s.key(cfgTag(env), "requests-pending")
}
