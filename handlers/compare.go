package handlers

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// ComparePage compares what two environments deliver: only in A, only in B,
// different (with the value diff), equal. Secrets are compared without
// being shown.
func (s *Server) ComparePage(c echo.Context) error {
	envs, err := s.environments(c)
	if err != nil {
		return err
	}
	p := views.CompareProps{Envs: envChips(envs), A: c.QueryParam("a"), B: c.QueryParam("b"),
		Prefix: c.QueryParam("prefix"), Tag: c.QueryParam("tag"), CSRF: sessionState(c).CSRF}
	if p.A == "" && len(envs) > 0 {
		p.A = envs[0].Name
	}
	if p.B == "" && len(envs) > 1 {
		p.B = envs[len(envs)-1].Name
	}
	if p.A != "" && p.B != "" {
		entries, err := s.compareEnvs(c, p.A, p.B, p.Prefix, p.Tag)
		if err != nil {
			return err
		}
		for _, ce := range entries {
			row := views.CompareRow{Key: ce.Key, Status: ce.Status, Secret: ce.Secret}
			if ce.A != nil {
				r := configRow(ce.A.ConfigEntry, p.A)
				row.A = &r
			}
			if ce.B != nil {
				r := configRow(ce.B.ConfigEntry, p.B)
				row.B = &r
			}
			switch ce.Status {
			case "only_a":
				p.OnlyA = append(p.OnlyA, row)
			case "only_b":
				p.OnlyB = append(p.OnlyB, row)
			case "different":
				if !ce.Secret && ce.A.Type == ce.B.Type {
					row.Lines = diffLines(ce.A.Type, ce.A.Value, ce.B.Value)
				} else if !ce.Secret {
					row.Lines = diffLines(config.TypeString, ce.A.Value, ce.B.Value)
				}
				p.Different = append(p.Different, row)
			default:
				p.Equal = append(p.Equal, row)
			}
		}
		for _, e := range envs {
			if e.Name == p.B {
				p.CanPromote = principal(c).Has(auth.PermWrite)
			}
		}
	}
	body := views.CompareContent(p)
	return s.render(c, http.StatusOK, "Compare", views.LiveRegion(c.Request().URL.RequestURI(), []string{"configs"}, body), body)
}

// --- schemas ---

func (s *Server) schemasProps(c echo.Context, form views.SchemaForm) (views.SchemasProps, error) {
	list, err := s.st.ListSchemas(c.Request().Context())
	if err != nil {
		return views.SchemasProps{}, err
	}
	p := views.SchemasProps{Form: form, CSRF: sessionState(c).CSRF, CanWrite: principal(c).Has(auth.PermManageSchemas)}
	for _, sc := range list {
		p.Rows = append(p.Rows, views.SchemaRow{Pattern: sc.Pattern, Doc: string(sc.Doc), Version: sc.Version,
			UpdatedAt: sc.UpdatedAt, UpdatedBy: sc.UpdatedBy})
	}
	return p, nil
}

// SchemasPage lists the schemas; ?pattern= opens one in the form.
func (s *Server) SchemasPage(c echo.Context) error {
	form := views.SchemaForm{Doc: "{\n  \"type\": \"object\"\n}"}
	if pat := c.QueryParam("pattern"); pat != "" {
		sc, err := s.st.GetSchema(c.Request().Context(), pat)
		if err != nil {
			return err
		}
		form = views.SchemaForm{Pattern: sc.Pattern, Doc: config.Pretty(config.TypeJSON, string(sc.Doc)), Version: sc.Version, Editing: true}
	}
	p, err := s.schemasProps(c, form)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Schemas", views.SchemasContent(p), nil)
}

