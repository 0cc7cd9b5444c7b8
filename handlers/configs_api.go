package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/store"
)

// configPutBody is the body of PUT /api/v1/envs/{env}/configs/{key}.
type configPutBody struct {
	Type        string          `json:"type"`
	Value       json.RawMessage `json:"value"`
	Version     int64           `json:"version"` // the version replaced; 0 for a new key
	Comment     string          `json:"comment,omitempty"`
	TTLSeconds  int64           `json:"ttl_seconds,omitempty"`
	Description string          `json:"description,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
	// KeepSecret keeps a secret's current value (change its description only).
	KeepSecret bool `json:"keep_secret,omitempty"`
}

// conflictJSON is the 409 answer of a stale write: the error and the entry
// as it is now, so a client can merge.
type conflictJSON struct {
	Error   APIError    `json:"error"`
	Current *configJSON `json:"current,omitempty"`
}

// configConflict answers a stale version with the current entry.
func (s *Server) configConflict(c echo.Context, err error) (bool, error) {
	var cc *store.ConfigConflict
	if !errors.As(err, &cc) {
		return false, nil
	}
	out := conflictJSON{Error: APIError{Code: "conflict", Message: cc.Error()}}
	if cc.Current.Version > 0 {
		j, jerr := s.toConfigJSON(cc.Current, cc.Current.Env, false)
		if jerr != nil {
			return true, jerr
		}
		out.Current = &j
	}
	return true, c.JSON(http.StatusConflict, out)
}

// APIPutConfig creates or changes one key (PUT, version-checked).
func (s *Server) APIPutConfig(c echo.Context) error {
	_, env, err := s.consumerEnv(c, auth.PermWrite)
	if err != nil {
		return err
	}
	key, err := url.PathUnescape(c.Param("key"))
	if err != nil {
		return store.Invalid("key", "The key is not URL-escaped properly.")
	}
	var in configPutBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	t, err := config.ParseType(in.Type)
	if err != nil {
		return store.Invalid("type", err.Error())
	}
	w := store.ConfigWrite{Key: key, Type: t, Description: in.Description, Tags: in.Tags,
		Comment: in.Comment, Version: in.Version, KeepSecret: in.KeepSecret}
	if in.TTLSeconds < 0 {
		return store.Invalid("ttl_seconds", "Use 0 (no expiry) or a positive number of seconds.")
	}
	w.TTL = time.Duration(in.TTLSeconds) * time.Second
	if !in.KeepSecret {
		if len(in.Value) == 0 {
			return store.Invalid("value", "Send a value.")
		}
		v, err := config.FromJSON(t, in.Value)
		if err != nil {
			return store.Invalid("value", valueErrorMessage(err))
		}
		w.Value = v
	}
	e, err := s.st.SetConfig(c.Request().Context(), actor(c), env.Name, w)
	if handled, herr := s.configConflict(c, err); handled {
		return herr
	}
	if err != nil {
		return err
	}
	j, err := s.toConfigJSON(e, env.Name, false)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if in.Version == 0 {
		status = http.StatusCreated
	}
	return c.JSON(status, j)
}

// valueErrorMessage places a value error (line and column for JSON).
func valueErrorMessage(err error) string {
	var ve *config.ValueError
	if errors.As(err, &ve) && ve.Line > 0 {
		return "line " + strconv.Itoa(ve.Line) + ", column " + strconv.Itoa(ve.Column) + ": " + ve.Message
	}
	return err.Error()
}

// APIDeleteConfig deletes one key; ?version= must match the current one.
func (s *Server) APIDeleteConfig(c echo.Context) error {
	_, env, err := s.consumerEnv(c, auth.PermWrite)
	if err != nil {
		return err
	}
	key, err := configKeyParam(c)
	if err != nil {
		return err
	}
	version, err := strconv.ParseInt(c.QueryParam("version"), 10, 64)
	if err != nil || version <= 0 {
		return store.Invalid("version", "Send ?version= with the version you delete.")
	}
	if _, err := s.st.GetConfig(c.Request().Context(), env.Name, key); err != nil {
		return err
	}
	err = s.st.DeleteConfig(c.Request().Context(), actor(c), env.Name, key, version, c.QueryParam("comment"))
	if handled, herr := s.configConflict(c, err); handled {
		return herr
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type versionJSON struct {
	Version     int64           `json:"version"`
	Action      string          `json:"action"`
	Type        string          `json:"type,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	Masked      bool            `json:"masked,omitempty"`
	Description string          `json:"description,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
	Author      string          `json:"author"`
	Time        string          `json:"time"`
	Comment     string          `json:"comment,omitempty"`
	PrevVersion int64           `json:"prev_version,omitempty"`
	Deleted     bool            `json:"deleted,omitempty"`
}

// APIConfigHistory lists a key's versions, newest first (secrets masked).
func (s *Server) APIConfigHistory(c echo.Context) error {
	_, env, err := s.consumerEnv(c, auth.PermRead)
	if err != nil {
		return err
	}
	key, err := configKeyParam(c)
	if err != nil {
		return err
	}
	hist, err := s.st.ConfigHistory(c.Request().Context(), env.Name, key)
	if err != nil {
		return err
	}
	out := make([]versionJSON, 0, len(hist))
	for _, v := range hist {
		j := versionJSON{Version: v.Version, Action: v.Action, Type: string(v.Type), Description: v.Description,
			Tags: v.Tags, Author: v.Author, Time: rfc3339(v.Time), Comment: v.Comment, PrevVersion: v.PrevVersion, Deleted: v.Deleted}
		switch {
		case v.Deleted || v.Type == "":
		case v.Type == config.TypeSecret:
			j.Value, j.Masked = jsonNull, true
		default:
			j.Value = config.JSONValue(v.Type, v.Value)
		}
		out = append(out, j)
	}
	return c.JSON(http.StatusOK, map[string]any{"key": key, "env": env.Name, "versions": out})
}

// configRollbackBody is the body of POST .../rollback.
type configRollbackBody struct {
	Version        int64  `json:"version"`                   // the version to restore
	CurrentVersion *int64 `json:"current_version,omitempty"` // optional guard: the version being replaced
	Comment        string `json:"comment,omitempty"`
}

// APIRollbackConfig restores an earlier version as a new version.
func (s *Server) APIRollbackConfig(c echo.Context) error {
	_, env, err := s.consumerEnv(c, auth.PermWrite)
	if err != nil {
		return err
	}
	key, err := configKeyParam(c)
	if err != nil {
		return err
	}
	var in configRollbackBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	var current int64
	if in.CurrentVersion != nil {
		current = *in.CurrentVersion
	} else if e, err := s.st.GetConfig(ctx, env.Name, key); err == nil {
		current = e.Version
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	e, err := s.st.RollbackConfig(ctx, actor(c), env.Name, key, in.Version, current, in.Comment)
	if handled, herr := s.configConflict(c, err); handled {
		return herr
	}
	if err != nil {
		return err
	}
	if e.Deleted() {
		return c.NoContent(http.StatusNoContent)
	}
	j, err := s.toConfigJSON(e, env.Name, false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

// --- compare ---

// compareEntry is one key of a comparison.
type compareEntry struct {
	Key    string
	Status string // only_a, only_b, different, equal
	A, B   *store.EffectiveEntry
	Secret bool
}

// compareEnvs compares what applications in a and b receive. Secrets are
// compared by their clear values in memory and never shown.
func (s *Server) compareEnvs(c echo.Context, a, b, prefix, tag string) ([]compareEntry, error) {
	ctx := c.Request().Context()
	envs, err := s.environments(c)
	if err != nil {
		return nil, err
	}
	chainA, _, okA := envChain(envs, a)
	chainB, _, okB := envChain(envs, b)
	if !okA || !okB {
		ve := &store.ValidationError{}
		if !okA {
			ve.Add("from", "No environment is named "+a+".")
		}
		if !okB {
			ve.Add("to", "No environment is named "+b+".")
		}
		return nil, ve
	}
	ea, _, err := s.st.EffectiveConfigs(ctx, chainA)
	if err != nil {
		return nil, err
	}
	eb, _, err := s.st.EffectiveConfigs(ctx, chainB)
	if err != nil {
		return nil, err
	}
	keep := func(e store.EffectiveEntry) bool {
		if prefix != "" && !strings.HasPrefix(e.Key, prefix) {
			return false
		}
		if tag != "" {
			for _, t := range e.Tags {
				if t == tag {
					return true
				}
			}
			return false
		}
		return true
	}
	byKey := map[string]*compareEntry{}
	var order []string
	for i := range ea {
		if keep(ea[i]) {
			byKey[ea[i].Key] = &compareEntry{Key: ea[i].Key, Status: "only_a", A: &ea[i]}
			order = append(order, ea[i].Key)
		}
	}
	for i := range eb {
		e := &eb[i]
		ce, ok := byKey[e.Key]
		if !ok {
			if keep(*e) {
				byKey[e.Key] = &compareEntry{Key: e.Key, Status: "only_b", B: e}
				order = append(order, e.Key)
			}
			continue
		}
		ce.B = e
		same, err := s.sameValue(*ce.A, *e)
		if err != nil {
			return nil, err
		}
		ce.Status = "different"
		if same {
			ce.Status = "equal"
		}
	}
	slices.Sort(order)
	out := make([]compareEntry, 0, len(order))
	for _, k := range order {
		ce := byKey[k]
		ce.Secret = (ce.A != nil && ce.A.Type == config.TypeSecret) || (ce.B != nil && ce.B.Type == config.TypeSecret)
		out = append(out, *ce)
	}
	return out, nil
}

// sameValue compares two values by type and content; secrets by their clear
// text, opened in memory only.
func (s *Server) sameValue(a, b store.EffectiveEntry) (bool, error) {
	if a.Type != b.Type {
		return false, nil
	}
	if a.Type != config.TypeSecret {
		return a.Value == b.Value, nil
	}
	va, err := s.st.OpenSecret(a.SourceEnv, a.Key, a.Value)
	if err != nil {
		return false, err
	}
	vb, err := s.st.OpenSecret(b.SourceEnv, b.Key, b.Value)
	if err != nil {
		return false, err
	}
	return va == vb, nil
}

type compareJSON struct {
	Key    string      `json:"key"`
	Status string      `json:"status"`
	From   *configJSON `json:"from,omitempty"`
	To     *configJSON `json:"to,omitempty"`
}

// APICompare compares two environments (?from=A&to=B[&prefix=][&tag=]).
func (s *Server) APICompare(c echo.Context) error {
	from, to := c.QueryParam("from"), c.QueryParam("to")
	for _, e := range []string{from, to} {
		if !principal(c).Can(auth.PermRead, auth.EnvironmentInfo{Name: e}) {
			return auth.ErrForbidden
		}
	}
	entries, err := s.compareEnvs(c, from, to, c.QueryParam("prefix"), c.QueryParam("tag"))
	if err != nil {
		return err
	}
	out := make([]compareJSON, 0, len(entries))
	for _, ce := range entries {
		j := compareJSON{Key: ce.Key, Status: ce.Status}
		for _, side := range []struct {
			e   *store.EffectiveEntry
			dst **configJSON
		}{{ce.A, &j.From}, {ce.B, &j.To}} {
			if side.e == nil {
				continue
			}
			v, err := s.toConfigJSON(side.e.ConfigEntry, side.e.SourceEnv, false)
			if err != nil {
				return err
			}
			*side.dst = &v
		}
		out = append(out, j)
	}
	return c.JSON(http.StatusOK, map[string]any{"from": from, "to": to, "keys": out})
}

// --- schemas ---

type schemaJSON struct {
	Pattern   string          `json:"pattern"`
	Schema    json.RawMessage `json:"schema"`
	Version   int64           `json:"version"`
	UpdatedAt string          `json:"updated_at"`
	UpdatedBy string          `json:"updated_by"`
}

func toSchemaJSON(sc store.ConfigSchema) schemaJSON {
	return schemaJSON{Pattern: sc.Pattern, Schema: json.RawMessage(sc.Doc), Version: sc.Version,
		UpdatedAt: rfc3339(sc.UpdatedAt), UpdatedBy: sc.UpdatedBy}
}

// APIListSchemas lists the schemas.
func (s *Server) APIListSchemas(c echo.Context) error {
	list, err := s.st.ListSchemas(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]schemaJSON, 0, len(list))
	for _, sc := range list {
		out = append(out, toSchemaJSON(sc))
	}
	return c.JSON(http.StatusOK, map[string]any{"schemas": out})
}

func schemaPattern(c echo.Context) (string, error) {
	p, err := url.PathUnescape(c.Param("pattern"))
	if err != nil || config.ValidPattern(p) != nil {
		return "", store.Invalid("pattern", "Use a key or a pattern such as db.* (URL-escaped).")
	}
	return p, nil
}

// APIGetSchema returns one schema.
func (s *Server) APIGetSchema(c echo.Context) error {
	p, err := schemaPattern(c)
	if err != nil {
		return err
	}
	sc, err := s.st.GetSchema(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSchemaJSON(sc))
}

// schemaPutBody is the body of PUT /api/v1/schemas/{pattern}.
type schemaPutBody struct {
	Schema  json.RawMessage `json:"schema"`
	Version int64           `json:"version"`
	// Confirm saves even when current values would break; without it the
	// answer is 409 with the values that would break.
	Confirm bool `json:"confirm,omitempty"`
}

// schemaBreakJSON is a value that a schema change would break.
type schemaBreakJSON struct {
	Env        string   `json:"env"`
	Key        string   `json:"key"`
	Violations []string `json:"violations"`
}

// APIPutSchema attaches a schema to a key or pattern. When current values
// would break, it answers 409 with them unless confirm is true.
func (s *Server) APIPutSchema(c echo.Context) error {
	p, err := schemaPattern(c)
	if err != nil {
		return err
	}
	var in schemaPutBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if !in.Confirm {
		breaks, err := s.schemaBreaks(c, p, in.Schema)
		if err != nil {
			return err
		}
		if len(breaks) > 0 {
			return c.JSON(http.StatusConflict, map[string]any{
				"error":  APIError{Code: "schema_breaks_values", Message: strconv.Itoa(len(breaks)) + " current values would break; send confirm: true to save anyway."},
				"breaks": breaks,
			})
		}
	}
	sc, err := s.st.PutSchema(ctx, actor(c), p, in.Schema, in.Version)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSchemaJSON(sc))
}

func (s *Server) schemaBreaks(c echo.Context, pattern string, doc []byte) ([]schemaBreakJSON, error) {
	envs, err := s.environments(c)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	breaks, err := s.st.SchemaImpact(c.Request().Context(), pattern, doc, names)
	if err != nil {
		return nil, err
	}
	out := make([]schemaBreakJSON, 0, len(breaks))
	for _, b := range breaks {
		j := schemaBreakJSON{Env: b.Env, Key: b.Key}
		for _, v := range b.Violations {
			j.Violations = append(j.Violations, violationText(v.Pointer, v.Rule, v.Message))
		}
		out = append(out, j)
	}
	return out, nil
}

func violationText(pointer, rule, msg string) string {
	if pointer == "" {
		pointer = "/"
	}
	return pointer + ": " + rule + ": " + msg
}

// APIDeleteSchema removes a schema (?version= guards it).
func (s *Server) APIDeleteSchema(c echo.Context) error {
	p, err := schemaPattern(c)
	if err != nil {
		return err
	}
	version, _ := strconv.ParseInt(c.QueryParam("version"), 10, 64)
	if err := s.st.DeleteSchema(c.Request().Context(), actor(c), p, version); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- import and export ---

// importPlan is a parsed import: the writes to apply and how each key
// compares with the environment now.
type importPlan struct {
	Writes []store.ConfigWrite
	Rows   []importRow
}

type importRow struct {
	Key    string `json:"key"`
	Status string `json:"status"` // new, changed, same
	Type   string `json:"type"`
	Secret bool   `json:"secret,omitempty"`
}

// planImport parses a document against env's current entries.
func (s *Server) planImport(c echo.Context, env string, format config.Format, data []byte) (importPlan, error) {
	ctx := c.Request().Context()
	current, err := s.st.AllConfigs(ctx, env)
	if err != nil {
		return importPlan{}, err
	}
	byKey := make(map[string]store.ConfigEntry, len(current))
	types := make(map[string]config.Type, len(current))
	for _, e := range current {
		byKey[e.Key] = e
		types[e.Key] = e.Type
	}
	items, err := config.Import(format, data, types)
	if err != nil {
		var ie *config.ImportError
		if errors.As(err, &ie) {
			ve := &store.ValidationError{}
			for _, p := range ie.Problems {
				field := "data"
				if p.Key != "" {
					field = p.Key
				}
				ve.Add(field, p.String())
			}
			return importPlan{}, ve
		}
		return importPlan{}, err
	}
	var plan importPlan
	for _, it := range items {
		cur, exists := byKey[it.Key]
		row := importRow{Key: it.Key, Type: string(it.Type), Secret: it.Type == config.TypeSecret, Status: "new"}
		w := store.ConfigWrite{Key: it.Key, Type: it.Type, Value: it.Value, Comment: "import"}
		if exists {
			w.Version, w.Description, w.Tags = cur.Version, cur.Description, cur.Tags
			if !cur.ExpiresAt.IsZero() {
				w.TTL = time.Until(cur.ExpiresAt)
			}
			row.Status = "changed"
			same := cur.Type == it.Type && cur.Value == it.Value
			if it.Type == config.TypeSecret && cur.Type == config.TypeSecret {
				if it.Masked {
					same = true
				} else if v, err := s.st.OpenSecret(env, it.Key, cur.Value); err == nil {
					same = v == it.Value
				}
			}
			if same {
				row.Status = "same"
			}
		}
		if it.Masked {
			if !exists || cur.Type != config.TypeSecret {
				return importPlan{}, store.Invalid(it.Key, "A masked secret can only keep a secret that exists here.")
			}
			w.KeepSecret = true
		}
		plan.Rows = append(plan.Rows, row)
		if row.Status != "same" {
			plan.Writes = append(plan.Writes, w)
		}
	}
	return plan, nil
}

const maxImportBytes = 10 << 20

// APIImport imports a document into an environment (?format=json|yaml|env);
// with dry_run=1 it only answers the plan. Applying is all-or-nothing.
func (s *Server) APIImport(c echo.Context) error {
	_, env, err := s.consumerEnv(c, auth.PermWrite)
	if err != nil {
		return err
	}
	format, err := config.ParseFormat(c.QueryParam("format"))
	if err != nil {
		return store.Invalid("format", "Use json, yaml or env.")
	}
	data, err := io.ReadAll(io.LimitReader(c.Request().Body, maxImportBytes+1))
	if err != nil {
		return err
	}
	if len(data) > maxImportBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	plan, err := s.planImport(c, env.Name, format, data)
	if err != nil {
		return err
	}
	dry := c.QueryParam("dry_run") == "1" || c.QueryParam("dry_run") == "true"
	if !dry && len(plan.Writes) > 0 {
		_, err := s.st.ApplyConfigs(c.Request().Context(), actor(c), env.Name, "import", plan.Writes)
		if handled, herr := s.configConflict(c, err); handled {
			return herr
		}
		if err != nil {
			return err
		}
	}
	if plan.Rows == nil {
		plan.Rows = []importRow{}
	}
	return c.JSON(http.StatusOK, map[string]any{"env": env.Name, "dry_run": dry, "applied": !dry && len(plan.Writes) > 0,
		"changes": len(plan.Writes), "keys": plan.Rows})
}

// exportItems lists an environment's own entries for export; secrets in
// clear only when reveal is true (admins asking for it; audited).
func (s *Server) exportItems(c echo.Context, env string, reveal bool) ([]config.Item, error) {
	ctx := c.Request().Context()
	entries, err := s.st.AllConfigs(ctx, env)
	if err != nil {
		return nil, err
	}
	items := make([]config.Item, 0, len(entries))
	for _, e := range entries {
		it := config.Item{Key: e.Key, Type: e.Type, Value: e.Value}
		if e.Type == config.TypeSecret {
			if reveal {
				v, err := s.st.OpenSecret(env, e.Key, e.Value)
				if err != nil {
					return nil, err
				}
				it.Value = v
			} else {
				it.Value, it.Masked = "", true
			}
		}
		items = append(items, it)
	}
	if reveal {
		if err := s.st.RecordEvent(ctx, actor(c), "secret.export", env, env, map[string]any{"keys": len(items)}); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// APIExport downloads an environment's own values (?format=json|yaml|env;
// reveal=1 includes secret values, admins only, audited).
func (s *Server) APIExport(c echo.Context) error {
	_, env, err := s.consumerEnv(c, auth.PermRead)
	if err != nil {
		return err
	}
	return s.export(c, env.Name)
}

func (s *Server) export(c echo.Context, env string) error {
	format, err := config.ParseFormat(c.QueryParam("format"))
	if err != nil {
		return store.Invalid("format", "Use json, yaml or env.")
	}
	reveal := c.QueryParam("reveal") == "1" || c.QueryParam("reveal") == "true"
	if reveal && !principal(c).Has(auth.PermRevealSecrets) {
		return auth.ErrForbidden
	}
	items, err := s.exportItems(c, env, reveal)
	if err != nil {
		return err
	}
	body, err := config.Export(format, items)
	if err != nil {
		return err
	}
	name := "keel-" + env
	if reveal {
		name += "-WITH-SECRETS"
		c.Response().Header().Set("Keel-Export-Contains-Secrets", "true")
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+"."+format.Extension()+`"`)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, format.ContentType(), body)
}

// APIRevealConfig answers one secret's value to an admin (audited).
func (s *Server) APIRevealConfig(c echo.Context) error {
	_, env, err := s.consumerEnv(c, auth.PermRevealSecrets)
	if err != nil {
		return err
	}
	key, err := configKeyParam(c)
	if err != nil {
		return err
	}
	v, err := s.st.RevealConfig(c.Request().Context(), actor(c), env.Name, key)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"key": key, "value": v})
}
