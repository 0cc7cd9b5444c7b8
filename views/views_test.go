package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

const (
	testNonce = "n0nce-Abc123"
	testCSRF  = "csrf-T0ken"
	evilName  = `<script>alert(1)</script>`
)

var t0 = time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)

// render renders c with the test nonce and parses the result.
func render(t *testing.T, c templ.Component) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(templ.WithNonce(context.Background(), testNonce), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	out := buf.String()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return out, doc
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func findAll(doc *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if pred(n) {
			out = append(out, n)
		}
	})
	return out
}

func byTestID(doc *html.Node, id string) *html.Node {
	for _, n := range findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "data-testid"); return v == id }) {
		return n
	}
	return nil
}

func text(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func mustTestID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	n := byTestID(doc, id)
	if n == nil {
		t.Fatalf("no element with data-testid=%q", id)
	}
	return n
}

// Sample props, with an unsafe user name wherever a name is shown.

var sampleEnvs = []EnvChip{{"development", "#22c55e", false}, {"production", "#ef4444", true}}

func sampleShell() ShellProps {
	return ShellProps{
		Title: "Users", CSRF: testCSRF, User: "alice", Role: "admin",
		Nav: []NavItem{
			{Label: "Overview", Href: "/", Icon: "home"},
			{Label: "Users", Href: "/users", Icon: "users", Active: true},
			{Label: "API tokens", Href: "/tokens", Icon: "key"},
		},
		Envs: sampleEnvs, CurrentEnv: "production", LiveTopics: []string{"users", "sessions"},
		Flash: "Saved.", Version: "v1.2.3",
	}
}

func sampleUsers() UsersProps {
	return UsersProps{
		Roles: []string{"viewer", "editor", "publisher", "admin"}, CSRF: testCSRF, CanManage: true,
		Users: []UserRow{
			{Name: "alice", Role: "admin", CreatedAt: t0, Sessions: 1, IsSelf: true},
			{Name: "bob", Role: "editor", CreatedAt: t0, Sessions: 2},
			{Name: "erin", Role: "viewer", Disabled: true, CreatedAt: t0},
			{Name: evilName, Role: "viewer", CreatedAt: t0},
		},
		Form: UserForm{Username: evilName, Role: "editor", Errors: map[string]string{"username": "Bad name.", "password": "Too short.", "general": "Something else."}},
	}
}

