package views

import "time"

// This file holds the view models of the configuration screens: the
// configs table, the key editor, history and diffs, the conflict screen,
// comparing and promoting between environments, change requests, schemas
// and import/export. Config keys contain "/" and ".", so every URL built
// from them carries the key in a query parameter, never in the path.

// DiffWord is one run of a changed line: Kind "equal", "insert" or
// "delete". A changed line's OldWords hold its "equal" and "delete" runs,
// its NewWords the "equal" and "insert" runs.
type DiffWord struct {
	Kind string
	Text string
}

// DiffLine is one line of a diff: Kind "equal" (Old == New), "insert"
// (only New), "delete" (only Old) or "change" (Old became New, with
// word-level runs in OldWords/NewWords; without them the whole line shows
// as changed).
type DiffLine struct {
	Kind     string
	Old      string
	New      string
	OldWords []DiffWord
	NewWords []DiffWord
}

// ConfigRow is one key of an environment as the screens show it.
type ConfigRow struct {
	Key  string
	Type string // string | number | boolean | json | secret
	// Value is display text: secrets arrive masked ("••••") unless
	// revealed. The table shortens long values (the full text is in the
	// cell's title).
	Value       string
	Description string
	Tags        []string
	Version     int64
	UpdatedAt   time.Time
	UpdatedBy   string
	// ExpiresAt is when the key lapses; zero means never.
	ExpiresAt time.Time
	// SourceEnv is "" for the environment's own value, else the ancestor
	// the value is inherited from.
	SourceEnv string
	// Overrides names the parent environment whose value this own value
	// overrides ("" when the parent has no such key).
	Overrides string
	Secret    bool
}

// ConfigFilter is the configs page's filter form. Inherited shows the
// effective view: the environment's own keys and those it inherits. The
// form and URLs carry it inverted, as own=1 ("own keys only"), so the
// effective view is the default of an environment with a parent.
type ConfigFilter struct {
	Prefix    string
	Tag       string
	Type      string
	Inherited bool
}

// ConfigsProps is the configs page of one environment.
type ConfigsProps struct {
	Env    EnvChip
	Parent string // the environment's parent, "" for none
	Rows   []ConfigRow
	Filter ConfigFilter
	// NextURL fetches the next page (ConfigsMore); "" when there is none.
	NextURL string
	Total   int64 // keys in the environment (own keys)
	Types   []string
	CSRF    string
	// CanWrite allows creating, overriding and removing keys.
	CanWrite bool
	// Now is the clock expiry countdowns are computed against; zero means
	// time.Now().
	Now time.Time
}

// ConfigForm is the key editor's state. Errors are keyed "key", "type",
// "value", "description", "tags", "ttl", "comment"; "form" and any other
// key show above the form.
type ConfigForm struct {
	Env         string
	Key         string
	Type        string
	Value       string
	Description string
	Tags        string // comma-separated
	TTL         string // "" or a Go duration such as 90m or 24h
	Comment     string
	// Version is the version being edited (0 for a new key).
	Version int64
	IsNew   bool
	// KeepSecret: the key already holds a secret; an empty value keeps it.
	KeepSecret bool
	Errors     map[string]string
	// ValueLine and ValueColumn locate a JSON syntax error (1-based; 0
	// when not applicable).
	ValueLine   int
	ValueColumn int
}

// HistoryRow is one version of a key. Value is display text, masked for
// secrets.
type HistoryRow struct {
	Version     int64
	Action      string // set | delete | rollback | promote | import | expire
	Author      string
	Comment     string
	Time        time.Time
	Type        string
	Value       string
	PrevVersion int64
	Deleted     bool
	Current     bool
}

// ConfigEditProps is the key editor page (/configs/edit and /configs/new).
type ConfigEditProps struct {
	Env  EnvChip
	Form ConfigForm
	// Current is the key as stored, nil for a new key.
	Current *ConfigRow
	// Inherited is the parent's value this key overrides or would inherit
	// (shown read-only), nil for none.
	Inherited *ConfigRow
	// SchemaPattern and SchemaDoc are the schema that applies, if any.
	SchemaPattern string
	SchemaDoc     string
	// History holds the latest versions (up to 10).
	History   []HistoryRow
	Types     []string
	CSRF      string
	CanWrite  bool
	CanReveal bool
	// Now is the clock for the expiry countdown; zero means time.Now().
	Now time.Time
}

// ConfigNoticeProps tells an editor that the key changed under them. It
// renders an empty region while SeenVersion == CurrentVersion and the key
// still exists.
type ConfigNoticeProps struct {
	Env            string
	Key            string
	SeenVersion    int64
	CurrentVersion int64
	By             string
	Deleted        bool
}

