package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/sdk"
)

func putConfig(t *testing.T, c *client, env, key, body string) (int, map[string]any) {
	t.Helper()
	resp := c.json(http.MethodPut, "/api/v1/envs/"+env+"/configs/"+url.PathEscape(key), body)
	out := map[string]any{}
	raw := readBody(t, resp)
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("put %s: %q", key, raw)
		}
	}
	return resp.StatusCode, out
}

func mustPut(t *testing.T, c *client, env, key, body string) map[string]any {
	t.Helper()
	code, out := putConfig(t, c, env, key, body)
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("put %s in %s: %d %v", key, env, code, out)
	}
	return out
}

type configsPage struct {
	Configs []struct {
		Key       string          `json:"key"`
		Type      string          `json:"type"`
		Value     json.RawMessage `json:"value"`
		Masked    bool            `json:"masked"`
		Version   int64           `json:"version"`
		SourceEnv string          `json:"source_env"`
	} `json:"configs"`
}

func TestConsumerConfigsETagInheritanceAndSecrets(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	readResp := admin.json(http.MethodPost, "/api/v1/environments", `{"name":"qa","parent":"staging"}`)
	readBody(t, readResp)
	mustPut(t, admin, "staging", "db.host", `{"type":"string","value":"db-staging"}`)
	mustPut(t, admin, "staging", "db.port", `{"type":"number","value":5432}`)
	mustPut(t, admin, "qa", "db.host", `{"type":"string","value":"db-qa"}`)
	mustPut(t, admin, "qa", "payment.key", `{"type":"secret","value":"sk_live_123"}`)
	mustPut(t, admin, "qa", "svc/api.url", `{"type":"string","value":"https://api.qa"}`)

	viewer := e.apiClient(e.token("app", auth.Viewer, "qa"))
	resp := viewer.json(http.MethodGet, "/api/v1/envs/qa/configs", "")
	etag, pos := resp.Header.Get("ETag"), resp.Header.Get("Keel-Watch-Position")
	page := decode[configsPage](t, resp)
	if resp.StatusCode != http.StatusOK || etag == "" || !strings.HasPrefix(pos, "qa:") {
		t.Fatalf("configs: %d etag %q position %q", resp.StatusCode, etag, pos)
	}
	got := map[string]string{}
	for _, c := range page.Configs {
		got[c.Key] = string(c.Value) + "@" + c.SourceEnv
		if c.Key == "payment.key" && (!c.Masked || string(c.Value) != "null") {
			t.Fatalf("a viewer token got the secret: %+v", c)
		}
	}
	want := map[string]string{"db.host": `"db-qa"@qa`, "db.port": `5432@staging`, "payment.key": `null@qa`, "svc/api.url": `"https://api.qa"@qa`}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	// Unchanged: 304 with the same validator.
	req, _ := http.NewRequest(http.MethodGet, viewer.url("/api/v1/envs/qa/configs"), nil)
	req.Header.Set("Authorization", "Bearer "+viewer.token)
	req.Header.Set("If-None-Match", etag)
	resp, err := viewer.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	// A change in the parent changes the child's ETag.
	mustPut(t, admin, "staging", "db.port", `{"type":"number","value":6432,"version":1}`)
	time.Sleep(50 * time.Millisecond) // the change event invalidates the revision cache
	resp, err = viewer.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page = decode[configsPage](t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a parent change: %d", resp.StatusCode)
	}
	// A token granted secrets receives them; its scope holds.
	app := e.apiClient(mustToken(t, admin, `{"name":"checkout","role":"viewer","env":"qa","read_secrets":true}`))
	resp = app.json(http.MethodGet, "/api/v1/envs/qa/configs/payment.key", "")
	one := decode[map[string]any](t, resp)
	if one["value"] != "sk_live_123" {
		t.Fatalf("granted token: %v", one)
	}
	resp = app.json(http.MethodGet, "/api/v1/envs/production/configs", "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("scoped token outside its env: %d", resp.StatusCode)
	}
	// Keys with slashes travel URL-escaped.
	resp = app.json(http.MethodGet, "/api/v1/envs/qa/configs/"+url.PathEscape("svc/api.url"), "")
	if one := decode[map[string]any](t, resp); one["value"] != "https://api.qa" {
		t.Fatalf("escaped key: %v", one)
	}
}