func sampleSessions() SessionsProps {
	return SessionsProps{CSRF: testCSRF, CanManage: true, Sessions: []SessionRow{
		{Handle: "h1", User: "alice", IP: "10.0.0.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0, Current: true},
		{Handle: "h2", User: evilName, IP: "10.0.0.2", UserAgent: evilName, CreatedAt: t0, LastSeen: t0, ExpiresAt: t0},
	}}
}

func sampleTokens() TokensProps {
	return TokensProps{Roles: []string{"viewer", "admin"}, Envs: []string{"production"}, CSRF: testCSRF, CanManage: true,
		Created: "keel_secret_123",
		Form:    TokenForm{Errors: map[string]string{"name": "Required."}},
		Tokens: []TokenRow{
			{ID: "t1", Name: evilName, Role: "viewer", Env: "production", CreatedBy: "alice", CreatedAt: t0, ExpiresAt: t0, LastUsedAt: t0},
			{ID: "t2", Name: "old", Role: "admin", CreatedAt: t0, Expired: true},
		}}
}

func sampleEnvironments(editing bool) EnvironmentsProps {
	f := EnvForm{Name: "qa", Color: "#3b82f6", Order: "x", Errors: map[string]string{"order": "Must be a whole number."}}
	if editing {
		f = EnvForm{Name: "production", Color: "#ef4444", Order: "2", Protected: true, Version: 7, Editing: true}
	}
	return EnvironmentsProps{CSRF: testCSRF, CanManage: true, Form: f, Envs: []EnvRow{
		{Name: "development", Color: "#22c55e", Version: 1},
		{Name: "production", Color: "#ef4444", Parent: "development", Order: 1, Protected: true, RequireApproval: true, Version: 7},
	}}
}

func sampleAudit() AuditProps {
	return AuditProps{
		Rows: []AuditRow{
			{ID: "1-0", Time: t0, Actor: evilName, Role: "admin", Action: "user.create", Target: evilName, RequestID: "r1", After: `{"name":"` + evilName + `"}`},
			{ID: "2-0", Time: t0, Actor: "bob", Action: "environment.update", Target: "production", Env: "production", Before: "{}", After: "{}"},
		},
		NextURL: "/audit/rows?cursor=2-0", ExportCSV: "/audit/export?format=csv", ExportJSON: "/audit/export?format=json",
		Envs: []string{"production"}, Filter: AuditFilter{Action: "user.", Errors: map[string]string{"since": "Not a time."}},
	}
}

func sampleSystem() SystemProps {
	return SystemProps{Version: "v1", GoVersion: "go1.26", Uptime: "1h", Redis: map[string]string{"mode": "standalone", "version": evilName},
		CSRF: testCSRF, CanManage: true, Settings: SettingsForm{AuditMaxEntries: "1000", AuditMaxAgeDays: "90", Version: 3, Errors: map[string]string{"audit_max_entries": "Too small."}},
		Matrix: []MatrixRow{{"Read", []bool{true, true, true, true}}, {"Manage users", []bool{false, false, false, true}}}}
}

// components lists every component with sample props, each also inside
// the page shell where it is a page body.
func components() map[string]templ.Component {
	shell := sampleShell()
	return map[string]templ.Component{
		"Page/Users":        Page(shell, UsersContent(sampleUsers())),
		"Page/StoreDown":    Page(ShellProps{Title: "Down", CSRF: testCSRF, User: "alice", StoreDown: true, Envs: []EnvChip{{"x y", "red", false}}}, HomeContent(HomeProps{})),
		"Page/SignedOut":    Page(ShellProps{Title: "Not found"}, ErrorContent(ErrorProps{Status: 404, RequestID: "req-1"})),
		"AuthPage/Login":    AuthPage("Sign in", LoginPage(LoginProps{Username: evilName, Error: "Wrong username or password.", CSRF: testCSRF, Next: "/users"})),
		"Home":              Page(shell, HomeContent(HomeProps{Users: 2, Sessions: 3, Tokens: 1, Envs: sampleEnvs, Redis: map[string]string{"mode": "cluster"}, Recent: sampleAudit().Rows})),
		"UsersReadOnly":     UsersContent(UsersProps{Users: sampleUsers().Users, Roles: sampleUsers().Roles, CSRF: testCSRF}),
		"UsersTable":        UsersTable(sampleUsers()),
		"UserCreateForm":    UserCreateForm(sampleUsers()),
		"Sessions":          Page(shell, SessionsContent(sampleSessions())),
		"SessionsTable":     SessionsTable(sampleSessions()),
		"Tokens":            Page(shell, TokensContent(sampleTokens())),
		"TokensTable":       TokensTable(sampleTokens()),
		"TokenCreateForm":   TokenCreateForm(sampleTokens()),
		"Environments":      Page(shell, EnvironmentsContent(sampleEnvironments(false))),
		"EnvironmentEdit":   EnvironmentForm(sampleEnvironments(true)),
		"EnvironmentsTable": EnvironmentsTable(sampleEnvironments(false)),
		"Audit":             Page(shell, AuditContent(sampleAudit())),
		"AuditRows":         AuditRows(sampleAudit()),
		"AuditMore":         AuditMore(sampleAudit()),
		"Account":           Page(shell, AccountContent(AccountProps{User: "alice", Role: "admin", CSRF: testCSRF, Sessions: sampleSessions(), Saved: true, Errors: map[string]string{"new_password": "Too short."}})),
		"System":            Page(shell, SystemContent(sampleSystem())),
		"SystemReadOnly":    SystemContent(SystemProps{CSRF: testCSRF, Matrix: sampleSystem().Matrix}),
		"Error500":          Page(shell, ErrorContent(ErrorProps{Status: 500, Message: "Something broke.", RequestID: "req-9"})),
		"Toast":             Toast("error", evilName, "req-2"),
		"ToastPartial":      ToastPartial("success", "Done.", ""),
	}
}

// TestCSPAndSafety checks what the strict CSP and the CSRF protection need
// of every component: no style attributes, no inline handlers or
// javascript: URLs, a nonce on every script and style, a CSRF field in
// every POST form, the unsafe name escaped, no duplicate ids, and a label
// for every control.
func TestCSPAndSafety(t *testing.T) {
	for name, c := range components() {
		t.Run(name, func(t *testing.T) {
			out, doc := render(t, c)
			if strings.Contains(out, "<script>alert") {
				t.Errorf("unescaped user input in output")
			}
			ids := map[string]bool{}
			labelled := map[string]bool{}
			for _, l := range findAll(doc, func(n *html.Node) bool { return n.Data == "label" }) {
				if f, ok := attr(l, "for"); ok {
					labelled[f] = true
				}
			}
			walk(doc, func(n *html.Node) {
				for _, a := range n.Attr {
					k := strings.ToLower(a.Key)
					switch {
					case k == "style":
						t.Errorf("<%s> has a style attribute (blocked by the CSP)", n.Data)
					case strings.HasPrefix(k, "on"):
						t.Errorf("<%s> has inline handler %s", n.Data, k)
					case strings.HasPrefix(k, "hx-on"):
						t.Errorf("<%s> has %s (needs eval)", n.Data, k)
					case strings.HasPrefix(strings.TrimSpace(strings.ToLower(a.Val)), "javascript:"):
						t.Errorf("<%s %s> is a javascript: URL", n.Data, k)
					case k == "id":
						if ids[a.Val] {
							t.Errorf("duplicate id %q", a.Val)
						}
						ids[a.Val] = true
					}
				}
				switch n.Data {
				case "script", "style":
					if v, _ := attr(n, "nonce"); v != testNonce {
						t.Errorf("<%s> nonce = %q, want %q", n.Data, v, testNonce)
					}
				case "form":
					if m, _ := attr(n, "method"); strings.EqualFold(m, "post") {
						csrf := findAll(n, func(i *html.Node) bool {
							nm, _ := attr(i, "name")
							tp, _ := attr(i, "type")
							return i.Data == "input" && nm == "_csrf" && tp == "hidden"
						})
						if len(csrf) != 1 {
							t.Errorf("POST form %v has %d _csrf inputs", n.Attr, len(csrf))
						} else if v, _ := attr(csrf[0], "value"); v != testCSRF {
							t.Errorf("_csrf value %q, want %q", v, testCSRF)
						}
					}
				case "input", "select", "textarea":
					if tp, _ := attr(n, "type"); tp == "hidden" {
						return
					}
					id, _ := attr(n, "id")
					_, aria := attr(n, "aria-label")
					_, ariaBy := attr(n, "aria-labelledby")
					if !labelled[id] && !aria && !ariaBy {
						t.Errorf("<%s name=%v> has no label", n.Data, n.Attr)
					}
				case "button":
					if text(n) == "" {
						if _, ok := attr(n, "aria-label"); !ok {
							t.Errorf("button without text or aria-label: %v", n.Attr)
						}
					}
				}
			})
		})
	}
}

func TestPageShell(t *testing.T) {
	_, doc := render(t, Page(sampleShell(), UsersContent(sampleUsers())))

	metas := map[string]string{}
	for _, m := range findAll(doc, func(n *html.Node) bool { return n.Data == "meta" }) {
		name, _ := attr(m, "name")
		content, _ := attr(m, "content")
		metas[name] = content
	}
	if metas["csrf-token"] != testCSRF || metas["keel-user"] != "alice" {
		t.Errorf("metas = %v", metas)
	}
	if h, _ := attr(doc.FirstChild.NextSibling, "lang"); h != "en" {
		t.Errorf("html lang = %q", h)
	}
	mustTestID(t, doc, "skip-link")
	if v, _ := attr(mustTestID(t, doc, "nav-users"), "aria-current"); v != "page" {
		t.Errorf("active nav item aria-current = %q", v)
	}
	if _, ok := attr(mustTestID(t, doc, "nav-overview"), "aria-current"); ok {
		t.Errorf("inactive nav item has aria-current")
	}
	mustTestID(t, doc, "nav-api-tokens")
	if len(findAll(doc, func(n *html.Node) bool { return n.Data == "nav" })) != 1 {
		t.Errorf("want one <nav>")
	}
	if v, _ := attr(mustTestID(t, doc, "live-status"), "data-state"); v == "" {
		t.Errorf("live-status without data-state")
	}
	sw := mustTestID(t, doc, "env-switcher")
	for _, o := range findAll(sw, func(n *html.Node) bool { return n.Data == "option" }) {
		v, _ := attr(o, "value")
		_, sel := attr(o, "selected")
		if sel != (v == "production") {
			t.Errorf("option %q selected=%v", v, sel)
		}
	}
	mustTestID(t, doc, "theme-toggle")
	menu := mustTestID(t, doc, "user-menu")
	if byTestID(menu, "sign-out") == nil || byTestID(menu, "menu-account") == nil {
		t.Errorf("user menu lacks sign-out or account")
	}
	main := findAll(doc, func(n *html.Node) bool { return n.Data == "main" })[0]
	if v, _ := attr(main, "data-live-topics"); v != "users sessions" {
		t.Errorf("data-live-topics = %q", v)
	}
	if id, _ := attr(main, "id"); id != "main" {
		t.Errorf("main id = %q", id)
	}
	toasts := mustTestID(t, doc, "toasts")
	if id, _ := attr(toasts, "id"); id != "toasts" {
		t.Errorf("toasts id = %q", id)
	}
	if f := byTestID(toasts, "toast"); f == nil || text(f) != "Saved." {
		t.Errorf("flash toast missing")
	}
	if byTestID(doc, "store-banner") != nil {
		t.Errorf("store banner shown while the store is up")
	}
	styles := findAll(doc, func(n *html.Node) bool { return n.Data == "style" })
	if len(styles) != 1 || !strings.Contains(text(styles[0]), ".env-c-production{--env:#ef4444}") {
		t.Errorf("env colour style = %v", styles)
	}
}

func TestPageVariants(t *testing.T) {
	t.Run("store down", func(t *testing.T) {
		_, doc := render(t, Page(ShellProps{User: "alice", StoreDown: true, Envs: []EnvChip{{"x y", "red", false}}}, HomeContent(HomeProps{})))
		b := mustTestID(t, doc, "store-banner")
		if r, _ := attr(b, "role"); r != "alert" || !strings.Contains(text(b), "Store unavailable") {
			t.Errorf("banner role=%q text=%q", r, text(b))
		}
		if n := len(findAll(doc, func(n *html.Node) bool { return n.Data == "style" })); n != 0 {
			t.Errorf("invalid environments produced %d style elements", n)
		}
	})
	t.Run("signed out", func(t *testing.T) {
		_, doc := render(t, Page(ShellProps{Title: "Not found"}, ErrorContent(ErrorProps{Status: 404})))
		for _, id := range []string{"live-status", "user-menu", "sidebar"} {
			if byTestID(doc, id) != nil {
				t.Errorf("%s shown when signed out", id)
			}
		}
		for _, m := range findAll(doc, func(n *html.Node) bool { return n.Data == "meta" }) {
			if v, _ := attr(m, "name"); v == "keel-user" {
				t.Errorf("keel-user meta when signed out")
			}
		}
		mustTestID(t, doc, "sign-in-link")
	})
}

func TestLogin(t *testing.T) {
	_, doc := render(t, AuthPage("Sign in", LoginPage(LoginProps{Username: "bob", Error: "Wrong username or password.", CSRF: testCSRF, Next: "/users?x=1"})))
	form := mustTestID(t, doc, "login-form")
	if a, _ := attr(form, "action"); a != "/login" {
		t.Errorf("action = %q", a)
	}
	inputs := map[string]string{}
	for _, i := range findAll(form, func(n *html.Node) bool { return n.Data == "input" }) {
		nm, _ := attr(i, "name")
		v, _ := attr(i, "value")
		inputs[nm] = v
	}
	if inputs["username"] != "bob" || inputs["next"] != "/users?x=1" || inputs["_csrf"] != testCSRF {
		t.Errorf("inputs = %v", inputs)
	}
	if _, ok := inputs["password"]; !ok {
		t.Errorf("no password field")
	}
	e := mustTestID(t, doc, "login-error")
	if r, _ := attr(e, "role"); r != "alert" || text(e) != "Wrong username or password." {
		t.Errorf("login error role=%q text=%q", r, text(e))
	}
	mustTestID(t, doc, "login-submit")
	if byTestID(doc, "sidebar") != nil {
		t.Errorf("sign-in page has navigation")
	}

	_, doc = render(t, LoginPage(LoginProps{CSRF: testCSRF}))
	if byTestID(doc, "login-error") != nil {
		t.Errorf("error shown without an error")
	}
}

func TestUsers(t *testing.T) {
	out, doc := render(t, UsersContent(sampleUsers()))
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("unsafe name not shown escaped")
	}
	table := mustTestID(t, doc, "users-table")
	if v, _ := attr(table, "hx-get"); v != "/users/table" {
		t.Errorf("users-table hx-get = %q", v)
	}
	if v, _ := attr(table, "hx-trigger"); !strings.Contains(v, "keel:users from:body") {
		t.Errorf("users-table hx-trigger = %q", v)
	}
	mustTestID(t, doc, "user-row-bob")
	sel := mustTestID(t, doc, "role-select-bob")
	if v, _ := attr(sel, "hx-post"); v != "/users/bob/role" {
		t.Errorf("role select hx-post = %q", v)
	}
	if d := mustTestID(t, doc, "disable-bob"); d.Parent.Data != "form" {
		t.Errorf("disable button not in a form")
	} else if c, _ := attr(d.Parent, "hx-confirm"); c == "" {
		t.Errorf("disable without hx-confirm")
	}
	mustTestID(t, doc, "enable-erin")
	mustTestID(t, doc, "disabled-badge-erin")
	mustTestID(t, doc, "reset-bob")
	if a, _ := attr(mustTestID(t, doc, "reset-form-bob"), "action"); a != "/users/bob/password" {
		t.Errorf("reset action = %q", a)
	}
	// The signed-in admin cannot demote or disable themself here.
	for _, id := range []string{"role-select-alice", "disable-alice", "reset-alice"} {
		if byTestID(doc, id) != nil {
			t.Errorf("%s shown for the signed-in user", id)
		}
	}
	// Path segments are escaped.
	if v, _ := attr(mustTestID(t, doc, "role-select-"+evilName), "hx-post"); v != "/users/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/role" {
		t.Errorf("escaped hx-post = %q", v)
	}

	form := mustTestID(t, doc, "user-create-form")
	if id, _ := attr(form, "id"); id != "user-create-form" {
		t.Errorf("form id = %q", id)
	}
	mustTestID(t, doc, "user-create-submit")
	for _, f := range []string{"username", "password"} {
		e := mustTestID(t, form, "error-"+f)
		eid, _ := attr(e, "id")
		input := findAll(form, func(n *html.Node) bool { v, _ := attr(n, "name"); return n.Data == "input" && v == f })[0]
		if d, _ := attr(input, "aria-describedby"); !strings.Contains(d, eid) {
			t.Errorf("%s aria-describedby %q lacks %q", f, d, eid)
		}
		if v, _ := attr(input, "aria-invalid"); v != "true" {
			t.Errorf("%s aria-invalid = %q", f, v)
		}
	}
	if byTestID(form, "error-role") != nil {
		t.Errorf("error shown for a field without error")
	}
	if fe := mustTestID(t, form, "form-error"); text(fe) != "Something else." {
		t.Errorf("form error = %q", text(fe))
	}

	t.Run("read-only", func(t *testing.T) {
		p := sampleUsers()
		p.CanManage = false
		_, doc := render(t, UsersContent(p))
		for _, id := range []string{"user-create-form", "role-select-bob", "disable-bob", "enable-erin", "reset-bob"} {
			if byTestID(doc, id) != nil {
				t.Errorf("%s shown read-only", id)
			}
		}
		mustTestID(t, doc, "user-row-bob")
	})
}

