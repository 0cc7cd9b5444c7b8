package handlers_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/handlers"
	"github.com/keelhq/keel/internal/redistest"
	"github.com/keelhq/keel/internal/telemetry"
	"github.com/keelhq/keel/store"
)

func TestMain(m *testing.M) { os.Exit(redistest.Run(m)) }

// testEnv is a real Keel HTTP stack over a real Redis, behind httptest.
type testEnv struct {
	t    *testing.T
	st   *store.Store
	srv  *handlers.Server
	ts   *httptest.Server
	hub  *store.Hub
	sess *auth.Sessions
}

type envOption func(*auth.SessionConfig)

func withSecureCookies() envOption { return func(c *auth.SessionConfig) { c.Secure = true } }

func newTestEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	return newTestEnvOn(t, store.New(rdb, store.WithPrefix(prefix)), opts...)
}

func newTestEnvOn(t *testing.T, st *store.Store, opts ...envOption) *testEnv {
	t.Helper()
	ctx := context.Background()
	if _, err := st.EnsureDefaultEnvironments(ctx); err != nil {
		t.Fatal(err)
	}
	// One master key per store, so two servers over one store agree.
	kek := sha256.Sum256([]byte("test master key " + st.Prefix()))
	sealer, err := st.OpenSecrets(ctx, kek[:])
	if err != nil {
		t.Fatal(err)
	}
	st.SetSealer(sealer)
	cfg := auth.SessionConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	sess, err := auth.NewSessions(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	hub := st.NewHub(logger)
	hctx, cancel := context.WithCancel(ctx)
	go hub.Run(hctx)
	srv := handlers.New(handlers.Deps{Store: st, Sessions: sess, Tokens: auth.NewTokens(st), Hub: hub,
		Metrics: telemetry.New(), Logger: logger, Config: handlers.Config{Version: "test", SecureCookies: cfg.Secure}})
	go srv.InvalidateCaches(hctx)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.StopStreams(); ts.Close(); cancel() })
	return &testEnv{t: t, st: st, srv: srv, ts: ts, hub: hub, sess: sess}
}

const testPassword = "correct horse battery"

func (e *testEnv) createUser(name, role string) {
	e.t.Helper()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.CreateUser(context.Background(), store.System, store.User{Name: name, Role: role, PasswordHash: hash}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) token(name string, role auth.Role, env string) string {
	e.t.Helper()
	_, full, err := auth.NewTokens(e.st).Issue(context.Background(), store.System, auth.TokenSpec{Name: name, Role: role, Env: env})
	if err != nil {
		e.t.Fatal(err)
	}
	return full
}

// client is one browser (cookie jar, CSRF token) or one API caller (token).
type client struct {
	e     *testEnv
	hc    *http.Client
	csrf  string
	token string
}

func (e *testEnv) anonymous() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (e *testEnv) apiClient(token string) *client {
	c := e.anonymous()
	c.token = token
	return c
}

var (
	csrfInput = regexp.MustCompile(`name="_csrf"\s+value="([^"]+)"`)
	csrfMeta  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)
)

// login signs in through the real form and keeps the session's CSRF token.
func (e *testEnv) login(name string) *client {
	e.t.Helper()
	c := e.anonymous()
	resp := c.postForm("/login", url.Values{"username": {name}, "password": {testPassword}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d", name, resp.StatusCode)
	}
	body := c.get("/account")
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("login %s: no csrf meta on /account", name)
	}
	c.csrf = m[1]
	return c
}

func (c *client) url(path string) string { return c.e.ts.URL + path }

// request sends a request; unsafe browser requests carry the CSRF token and
// a same-origin Origin header, as a browser would.
func (c *client) request(method, path string, body io.Reader, contentType string) *http.Response {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.url(path), body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if method != http.MethodGet && method != http.MethodHead && c.token == "" {
		req.Header.Set("Origin", c.e.ts.URL)
		if c.csrf != "" {
			req.Header.Set("X-CSRF-Token", c.csrf)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return resp
}

func (c *client) get(path string) string {
	c.e.t.Helper()
	resp := c.request(http.MethodGet, path, nil, "")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// postForm posts a form; for the sign-in form it first fetches the page to
// get the pre-session CSRF token, like a browser.
func (c *client) postForm(path string, v url.Values) *http.Response {
	c.e.t.Helper()
	if c.csrf == "" && v.Get("_csrf") == "" {
		page := c.get("/login")
		if m := csrfInput.FindStringSubmatch(page); m != nil {
			v.Set("_csrf", m[1])
		}
	}
	return c.request(http.MethodPost, path, strings.NewReader(v.Encode()), "application/x-www-form-urlencoded")
}

func (c *client) json(method, path, body string) *http.Response {
	c.e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return c.request(method, path, r, "application/json")
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
