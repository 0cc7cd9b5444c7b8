package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// Home is the overview page.
func (s *Server) Home(c echo.Context) error {
	ctx := c.Request().Context()
	p := views.HomeProps{}
	envs, err := s.environments(c)
	if err != nil {
		return err
	}
	for _, e := range envs {
		p.Envs = append(p.Envs, views.EnvChip{Name: e.Name, Color: e.Color, Protected: e.Protected})
	}
	me := principal(c)
	if me.Has(auth.PermManageUsers) {
		n, err := s.st.CountUsers(ctx)
		if err != nil {
			return err
		}
		p.Users = int(n)
		sessions, err := s.st.ListSessions(ctx, "")
		if err != nil {
			return err
		}
		p.Sessions = len(sessions)
	}
	if me.Has(auth.PermManageTokens) {
		tokens, err := s.st.ListTokens(ctx)
		if err != nil {
			return err
		}
		p.Tokens = len(tokens)
	}
	recent, _, err := s.st.QueryAudit(ctx, store.AuditQuery{Limit: 8})
	if err != nil {
		return err
	}
	for _, e := range recent {
		p.Recent = append(p.Recent, auditRow(e))
	}
	if me.Has(auth.PermManageSettings) {
		if info, err := s.st.Info(ctx); err == nil {
			p.Redis = info
		}
	}
	return s.render(c, http.StatusOK, "Overview", views.HomeContent(p), nil)
}

// APIMe describes the calling token.
func (s *Server) APIMe(c echo.Context) error {
	p := principal(c)
	perms := []string{}
	for _, m := range auth.Matrix {
		if p.Has(m.Perm) {
			perms = append(perms, string(m.Perm))
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"name": p.Name, "kind": "token", "role": p.Role.String(),
		"env": p.EnvScope, "permissions": perms})
}
