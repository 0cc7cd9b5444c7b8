package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
)

// Context keys.
const (
	ctxRequestID = "keel.rid"
	ctxNonce     = "keel.nonce"
	ctxState     = "keel.session"
	ctxPrincipal = "keel.principal"
	ctxAuthErr   = "keel.autherr"
)

// loginCSRFCookie carries the anti-forgery token of the sign-in form, before
// there is a session to keep it in.
const loginCSRFCookie = "keel_csrf"

// errCSRF: a state-changing request failed the cross-site checks.
var errCSRF = errors.New("cross-site request refused")

func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", "rid", requestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// requestID gives every request an id: the caller's X-Request-Id when it is
// short and plain, else a fresh one. It is echoed in the response, logged,
// and shown on error pages.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rid := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plainID(rid) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			rid = hex.EncodeToString(b)
		}
		c.Set(ctxRequestID, rid)
		c.Response().Header().Set(echo.HeaderXRequestID, rid)
		return next(c)
	}
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func requestID(c echo.Context) string { v, _ := c.Get(ctxRequestID).(string); return v }

// accessLog writes one JSON log line per request and records its duration.
// It never logs query strings or bodies.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		status := c.Response().Status
		route := c.Path()
		if route == "" || route == "/*" {
			route = "unmatched"
		}
		s.metrics.ObserveHTTP(route, c.Request().Method, status, d)
		if route == "/static/*" || route == "/healthz" || route == "/metrics" {
			return nil
		}
		lvl := slog.LevelInfo
		if status >= 500 {
			lvl = slog.LevelError
		}
		s.log.LogAttrs(c.Request().Context(), lvl, "http",
			slog.String("method", c.Request().Method), slog.String("route", route),
			slog.String("path", c.Request().URL.Path), slog.Int("status", status),
			slog.Float64("ms", float64(d.Microseconds())/1000), slog.Int64("bytes", c.Response().Size),
			slog.String("rid", requestID(c)), slog.String("user", principal(c).ActorName()),
			slog.String("ip", c.RealIP()))
		return nil
	}
}

// securityHeaders sets a CSP with a fresh nonce per request (and puts the
// nonce where templ finds it), and the other browser-safety headers.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		nonce := base64.RawStdEncoding.EncodeToString(b)
		c.Set(ctxNonce, nonce)
		r := c.Request()
		c.SetRequest(r.WithContext(templ.WithNonce(r.Context(), nonce)))
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self' 'nonce-"+nonce+
			"'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.cfg.SecureCookies {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

// bodyLimit caps request bodies (2 MiB by default); imports, which take
// documents of up to 10 MiB, get their own cap.
func (s *Server) bodyLimit() echo.MiddlewareFunc {
	general := middleware.BodyLimit(s.cfg.BodyLimit)
	imports := middleware.BodyLimit("11M")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		g, i := general(next), imports(next)
		return func(c echo.Context) error {
			if isImportPath(c.Request().URL.Path) {
				return i(c)
			}
			return g(c)
		}
	}
}

func isImportPath(p string) bool {
	return p == "/import/preview" || p == "/import/apply" ||
		(strings.HasPrefix(p, "/api/v1/envs/") && strings.HasSuffix(p, "/import"))
}

// identify resolves who is calling: an API token on /api/ paths, the session
// cookie elsewhere. It never rejects; requireSession / requireToken do.
func (s *Server) identify(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		path := c.Request().URL.Path
		switch {
		case strings.HasPrefix(path, "/static/"), path == "/healthz", path == "/readyz", path == "/metrics":
			return next(c)
		case strings.HasPrefix(path, "/api/"):
			if raw := auth.BearerToken(c.Request().Header.Get(echo.HeaderAuthorization)); raw != "" {
				p, err := s.tokens.Authenticate(c.Request().Context(), raw)
				if err != nil {
					c.Set(ctxAuthErr, err)
				} else {
					c.Set(ctxPrincipal, p)
				}
			}
		default:
			st, err := s.sessions.Load(c.Response(), c.Request())
			switch {
			case err == nil:
				c.Set(ctxState, st)
				c.Set(ctxPrincipal, st.Principal)
			case errors.Is(err, auth.ErrUnauthenticated):
				if _, cerr := c.Cookie(s.sessions.Config().CookieName); cerr == nil {
					s.sessions.ClearCookie(c.Response())
				}
			default:
				c.Set(ctxAuthErr, err)
			}
		}
		return next(c)
	}
}

// csrf refuses state-changing browser requests that come from another site:
// the Fetch-metadata / Origin check of net/http, plus a synchronizer token
// (the session's, or the sign-in form's cookie) in X-CSRF-Token or _csrf.
// API requests authenticate with bearer tokens, which browsers never attach
// by themselves, so they need neither.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			return next(c)
		}
		if err := s.cop.Check(r); err != nil {
			return errCSRF
		}
		var want string
		if st := sessionState(c); st != nil {
			want = st.CSRF
		} else if ck, err := c.Cookie(loginCSRFCookie); err == nil {
			want = ck.Value
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = c.FormValue("_csrf")
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return errCSRF
		}
		return next(c)
	}
}

// requireSession admits signed-in users holding perm.
func (s *Server) requireSession(perm auth.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err, _ := c.Get(ctxAuthErr).(error); err != nil {
				return err
			}
			st := sessionState(c)
			if st == nil {
				return auth.ErrUnauthenticated
			}
			if !st.Principal.Has(perm) {
				return auth.ErrForbidden
			}
			return next(c)
		}
	}
}

// requireToken admits API tokens holding perm.
func (s *Server) requireToken(perm auth.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err, _ := c.Get(ctxAuthErr).(error); err != nil {
				return err
			}
			p := principal(c)
			if p == nil || p.Kind != auth.KindToken {
				return auth.ErrUnauthenticated
			}
			if !p.Has(perm) {
				return auth.ErrForbidden
			}
			return next(c)
		}
	}
}

func sessionState(c echo.Context) *auth.SessionState {
	st, _ := c.Get(ctxState).(*auth.SessionState)
	return st
}

func principal(c echo.Context) *auth.Principal {
	p, _ := c.Get(ctxPrincipal).(*auth.Principal)
	return p
}

// actor describes the caller for the audit entry of a change.
func actor(c echo.Context) store.Actor {
	a := store.Actor{
		IP: c.RealIP(), UserAgent: truncate(c.Request().UserAgent(), 256), RequestID: requestID(c),
	}
	if p := principal(c); p != nil {
		a.Name, a.Role = p.ActorName(), p.Role.String()
	} else {
		a.Name, a.Role = "anonymous", "none"
	}
	return a
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
