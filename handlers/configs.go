package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/secret"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// pageEnv resolves an environment named in a form or query (the switcher's
// environment when none is named) and checks the caller may use perm there.
func (s *Server) pageEnv(c echo.Context, name string, perm auth.Permission) ([]string, store.Environment, views.EnvChip, error) {
	if name == "" {
		envs, err := s.environments(c)
		if err != nil {
			return nil, store.Environment{}, views.EnvChip{}, err
		}
		name = s.currentEnv(c, envChips(envs))
	}
	chain, env, err := s.resolveEnv(c, name, perm)
	if err != nil {
		return nil, store.Environment{}, views.EnvChip{}, err
	}
	return chain, env, envChip(env), nil
}

// resolveEnv finds an environment and its ancestors (nearest first) and
// checks the caller may use perm there (a write to a protected environment
// needs a publisher; a scoped token stays in its environment). Unknown
// environments are 404, before any permission check.
func (s *Server) resolveEnv(c echo.Context, name string, perm auth.Permission) ([]string, store.Environment, error) {
	envs, err := s.environments(c)
	if err != nil {
		return nil, store.Environment{}, err
	}
	chain, env, ok := envChain(envs, name)
	if !ok {
		return nil, store.Environment{}, store.ErrNotFound
	}
	if !principal(c).Can(perm, auth.EnvironmentInfo{Name: env.Name, Protected: env.Protected}) {
		return nil, store.Environment{}, auth.ErrForbidden
	}
	return chain, env, nil
}

func envChip(e store.Environment) views.EnvChip {
	return views.EnvChip{Name: e.Name, Color: e.Color, Protected: e.Protected}
}

func envChips(envs []store.Environment) []views.EnvChip {
	out := make([]views.EnvChip, len(envs))
	for i, e := range envs {
		out[i] = envChip(e)
	}
	return out
}

func (s *Server) canWriteEnv(c echo.Context, env store.Environment) bool {
	return principal(c).Can(auth.PermWrite, auth.EnvironmentInfo{Name: env.Name, Protected: env.Protected})
}

func typeNames() []string {
	out := make([]string, len(config.Types))
	for i, t := range config.Types {
		out[i] = string(t)
	}
	return out
}

// displayValue is what a page shows of a value: secrets masked, JSON compact.
func displayValue(t config.Type, v string) string {
	if t == config.TypeSecret {
		return secret.Mask
	}
	return v
}

// configRow is one entry as pages show it; an entry that lives in another
// environment than the page's is marked as inherited from it.
func configRow(e store.ConfigEntry, pageEnv string) views.ConfigRow {
	r := views.ConfigRow{Key: e.Key, Type: string(e.Type), Value: displayValue(e.Type, e.Value), Description: e.Description,
		Tags: e.Tags, Version: e.Version, UpdatedAt: e.UpdatedAt, UpdatedBy: e.UpdatedBy, ExpiresAt: e.ExpiresAt,
		Secret: e.Type == config.TypeSecret}
	if e.Env != pageEnv {
		r.SourceEnv = e.Env
	}
	return r
}

func diffLines(t config.Type, a, b string) []views.DiffLine {
	if t == config.TypeSecret {
		return nil
	}
	kind := map[config.OpKind]string{config.OpEqual: "equal", config.OpInsert: "insert", config.OpDelete: "delete", config.OpChange: "change"}
	var out []views.DiffLine
	for _, l := range config.Diff(t, a, b) {
		dl := views.DiffLine{Kind: kind[l.Kind], Old: l.Old, New: l.New}
		for _, w := range l.Words {
			switch w.Kind {
			case config.OpEqual:
				dl.OldWords = append(dl.OldWords, views.DiffWord{Kind: "equal", Text: w.Text})
				dl.NewWords = append(dl.NewWords, views.DiffWord{Kind: "equal", Text: w.Text})
			case config.OpDelete:
				dl.OldWords = append(dl.OldWords, views.DiffWord{Kind: "delete", Text: w.Text})
			case config.OpInsert:
				dl.NewWords = append(dl.NewWords, views.DiffWord{Kind: "insert", Text: w.Text})
			}
		}
		out = append(out, dl)
	}
	return out
}

