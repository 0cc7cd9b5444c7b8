package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// safeNext keeps post-sign-in redirects on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

// loginCSRF returns the sign-in form's anti-forgery token, setting its
// cookie when the browser has none.
func (s *Server) loginCSRF(c echo.Context) string {
	if ck, err := c.Cookie(loginCSRFCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	tok := auth.RandomPassword(43)
	c.SetCookie(&http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	return tok
}

// LoginForm shows the sign-in page.
func (s *Server) LoginForm(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if sessionState(c) != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return s.loginPage(c, http.StatusOK, views.LoginProps{Next: next})
}

func (s *Server) loginPage(c echo.Context, status int, p views.LoginProps) error {
	p.CSRF = s.loginCSRF(c)
	c.Response().Header().Set("Vary", "HX-Request")
	return s.renderComponent(c, status, views.AuthPage("Sign in", views.LoginPage(p)))
}

// Login checks the credentials, throttling failures per account and per
// source address, and starts a fresh session.
func (s *Server) Login(c echo.Context) error {
	ctx := c.Request().Context()
	username := strings.TrimSpace(c.FormValue("username"))
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	a := actor(c)
	a.Name, a.Role = username, ""
	form := views.LoginProps{Username: username, Next: next}
	if username == "" || password == "" {
		form.Error = "Enter your username and password."
		return s.loginPage(c, http.StatusUnprocessableEntity, form)
	}
	if len(username) > 64 || len(password) > auth.MaxPasswordLen {
		form.Error = "Wrong username or password."
		return s.loginPage(c, http.StatusUnauthorized, form)
	}
	until, err := s.st.LoginLockedUntil(ctx, store.DefaultThrottle, username, a.IP)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		if err := s.st.RecordLoginFailure(ctx, store.DefaultThrottle, a, username, "locked"); err != nil {
			return err
		}
		form.Locked = true
		form.Error = lockMessage(time.Until(until))
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(time.Until(until).Seconds()))))
		return s.loginPage(c, http.StatusTooManyRequests, form)
	}
	u, err := s.st.GetUser(ctx, username)
	reason := ""
	switch {
	case errors.Is(err, store.ErrNotFound):
		auth.VerifyDummy(password)
		reason = "unknown user"
	case err != nil:
		return err
	default:
		if verr := auth.VerifyPassword(u.PasswordHash, password); verr != nil {
			reason = "wrong password"
		} else if u.Disabled {
			reason = "user disabled"
		}
	}
	if reason != "" {
		if err := s.st.RecordLoginFailure(ctx, store.DefaultThrottle, a, username, reason); err != nil {
			return err
		}
		form.Error = "Wrong username or password."
		return s.loginPage(c, http.StatusUnauthorized, form)
	}
	if err := s.st.ResetLoginFailures(ctx, username); err != nil {
		return err
	}
	a.Name, a.Role = u.Name, u.Role
	if _, err := s.sessions.Start(c.Response(), c.Request(), u, a); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func lockMessage(d time.Duration) string {
	m := int(math.Ceil(d.Minutes()))
	if m <= 1 {
		return "Too many failed sign-ins. Try again in a minute."
	}
	return fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", m)
}

// Logout ends the session.
func (s *Server) Logout(c echo.Context) error {
	if err := s.sessions.End(c.Response(), c.Request(), sessionState(c), actor(c)); err != nil {
		return err
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", "/login")
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