// ConflictProps is the screen shown when a save lost a race: the version
// the editor started from (Base), the one saved meanwhile (Theirs) and the
// editor's own (Yours). Form carries Yours with Version set to Theirs'
// version, for "Save mine over theirs".
type ConflictProps struct {
	Env           EnvChip
	Key           string
	Base          HistoryRow
	Theirs        HistoryRow
	Yours         HistoryRow
	TheirsVsYours []DiffLine
	BaseVsTheirs  []DiffLine
	Form          ConfigForm
	CSRF          string
	Secret        bool
}

// HistoryProps is a key's version history.
type HistoryProps struct {
	Env            EnvChip
	Key            string
	Rows           []HistoryRow // newest first
	CSRF           string
	CanWrite       bool
	CurrentVersion int64
}

// VersionDiffProps compares two versions of a key.
type VersionDiffProps struct {
	Env   EnvChip
	Key   string
	From  HistoryRow
	To    HistoryRow
	Lines []DiffLine
	// Masked: the key is a secret and the values are not shown.
	Masked bool
}

// CompareRow is one key in the comparison of environments A and B.
type CompareRow struct {
	Key    string
	Status string // only_a | only_b | different | equal
	A      *ConfigRow
	B      *ConfigRow
	Lines  []DiffLine // A's value → B's value
	Secret bool
}

// CompareProps is the compare page (/compare?a=&b=&prefix=&tag=).
type CompareProps struct {
	Envs      []EnvChip
	A         string
	B         string
	Prefix    string
	Tag       string
	OnlyA     []CompareRow
	OnlyB     []CompareRow
	Different []CompareRow
	Equal     []CompareRow
	CSRF      string
	// CanPromote shows the promote selection (from A to B).
	CanPromote bool
}

// PromoteItem is one key a promotion writes.
type PromoteItem struct {
	Key        string
	Status     string // new | changed
	Lines      []DiffLine
	Violations []string // schema violations in the target
	Secret     bool
}

// PromoteProps is the promotion preview (POST /promote/preview).
type PromoteProps struct {
	From    EnvChip
	To      EnvChip
	Items   []PromoteItem
	Keys    []string
	Comment string
	Errors  map[string]string // "comment"; "form" and others above the form
	// NeedsApproval: the target requires approval, so applying opens a
	// change request.
	NeedsApproval bool
	CanApply      bool
	CSRF          string
}

// ChangeRequestRow is a promotion or a change request.
type ChangeRequestRow struct {
	ID            string // e.g. "production-12", safe in a path
	From          string
	To            string
	Author        string
	Comment       string
	Status        string // pending | approved | rejected | applied | stale
	Keys          []string
	Created       time.Time
	Reviewer      string
	ReviewComment string
	Reviewed      time.Time
}

// PromotionsProps is the promotions page.
type PromotionsProps struct {
	Promotions []ChangeRequestRow // applied promotions, newest first
	Requests   []ChangeRequestRow // change requests, pending first
	Me         string
	CanApprove bool
	CSRF       string
}

// ChangeRequestProps is one change request's page.
type ChangeRequestProps struct {
	CR    ChangeRequestRow
	Items []PromoteItem
	// CanApprove: a publisher who is not the author.
	CanApprove bool
	IsAuthor   bool
	// Stale: the target changed since the request was made.
	Stale  bool
	Errors map[string]string // "comment"; others above the form
	CSRF   string
}

// SchemaRow is one schema: a key or a key pattern and its JSON Schema.
type SchemaRow struct {
	Pattern   string
	Doc       string
	Version   int64
	UpdatedAt time.Time
	UpdatedBy string
}

// SchemaBreakRow is a stored value a new schema would reject.
type SchemaBreakRow struct {
	Env        string
	Key        string
	Violations []string
}

// SchemaForm is the schema editor. Errors are keyed "pattern" and "doc";
// others show above the form. NeedsConfirm lists Breaks and offers "Save
// anyway".
type SchemaForm struct {
	Pattern      string
	Doc          string
	Version      int64
	Errors       map[string]string
	Breaks       []SchemaBreakRow
	NeedsConfirm bool
	Editing      bool
}

// SchemasProps is the schemas page.
type SchemasProps struct {
	Rows     []SchemaRow
	Form     SchemaForm
	CSRF     string
	CanWrite bool
}

// ImportRow is one key of an import preview.
type ImportRow struct {
	Key     string
	Status  string // new | changed | same | invalid
	Lines   []DiffLine
	Problem string
	Secret  bool
}

// ImportProps is the import/export page (/import?env=). Errors are keyed
// "format", "data", "file"; others show above the form.
type ImportProps struct {
	Env       EnvChip
	Format    string // json | yaml | env
	Data      string
	Rows      []ImportRow
	Errors    map[string]string
	CSRF      string
	CanWrite  bool
	Applied   int
	Previewed bool
	// CanExportSecrets shows the "include secret values" export option
	// (admins only).
	CanExportSecrets bool
}
