package handlers

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

func settingsForm(st store.Settings) views.SettingsForm {
	return views.SettingsForm{AuditMaxEntries: strconv.FormatInt(st.AuditMaxEntries, 10),
		AuditMaxAgeDays: strconv.Itoa(st.AuditMaxAgeDays), Version: st.Version}
}

func matrixRows() []views.MatrixRow {
	rows := make([]views.MatrixRow, 0, len(auth.Matrix))
	for _, m := range auth.Matrix {
		r := views.MatrixRow{What: m.What}
		for _, role := range auth.Roles {
			r.Allowed = append(r.Allowed, role.Allows(m.Perm))
		}
		rows = append(rows, r)
	}
	return rows
}

func (s *Server) systemProps(c echo.Context, form *views.SettingsForm) (views.SystemProps, error) {
	ctx := c.Request().Context()
	info, err := s.st.Info(ctx)
	if err != nil {
		return views.SystemProps{}, err
	}
	if form == nil {
		set, err := s.st.GetSettings(ctx)
		if err != nil {
			return views.SystemProps{}, err
		}
		f := settingsForm(set)
		form = &f
	}
	return views.SystemProps{Version: s.cfg.Version, GoVersion: runtime.Version(),
		Uptime: time.Since(s.started).Round(time.Second).String(), Redis: info, Settings: *form,
		CSRF: sessionState(c).CSRF, CanManage: principal(c).Has(auth.PermManageSettings), Matrix: matrixRows()}, nil
}

// System shows store information, instance settings and the permission matrix.
func (s *Server) System(c echo.Context) error {
	p, err := s.systemProps(c, nil)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "System", views.SystemContent(p), nil)
}

// parseSettings reads settings from strings, collecting field errors.
func parseSettings(maxEntries, maxAgeDays string) (store.Settings, *store.ValidationError) {
	ve := &store.ValidationError{}
	var out store.Settings
	n, err := strconv.ParseInt(strings.TrimSpace(maxEntries), 10, 64)
	if err != nil {
		ve.Add("audit_max_entries", "Use a whole number (0 for no limit).")
	}
	out.AuditMaxEntries = n
	d, err := strconv.Atoi(strings.TrimSpace(maxAgeDays))
	if err != nil {
		ve.Add("audit_max_age_days", "Use a whole number of days (0 to keep forever).")
	}
	out.AuditMaxAgeDays = d
	return out, ve
}

// UpdateSettings saves the settings form.
func (s *Server) UpdateSettings(c echo.Context) error {
	form := views.SettingsForm{AuditMaxEntries: c.FormValue("audit_max_entries"), AuditMaxAgeDays: c.FormValue("audit_max_age_days")}
	form.Version, _ = strconv.ParseInt(c.FormValue("version"), 10, 64)
	next, ve := parseSettings(form.AuditMaxEntries, form.AuditMaxAgeDays)
	var err error = ve.OrNil()
	if err == nil {
		var saved store.Settings
		saved, err = s.st.UpdateSettings(c.Request().Context(), actor(c), form.Version, next)
		if err == nil {
			form = settingsForm(saved)
			form.Saved = true
		}
	}
	status := http.StatusOK
	if errs := formError(err); errs != nil {
		form.Errors, status = errs, http.StatusUnprocessableEntity
	} else if err != nil {
		return err
	}
	p, err := s.systemProps(c, &form)
	if err != nil {
		return err
	}
	if status == http.StatusOK && isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", hxTrigger("settings"))
	}
	return s.render(c, status, "System", views.SystemContent(p), nil)
}

type settingsJSON struct {
	AuditMaxEntries int64 `json:"audit_max_entries"`
	AuditMaxAgeDays int   `json:"audit_max_age_days"`
	Version         int64 `json:"version"`
}

// APIGetSettings returns the instance settings.
func (s *Server) APIGetSettings(c echo.Context) error {
	st, err := s.st.GetSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settingsJSON(st))
}

// APIPatchSettings changes the instance settings.
func (s *Server) APIPatchSettings(c echo.Context) error {
	var in settingsPatchBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, err := s.st.GetSettings(ctx)
	if err != nil {
		return err
	}
	if in.AuditMaxEntries != nil {
		cur.AuditMaxEntries = *in.AuditMaxEntries
	}
	if in.AuditMaxAgeDays != nil {
		cur.AuditMaxAgeDays = *in.AuditMaxAgeDays
	}
	version := in.Version
	if version == 0 {
		version = cur.Version // still refuse a change made between our read and write
	}
	saved, err := s.st.UpdateSettings(ctx, actor(c), version, cur)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settingsJSON(saved))
}