// --- list ---

func (s *Server) configsProps(c echo.Context, envName string) (views.ConfigsProps, error) {
	chain, env, chip, err := s.pageEnv(c, envName, auth.PermRead)
	if err != nil {
		return views.ConfigsProps{}, err
	}
	ctx := c.Request().Context()
	f := views.ConfigFilter{Prefix: c.QueryParam("prefix"), Tag: c.QueryParam("tag"), Type: c.QueryParam("type"),
		Inherited: env.Parent != "" && c.QueryParam("own") != "1"}
	p := views.ConfigsProps{Env: chip, Parent: env.Parent, Filter: f, Types: typeNames(), CSRF: sessionState(c).CSRF,
		CanWrite: s.canWriteEnv(c, env), Now: time.Now()}
	var t config.Type
	if f.Type != "" {
		if t, err = config.ParseType(f.Type); err != nil {
			return p, store.Invalid("type", err.Error())
		}
	}
	cursor := c.QueryParam("cursor")
	// 25 rows fill a screen; "Load more" appends the next 25.
	const pageSize = 25
	q := url.Values{"env": {env.Name}}
	for k, v := range map[string]string{"prefix": f.Prefix, "tag": f.Tag, "type": f.Type} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if env.Parent != "" && !f.Inherited {
		q.Set("own", "1")
	}
	if f.Inherited {
		all, _, err := s.st.EffectiveConfigs(ctx, chain)
		if err != nil {
			return p, err
		}
		ownKeys := map[string]bool{}
		for _, e := range all {
			if e.SourceEnv == env.Name {
				ownKeys[e.Key] = true
			}
		}
		p.Total = int64(len(ownKeys))
		for _, e := range all {
			if e.Key <= cursor || !strings.HasPrefix(e.Key, f.Prefix) || (t != "" && e.Type != t) || (f.Tag != "" && !hasTag(e.Tags, f.Tag)) {
				continue
			}
			if len(p.Rows) == pageSize {
				q.Set("cursor", p.Rows[len(p.Rows)-1].Key)
				p.NextURL = "/configs/more?" + q.Encode()
				break
			}
			p.Rows = append(p.Rows, configRow(e.ConfigEntry, env.Name))
		}
	} else {
		entries, next, total, err := s.listConfigsCached(c, env.Name, store.ConfigQuery{Prefix: f.Prefix, Tag: f.Tag, Type: t, Cursor: cursor, Limit: pageSize})
		if err != nil {
			return p, err
		}
		p.Total = total
		for _, e := range entries {
			p.Rows = append(p.Rows, configRow(e, env.Name))
		}
		if next != "" {
			q.Set("cursor", next)
			p.NextURL = "/configs/more?" + q.Encode()
		}
	}
	// Mark own values that override a parent's.
	if len(chain) > 1 && len(p.Rows) > 0 {
		var keys []string
		for _, r := range p.Rows {
			if r.SourceEnv == "" {
				keys = append(keys, r.Key)
			}
		}
		parents, err := s.st.EffectiveConfigsFor(ctx, chain[1:], keys)
		if err != nil {
			return p, err
		}
		for i := range p.Rows {
			if pe, ok := parents[p.Rows[i].Key]; ok && p.Rows[i].SourceEnv == "" {
				p.Rows[i].Overrides = pe.SourceEnv
			}
		}
	}
	return p, nil
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// ListConfigs shows an environment's configuration.
func (s *Server) ListConfigs(c echo.Context) error {
	p, err := s.configsProps(c, c.QueryParam("env"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Configuration · "+p.Env.Name, views.ConfigsContent(p), views.ConfigsTable(p))
}

// ConfigsTable is the table fragment (filters, live refresh).
func (s *Server) ConfigsTable(c echo.Context) error {
	p, err := s.configsProps(c, c.QueryParam("env"))
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.ConfigsTable(p))
}

// ConfigsMore is the next page of rows.
func (s *Server) ConfigsMore(c echo.Context) error {
	p, err := s.configsProps(c, c.QueryParam("env"))
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.ConfigsMore(p))
}

// --- edit ---

func historyRow(v store.ConfigVersion, current int64) views.HistoryRow {
	return views.HistoryRow{Version: v.Version, Action: v.Action, Author: v.Author, Comment: v.Comment, Time: v.Time,
		Type: string(v.Type), Value: displayValue(v.Type, v.Value), PrevVersion: v.PrevVersion, Deleted: v.Deleted,
		Current: v.Version == current && !v.Deleted}
}

// editProps builds the edit page of a key (current nil for a new key).
func (s *Server) editProps(c echo.Context, chain []string, env store.Environment, chip views.EnvChip, form views.ConfigForm) (views.ConfigEditProps, error) {
	ctx := c.Request().Context()
	p := views.ConfigEditProps{Env: chip, Form: form, Types: typeNames(), CSRF: sessionState(c).CSRF,
		CanWrite: s.canWriteEnv(c, env), CanReveal: principal(c).Has(auth.PermRevealSecrets), Now: time.Now()}
	if form.Key == "" {
		return p, nil
	}
	cur, err := s.st.GetConfig(ctx, env.Name, form.Key)
	switch {
	case err == nil:
		r := configRow(cur, env.Name)
		p.Current = &r
	case !errors.Is(err, store.ErrNotFound):
		return p, err
	}
	if len(chain) > 1 {
		if pe, err := s.st.EffectiveConfig(ctx, chain[1:], form.Key); err == nil {
			r := configRow(pe.ConfigEntry, env.Name)
			p.Inherited = &r
		} else if !errors.Is(err, store.ErrNotFound) {
			return p, err
		}
	}
	if sc, _, err := s.st.SchemaFor(ctx, form.Key); err != nil {
		return p, err
	} else if sc != nil {
		p.SchemaPattern, p.SchemaDoc = sc.Pattern, string(sc.Doc)
	}
	hist, err := s.st.ConfigHistory(ctx, env.Name, form.Key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return p, err
	}
	var current int64
	if p.Current != nil {
		current = p.Current.Version
	}
	for i, v := range hist {
		if i == 10 {
			break
		}
		p.History = append(p.History, historyRow(v, current))
	}
	return p, nil
}

func formFromEntry(e store.ConfigEntry) views.ConfigForm {
	f := views.ConfigForm{Env: e.Env, Key: e.Key, Type: string(e.Type), Value: e.Value, Description: e.Description,
		Tags: strings.Join(e.Tags, ", "), Version: e.Version}
	if e.Type == config.TypeSecret {
		f.Value, f.KeepSecret = "", true
	}
	if e.Type == config.TypeJSON {
		f.Value = config.Pretty(e.Type, e.Value)
	}
	if !e.ExpiresAt.IsZero() {
		f.TTL = time.Until(e.ExpiresAt).Round(time.Second).String()
	}
	return f
}

// NewConfig shows the form for a new key.
func (s *Server) NewConfig(c echo.Context) error {
	chain, env, chip, err := s.pageEnv(c, c.QueryParam("env"), auth.PermRead)
	if err != nil {
		return err
	}
	p, err := s.editProps(c, chain, env, chip, views.ConfigForm{Env: env.Name, Type: string(config.TypeString), IsNew: true,
		Key: c.QueryParam("key")})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "New key · "+env.Name, views.ConfigEditContent(p), nil)
}

