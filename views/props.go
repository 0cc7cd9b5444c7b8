// Package views renders Keel's HTML: the page shell, every screen and the
// fragments htmx swaps in. It holds view models shaped for the screen (the
// XxxProps types) and templ components; it does no I/O and imports neither
// echo nor the store.
package views

import "time"

// NavItem is one entry of the sidebar navigation.
type NavItem struct {
	Label  string
	Href   string
	Icon   string // a key of the icon set (icons.go); unknown keys draw a dot
	TestID string // data-testid; empty means "nav-" + lowercased Label
	Active bool
}

// EnvChip is an environment as the shell and the overview show it.
type EnvChip struct {
	Name      string
	Color     string // #rrggbb; anything else falls back to the neutral colour
	Protected bool
}

// ShellProps is what every signed-in page's frame needs.
type ShellProps struct {
	Title string
	CSRF  string
	User  string // "" means signed out: no nav, no live updates
	Role  string
	// Nav is built by the handler; entries appear as features land.
	Nav []NavItem
	// Envs and CurrentEnv drive the environment switcher (a GET form with
	// ?env=name; switching posts nothing).
	Envs       []EnvChip
	CurrentEnv string
	// StoreDown shows the "store unavailable" banner.
	StoreDown bool
	// LiveTopics are the SSE topics whose changes by other people raise a
	// toast on this page (<main data-live-topics>).
	LiveTopics []string
	// Flash is a one-time success message shown as a toast on load.
	Flash   string
	Version string
}

// LoginProps is the sign-in form.
type LoginProps struct {
	Username string
	Error    string
	CSRF     string
	Next     string
	Locked   bool
}

// HomeProps is the overview page.
type HomeProps struct {
	Users    int
	Sessions int
	Tokens   int
	Envs     []EnvChip
	Recent   []AuditRow
	Redis    map[string]string
}

// UserRow is one line of the users table.
type UserRow struct {
	Name      string
	Role      string
	Disabled  bool
	CreatedAt time.Time
	Sessions  int
	IsSelf    bool
}

// UserForm is the create-user form's state. Errors are keyed by field:
// "username", "password", "role"; any other key is shown above the form.
type UserForm struct {
	Username string
	Role     string
	Errors   map[string]string
}

// UsersProps is the users page.
type UsersProps struct {
	Users     []UserRow
	Roles     []string
	CSRF      string
	Form      UserForm
	CanManage bool
}

// SessionRow is one browser session.
type SessionRow struct {
	Handle    string
	User      string
	IP        string
	UserAgent string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	Current   bool // the session making this request
}

// SessionsProps is the sessions page (and the account page's own sessions).
type SessionsProps struct {
	Sessions  []SessionRow
	User      string // the ?user= filter, "" for everybody
	CSRF      string
	CanManage bool // may revoke
	// Own marks the account page's list of the user's own sessions: it
	// refreshes from GET /account/sessions (SessionsTable) and revokes
	// through /account/sessions/<handle>/revoke. AccountContent sets it
	// itself; a handler rendering SessionsTable for the account page (after
	// a revoke, or for /account/sessions) sets it too.
	Own bool
}

// TokenRow is one API token (never its secret).
type TokenRow struct {
	ID         string
	Name       string
	Role       string
	Env        string // "" means every environment
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never expires
	LastUsedAt time.Time // zero: never used
	Expired    bool
	// ReadSecrets: the token receives secret values.
	ReadSecrets bool
}

// TokenForm is the create-token form's state. Expires is "" (never), "7d",
// "30d", "90d" or "365d". Errors are keyed "name", "role", "env", "expires".
type TokenForm struct {
	Name    string
	Role    string
	Env     string
	Expires string
	// ReadSecrets grants the token secret values from the consumer API.
	ReadSecrets bool
	Errors      map[string]string
}

// TokensProps is the API tokens page.
type TokensProps struct {
	Tokens []TokenRow
	Roles  []string
	Envs   []string
	Form   TokenForm
	CSRF   string
	// Created is a token secret just created: shown once, never again.
	Created string
	// CanManage allows creating and revoking tokens.
	CanManage bool
}

// EnvRow is one environment.
type EnvRow struct {
	Name            string
	Color           string
	Parent          string
	Order           int
	Protected       bool
	RequireApproval bool
	Version         int64
}

// EnvForm is the create/edit environment form. Errors are keyed "name",
// "color", "parent", "order"; other keys are shown above the form.
type EnvForm struct {
	Name            string
	Color           string
	Parent          string
	Order           string
	Protected       bool
	RequireApproval bool
	Version         int64
	Errors          map[string]string
	Editing         bool // editing the environment Name (POST /environments/<name>)
}

// EnvironmentsProps is the environments page.
type EnvironmentsProps struct {
	Envs      []EnvRow
	Form      EnvForm
	CSRF      string
	CanManage bool
}

// AuditRow is one audit entry.
type AuditRow struct {
	ID        string
	Time      time.Time
	Actor     string
	Role      string
	Action    string
	Target    string
	Env       string
	IP        string
	UserAgent string
	RequestID string
	Before    string // pretty JSON, may be ""
	After     string // pretty JSON, may be ""
}

// AuditFilter is the audit filter form. Since and Until are datetime-local
// strings. Errors are keyed by field name.
type AuditFilter struct {
	Actor  string
	Action string
	Target string
	Env    string
	Since  string
	Until  string
	Errors map[string]string
}

// AuditProps is the audit log page.
type AuditProps struct {
	Rows       []AuditRow
	Filter     AuditFilter
	NextURL    string // "" when there is no further page
	ExportCSV  string
	ExportJSON string
	Envs       []string
}

// AccountProps is the signed-in user's own page.
type AccountProps struct {
	User   string
	Role   string
	CSRF   string
	Errors map[string]string // keyed "current_password", "new_password", "confirm_password"
	Saved  bool
	// Sessions are the user's own sessions.
	Sessions SessionsProps
}

// SettingsForm is the instance settings form. Errors are keyed
// "audit_max_entries" and "audit_max_age_days".
type SettingsForm struct {
	AuditMaxEntries string
	AuditMaxAgeDays string
	Version         int64
	Errors          map[string]string
	Saved           bool
}

// MatrixRow is one permission: what it allows, and per role (viewer, editor,
// publisher, admin) whether the role holds it.
type MatrixRow struct {
	What    string
	Allowed []bool
}

// SystemProps is the system page.
type SystemProps struct {
	Version   string
	GoVersion string
	Uptime    string
	Redis     map[string]string
	Settings  SettingsForm
	CSRF      string
	CanManage bool
	Matrix    []MatrixRow
}

// ErrorProps is an error page (403, 404, 500, 503).
type ErrorProps struct {
	Status    int
	Title     string
	Message   string
	RequestID string
}
