package handlers

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// The audit filter's date inputs are datetime-local values, read as UTC.
const datetimeLocal = "2006-01-02T15:04"

// parseAuditQuery reads the filter from the query string. Times are RFC 3339
// or datetime-local (UTC).
func parseAuditQuery(c echo.Context) (store.AuditQuery, views.AuditFilter, error) {
	f := views.AuditFilter{Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Target: c.QueryParam("target"),
		Env: c.QueryParam("env"), Since: c.QueryParam("since"), Until: c.QueryParam("until")}
	q := store.AuditQuery{Actor: f.Actor, ActionPrefix: f.Action, Target: f.Target, Env: f.Env, Cursor: c.QueryParam("cursor")}
	ve := &store.ValidationError{}
	parseTime := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		for _, layout := range []string{time.RFC3339Nano, datetimeLocal, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
				return t
			}
		}
		ve.Add(field, "Use a date and time such as 2026-01-31T14:00 (UTC) or RFC 3339.")
		return time.Time{}
	}
	q.Since = parseTime("since", f.Since)
	q.Until = parseTime("until", f.Until)
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		ve.Add("until", "The end is before the start.")
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			ve.Add("limit", "Use a number from 1 to 500.")
		}
		q.Limit = n
	}
	if p := principal(c); p != nil && p.EnvScope != "" {
		q.Env = p.EnvScope
	}
	f.Errors = ve.Fields
	return q, f, ve.OrNil()
}

func filterValues(f views.AuditFilter) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "env": f.Env, "since": f.Since, "until": f.Until} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

func auditRow(e store.AuditEntry) views.AuditRow {
	return views.AuditRow{ID: e.ID, Time: e.Time, Actor: e.Actor, Role: e.Role, Action: e.Action, Target: e.Target,
		Env: e.Env, IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID, Before: prettyJSON(e.Before), After: prettyJSON(e.After)}
}

func (s *Server) auditProps(c echo.Context) (views.AuditProps, error) {
	q, f, verr := parseAuditQuery(c)
	p := views.AuditProps{Filter: f}
	envs, err := s.environments(c)
	if err != nil {
		return p, err
	}
	for _, e := range envs {
		p.Envs = append(p.Envs, e.Name)
	}
	vals := filterValues(f)
	vals.Set("format", "csv")
	p.ExportCSV = "/audit/export?" + vals.Encode()
	vals.Set("format", "json")
	p.ExportJSON = "/audit/export?" + vals.Encode()
	if verr != nil {
		return p, nil // the form shows the field errors; no rows
	}
	entries, next, err := s.st.QueryAudit(c.Request().Context(), q)
	if err != nil {
		if fe := fieldErrors(err); fe != nil {
			p.Filter.Errors = fe
			return p, nil
		}
		return p, err
	}
	for _, e := range entries {
		p.Rows = append(p.Rows, auditRow(e))
	}
	if next != "" {
		nv := filterValues(f)
		nv.Set("cursor", next)
		p.NextURL = "/audit/rows?" + nv.Encode()
	}
	return p, nil
}

// AuditLog shows the audit page.
func (s *Server) AuditLog(c echo.Context) error {
	p, err := s.auditProps(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Audit log", views.AuditContent(p), views.AuditRows(p))
}

// AuditRows is the rows fragment: the first page for a filter, or with a
// cursor, the next page to append.
func (s *Server) AuditRows(c echo.Context) error {
	p, err := s.auditProps(c)
	if err != nil {
		return err
	}
	if c.QueryParam("cursor") != "" {
		return s.renderComponent(c, http.StatusOK, views.AuditMore(p))
	}
	return s.renderComponent(c, http.StatusOK, views.AuditRows(p))
}

// ExportAudit downloads the whole filtered set as CSV or JSON.
func (s *Server) ExportAudit(c echo.Context) error {
	q, _, err := parseAuditQuery(c)
	if err != nil {
		return err
	}
	return s.exportAudit(c, q, c.QueryParam("format"))
}

var auditCSVHeader = []string{"id", "time", "actor", "role", "action", "target", "env", "before", "after", "ip", "user_agent", "request_id"}

// exportAudit streams the filtered audit set, newest first.
func (s *Server) exportAudit(c echo.Context, q store.AuditQuery, format string) error {
	ctx := c.Request().Context()
	stamp := time.Now().UTC().Format("20060102-150405")
	w := c.Response()
	switch format {
	case "csv":
		w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="keel-audit-`+stamp+`.csv"`)
		w.WriteHeader(http.StatusOK)
		cw := csv.NewWriter(w)
		if err := cw.Write(auditCSVHeader); err != nil {
			return nil
		}
		err := s.st.ExportAudit(ctx, q, func(e store.AuditEntry) error {
			return cw.Write([]string{e.ID, e.Time.UTC().Format(time.RFC3339Nano), csvSafe(e.Actor), e.Role, e.Action, csvSafe(e.Target), e.Env,
				csvSafe(string(e.Before)), csvSafe(string(e.After)), e.IP, csvSafe(e.UserAgent), e.RequestID})
		})
		cw.Flush()
		if err != nil {
			s.log.Error("audit export failed mid-stream", "rid", requestID(c), "err", err.Error())
		}
		return nil
	case "json", "":
		w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSONCharsetUTF8)
		w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="keel-audit-`+stamp+`.json"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("{\"entries\":["))
		first := true
		err := s.st.ExportAudit(ctx, q, func(e store.AuditEntry) error {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if !first {
				_, _ = w.Write([]byte(","))
			}
			first = false
			_, err = w.Write(b)
			return err
		})
		_, _ = w.Write([]byte("]}\n"))
		if err != nil {
			s.log.Error("audit export failed mid-stream", "rid", requestID(c), "err", err.Error())
		}
		return nil
	}
	return store.Invalid("format", "Use csv or json.")
}

// csvSafe defuses spreadsheet formula injection in free-text cells.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') {
		return "'" + v
	}
	return v
}

// APIAudit pages the audit log as JSON, or with format=csv exports the whole
// filtered set.
func (s *Server) APIAudit(c echo.Context) error {
	q, _, err := parseAuditQuery(c)
	if err != nil {
		return err
	}
	switch c.QueryParam("format") {
	case "csv":
		return s.exportAudit(c, q, "csv")
	case "", "json":
	default:
		return store.Invalid("format", "Use csv or json.")
	}
	entries, next, err := s.st.QueryAudit(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": entries, "next_cursor": next})
}
