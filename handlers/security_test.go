package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keelhq/keel/handlers"
)

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "keel_session" {
			return c
		}
	}
	return nil
}

func TestPlantedSessionIDIsNotKept(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("alice", "editor")
	c := e.anonymous()
	u, _ := url.Parse(e.ts.URL)
	planted := "PLANTEDSESSIONID1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "keel_session", Value: planted, Path: "/"}})
	resp := c.postForm("/login", url.Values{"username": {"alice"}, "password": {testPassword}})
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login status %d", resp.StatusCode)
	}
	ck := sessionCookie(resp)
	if ck == nil || ck.Value == "" || ck.Value == planted {
		t.Fatalf("want a fresh session id, got %+v", ck)
	}
	n, err := e.st.Client().Exists(context.Background(), e.st.SessionDataPrefix()+planted).Result()
	if err != nil || n != 0 {
		t.Fatalf("planted id stored: %d %v", n, err)
	}
	// The planted cookie alone grants nothing.
	other := e.anonymous()
	other.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "keel_session", Value: planted, Path: "/"}})
	resp = other.request(http.MethodGet, "/", nil, "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("planted cookie: want redirect to sign-in, got %d", resp.StatusCode)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "secure"}[secure], func(t *testing.T) {
			var e *testEnv
			if secure {
				e = newTestEnv(t, withSecureCookies())
			} else {
				e = newTestEnv(t)
			}
			e.createUser("alice", "editor")
			c := e.anonymous()
			resp := c.postForm("/login", url.Values{"username": {"alice"}, "password": {testPassword}})
			readBody(t, resp)
			ck := sessionCookie(resp)
			if ck == nil {
				t.Fatal("no session cookie")
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure || ck.Path != "/" {
				t.Fatalf("cookie flags: %+v", ck)
			}
		})
	}
}

func TestCrossSitePostIsRefused(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("root", "admin")
	c := e.login("root")
	form := url.Values{"username": {"mallory"}, "password": {"long enough password"}, "role": {"admin"}}

	// A cross-site form post, even one that somehow carried the token.
	req, _ := http.NewRequest(http.MethodPost, c.url("/users"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: want 403, got %d", resp.StatusCode)
	}
	// Same site, but no token: a forged request from a same-site page.
	tokenless := *c
	tokenless.csrf = ""
	resp = tokenless.request(http.MethodPost, "/users", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tokenless post: want 403, got %d", resp.StatusCode)
	}
	if _, err := e.st.GetUser(context.Background(), "mallory"); err == nil {
		t.Fatal("a refused request created the user")
	}
	// The genuine request works.
	resp = c.request(http.MethodPost, "/users", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("genuine post: want 303, got %d", resp.StatusCode)
	}
}

func TestLockoutAfterRepeatedFailures(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("alice", "editor")
	c := e.anonymous()
	for i := 0; i < 5; i++ {
		resp := c.postForm("/login", url.Values{"username": {"alice"}, "password": {"wrong password!"}})
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password") {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// Now even the right password is refused, with a clear message.
	resp := c.postForm("/login", url.Values{"username": {"alice"}, "password": {testPassword}})
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("locked: want 429 with message, got %d", resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if sessionCookie(resp) != nil {
		t.Fatal("a locked account got a session")
	}
}

var (
	cspNonce  = regexp.MustCompile(`'nonce-([A-Za-z0-9+/=]+)'`)
	scriptTag = regexp.MustCompile(`<(script|style)\b[^>]*>`)
)

func TestCSPNonceOnEveryPage(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("root", "admin")
	c := e.login("root")
	seen := map[string]bool{}
	pages := []string{"/login"}
	for _, r := range e.srv.Routes() {
		if r.Method == http.MethodGet && r.Access == handlers.Browser && r.Path != "/events" && !strings.Contains(r.Path, ":") {
			pages = append(pages, r.Path)
		}
	}
	pages = append(pages, "/no-such-page")
	for _, p := range pages {
		resp := c.request(http.MethodGet, p, nil, "")
		body := readBody(t, resp)
		csp := resp.Header.Get("Content-Security-Policy")
		m := cspNonce.FindStringSubmatch(csp)
		if m == nil || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
			continue
		}
		if seen[m[1]] {
			t.Errorf("%s: nonce reused", p)
		}
		seen[m[1]] = true
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: missing nosniff or referrer policy", p)
		}
		if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			continue
		}
		for _, tag := range scriptTag.FindAllString(body, -1) {
			if !strings.Contains(tag, `nonce="`+m[1]+`"`) {
				t.Errorf("%s: %s without the page nonce", p, tag)
			}
		}
		if strings.Contains(body, " style=\"") || strings.Contains(body, " onclick=") {
			t.Errorf("%s: inline style or handler attribute", p)
		}
	}
}