// EditConfig shows one key: its form, inherited value, schema and recent
// history. With fragment=notice it answers the live notice only.
func (s *Server) EditConfig(c echo.Context) error {
	chain, env, chip, err := s.pageEnv(c, c.QueryParam("env"), auth.PermRead)
	if err != nil {
		return err
	}
	key := c.QueryParam("key")
	if config.ValidKey(key) != nil {
		return store.ErrNotFound
	}
	ctx := c.Request().Context()
	cur, err := s.st.GetConfig(ctx, env.Name, key)
	if c.QueryParam("fragment") == "notice" {
		seen, _ := strconv.ParseInt(c.QueryParam("seen"), 10, 64)
		n := views.ConfigNoticeProps{Env: env.Name, Key: key, SeenVersion: seen}
		switch {
		case err == nil:
			n.CurrentVersion, n.By = cur.Version, cur.UpdatedBy
		case errors.Is(err, store.ErrNotFound):
			n.Deleted = seen > 0
		default:
			return err
		}
		return s.renderComponent(c, http.StatusOK, views.ConfigNotice(n))
	}
	form := views.ConfigForm{Env: env.Name, Key: key, Type: string(config.TypeString), IsNew: true}
	switch {
	case err == nil:
		form = formFromEntry(cur)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	p, err := s.editProps(c, chain, env, chip, form)
	if err != nil {
		return err
	}
	if p.Current == nil && p.Inherited == nil && len(p.History) == 0 {
		return store.ErrNotFound
	}
	return s.render(c, http.StatusOK, key+" · "+env.Name, views.ConfigEditContent(p), nil)
}

// parseConfigForm reads the edit form into a form state and a write.
func parseConfigForm(c echo.Context) (views.ConfigForm, store.ConfigWrite, *store.ValidationError) {
	f := views.ConfigForm{Env: c.FormValue("env"), Key: strings.TrimSpace(c.FormValue("key")), Type: c.FormValue("type"),
		Value: c.FormValue("value"), Description: strings.TrimSpace(c.FormValue("description")), Tags: c.FormValue("tags"),
		TTL: strings.TrimSpace(c.FormValue("ttl")), Comment: strings.TrimSpace(c.FormValue("comment")),
		IsNew:      c.FormValue("is_new") == "1" || c.FormValue("is_new") == "true",
		KeepSecret: c.FormValue("keep_secret") == "on" || c.FormValue("keep_secret") == "1"}
	f.Version, _ = strconv.ParseInt(c.FormValue("version"), 10, 64)
	ve := &store.ValidationError{}
	w := store.ConfigWrite{Key: f.Key, Description: f.Description, Comment: f.Comment, Version: f.Version, Value: f.Value}
	t, err := config.ParseType(f.Type)
	if err != nil {
		ve.Add("type", "Choose string, number, boolean, json or secret.")
	}
	w.Type = t
	if t == config.TypeSecret && f.KeepSecret && f.Value == "" {
		w.KeepSecret = true
	}
	for _, tag := range strings.Split(f.Tags, ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			w.Tags = append(w.Tags, tag)
		}
	}
	if f.TTL != "" {
		d, err := time.ParseDuration(f.TTL)
		if n, nerr := strconv.ParseInt(f.TTL, 10, 64); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err != nil || d <= 0 {
			ve.Add("ttl", "Use a duration such as 90m or 24h, or leave it empty for no expiry.")
		}
		w.TTL = d
	}
	if f.Value == "" && t != config.TypeString && !w.KeepSecret {
		ve.Add("value", "Enter a value.")
	}
	return f, w, ve
}

