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