func TestSessions(t *testing.T) {
	_, doc := render(t, SessionsContent(sampleSessions()))
	table := mustTestID(t, doc, "sessions-table")
	if v, _ := attr(table, "hx-get"); v != "/sessions/table" {
		t.Errorf("hx-get = %q", v)
	}
	if byTestID(doc, "revoke-h1") != nil {
		t.Errorf("the current session has a revoke button")
	}
	r := mustTestID(t, doc, "revoke-h2")
	if a, _ := attr(r.Parent, "action"); a != "/sessions/h2/revoke" {
		t.Errorf("revoke action = %q", a)
	}
	if c, _ := attr(r.Parent, "hx-confirm"); c == "" {
		t.Errorf("revoke without hx-confirm")
	}
	mustTestID(t, doc, "current-session")

	p := sampleSessions()
	p.User = "bob"
	_, doc = render(t, SessionsTable(p))
	if v, _ := attr(mustTestID(t, doc, "sessions-table"), "hx-get"); v != "/sessions/table?user=bob" {
		t.Errorf("filtered hx-get = %q", v)
	}

	_, doc = render(t, AccountContent(AccountProps{User: "alice", CSRF: testCSRF, Sessions: sampleSessions()}))
	tbl := mustTestID(t, doc, "sessions-table")
	if v, _ := attr(tbl, "hx-get"); v != "/account/sessions" {
		t.Errorf("own sessions hx-get = %q", v)
	}
	if a, _ := attr(mustTestID(t, doc, "revoke-h2").Parent, "action"); a != "/account/sessions/h2/revoke" {
		t.Errorf("own revoke action = %q", a)
	}
	mustTestID(t, doc, "password-form")
}