// SaveSchema attaches a schema. When current values would break, it lists
// them and saves only with confirmation.
func (s *Server) SaveSchema(c echo.Context) error {
	form := views.SchemaForm{Pattern: strings.TrimSpace(c.FormValue("pattern")), Doc: c.FormValue("doc"),
		Editing: c.FormValue("editing") == "1"}
	form.Version = parseInt64(c.FormValue("version"))
	confirm := c.FormValue("confirm") == "1"
	fail := func(status int) error {
		p, err := s.schemasProps(c, form)
		if err != nil {
			return err
		}
		return s.render(c, status, "Schemas", views.SchemasContent(p), views.SchemaFormView(p))
	}
	if config.ValidPattern(form.Pattern) != nil {
		form.Errors = map[string]string{"pattern": "Use a key or a pattern such as db.*"}
		return fail(http.StatusUnprocessableEntity)
	}
	if !confirm {
		breaks, err := s.schemaBreaks(c, form.Pattern, []byte(form.Doc))
		if errs := formError(err); errs != nil {
			form.Errors = schemaFieldErrors(errs)
			return fail(http.StatusUnprocessableEntity)
		}
		if err != nil {
			return err
		}
		if len(breaks) > 0 {
			for _, b := range breaks {
				form.Breaks = append(form.Breaks, views.SchemaBreakRow{Env: b.Env, Key: b.Key, Violations: b.Violations})
			}
			form.NeedsConfirm = true
			return fail(http.StatusConflict)
		}
	}
	_, err := s.st.PutSchema(c.Request().Context(), actor(c), form.Pattern, []byte(form.Doc), form.Version)
	if errs := formError(err); errs != nil {
		form.Errors = schemaFieldErrors(errs)
		return fail(http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", "/schemas")
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, "/schemas")
}

// schemaFieldErrors maps store fields onto the form's (schema → doc).
func schemaFieldErrors(errs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range errs {
		if k == "schema" {
			k = "doc"
		}
		out[k] = v
	}
	return out
}

// DeleteSchemaForm removes a schema.
func (s *Server) DeleteSchemaForm(c echo.Context) error {
	if err := s.st.DeleteSchema(c.Request().Context(), actor(c), c.FormValue("pattern"), parseInt64(c.FormValue("version"))); err != nil {
		return err
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", "/schemas")
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, "/schemas")
}

// --- import and export ---

// ImportPage shows the import form.
func (s *Server) ImportPage(c echo.Context) error {
	_, env, chip, err := s.pageEnv(c, c.QueryParam("env"), auth.PermRead)
	if err != nil {
		return err
	}
	p := views.ImportProps{Env: chip, Format: "json", CSRF: sessionState(c).CSRF, CanWrite: s.canWriteEnv(c, env),
		CanExportSecrets: principal(c).Has(auth.PermRevealSecrets)}
	return s.render(c, http.StatusOK, "Import · "+env.Name, views.ImportContent(p), nil)
}

// importData reads the document from the textarea or an uploaded file.
func importData(c echo.Context) (string, error) {
	if fh, err := c.FormFile("file"); err == nil && fh.Size > 0 {
		if fh.Size > maxImportBytes {
			return "", store.Invalid("data", "The file is larger than 10 MiB.")
		}
		f, err := fh.Open()
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxImportBytes))
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	return c.FormValue("data"), nil
}

// ImportPreview shows what an import would change; ImportApply applies it
// all-or-nothing. Both share the parsing and the plan.
func (s *Server) ImportPreview(c echo.Context) error { return s.importForm(c, false) }

// ImportApply applies an import.
func (s *Server) ImportApply(c echo.Context) error { return s.importForm(c, true) }

func (s *Server) importForm(c echo.Context, apply bool) error {
	perm := auth.PermRead
	if apply {
		perm = auth.PermWrite
	}
	_, env, chip, err := s.pageEnv(c, c.FormValue("env"), perm)
	if err != nil {
		return err
	}
	p := views.ImportProps{Env: chip, Format: c.FormValue("format"), CSRF: sessionState(c).CSRF, CanWrite: s.canWriteEnv(c, env),
		CanExportSecrets: principal(c).Has(auth.PermRevealSecrets)}
	data, err := importData(c)
	if errs := fieldErrors(err); errs != nil {
		p.Errors = errs
		return s.render(c, http.StatusUnprocessableEntity, "Import", views.ImportContent(p), nil)
	}
	if err != nil {
		return err
	}
	p.Data = data
	format, err := config.ParseFormat(p.Format)
	if err != nil {
		p.Errors = map[string]string{"format": "Choose json, yaml or env."}
		return s.render(c, http.StatusUnprocessableEntity, "Import", views.ImportContent(p), nil)
	}
	plan, err := s.planImport(c, env.Name, format, []byte(data))
	if errs := fieldErrors(err); errs != nil {
		p.Errors = errs
		return s.render(c, http.StatusUnprocessableEntity, "Import", views.ImportContent(p), nil)
	}
	if err != nil {
		return err
	}
	p.Previewed = true
	cur, err := s.st.AllConfigs(c.Request().Context(), env.Name)
	if err != nil {
		return err
	}
	byKey := map[string]store.ConfigEntry{}
	for _, e := range cur {
		byKey[e.Key] = e
	}
	newVals := map[string]store.ConfigWrite{}
	for _, w := range plan.Writes {
		newVals[w.Key] = w
	}
	for _, r := range plan.Rows {
		row := views.ImportRow{Key: r.Key, Status: r.Status, Secret: r.Secret}
		if w, ok := newVals[r.Key]; ok && !r.Secret {
			row.Lines = diffLines(w.Type, byKey[r.Key].Value, w.Value)
		}
		p.Rows = append(p.Rows, row)
	}
	if apply && len(plan.Writes) > 0 {
		_, err := s.st.ApplyConfigs(c.Request().Context(), actor(c), env.Name, "import", plan.Writes)
		if errs := formError(err); errs != nil {
			p.Errors = errs
			return s.render(c, http.StatusUnprocessableEntity, "Import", views.ImportContent(p), nil)
		}
		if err != nil {
			return err
		}
		p.Applied = len(plan.Writes)
		c.Response().Header().Set("HX-Trigger", hxTrigger("configs"))
	}
	return s.render(c, http.StatusOK, "Import · "+env.Name, views.ImportContent(p), nil)
}

// ExportPage downloads an environment's values.
func (s *Server) ExportPage(c echo.Context) error {
	_, env, _, err := s.pageEnv(c, c.QueryParam("env"), auth.PermRead)
	if err != nil {
		return err
	}
	return s.export(c, env.Name)
}

// parseInt64 reads a form number; anything else is 0.
func parseInt64(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