// valueErrorPosition finds "line L, column C" in a value error message.
func valueErrorPosition(msg string) (int, int) {
	var line, col int
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		line, _ = strconv.Atoi(rest[:n])
		if j := strings.Index(rest, "column "); j >= 0 {
			r2 := rest[j+7:]
			m := 0
			for m < len(r2) && r2[m] >= '0' && r2[m] <= '9' {
				m++
			}
			col, _ = strconv.Atoi(r2[:m])
		}
	}
	return line, col
}

// SaveConfig saves the edit form: field errors come back next to the
// fields; a stale version shows the conflict screen (theirs, yours, base).
func (s *Server) SaveConfig(c echo.Context) error {
	f, w, ve := parseConfigForm(c)
	chain, env, chip, err := s.pageEnv(c, f.Env, auth.PermWrite)
	if err != nil {
		return err
	}
	f.Env = env.Name
	formFailed := func(errs map[string]string) error {
		f.Errors = errs
		if msg := errs["value"]; msg != "" {
			f.ValueLine, f.ValueColumn = valueErrorPosition(msg)
		}
		if f.Type == string(config.TypeSecret) {
			f.Value = ""
		}
		p, err := s.editProps(c, chain, env, chip, f)
		if err != nil {
			return err
		}
		return s.render(c, http.StatusUnprocessableEntity, f.Key+" · "+env.Name, views.ConfigEditContent(p), views.ConfigEditForm(p))
	}
	if err := ve.OrNil(); err != nil {
		return formFailed(ve.Fields)
	}
	saved, err := s.st.SetConfig(c.Request().Context(), actor(c), env.Name, w)
	var cc *store.ConfigConflict
	if errors.As(err, &cc) {
		return s.conflict(c, chain, env, chip, f, w, cc)
	}
	if errs := formError(err); errs != nil {
		return formFailed(errs)
	}
	if err != nil {
		return err
	}
	dest := "/configs/edit?env=" + url.QueryEscape(env.Name) + "&key=" + url.QueryEscape(saved.Key)
	if isHTMX(c) {
		p, err := s.editProps(c, chain, env, chip, formFromEntry(saved))
		if err != nil {
			return err
		}
		if f.IsNew {
			c.Response().Header().Set("HX-Push-Url", dest)
		}
		c.Response().Header().Set("HX-Trigger", hxTrigger("configs"))
		return s.renderComponent(c, http.StatusOK, templ.Join(views.ConfigEditForm(p),
			views.ToastPartial("success", "Saved "+saved.Key+" version "+strconv.FormatInt(saved.Version, 10)+".", "")))
	}
	return c.Redirect(http.StatusSeeOther, dest)
}