func TestTokens(t *testing.T) {
	_, doc := render(t, TokensContent(sampleTokens()))
	c := mustTestID(t, doc, "token-created")
	if !strings.Contains(text(c), "keel_secret_123") || !strings.Contains(text(c), "not be shown again") {
		t.Errorf("token callout = %q", text(c))
	}
	mustTestID(t, doc, "token-copy")
	mustTestID(t, doc, "token-create-form")
	mustTestID(t, doc, "token-row-t1")
	mustTestID(t, doc, "token-expired")
	r := mustTestID(t, doc, "revoke-token-t1")
	if a, _ := attr(r.Parent, "action"); a != "/tokens/t1/revoke" {
		t.Errorf("revoke action = %q", a)
	}
	mustTestID(t, doc, "error-name")

	p := sampleTokens()
	p.Created = ""
	_, doc = render(t, TokenCreateForm(p))
	if byTestID(doc, "token-created") != nil {
		t.Errorf("token callout without a token")
	}
}

func TestEnvironments(t *testing.T) {
	_, doc := render(t, EnvironmentsContent(sampleEnvironments(false)))
	mustTestID(t, doc, "env-row-production")
	mustTestID(t, doc, "env-protected")
	d := mustTestID(t, doc, "delete-env-production")
	if a, _ := attr(d.Parent, "action"); a != "/environments/production/delete" {
		t.Errorf("delete action = %q", a)
	}
	if c, _ := attr(d.Parent, "hx-confirm"); c == "" {
		t.Errorf("delete without hx-confirm")
	}
	form := mustTestID(t, doc, "env-form")
	if a, _ := attr(form, "action"); a != "/environments" {
		t.Errorf("create action = %q", a)
	}
	if len(findAll(form, func(n *html.Node) bool { tp, _ := attr(n, "type"); return tp == "color" })) != 1 {
		t.Errorf("no colour picker")
	}
	mustTestID(t, form, "error-order")
	if v, _ := attr(findAll(form, func(n *html.Node) bool { nm, _ := attr(n, "name"); return nm == "order" })[0], "value"); v != "x" {
		t.Errorf("order value not kept: %q", v)
	}

	_, doc = render(t, EnvironmentForm(sampleEnvironments(true)))
	form = mustTestID(t, doc, "env-form")
	if a, _ := attr(form, "action"); a != "/environments/production" {
		t.Errorf("edit action = %q", a)
	}
	ver := findAll(form, func(n *html.Node) bool { nm, _ := attr(n, "name"); return nm == "version" })
	if len(ver) != 1 {
		t.Fatalf("edit form has %d version inputs", len(ver))
	}
	if v, _ := attr(ver[0], "value"); v != "7" {
		t.Errorf("version = %q", v)
	}
	for _, o := range findAll(form, func(n *html.Node) bool { return n.Data == "option" }) {
		if v, _ := attr(o, "value"); v == "production" {
			t.Errorf("an environment is offered as its own parent")
		}
	}
}

