package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

func (s *Server) sessionsProps(c echo.Context, user string, canManage bool) (views.SessionsProps, error) {
	list, err := s.st.ListSessions(c.Request().Context(), user)
	if err != nil {
		return views.SessionsProps{}, err
	}
	st := sessionState(c)
	p := views.SessionsProps{User: user, CSRF: st.CSRF, CanManage: canManage}
	for _, se := range list {
		p.Sessions = append(p.Sessions, views.SessionRow{Handle: se.Handle, User: se.User, IP: se.IP,
			UserAgent: se.UserAgent, CreatedAt: se.CreatedAt, LastSeen: se.LastSeen, ExpiresAt: se.ExpiresAt,
			Current: se.Handle == st.Principal.SessionHandle})
	}
	return p, nil
}

// ListSessions shows every active session (or one user's, with ?user=).
func (s *Server) ListSessions(c echo.Context) error {
	p, err := s.sessionsProps(c, c.QueryParam("user"), true)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Sessions", views.SessionsContent(p), nil)
}

// SessionsTable is the sessions table fragment, refreshed live.
func (s *Server) SessionsTable(c echo.Context) error {
	p, err := s.sessionsProps(c, c.QueryParam("user"), true)
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.SessionsTable(p))
}

// RevokeSession ends someone's session at once: their next request lands on
// the sign-in page.
func (s *Server) RevokeSession(c echo.Context) error {
	if err := s.st.RevokeSession(c.Request().Context(), actor(c), c.Param("handle")); err != nil {
		return err
	}
	p, err := s.sessionsProps(c, c.FormValue("user"), true)
	if err != nil {
		return err
	}
	redirect := "/sessions"
	if u := c.FormValue("user"); u != "" {
		redirect += "?user=" + url.QueryEscape(u)
	}
	return s.done(c, redirect, "sessions", views.SessionsTable(p))
}

// RevokeOwnSession lets anyone end one of their own other sessions.
func (s *Server) RevokeOwnSession(c echo.Context) error {
	ctx := c.Request().Context()
	me := principal(c)
	se, err := s.st.GetSession(ctx, c.Param("handle"))
	if err != nil {
		return err
	}
	if se.User != me.Name {
		return store.ErrNotFound
	}
	if err := s.st.RevokeSession(ctx, actor(c), se.Handle); err != nil {
		return err
	}
	p, err := s.ownSessionsProps(c)
	if err != nil {
		return err
	}
	return s.done(c, "/account", "sessions", views.SessionsTable(p))
}

func (s *Server) ownSessionsProps(c echo.Context) (views.SessionsProps, error) {
	p, err := s.sessionsProps(c, principal(c).Name, true)
	p.Own = true
	return p, err
}

// OwnSessionsTable is the account page's table of the caller's own
// sessions, refreshed live.
func (s *Server) OwnSessionsTable(c echo.Context) error {
	p, err := s.ownSessionsProps(c)
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.SessionsTable(p))
}

type sessionJSON struct {
	Handle    string `json:"handle"`
	User      string `json:"user"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	CreatedAt string `json:"created_at"`
	LastSeen  string `json:"last_seen"`
	ExpiresAt string `json:"expires_at"`
}

// APIListSessions lists active sessions (?user= filters).
func (s *Server) APIListSessions(c echo.Context) error {
	list, err := s.st.ListSessions(c.Request().Context(), c.QueryParam("user"))
	if err != nil {
		return err
	}
	out := make([]sessionJSON, 0, len(list))
	for _, se := range list {
		out = append(out, sessionJSON{Handle: se.Handle, User: se.User, IP: se.IP, UserAgent: se.UserAgent,
			CreatedAt: rfc3339(se.CreatedAt), LastSeen: rfc3339(se.LastSeen), ExpiresAt: rfc3339(se.ExpiresAt)})
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

// APIRevokeSession revokes a session.
func (s *Server) APIRevokeSession(c echo.Context) error {
	if err := s.st.RevokeSession(c.Request().Context(), actor(c), c.Param("handle")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