func mustToken(t *testing.T, admin *client, body string) string {
	t.Helper()
	resp := admin.json(http.MethodPost, "/api/v1/tokens", body)
	tok := decode[map[string]any](t, resp)
	s, _ := tok["token"].(string)
	if s == "" {
		t.Fatalf("token: %v", tok)
	}
	return s
}

func TestConfigWritesValidateAndConflict(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	code, out := putConfig(t, admin, "development", "db.port", `{"type":"number","value":"12a"}`)
	if code != http.StatusUnprocessableEntity || !strings.Contains(mapPath(out, "error", "fields", "value"), "number") {
		t.Fatalf("12a: %d %v", code, out)
	}
	code, out = putConfig(t, admin, "development", "db.pool", `{"type":"json","value":"{\n  \"size\": 5,\n  oops\n}"}`)
	if msg := mapPath(out, "error", "fields", "value"); code != http.StatusUnprocessableEntity || !strings.Contains(msg, "line 3, column 3") {
		t.Fatalf("json error: %d %q", code, msg)
	}
	code, out = putConfig(t, admin, "development", "bad key!", `{"type":"string","value":"x"}`)
	if code != http.StatusUnprocessableEntity || mapPath(out, "error", "fields", "key") == "" {
		t.Fatalf("bad key: %d %v", code, out)
	}
	mustPut(t, admin, "development", "feature.limit", `{"type":"number","value":10}`)
	mustPut(t, admin, "development", "feature.limit", `{"type":"number","value":11,"version":1}`)
	code, out = putConfig(t, admin, "development", "feature.limit", `{"type":"number","value":12,"version":1}`)
	if code != http.StatusConflict || mapPath(out, "error", "code") != "conflict" || mapPath(out, "current", "value") != "11" {
		t.Fatalf("stale save: %d %v", code, out)
	}
	// Schemas: a value that breaks one is refused with the pointer and rule.
	resp := admin.json(http.MethodPut, "/api/v1/schemas/"+url.PathEscape("db.*"),
		`{"schema":{"type":"object","properties":{"port":{"type":"integer","minimum":1}},"required":["port"]}}`)
	readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("schema: %d", resp.StatusCode)
	}
	code, out = putConfig(t, admin, "development", "db.primary", `{"type":"json","value":{"port":0}}`)
	if msg := mapPath(out, "error", "fields", "value"); code != http.StatusUnprocessableEntity || !strings.Contains(msg, "/port") || !strings.Contains(msg, "minimum") {
		t.Fatalf("schema violation: %d %q", code, msg)
	}
	// An editor cannot change production; a publisher can.
	editor := e.apiClient(e.token("ed", auth.Editor, ""))
	if code, _ := putConfig(t, editor, "production", "x", `{"type":"string","value":"y"}`); code != http.StatusForbidden {
		t.Fatalf("editor in production: %d", code)
	}
	publisher := e.apiClient(e.token("pub", auth.Publisher, ""))
	mustPut(t, publisher, "production", "x", `{"type":"string","value":"y"}`)
	// History and rollback.
	resp = admin.json(http.MethodGet, "/api/v1/envs/development/configs/feature.limit/history", "")
	hist := decode[struct {
		Versions []struct{ Version int64 } `json:"versions"`
	}](t, resp)
	if len(hist.Versions) != 2 || hist.Versions[0].Version != 2 {
		t.Fatalf("history: %+v", hist)
	}
	resp = admin.json(http.MethodPost, "/api/v1/envs/development/configs/feature.limit/rollback", `{"version":1}`)
	rolled := decode[map[string]any](t, resp)
	if rolled["value"] != float64(10) || rolled["version"] != float64(3) {
		t.Fatalf("rollback: %v", rolled)
	}
}

func mapPath(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// watchEvents reads change events of a watch stream.
func watchEvents(t *testing.T, c *client, env, lastID string) (<-chan map[string]string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/api/v1/envs/"+env+"/watch"), nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	out := make(chan map[string]string, 64)
	go func() {
		defer resp.Body.Close()
		ev := map[string]string{}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev["event"] != "" {
					out <- ev
				}
				ev = map[string]string{}
				continue
			}
			if k, v, ok := strings.Cut(line, ": "); ok && (k == "event" || k == "id" || k == "data") {
				ev[k] = v
			}
		}
		close(out)
	}()
	return out, cancel
}

func nextEvent(t *testing.T, ch <-chan map[string]string) map[string]string {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return nil
}

