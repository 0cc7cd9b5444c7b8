package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

var tokenExpiries = map[string]time.Duration{
	"": 0, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour, "365d": 365 * 24 * time.Hour,
}

// issueToken validates and creates an API token; form and API share it.
func (s *Server) issueToken(c echo.Context, name, role, env string, ttl time.Duration, readSecrets bool) (store.Token, string, error) {
	ctx := c.Request().Context()
	ve := &store.ValidationError{}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		ve.Add("name", "Give the token a name of 1 to 100 characters.")
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		ve.Add("role", "Choose viewer, editor, publisher or admin.")
	}
	if env != "" {
		if _, err := s.st.GetEnvironment(ctx, env); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				return store.Token{}, "", err
			}
			ve.Add("env", "No environment is named "+env+".")
		}
	}
	if ttl < 0 {
		ve.Add("expires", "The expiry must be in the future.")
	}
	if err := ve.OrNil(); err != nil {
		return store.Token{}, "", err
	}
	return s.tokens.Issue(ctx, actor(c), auth.TokenSpec{Name: name, Role: r, Env: env, TTL: ttl, ReadSecrets: readSecrets})
}

func (s *Server) tokensProps(c echo.Context, form views.TokenForm, created string) (views.TokensProps, error) {
	ctx := c.Request().Context()
	list, err := s.st.ListTokens(ctx)
	if err != nil {
		return views.TokensProps{}, err
	}
	envs, err := s.environments(c)
	if err != nil {
		return views.TokensProps{}, err
	}
	p := views.TokensProps{Roles: roleNames(), Form: form, CSRF: sessionState(c).CSRF, Created: created,
		CanManage: principal(c).Has(auth.PermManageTokens)}
	for _, e := range envs {
		p.Envs = append(p.Envs, e.Name)
	}
	now := time.Now()
	for _, t := range list {
		p.Tokens = append(p.Tokens, views.TokenRow{ID: t.ID, Name: t.Name, Role: t.Role, Env: t.Env,
			CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt,
			Expired: t.Expired(now), ReadSecrets: t.ReadSecrets})
	}
	return p, nil
}

// ListTokens shows the API tokens page.
func (s *Server) ListTokens(c echo.Context) error {
	p, err := s.tokensProps(c, views.TokenForm{Role: auth.Viewer.String(), Expires: "90d"}, "")
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "API tokens", views.TokensContent(p), nil)
}

// TokensTable is the tokens table fragment, refreshed live.
func (s *Server) TokensTable(c echo.Context) error {
	p, err := s.tokensProps(c, views.TokenForm{}, "")
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.TokensTable(p))
}

// CreateToken creates a token and shows its secret once.
func (s *Server) CreateToken(c echo.Context) error {
	form := views.TokenForm{Name: c.FormValue("name"), Role: c.FormValue("role"), Env: c.FormValue("env"), Expires: c.FormValue("expires"),
		ReadSecrets: c.FormValue("read_secrets") == "on" || c.FormValue("read_secrets") == "true"}
	ttl, ok := tokenExpiries[form.Expires]
	if !ok {
		ttl = -1
	}
	_, full, err := s.issueToken(c, form.Name, form.Role, form.Env, ttl, form.ReadSecrets)
	if errs := formError(err); errs != nil {
		form.Errors = errs
		p, perr := s.tokensProps(c, form, "")
		if perr != nil {
			return perr
		}
		return s.render(c, http.StatusUnprocessableEntity, "API tokens", views.TokensContent(p), views.TokenCreateForm(p))
	}
	if err != nil {
		return err
	}
	p, err := s.tokensProps(c, views.TokenForm{Role: auth.Viewer.String(), Expires: "90d"}, full)
	if err != nil {
		return err
	}
	// The secret is rendered into this response only; never redirect with it.
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", hxTrigger("tokens"))
		return s.renderComponent(c, http.StatusOK, views.TokenCreateForm(p))
	}
	return s.page(c, http.StatusOK, "API tokens", views.TokensContent(p))
}

// RevokeToken revokes a token.
func (s *Server) RevokeToken(c echo.Context) error {
	if err := s.st.RevokeToken(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	s.tokens.Invalidate(c.Param("id"))
	p, err := s.tokensProps(c, views.TokenForm{}, "")
	if err != nil {
		return err
	}
	return s.done(c, "/tokens", "tokens", views.TokensTable(p))
}

type tokenJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Role        string `json:"role"`
	Env         string `json:"env,omitempty"`
	CreatedBy   string `json:"created_by"`
	CreatedAt   string `json:"created_at"`
	ExpiresAt   string `json:"expires_at,omitempty"`
	LastUsedAt  string `json:"last_used_at,omitempty"`
	ReadSecrets bool   `json:"read_secrets"`
	Token       string `json:"token,omitempty"` // only in the create answer
}

func toTokenJSON(t store.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, Env: t.Env, CreatedBy: t.CreatedBy,
		CreatedAt: rfc3339(t.CreatedAt), ExpiresAt: rfc3339(t.ExpiresAt), LastUsedAt: rfc3339(t.LastUsedAt), ReadSecrets: t.ReadSecrets}
}

// APIListTokens lists tokens (never their secrets).
func (s *Server) APIListTokens(c echo.Context) error {
	list, err := s.st.ListTokens(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(list))
	for _, t := range list {
		out = append(out, toTokenJSON(t))
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": out})
}

// APICreateToken creates a token; the answer carries the token once.
func (s *Server) APICreateToken(c echo.Context) error {
	var in tokenCreateBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.ExpiresInDays < 0 || in.ExpiresInDays > 3650 {
		return store.Invalid("expires_in_days", "Use 0 (never) to 3650 days.")
	}
	t, full, err := s.issueToken(c, in.Name, in.Role, in.Env, time.Duration(in.ExpiresInDays)*24*time.Hour, in.ReadSecrets)
	if err != nil {
		return err
	}
	out := toTokenJSON(t)
	out.Token = full
	return c.JSON(http.StatusCreated, out)
}

// APIRevokeToken revokes a token.
func (s *Server) APIRevokeToken(c echo.Context) error {
	if err := s.st.RevokeToken(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	s.tokens.Invalidate(c.Param("id"))
	return c.NoContent(http.StatusNoContent)
}