func TestAudit(t *testing.T) {
	_, doc := render(t, AuditContent(sampleAudit()))
	f := mustTestID(t, doc, "audit-filter")
	if m, _ := attr(f, "method"); m != "get" {
		t.Errorf("filter method = %q", m)
	}
	mustTestID(t, doc, "audit-apply")
	if h, _ := attr(mustTestID(t, doc, "audit-export-csv"), "href"); h != "/audit/export?format=csv" {
		t.Errorf("csv href = %q", h)
	}
	mustTestID(t, doc, "audit-export-json")
	mustTestID(t, doc, "audit-table")
	rows := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "data-testid"); return v == "audit-row" })
	if len(rows) != 2 {
		t.Fatalf("%d audit rows", len(rows))
	}
	if a, _ := attr(rows[1], "data-action"); a != "environment.update" {
		t.Errorf("data-action = %q", a)
	}
	if len(findAll(rows[0], func(n *html.Node) bool { return n.Data == "details" })) != 1 {
		t.Errorf("row without details")
	}
	more := mustTestID(t, doc, "audit-more")
	if v, _ := attr(more, "hx-get"); v != "/audit/rows?cursor=2-0" {
		t.Errorf("more hx-get = %q", v)
	}
	mustTestID(t, doc, "error-since")

	_, doc = render(t, AuditMore(AuditProps{Rows: sampleAudit().Rows}))
	if byTestID(doc, "audit-more") != nil {
		t.Errorf("load more without a next page")
	}
	_, doc = render(t, AuditRows(AuditProps{}))
	mustTestID(t, doc, "empty")
}