// conflict renders the conflict screen of a stale save.
func (s *Server) conflict(c echo.Context, chain []string, env store.Environment, chip views.EnvChip, f views.ConfigForm, w store.ConfigWrite, cc *store.ConfigConflict) error {
	ctx := c.Request().Context()
	p := views.ConflictProps{Env: chip, Key: f.Key, CSRF: sessionState(c).CSRF, Secret: w.Type == config.TypeSecret || cc.Current.Type == config.TypeSecret}
	hist, err := s.st.ConfigHistory(ctx, env.Name, f.Key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for _, v := range hist {
		if v.Version == f.Version {
			p.Base = historyRow(v, 0)
		}
		if v.Version == cc.Current.Version {
			p.Theirs = historyRow(v, cc.Current.Version)
		}
	}
	if cc.Current.Version == 0 {
		p.Theirs = views.HistoryRow{Deleted: true, Action: "delete"}
	}
	yours := w.Value
	if t, err := config.ParseType(f.Type); err == nil && t != config.TypeSecret {
		if n, err := config.Normalize(t, w.Value); err == nil {
			yours = n
		}
	}
	p.Yours = views.HistoryRow{Version: f.Version, Action: "yours", Author: principal(c).Name, Type: f.Type,
		Value: displayValue(w.Type, yours), Comment: f.Comment, Time: time.Now()}
	if !p.Secret {
		baseVal := ""
		for _, v := range hist {
			if v.Version == f.Version {
				baseVal = v.Value
			}
		}
		p.BaseVsTheirs = diffLines(cc.Current.Type, baseVal, cc.Current.Value)
		p.TheirsVsYours = diffLines(w.Type, cc.Current.Value, yours)
	}
	f.Version = cc.Current.Version
	f.IsNew = cc.Current.Version == 0
	if f.Type == string(config.TypeSecret) {
		f.Value = ""
	}
	p.Form = f
	if isHTMX(c) {
		c.Response().Header().Set("HX-Retarget", "#main")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
	}
	return s.render(c, http.StatusConflict, "Conflict · "+f.Key, views.ConflictContent(p), nil)
}

// DeleteConfigForm deletes a key from the edit page.
func (s *Server) DeleteConfigForm(c echo.Context) error {
	_, env, _, err := s.pageEnv(c, c.FormValue("env"), auth.PermWrite)
	if err != nil {
		return err
	}
	version, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	key := c.FormValue("key")
	if err := s.st.DeleteConfig(c.Request().Context(), actor(c), env.Name, key, version, c.FormValue("comment")); err != nil {
		return err
	}
	dest := "/configs?env=" + url.QueryEscape(env.Name)
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", dest)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, dest)
}

// RevealConfig shows one secret's value to an admin; the reveal is audited.
func (s *Server) RevealConfig(c echo.Context) error {
	_, env, _, err := s.pageEnv(c, c.FormValue("env"), auth.PermRevealSecrets)
	if err != nil {
		return err
	}
	key := c.FormValue("key")
	v, err := s.st.RevealConfig(c.Request().Context(), actor(c), env.Name, key)
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.SecretValue(env.Name, key, v))
}

