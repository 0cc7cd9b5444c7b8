package handlers

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// isHTMX reports whether htmx sent the request.
func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// wantsFragment: an htmx request that swaps part of the page. Boosted
// navigation, history restores and full-body requests get the whole page.
func wantsFragment(c echo.Context) bool {
	h := c.Request().Header
	return isHTMX(c) && h.Get("HX-Boosted") != "true" &&
		h.Get("HX-History-Restore-Request") != "true" && h.Get("HX-Request-Type") != "full"
}

// render answers with the fragment for htmx requests and the full page
// (title and body inside the application shell) otherwise. fragment nil
// means the body itself is the fragment.
func (s *Server) render(c echo.Context, status int, title string, body, fragment templ.Component) error {
	c.Response().Header().Add("Vary", "HX-Request")
	if wantsFragment(c) {
		if fragment == nil {
			fragment = body
		}
		return s.renderComponent(c, status, fragment)
	}
	return s.page(c, status, title, body)
}

// page renders a full page inside the application shell.
func (s *Server) page(c echo.Context, status int, title string, body templ.Component) error {
	c.Response().Header().Add("Vary", "HX-Request")
	return s.renderComponent(c, status, views.Page(s.shell(c, title), body))
}

// renderComponent renders into a buffer first, so a template error becomes
// a clean 500 instead of a half-written page.
func (s *Server) renderComponent(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

const envCookie = "keel_env"

const ctxEnvs = "keel.envs"

// environments lists the environments once per request (the shell and the
// page share the answer), from the process-wide cache that change events
// keep current; handlers that change environments invalidate it first.
func (s *Server) environments(c echo.Context) ([]store.Environment, error) {
	if envs, ok := c.Get(ctxEnvs).([]store.Environment); ok {
		return envs, nil
	}
	envs, err := s.consumer.environments(c.Request().Context(), s.st)
	if err != nil {
		return nil, err
	}
	c.Set(ctxEnvs, envs)
	return envs, nil
}

// shell builds the application frame for the current caller.
func (s *Server) shell(c echo.Context, title string) views.ShellProps {
	p := views.ShellProps{Title: title, Version: s.cfg.Version, StoreDown: !s.storeUp.Load()}
	st := sessionState(c)
	if st == nil {
		return p
	}
	p.User, p.Role, p.CSRF = st.Principal.Name, st.Principal.Role.String(), st.CSRF
	p.Nav = navFor(st.Principal, c.Path())
	p.LiveTopics = liveTopics[c.Path()]
	if !p.StoreDown {
		envs, err := s.environments(c)
		if err == nil {
			for _, e := range envs {
				p.Envs = append(p.Envs, views.EnvChip{Name: e.Name, Color: e.Color, Protected: e.Protected})
			}
		} else if store.IsUnavailable(err) {
			p.StoreDown = true
		}
	}
	p.CurrentEnv = s.currentEnv(c, p.Envs)
	return p
}

// currentEnv is the environment chosen in the switcher: ?env= (remembered in
// a cookie), else the remembered one, else the first.
func (s *Server) currentEnv(c echo.Context, envs []views.EnvChip) string {
	known := func(n string) bool {
		for _, e := range envs {
			if e.Name == n {
				return true
			}
		}
		return false
	}
	if q := c.QueryParam("env"); q != "" && known(q) {
		c.SetCookie(&http.Cookie{Name: envCookie, Value: q, Path: "/", HttpOnly: true,
			Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
		return q
	}
	if ck, err := c.Cookie(envCookie); err == nil && known(ck.Value) {
		return ck.Value
	}
	if len(envs) > 0 {
		return envs[0].Name
	}
	return ""
}

// navFor lists the sections the principal may open, marking the active one.
func navFor(p *auth.Principal, route string) []views.NavItem {
	items := []struct {
		label, href, icon string
		perm              auth.Permission
	}{
		{"Overview", "/", "home", auth.PermRead},
		{"Configs", "/configs", "sliders", auth.PermRead},
		{"Compare", "/compare", "compare", auth.PermRead},
		{"Promotions", "/promotions", "promote", auth.PermRead},
		{"Schemas", "/schemas", "schema", auth.PermRead},
		{"Environments", "/environments", "layers", auth.PermRead},
		{"Audit", "/audit", "list", auth.PermRead},
		{"Users", "/users", "users", auth.PermManageUsers},
		{"Sessions", "/sessions", "monitor", auth.PermManageUsers},
		{"Tokens", "/tokens", "key", auth.PermManageTokens},
		{"System", "/system", "settings", auth.PermManageSettings},
	}
	var out []views.NavItem
	for _, it := range items {
		if !p.Has(it.perm) {
			continue
		}
		active := route == it.href || (it.href != "/" && strings.HasPrefix(route, it.href+"/"))
		out = append(out, views.NavItem{Label: it.label, Href: it.href, Icon: it.icon,
			TestID: "nav-" + strings.ToLower(it.label), Active: active})
	}
	return out
}

// liveTopics are, per page, the topics whose changes by someone else raise
// a toast there.
var liveTopics = map[string][]string{
	"/":                        {"users", "sessions", "tokens", "environments", "settings", "configs", "promotions", "schemas"},
	"/users":                   {"users", "sessions"},
	"/sessions":                {"sessions", "users"},
	"/tokens":                  {"tokens"},
	"/environments":            {"environments"},
	"/environments/:name/edit": {"environments"},
	"/audit":                   {"users", "sessions", "tokens", "environments", "settings", "configs", "promotions", "schemas"},
	"/account":                 {"sessions"},
	"/system":                  {"settings"},
	"/configs":                 {"configs"},
	"/configs/edit":            {"configs"},
	"/configs/history":         {"configs"},
	"/compare":                 {"configs"},
	"/schemas":                 {"schemas"},
	"/promotions":              {"promotions"},
	"/change-requests/:id":     {"promotions"},
}