func TestScriptUsernameIsEscaped(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("root", "admin")
	evil := `<script>alert("pwned")</script>`
	c := e.anonymous()
	resp := c.postForm("/login", url.Values{"username": {evil}, "password": {"whatever password"}})
	body := readBody(t, resp)
	if strings.Contains(body, evil) {
		t.Fatal("login page echoes the user name unescaped")
	}
	if !strings.Contains(body, "&lt;script&gt;") {
		t.Fatal("login page does not show the escaped user name")
	}
	admin := e.login("root")
	for _, p := range []string{"/audit", "/"} {
		page := admin.get(p)
		if strings.Contains(page, evil) {
			t.Fatalf("%s shows the user name unescaped", p)
		}
		if !strings.Contains(page, "&lt;script&gt;") {
			t.Fatalf("%s does not list the failed sign-in", p)
		}
	}
	// Creating such a user is refused with a field error, not stored.
	resp = admin.postForm("/users", url.Values{"username": {evil}, "password": {"long enough password"}, "role": {"viewer"}})
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(body, evil) {
		t.Fatalf("create: %d", resp.StatusCode)
	}
}

func TestRevokedAndDisabledSessionsEndAtOnce(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("root", "admin")
	e.createUser("ed", "editor")
	e.createUser("vi", "viewer")
	admin, ed, vi := e.login("root"), e.login("ed"), e.login("vi")
	sessions, err := e.st.ListSessions(context.Background(), "ed")
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %v %v", sessions, err)
	}
	resp := admin.postForm("/sessions/"+sessions[0].Handle+"/revoke", url.Values{})
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	resp = ed.request(http.MethodGet, "/audit", nil, "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("revoked session: want sign-in, got %d", resp.StatusCode)
	}
	// htmx requests are sent to sign-in with HX-Redirect.
	req, _ := http.NewRequest(http.MethodGet, vi.url("/audit/rows"), nil)
	req.Header.Set("HX-Request", "true")
	resp = admin.postForm("/users/vi/disable", url.Values{})
	readBody(t, resp)
	resp, err = vi.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), "/login") {
		t.Fatalf("disabled user: want HX-Redirect to sign-in, got %d %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
}

func TestBodyLimitAndRequestIDs(t *testing.T) {
	e := newTestEnv(t)
	tok := e.token("big", 4, "")
	api := e.apiClient(tok)
	resp := api.json(http.MethodPost, "/api/v1/environments", `{"name":"`+strings.Repeat("x", 3<<20)+`"}`)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"payload_too_large"`) {
		t.Fatalf("big body: %d %s", resp.StatusCode, body[:min(len(body), 200)])
	}
	c := e.anonymous()
	resp = c.request(http.MethodGet, "/no-such-page", nil, "")
	body = readBody(t, resp)
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusNotFound || rid == "" || !strings.Contains(body, rid) {
		t.Fatalf("404 page: status %d, request id %q shown: %v", resp.StatusCode, rid, strings.Contains(body, rid))
	}
}
