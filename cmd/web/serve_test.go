package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keelhq/keel/internal/redistest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type running struct {
	base   string
	dir    string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func()
}

func testEnv(dir string, extra map[string]string) func(string) string {
	env := map[string]string{
		"KEEL_ADDR": "127.0.0.1:0", "KEEL_DATA_DIR": dir, "KEEL_ADMIN_PASSWORD": "first admin password",
		"KEEL_LOG_LEVEL": "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

var runningAt = regexp.MustCompile(`Keel is running at (http://\S+)`)

// startKeel runs the real program with its embedded Redis in a temp dir and
// waits for /readyz, as a test of run itself.
func startKeel(t *testing.T, args ...string) *running {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{dir: dir, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), testEnv(dir, nil), r.stdout, r.stderr) }()
	r.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	}
	t.Cleanup(r.stop)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := runningAt.FindStringSubmatch(r.stdout.String()); m != nil {
			r.base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, r.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if r.base == "" {
		t.Fatalf("Keel did not start:\n%s", r.stderr.String())
	}
	waitStatus(t, r.base+"/readyz", http.StatusOK, 15*time.Second)
	return r
}

func waitStatus(t *testing.T, u string, want int, within time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(within)
	last := 0
	for time.Now().Before(deadline) {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			last = resp.StatusCode
			if last == want {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: want %d within %s, last %d", u, want, within, last)
}

func signIn(t *testing.T, base, user, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf"\s+value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatal("no csrf on /login")
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{
		"username": {user}, "password": {password}, "_csrf": {string(m[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/" {
		t.Fatalf("sign-in ended at %s", resp.Request.URL)
	}
	return c
}

func apiDo(t *testing.T, method, u, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func issueToken(t *testing.T, env func(string) string) string {
	t.Helper()
	var tok bytes.Buffer
	if err := run(context.Background(), []string{"token", "create", "--name", "ops", "--role", "admin"}, env, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(tok.String())
	if !strings.HasPrefix(token, "keel_") || strings.Contains(token, "\n") {
		t.Fatalf("token create printed %q", token)
	}
	return token
}

func createUsers(t *testing.T, base, token string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if code, body := apiDo(t, http.MethodPost, base+"/api/v1/users", token,
			`{"username":"acked`+strconv.Itoa(i)+`","password":"a long password","role":"viewer"}`); code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
	}
}

func checkUsersKept(t *testing.T, base, token string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if code, _ := apiDo(t, http.MethodGet, base+"/api/v1/users/acked"+strconv.Itoa(i), token, ""); code != http.StatusOK {
			t.Fatalf("acked%d lost after the restart: %d", i, code)
		}
	}
	code, body := apiDo(t, http.MethodGet, base+"/api/v1/audit?action=user.create&limit=500", token, "")
	if code != http.StatusOK || strings.Count(body, `"action":"user.create"`) < n {
		t.Fatalf("audit entries lost: %d %s", code, body)
	}
}

func getPage(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	start := time.Now()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("GET %s took %s", u, d)
	}
	return resp.StatusCode, string(b)
}

// TestRedisKilledWhileServing kills the Redis under a running Keel
// (REDIS_URL, AOF on): /readyz answers 503 and pages show the banner, with
// no crash and no hang; once Redis is back Keel recovers without a restart,
// and no acknowledged change, nor its audit entry, is lost.
func TestRedisKilledWhileServing(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--appendonly", "yes", "--appendfsync", "everysec"))
	dir := t.TempDir()
	env := testEnv(dir, map[string]string{"REDIS_URL": "redis://" + srv.Addr()})
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env, out, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := runningAt.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatal("Keel did not start")
	}
	token := issueToken(t, env)
	browser := signIn(t, base, "admin", "first admin password")
	createUsers(t, base, token, 20)

	srv.Kill()
	waitStatus(t, base+"/readyz", http.StatusServiceUnavailable, 5*time.Second)
	code, page := getPage(t, browser, base+"/audit")
	if code != http.StatusServiceUnavailable || !strings.Contains(page, `data-testid="store-banner"`) {
		t.Fatalf("page with Redis down: %d, banner %v", code, strings.Contains(page, `data-testid="store-banner"`))
	}
	if code, _ := apiDo(t, http.MethodGet, base+"/api/v1/users", token, ""); code != http.StatusServiceUnavailable {
		t.Fatalf("API with Redis down: %d", code)
	}
	if code, _ := getPage(t, browser, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz with Redis down: %d", code)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, base+"/readyz", http.StatusOK, 15*time.Second)
	checkUsersKept(t, base, token, 20)
	// The browser session survived too, and pages work again without the banner.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, page = getPage(t, browser, base+"/audit")
		if code == http.StatusOK && !strings.Contains(page, `data-testid="store-banner"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after recovery: %d, banner shown: %v", code, strings.Contains(page, `data-testid="store-banner"`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEmbeddedRedisIsRestarted kills the redis-server that Keel started
// itself: its supervisor restarts it and Keel carries on with the data.
func TestEmbeddedRedisIsRestarted(t *testing.T) {
	k := startKeel(t)
	env := testEnv(k.dir, nil)
	token := issueToken(t, env)
	createUsers(t, k.base, token, 10)
	pidBytes, err := os.ReadFile(filepath.Join(k.dir, "redis", "redis.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidBytes)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	waitStatus(t, k.base+"/readyz", http.StatusOK, 20*time.Second)
	checkUsersKept(t, k.base, token, 10)
}

// TestNoRedisIsOneClearLine: no REDIS_URL and no redis-server on PATH.
func TestNoRedisIsOneClearLine(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := run(context.Background(), []string{"serve"}, testEnv(t.TempDir(), nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || !strings.Contains(err.Error(), "redis-server") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line naming REDIS_URL and redis-server, got %v", err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		t.Fatal("a missing Redis is not a usage error (exit code 1, not 2)")
	}
}

func TestFirstRunPrintsAdminPasswordOnce(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(dir, map[string]string{"KEEL_ADMIN_PASSWORD": ""})
	for i, want := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, env, out, io.Discard) }()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), "Keel is running") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(out.String(), `Created user "admin" with password: `)
		if got != want {
			t.Fatalf("run %d: password printed %v, want %v:\n%s", i, got, want, out.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"serve", "-no-such-flag"}, {"user"}, {"token", "create"}} {
		err := run(context.Background(), args, testEnv(t.TempDir(), nil), io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
}

// TestOperationsEndpoints: /healthz, /readyz and /metrics with the HTTP,
// Redis and live-stream series.
func TestOperationsEndpoints(t *testing.T) {
	k := startKeel(t)
	browser := signIn(t, k.base, "admin", "first admin password")
	if code, _ := getPage(t, browser, k.base+"/audit"); code != http.StatusOK {
		t.Fatalf("audit: %d", code)
	}
	if code, body := getPage(t, browser, k.base+"/healthz"); code != http.StatusOK || !strings.HasPrefix(body, "ok") {
		t.Fatalf("healthz: %d %q", code, body)
	}
	code, body := getPage(t, browser, k.base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`keel_http_request_duration_seconds_count{method="GET",route="/audit",status="200"}`,
		`keel_redis_command_duration_seconds_count{command="`,
		`keel_sse_clients 0`,
		`keel_store_up 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