func TestSystem(t *testing.T) {
	_, doc := render(t, SystemContent(sampleSystem()))
	m := mustTestID(t, doc, "permission-matrix")
	if n := len(findAll(m, func(n *html.Node) bool { c, _ := attr(n, "class"); return c == "yes" })); n != 5 {
		t.Errorf("%d allowed cells, want 5", n)
	}
	mustTestID(t, doc, "settings-form")
	mustTestID(t, doc, "settings-submit")
	mustTestID(t, doc, "error-audit_max_entries")

	_, doc = render(t, SystemContent(SystemProps{CSRF: testCSRF}))
	if byTestID(doc, "settings-submit") != nil {
		t.Errorf("read-only settings can be saved")
	}
}

func TestErrorAndToast(t *testing.T) {
	_, doc := render(t, ErrorContent(ErrorProps{Status: 503, RequestID: "req-42"}))
	if text(mustTestID(t, doc, "request-id")) != "req-42" {
		t.Errorf("request id missing")
	}
	if !strings.Contains(text(doc), "Keel is unavailable") {
		t.Errorf("default title missing: %q", text(doc))
	}

	for _, tc := range []struct{ kind, want, role string }{
		{"error", "error", "alert"},
		{"success", "success", "status"},
		{"info", "info", "status"},
		{"bogus", "info", "status"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			_, doc := render(t, Toast(tc.kind, "hello", ""))
			n := mustTestID(t, doc, "toast")
			if k, _ := attr(n, "data-kind"); k != tc.want {
				t.Errorf("kind = %q, want %q", k, tc.want)
			}
			if r, _ := attr(n, "role"); r != tc.role {
				t.Errorf("role = %q, want %q", r, tc.role)
			}
			if byTestID(doc, "toast-request-id") != nil {
				t.Errorf("request id shown without one")
			}
		})
	}
	_, doc = render(t, ToastPartial("error", "x", "req-1"))
	p := findAll(doc, func(n *html.Node) bool { return n.Data == "hx-partial" })
	if len(p) != 1 {
		t.Fatalf("no hx-partial")
	}
	if v, _ := attr(p[0], "hx-target"); v != "#toasts" {
		t.Errorf("hx-partial target = %q", v)
	}
}

