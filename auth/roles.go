// Package auth holds Keel's identities and what they may do: roles and the
// permission matrix, password hashing, browser sessions, API tokens and the
// middleware that turns a request into a Principal.
package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Role is a user's or token's level. Each role can do everything the roles
// below it can.
type Role int

// The roles, lowest first.
const (
	RoleNone Role = iota
	Viewer
	Editor
	Publisher
	Admin
)

// Roles lists the assignable roles, lowest first.
var Roles = []Role{Viewer, Editor, Publisher, Admin}

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Editor:
		return "editor"
	case Publisher:
		return "publisher"
	case Admin:
		return "admin"
	}
	return "none"
}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if strings.EqualFold(s, r.String()) {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("unknown role %q: use viewer, editor, publisher or admin", s)
}

// Permission is one thing a principal may be allowed to do.
type Permission string

// The permissions. Environment-bound permissions are checked against the
// environment's protection by Principal.Can.
const (
	// PermRead: read configuration, environments and the audit log, never a secret value.
	PermRead Permission = "read"
	// PermWrite: change configuration, flags and the like in an unprotected environment.
	PermWrite Permission = "write"
	// PermWriteProtected: change a protected environment (production).
	PermWriteProtected Permission = "write-protected"
	// PermApprove: approve or reject another person's change request.
	PermApprove Permission = "approve"
	// PermRevealSecrets: see a secret value in clear (each reveal is audited).
	PermRevealSecrets Permission = "reveal-secrets"
	// PermManageUsers: create users, change roles, disable, reset passwords, revoke sessions.
	PermManageUsers Permission = "manage-users"
	// PermManageTokens: create and revoke API tokens.
	PermManageTokens Permission = "manage-tokens"
	// PermManageEnvironments: create, change and delete environments.
	PermManageEnvironments Permission = "manage-environments"
	// PermManageSettings: change instance settings (audit retention, ...).
	PermManageSettings Permission = "manage-settings"
	// PermManageSchemas: attach, change and remove configuration schemas;
	// they apply to every environment, protected ones included.
	PermManageSchemas Permission = "manage-schemas"
)

// Matrix is the permission matrix: the lowest role that holds each
// permission. It is the single source of truth; the README prints it
// (MatrixMarkdown) and a test keeps the two equal.
var Matrix = []struct {
	Perm    Permission
	MinRole Role
	What    string
}{
	{PermRead, Viewer, "Read configuration, environments and the audit log (secret values stay masked)"},
	{PermWrite, Editor, "Change unprotected environments"},
	{PermWriteProtected, Publisher, "Change protected environments (production)"},
	{PermApprove, Publisher, "Approve or reject change requests (not one's own)"},
	{PermManageSchemas, Publisher, "Change configuration schemas (they apply to every environment)"},
	{PermRevealSecrets, Admin, "Reveal secret values (each reveal is audited)"},
	{PermManageUsers, Admin, "Manage users and revoke sessions"},
	{PermManageTokens, Admin, "Create and revoke API tokens"},
	{PermManageEnvironments, Admin, "Manage environments"},
	{PermManageSettings, Admin, "Change instance settings"},
}

// MinRole returns the lowest role that holds p.
func MinRole(p Permission) Role {
	for _, m := range Matrix {
		if m.Perm == p {
			return m.MinRole
		}
	}
	return Admin + 1 // unknown permissions are held by nobody
}

// Allows reports whether role r holds permission p.
func (r Role) Allows(p Permission) bool { return r != RoleNone && r >= MinRole(p) }

// MatrixMarkdown renders the matrix as a Markdown table for the README.
func MatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| Permission | viewer | editor | publisher | admin |\n|---|:-:|:-:|:-:|:-:|\n")
	for _, m := range Matrix {
		b.WriteString("| " + m.What + " |")
		for _, r := range Roles {
			if r.Allows(m.Perm) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ErrForbidden: the principal lacks the permission. Handlers map it to 403.
var ErrForbidden = errors.New("forbidden")

// ErrUnauthenticated: no valid session or token. Handlers map it to 401 (API)
// or a redirect to the sign-in page (browser).
var ErrUnauthenticated = errors.New("unauthenticated")

// PrincipalKind says how a principal authenticated.
type PrincipalKind int

// Kinds of principal.
const (
	KindUser PrincipalKind = iota + 1
	KindToken
)

// Principal is the authenticated caller of one request. Its role always comes
// from the server side (the user record or the token record), never from the
// request.
type Principal struct {
	Kind PrincipalKind
	Name string // user name, or token name
	Role Role
	// EnvScope limits a token to one environment; empty: all environments.
	EnvScope string
	// SessionHandle is the public handle of the browser session (users only).
	SessionHandle string
	// TokenID identifies the API token (tokens only).
	TokenID string
	// ReadSecrets: an API token allowed to receive secret values.
	ReadSecrets bool
}

// ReceivesSecrets reports whether secret values may be sent to the
// principal in clear: admins (each reveal is audited) and API tokens created
// with the read-secrets grant.
func (p *Principal) ReceivesSecrets() bool {
	if p == nil {
		return false
	}
	return p.Has(PermRevealSecrets) || (p.Kind == KindToken && p.ReadSecrets)
}

// ActorName is the name recorded in the audit log.
func (p *Principal) ActorName() string {
	if p == nil {
		return "anonymous"
	}
	if p.Kind == KindToken {
		return "token:" + p.Name
	}
	return p.Name
}

// globalPerms are instance-wide: a token scoped to one environment never
// holds them, whatever its role.
var globalPerms = map[Permission]bool{
	PermManageUsers: true, PermManageTokens: true, PermManageEnvironments: true, PermManageSettings: true,
	PermManageSchemas: true,
}

// Has reports whether the principal holds a permission that is not bound to
// an environment.
func (p *Principal) Has(perm Permission) bool {
	if p == nil || !p.Role.Allows(perm) {
		return false
	}
	return p.EnvScope == "" || !globalPerms[perm]
}

// EnvironmentInfo is what Can needs to know of an environment.
type EnvironmentInfo struct {
	Name      string
	Protected bool
}

// Can reports whether the principal may use perm in environment env: it holds
// the permission, the environment is inside its token scope, and a write to a
// protected environment needs PermWriteProtected as well.
func (p *Principal) Can(perm Permission, env EnvironmentInfo) bool {
	if !p.Has(perm) {
		return false
	}
	if p.EnvScope != "" && env.Name != "" && p.EnvScope != env.Name {
		return false
	}
	if perm == PermWrite && env.Protected {
		return p.Role.Allows(PermWriteProtected)
	}
	return true
}
