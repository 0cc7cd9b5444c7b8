package handlers_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/handlers"
)

type apiErr struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	body := readBody(t, resp)
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

func TestUsersAPI(t *testing.T) {
	e := newTestEnv(t)
	api := e.apiClient(e.token("ops", auth.Admin, ""))
	resp := api.json(http.MethodPost, "/api/v1/users", `{"username":"dana","password":"a long password","role":"editor"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, readBody(t, resp))
	}
	u := decode[map[string]any](t, resp)
	if u["name"] != "dana" || u["role"] != "editor" {
		t.Fatalf("created %v", u)
	}
	if _, leaked := u["password_hash"]; leaked {
		t.Fatal("hash in answer")
	}
	resp = api.json(http.MethodPost, "/api/v1/users", `{"username":"dana","password":"a long password","role":"editor"}`)
	if e := decode[apiErr](t, resp); resp.StatusCode != http.StatusConflict || e.Error.Code != "conflict" {
		t.Fatalf("duplicate: %d %+v", resp.StatusCode, e)
	}
	resp = api.json(http.MethodPost, "/api/v1/users", `{"username":"bad name!","password":"short","role":"boss"}`)
	ae := decode[apiErr](t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || ae.Error.Code != "invalid" ||
		ae.Error.Fields["username"] == "" || ae.Error.Fields["password"] == "" || ae.Error.Fields["role"] == "" {
		t.Fatalf("invalid: %d %+v", resp.StatusCode, ae)
	}
	resp = api.json(http.MethodPost, "/api/v1/users", `{"username":"x","nope":1}`)
	if ae := decode[apiErr](t, resp); resp.StatusCode != http.StatusBadRequest || ae.Error.Code != "bad_request" {
		t.Fatalf("unknown field: %d %+v", resp.StatusCode, ae)
	}
	resp = api.json(http.MethodPatch, "/api/v1/users/dana", `{"role":"publisher","disabled":true}`)
	if u := decode[map[string]any](t, resp); resp.StatusCode != http.StatusOK || u["role"] != "publisher" || u["disabled"] != true {
		t.Fatalf("patch: %d %v", resp.StatusCode, u)
	}
	resp = api.json(http.MethodPatch, "/api/v1/users/dana", `{"role":"boss","disabled":false}`)
	readBody(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad patch: %d", resp.StatusCode)
	}
	resp = api.json(http.MethodGet, "/api/v1/users/dana", "")
	if u := decode[map[string]any](t, resp); u["disabled"] != true {
		t.Fatal("a refused patch changed something")
	}
	resp = api.json(http.MethodDelete, "/api/v1/users/dana", "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp = api.json(http.MethodGet, "/api/v1/users/dana", "")
	if ae := decode[apiErr](t, resp); resp.StatusCode != http.StatusNotFound || ae.Error.Code != "not_found" {
		t.Fatalf("get deleted: %d", resp.StatusCode)
	}
	// The audit log holds each change, attributed to the token.
	resp = api.json(http.MethodGet, "/api/v1/audit?action=user.&actor=token:ops", "")
	page := decode[struct {
		Entries []struct{ Action, Target, Actor string } `json:"entries"`
	}](t, resp)
	var actions []string
	for _, en := range page.Entries {
		actions = append(actions, en.Action)
	}
	sort.Strings(actions)
	if strings.Join(actions, ",") != "user.create,user.delete,user.disable,user.set_role" {
		t.Fatalf("audit actions %v", actions)
	}
}

func TestEnvironmentsAPIVersionConflict(t *testing.T) {
	e := newTestEnv(t)
	api := e.apiClient(e.token("ops", auth.Admin, ""))
	resp := api.json(http.MethodPost, "/api/v1/environments", `{"name":"qa","protected":false,"parent":"staging"}`)
	created := decode[map[string]any](t, resp)
	if resp.StatusCode != http.StatusCreated || created["parent"] != "staging" {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	v := int(created["version"].(float64))
	resp = api.json(http.MethodPatch, "/api/v1/environments/qa", `{"protected":true,"version":`+itoa(v)+`}`)
	readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	resp = api.json(http.MethodPatch, "/api/v1/environments/qa", `{"color":"#000000","version":`+itoa(v)+`}`)
	if ae := decode[apiErr](t, resp); resp.StatusCode != http.StatusConflict || ae.Error.Code != "conflict" {
		t.Fatalf("stale patch: %d %+v", resp.StatusCode, ae)
	}
	resp = api.json(http.MethodPost, "/api/v1/environments", `{"name":"loop","parent":"nowhere"}`)
	if ae := decode[apiErr](t, resp); resp.StatusCode != http.StatusUnprocessableEntity || ae.Error.Fields["parent"] == "" {
		t.Fatalf("bad parent: %d %+v", resp.StatusCode, ae)
	}
	// A scoped token sees only its environment.
	scoped := e.apiClient(e.token("dev-only", auth.Viewer, "development"))
	resp = scoped.json(http.MethodGet, "/api/v1/environments", "")
	list := decode[struct{ Environments []struct{ Name string } }](t, resp)
	if len(list.Environments) != 1 || list.Environments[0].Name != "development" {
		t.Fatalf("scoped list: %+v", list)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestAuditAPIPagesFiltersAndExports(t *testing.T) {
	e := newTestEnv(t)
	api := e.apiClient(e.token("ops", auth.Admin, ""))
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
		readBody(t, api.json(http.MethodPost, "/api/v1/users", `{"username":"`+n+`","password":"a long password","role":"viewer"}`))
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		resp := api.json(http.MethodGet, "/api/v1/audit?action=user.create&limit=2&cursor="+cursor, "")
		page := decode[struct {
			Entries    []struct{ ID, Target string } `json:"entries"`
			NextCursor string                        `json:"next_cursor"`
		}](t, resp)
		for _, en := range page.Entries {
			if seen[en.ID] {
				t.Fatalf("entry %s twice", en.ID)
			}
			seen[en.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 5 {
		t.Fatalf("paged %d user.create entries, want 5", len(seen))
	}
	resp := api.json(http.MethodGet, "/api/v1/audit?action=user.create&format=csv", "")
	body := readBody(t, resp)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || strings.Count(body, "\n") != 6 || !strings.HasPrefix(body, "id,time,actor") {
		t.Fatalf("csv export: %q", body)
	}
	resp = api.json(http.MethodGet, "/api/v1/audit?since=yesterday", "")
	if ae := decode[apiErr](t, resp); resp.StatusCode != http.StatusUnprocessableEntity || ae.Error.Fields["since"] == "" {
		t.Fatalf("bad since: %d", resp.StatusCode)
	}
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	e := newTestEnv(t)
	resp := e.anonymous().request(http.MethodGet, "/api/v1/openapi.json", nil, "")
	doc := decode[struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}](t, resp)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routed := map[string]bool{}
	for _, r := range e.srv.RegisteredRoutes() {
		method, path, _ := strings.Cut(r, " ")
		if !strings.HasPrefix(path, "/api/v1/") || path == "/api/v1/openapi.json" {
			continue
		}
		routed[method+" "+handlers.OpenAPIPath(path)] = true
	}
	for k := range routed {
		if !documented[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for k := range documented {
		if !routed[k] {
			t.Errorf("the OpenAPI document lists %s, which the router does not serve", k)
		}
	}
	if len(routed) < 15 {
		t.Fatalf("only %d API routes", len(routed))
	}
}

func TestTokenReadSecretsGrant(t *testing.T) {
	e := newTestEnv(t)
	api := e.apiClient(e.token("ops", auth.Admin, ""))
	resp := api.json(http.MethodPost, "/api/v1/tokens", `{"name":"checkout","role":"viewer","env":"production","read_secrets":true}`)
	tok := decode[map[string]any](t, resp)
	if resp.StatusCode != http.StatusCreated || tok["read_secrets"] != true || tok["token"] == "" {
		t.Fatalf("create: %d %v", resp.StatusCode, tok)
	}
	app := e.apiClient(tok["token"].(string))
	resp = app.json(http.MethodGet, "/api/v1/me", "")
	me := decode[map[string]any](t, resp)
	if me["env"] != "production" || me["role"] != "viewer" {
		t.Fatalf("me: %v", me)
	}
}