func TestEnvCSS(t *testing.T) {
	tests := []struct {
		name string
		envs []EnvChip
		want string
	}{
		{"valid", []EnvChip{{Name: "prod-1", Color: "#AbCdEf"}}, ".env-c-prod-1{--env:#abcdef}"},
		{"bad name", []EnvChip{{Name: "a}b{", Color: "#000000"}}, ""},
		{"upper name", []EnvChip{{Name: "Prod", Color: "#000000"}}, ""},
		{"bad colour", []EnvChip{{Name: "x", Color: "red;}body{display:none"}}, ""},
		{"short colour", []EnvChip{{Name: "x", Color: "#fff"}}, ""},
		{"mixed", []EnvChip{{Name: "a", Color: "#111111"}, {Name: "b b", Color: "#222222"}}, ".env-c-a{--env:#111111}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := envCSS(tc.envs); got != tc.want {
				t.Errorf("envCSS = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"API tokens", "api-tokens"},
		{"Users", "users"},
		{"  Audit  log ", "audit-log"},
	} {
		if got := testID(tc.in); got != tc.want {
			t.Errorf("testID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0", "Edge on Windows"},
		{"curl/8.5.0", "curl"},
		{"", "Unknown client"},
	} {
		if got := userAgentSummary(tc.in); got != tc.want {
			t.Errorf("userAgentSummary(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := otherErrors(map[string]string{"name": "x", "b": "B", "a": "A"}, "name"); strings.Join(got, ",") != "A,B" {
		t.Errorf("otherErrors = %v", got)
	}
	if fmtTime(time.Time{}) != "—" {
		t.Errorf("zero time not shown as a dash")
	}
}
