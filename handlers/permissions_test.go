package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/handlers"
)

// caller is one kind of identity the matrix test tries every route with.
type caller struct {
	name   string
	c      *client
	kind   auth.PrincipalKind // 0: anonymous
	role   auth.Role
	scoped bool
}

func (k caller) principal() *auth.Principal {
	if k.kind == 0 {
		return nil
	}
	p := &auth.Principal{Kind: k.kind, Name: k.name, Role: k.role}
	if k.scoped {
		p.EnvScope = "development"
	}
	return p
}

func fillPath(r handlers.Route) string {
	if r.Method == http.MethodGet && r.Path == "/api/v1/environments/:name" {
		return "/api/v1/environments/development" // inside the scoped token's environment
	}
	return strings.NewReplacer(":name", "nobody", ":handle", "nohandle", ":id", "noid", "*", "css/app.css").Replace(r.Path)
}

// TestEveryRouteAgainstEveryCaller walks the route table with anonymous
// callers, signed-in users of each role and API tokens of each role (and an
// environment-scoped admin token), and checks each is admitted or refused as
// the permission matrix says.
func TestEveryRouteAgainstEveryCaller(t *testing.T) {
	e := newTestEnv(t)
	callers := []caller{{name: "anonymous", c: e.anonymous()}}
	for _, r := range auth.Roles {
		e.createUser("u-"+r.String(), r.String())
		callers = append(callers,
			caller{name: "session:" + r.String(), c: e.login("u-" + r.String()), kind: auth.KindUser, role: r},
			caller{name: "token:" + r.String(), c: e.apiClient(e.token("t-"+r.String(), r, "")), kind: auth.KindToken, role: r})
	}
	callers = append(callers, caller{name: "token:admin@development", c: e.apiClient(e.token("t-scoped", auth.Admin, "development")),
		kind: auth.KindToken, role: auth.Admin, scoped: true})

	routes := e.srv.Routes()
	// Signing out ends the caller's session: walk it last.
	sort.SliceStable(routes, func(i, j int) bool { return routes[j].Path == "/logout" && routes[i].Path != "/logout" })
	if len(routes) < 40 {
		t.Fatalf("route table has only %d routes", len(routes))
	}
	for _, k := range callers {
		for _, r := range routes {
			if r.Access == handlers.Public && r.Method != http.MethodGet {
				continue // the sign-in POST has its own tests
			}
			name := fmt.Sprintf("%s %s as %s", r.Method, r.Path, k.name)
			status, loc := callRoute(t, k.c, r)
			p := k.principal()
			switch r.Access {
			case handlers.Public:
				if status == http.StatusUnauthorized || status == http.StatusForbidden {
					t.Errorf("%s: public route answered %d", name, status)
				}
			case handlers.Browser:
				switch {
				case k.kind != auth.KindUser:
					if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
						t.Errorf("%s: want redirect to /login, got %d %q", name, status, loc)
					}
				case !p.Has(r.Perm):
					if status != http.StatusForbidden {
						t.Errorf("%s: want 403, got %d", name, status)
					}
				case r.Path == "/logout":
					if status != http.StatusSeeOther || loc != "/login" {
						t.Errorf("%s: want signed out, got %d %q", name, status, loc)
					}
				default:
					if status == http.StatusForbidden || status == http.StatusUnauthorized || strings.HasPrefix(loc, "/login") || status >= 500 {
						t.Errorf("%s: want admitted, got %d %q", name, status, loc)
					}
				}
			case handlers.API:
				switch {
				case k.kind != auth.KindToken:
					if status != http.StatusUnauthorized {
						t.Errorf("%s: want 401, got %d", name, status)
					}
				case !p.Has(r.Perm):
					if status != http.StatusForbidden {
						t.Errorf("%s: want 403, got %d", name, status)
					}
				default:
					if status == http.StatusForbidden || status == http.StatusUnauthorized || status >= 500 {
						t.Errorf("%s: want admitted, got %d", name, status)
					}
				}
			}
		}
	}
}

// callRoute calls a route with harmless arguments (unknown names, empty
// forms) and returns the status and redirect location.
func callRoute(t *testing.T, c *client, r handlers.Route) (int, string) {
	t.Helper()
	path := fillPath(r)
	if r.Path == "/events" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path), nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	var resp *http.Response
	switch {
	case r.Access == handlers.API && (r.Method == http.MethodPost || r.Method == http.MethodPatch):
		resp = c.json(r.Method, path, "{}")
	case r.Method == http.MethodPost:
		resp = c.request(r.Method, path, strings.NewReader(""), "application/x-www-form-urlencoded")
	default:
		resp = c.request(r.Method, path, nil, "")
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}