// OverrideConfig copies the inherited value of a key into the environment,
// so it can be changed there: one click.
func (s *Server) OverrideConfig(c echo.Context) error {
	chain, env, _, err := s.pageEnv(c, c.FormValue("env"), auth.PermWrite)
	if err != nil {
		return err
	}
	if len(chain) < 2 {
		return store.Invalid("env", env.Name+" has no parent to inherit from.")
	}
	ctx := c.Request().Context()
	key := c.FormValue("key")
	pe, err := s.st.EffectiveConfig(ctx, chain[1:], key)
	if err != nil {
		return err
	}
	w := store.ConfigWrite{Key: key, Type: pe.Type, Value: pe.Value, Description: pe.Description, Tags: pe.Tags,
		Comment: "override of " + pe.SourceEnv}
	if pe.Type == config.TypeSecret {
		w.SealedEnv = pe.SourceEnv
	}
	if _, err := s.st.SetConfig(ctx, actor(c), env.Name, w); err != nil {
		return err
	}
	return s.afterTableChange(c, env.Name)
}

// RemoveOverride deletes the environment's own value of a key, so the
// parent's shows through again: one click.
func (s *Server) RemoveOverride(c echo.Context) error {
	_, env, _, err := s.pageEnv(c, c.FormValue("env"), auth.PermWrite)
	if err != nil {
		return err
	}
	version, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	if err := s.st.DeleteConfig(c.Request().Context(), actor(c), env.Name, c.FormValue("key"), version, "remove override"); err != nil {
		return err
	}
	return s.afterTableChange(c, env.Name)
}

// afterTableChange answers a table action with the refreshed table.
func (s *Server) afterTableChange(c echo.Context, env string) error {
	if !isHTMX(c) {
		return c.Redirect(http.StatusSeeOther, "/configs?env="+url.QueryEscape(env))
	}
	p, err := s.configsProps(c, env)
	if err != nil {
		return err
	}
	c.Response().Header().Set("HX-Trigger", hxTrigger("configs"))
	return s.renderComponent(c, http.StatusOK, views.ConfigsTable(p))
}

// --- history ---