func TestWatchReplaysMissedChangesAndResets(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	app := e.apiClient(e.token("app", auth.Viewer, ""))
	events, stop := watchEvents(t, app, "development", "")
	time.Sleep(100 * time.Millisecond)
	mustPut(t, admin, "development", "a", `{"type":"string","value":"1"}`)
	ev := nextEvent(t, events)
	if ev["event"] != "change" || !strings.Contains(ev["data"], `"key":"a"`) || !strings.Contains(ev["data"], `"value":"1"`) {
		t.Fatalf("live event: %v", ev)
	}
	last := ev["id"]
	stop()
	for i := 0; i < 10; i++ {
		mustPut(t, admin, "development", "k"+itoa(i), `{"type":"number","value":`+itoa(i)+`}`)
	}
	events, stop = watchEvents(t, app, "development", last)
	defer stop()
	for i := 0; i < 10; i++ {
		ev := nextEvent(t, events)
		if !strings.Contains(ev["data"], `"key":"k`+itoa(i)+`"`) {
			t.Fatalf("replay %d: %v", i, ev)
		}
	}
	// An id from nowhere gets a reset telling the client to refetch.
	resetEvents, stopReset := watchEvents(t, app, "development", "development:99999999999999-0")
	defer stopReset()
	if ev := nextEvent(t, resetEvents); ev["event"] != "reset" || !strings.HasPrefix(ev["id"], "development:") {
		t.Fatalf("reset: %v", ev)
	}
}

// cuttable is a proxy in front of Keel whose connections the test can cut,
// to disconnect an SDK client for a while.
type cuttable struct {
	*httptest.Server
	mu    sync.Mutex
	down  atomic.Bool
	conns map[net.Conn]struct{}
}

func newCuttable(t *testing.T, target string) *cuttable {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.FlushInterval = -1
	cp := &cuttable{conns: map[net.Conn]struct{}{}}
	cp.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cp.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	cp.Config.ConnState = func(c net.Conn, s http.ConnState) {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		if s == http.StateNew {
			cp.conns[c] = struct{}{}
		} else if s == http.StateClosed || s == http.StateHijacked {
			delete(cp.conns, c)
		}
	}
	cp.Start()
	t.Cleanup(cp.Close)
	return cp
}

func (cp *cuttable) cut() {
	cp.down.Store(true)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for c := range cp.conns {
		c.Close()
	}
}

// TestSDKFollowsChanges: a value changed through the API reaches an SDK
// client, and a client disconnected across ten changes receives all ten
// after reconnecting.
func TestSDKFollowsChanges(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	mustPut(t, admin, "development", "greeting", `{"type":"string","value":"hello"}`)
	proxy := newCuttable(t, e.ts.URL)
	cl, err := sdk.New(proxy.URL, e.token("app", auth.Viewer, "development"), "development",
		sdk.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	changes := make(chan sdk.Change, 64)
	cl.OnChange(func(c sdk.Change) { changes <- c })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cl.String("greeting", "?"); got != "hello" {
		t.Fatalf("greeting = %q", got)
	}
	waitConnected(t, cl)
	mustPut(t, admin, "development", "greeting", `{"type":"string","value":"bonjour","version":1}`)
	select {
	case c := <-changes:
		if c.Key != "greeting" || cl.String("greeting", "?") != "bonjour" {
			t.Fatalf("change %+v, value %q", c, cl.String("greeting", "?"))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the change did not reach the SDK")
	}

	proxy.cut()
	time.Sleep(100 * time.Millisecond)
	before := cl.Status().Events
	for i := 0; i < 10; i++ {
		mustPut(t, admin, "development", "n"+itoa(i), `{"type":"number","value":`+itoa(i)+`}`)
	}
	proxy.down.Store(false)
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < 10 {
		select {
		case c := <-changes:
			seen[c.Key] = true
		case <-deadline:
			t.Fatalf("after reconnecting the SDK saw %d of 10 changes (events %d)", len(seen), cl.Status().Events-before)
		}
	}
	if n := cl.Status().Events - before; n != 10 {
		t.Fatalf("applied %d events, want 10", n)
	}
	for i := 0; i < 10; i++ {
		if got := cl.Int("n"+itoa(i), -1); got != i {
			t.Fatalf("n%d = %d", i, got)
		}
	}
}

func waitConnected(t *testing.T, cl *sdk.Client) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cl.Status().Connected {
			return
		}
	}
	t.Fatal("the SDK did not connect its watch")
}

