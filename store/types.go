package store

import (
	"encoding/json"
	"time"
)

// User is a person who signs in to the dashboard.
type User struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Version increases with every change; updates may require it.
	Version int64 `json:"version"`
}

// Session is one signed-in browser. ID is the secret session id that the
// cookie carries; Handle is a public, non-secret name for it (shown on the
// sessions page, used to revoke it).
type Session struct {
	ID        string    `json:"-"`
	Handle    string    `json:"handle"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	// ExpiresAt is the absolute end of the session, whatever the activity.
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// Token is an API token. Its secret is never stored; SecretHash is the
// SHA-256 of the secret part.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Env        string    `json:"env,omitempty"` // optional environment scope
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"` // zero: never
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	SecretHash []byte    `json:"-"`
	// ReadSecrets lets the token receive secret values from the consumer
	// API (applications that need their database password, say).
	ReadSecrets bool `json:"read_secrets"`
}

// Expired reports whether the token has passed its expiry at t.
func (t Token) Expired(at time.Time) bool { return !t.ExpiresAt.IsZero() && !at.Before(t.ExpiresAt) }

// Environment is a deployment stage whose configuration Keel manages.
type Environment struct {
	Name  string `json:"name"`
	Order int    `json:"order"`
	Color string `json:"color"` // #rrggbb
	// Protected environments are changed by publishers and admins only.
	Protected bool `json:"protected"`
	// RequireApproval turns promotions into this environment into change
	// requests that another publisher approves.
	RequireApproval bool      `json:"require_approval"`
	Parent          string    `json:"parent,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	Version         int64     `json:"version"`
}

// AuditEntry records one change. Before and After are JSON documents with
// secrets already redacted.
type AuditEntry struct {
	ID        string          `json:"id"` // "<shard>/<stream id>": stable and unique
	Time      time.Time       `json:"time"`
	Actor     string          `json:"actor"`
	Role      string          `json:"role"`
	Action    string          `json:"action"` // e.g. user.create, session.revoke
	Target    string          `json:"target"`
	Env       string          `json:"env,omitempty"`
	Before    json.RawMessage `json:"before,omitempty"`
	After     json.RawMessage `json:"after,omitempty"`
	IP        string          `json:"ip,omitempty"`
	UserAgent string          `json:"user_agent,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
}

// AuditQuery filters and pages the audit log. Entries come newest first.
type AuditQuery struct {
	Actor        string    // exact
	ActionPrefix string    // "user." matches user.create, user.disable, ...
	Target       string    // substring
	Env          string    // exact
	Since, Until time.Time // inclusive bounds; zero: open
	Cursor       string    // opaque, from the previous page
	Limit        int       // default 50, at most 500
}

// Event tells live pages and other Keel processes that something changed.
// It carries no values, so it never leaks a secret.
type Event struct {
	Topic     string    `json:"topic"`  // users, sessions, tokens, environments, audit, settings, ...
	Action    string    `json:"action"` // the audit action
	Target    string    `json:"target"`
	Env       string    `json:"env,omitempty"`
	Actor     string    `json:"actor"`
	RequestID string    `json:"request_id,omitempty"`
	At        time.Time `json:"at"`
}

// Settings are instance-wide settings that admins change in the UI.
type Settings struct {
	// AuditMaxEntries caps each audit stream; 0 means no cap by count.
	AuditMaxEntries int64 `json:"audit_max_entries"`
	// AuditMaxAgeDays drops entries older than this; 0 means keep forever.
	AuditMaxAgeDays int   `json:"audit_max_age_days"`
	Version         int64 `json:"version"`
}

// DefaultSettings are the settings of a new instance.
var DefaultSettings = Settings{AuditMaxEntries: 1_000_000, AuditMaxAgeDays: 400}