// ConfigHistoryPage shows every version of a key.
func (s *Server) ConfigHistoryPage(c echo.Context) error {
	_, env, chip, err := s.pageEnv(c, c.QueryParam("env"), auth.PermRead)
	if err != nil {
		return err
	}
	key := c.QueryParam("key")
	ctx := c.Request().Context()
	hist, err := s.st.ConfigHistory(ctx, env.Name, key)
	if err != nil {
		return err
	}
	var current int64
	if e, err := s.st.GetConfig(ctx, env.Name, key); err == nil {
		current = e.Version
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	p := views.HistoryProps{Env: chip, Key: key, CSRF: sessionState(c).CSRF, CanWrite: s.canWriteEnv(c, env), CurrentVersion: current}
	for _, v := range hist {
		p.Rows = append(p.Rows, historyRow(v, current))
	}
	body := views.HistoryContent(p)
	return s.render(c, http.StatusOK, "History · "+key, views.LiveRegion(c.Request().URL.RequestURI(), []string{"configs"}, body), body)
}

// ConfigDiffPage shows two versions of a key side by side.
func (s *Server) ConfigDiffPage(c echo.Context) error {
	_, env, chip, err := s.pageEnv(c, c.QueryParam("env"), auth.PermRead)
	if err != nil {
		return err
	}
	key := c.QueryParam("key")
	from, _ := strconv.ParseInt(c.QueryParam("from"), 10, 64)
	to, _ := strconv.ParseInt(c.QueryParam("to"), 10, 64)
	hist, err := s.st.ConfigHistory(c.Request().Context(), env.Name, key)
	if err != nil {
		return err
	}
	var a, b *store.ConfigVersion
	for i := range hist {
		if hist[i].Version == from {
			a = &hist[i]
		}
		if hist[i].Version == to {
			b = &hist[i]
		}
	}
	if a == nil || b == nil {
		return store.Invalid("from", "Pick two versions that the history still holds.")
	}
	p := views.VersionDiffProps{Env: chip, Key: key, From: historyRow(*a, 0), To: historyRow(*b, 0),
		Masked: a.Type == config.TypeSecret || b.Type == config.TypeSecret}
	if !p.Masked {
		t := b.Type
		if t == "" {
			t = a.Type
		}
		p.Lines = diffLines(t, a.Value, b.Value)
	}
	return s.render(c, http.StatusOK, "Diff · "+key, views.VersionDiffContent(p), nil)
}

// RollbackConfigForm restores an earlier version as a new version.
func (s *Server) RollbackConfigForm(c echo.Context) error {
	_, env, _, err := s.pageEnv(c, c.FormValue("env"), auth.PermWrite)
	if err != nil {
		return err
	}
	key := c.FormValue("key")
	to, _ := strconv.ParseInt(c.FormValue("to"), 10, 64)
	current, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	e, err := s.st.RollbackConfig(c.Request().Context(), actor(c), env.Name, key, to, current,
		strings.TrimSpace(c.FormValue("comment")))
	if err != nil {
		return err
	}
	dest := "/configs/history?env=" + url.QueryEscape(env.Name) + "&key=" + url.QueryEscape(key)
	if e.Deleted() {
		dest = "/configs?env=" + url.QueryEscape(env.Name)
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", dest)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, dest)
}

// configPage is one page of an environment's own keys.
type configPage struct {
	entries []store.ConfigEntry
	next    string
	total   int64
}

// listConfigsCached pages an environment's keys, reusing the page read at
// the same revision of the environment: one round trip (the revision) when
// nothing changed, and always current, since any change bumps the revision.
func (s *Server) listConfigsCached(c echo.Context, env string, q store.ConfigQuery) ([]store.ConfigEntry, string, int64, error) {
	ctx := c.Request().Context()
	rev, err := s.st.ConfigRevision(ctx, []string{env})
	if err != nil {
		return nil, "", 0, err
	}
	key := fmt.Sprintf("%s|%s|%s|%s|%s|%d", rev, q.Prefix, q.Tag, q.Type, q.Cursor, q.Limit)
	if pg, ok := s.pages.get(key); ok {
		return pg.entries, pg.next, pg.total, nil
	}
	entries, next, total, err := s.st.ListConfigs(ctx, env, q)
	if err != nil {
		return nil, "", 0, err
	}
	// The revision read before the page: if a change slipped in between,
	// the page is newer than its key says, and the next change replaces it.
	s.pages.put(key, configPage{entries: entries, next: next, total: total})
	return entries, next, total, nil
}