func TestEnvironmentWithConfigCannotBeDeleted(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	readBody(t, admin.json(http.MethodPost, "/api/v1/environments", `{"name":"tmp"}`))
	mustPut(t, admin, "tmp", "a", `{"type":"string","value":"x"}`)
	resp := admin.json(http.MethodDelete, "/api/v1/environments/tmp", "")
	if ae := decode[apiErr](t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(ae.Error.Message, "1 configuration key") {
		t.Fatalf("delete with configs: %d %+v", resp.StatusCode, ae)
	}
	resp = admin.json(http.MethodDelete, "/api/v1/envs/tmp/configs/a?version=1", "")
	readBody(t, resp)
	resp = admin.json(http.MethodDelete, "/api/v1/environments/tmp", "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete empty env: %d", resp.StatusCode)
	}
}

// TestExportImportRoundTrip: what an environment exports imports back with
// no change, in every format; a changed document previews, then applies.
func TestExportImportRoundTrip(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	mustPut(t, admin, "development", "db.primary", `{"type":"json","value":{"host":"h","port":5432}}`)
	mustPut(t, admin, "development", "cache.ttl", `{"type":"number","value":60}`)
	mustPut(t, admin, "development", "feature.on", `{"type":"boolean","value":true}`)
	mustPut(t, admin, "development", "svc/api.url", `{"type":"string","value":"https://x # not a comment"}`)
	mustPut(t, admin, "development", "payment.key", `{"type":"secret","value":"sk_123"}`)
	for _, format := range []string{"json", "yaml", "env"} {
		resp := admin.json(http.MethodGet, "/api/v1/envs/development/export?format="+format, "")
		doc := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || strings.Contains(doc, "sk_123") {
			t.Fatalf("%s export: %d (secret in clear: %v)", format, resp.StatusCode, strings.Contains(doc, "sk_123"))
		}
		resp = admin.request(http.MethodPost, "/api/v1/envs/development/import?format="+format, strings.NewReader(doc), "text/plain")
		plan := decode[map[string]any](t, resp)
		if resp.StatusCode != http.StatusOK || plan["changes"] != float64(0) || plan["applied"] != false {
			t.Fatalf("%s round trip: %d %v", format, resp.StatusCode, plan)
		}
	}
	doc := `{"cache.ttl": 90, "new.key": "hello"}`
	resp := admin.request(http.MethodPost, "/api/v1/envs/development/import?format=json&dry_run=1", strings.NewReader(doc), "application/json")
	if plan := decode[map[string]any](t, resp); plan["changes"] != float64(2) || plan["applied"] != false {
		t.Fatalf("dry run: %v", plan)
	}
	resp = admin.request(http.MethodPost, "/api/v1/envs/development/import?format=json", strings.NewReader(doc), "application/json")
	if plan := decode[map[string]any](t, resp); plan["applied"] != true {
		t.Fatalf("apply: %v", plan)
	}
	resp = admin.json(http.MethodGet, "/api/v1/envs/development/configs/cache.ttl", "")
	if got := decode[map[string]any](t, resp); got["value"] != float64(90) {
		t.Fatalf("after import: %v", got)
	}
	resp = admin.request(http.MethodPost, "/api/v1/envs/development/import?format=yaml", strings.NewReader("a: [unclosed"), "application/yaml")
	if ae := decode[apiErr](t, resp); resp.StatusCode != http.StatusUnprocessableEntity || ae.Error.Code != "invalid" {
		t.Fatalf("bad yaml: %d %+v", resp.StatusCode, ae)
	}
}

func TestImportTakesLargerDocuments(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 30000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + itoa(i) + `":"` + strings.Repeat("v", 90) + `"`)
	}
	b.WriteString("}")
	if b.Len() < 2<<20 {
		t.Fatalf("document of %d bytes is not above the general limit", b.Len())
	}
	resp := admin.request(http.MethodPost, "/api/v1/envs/development/import?format=json&dry_run=1", strings.NewReader(b.String()), "application/json")
	plan := decode[map[string]any](t, resp)
	if resp.StatusCode != http.StatusOK || plan["changes"] != float64(30000) {
		t.Fatalf("large import: %d %v", resp.StatusCode, plan["error"])
	}
}
