package redisproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// helperEnv makes the test binary act as a Keel process that starts the
// embedded server and then waits to be killed (see TestServerDiesWithKeel).
const helperEnv = "KEEL_REDISPROC_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(runHelper(dir))
	}
	os.Exit(m.Run())
}

func runHelper(dir string) int {
	s, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("pid", s.PID())
	time.Sleep(time.Hour)
	return 0
}

func requireRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("these tests need redis-server on PATH: %v", err)
	}
}

// start starts a server in dir and stops it when the test ends.
func start(t *testing.T, o Options) *Server {
	t.Helper()
	requireRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

func client(t *testing.T, s *Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(s.ClientOptions().Simple())
	t.Cleanup(func() { c.Close() })
	return c
}

// processGone reports whether pid has exited (a zombie counts as exited).
func processGone(pid int) bool { return !processAlive(pid) }

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects slog output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestStartStopKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "redis")
	s := start(t, Options{Dir: dir})

	opts := s.ClientOptions()
	if len(opts.Addrs) != 1 || opts.Addrs[0] != filepath.Join(dir, "redis.sock") || opts.Password != "" {
		t.Fatalf("ClientOptions = %+v, want the unix socket without password", opts)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %o, want 700", perm)
	}
	if st, err := os.Stat(filepath.Join(dir, "redis.sock")); err != nil {
		t.Fatal(err)
	} else if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("socket mode = %v, want a socket only its owner can use", st.Mode())
	}
	pid := s.PID()
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("redis-server pgid = %d (%v), want its own group %d", pgid, err, pid)
	}
	if readInt(filepath.Join(dir, "redis.pid")) != pid {
		t.Errorf("redis.pid does not hold %d", pid)
	}

	c := client(t, s)
	if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.RPush(ctx, "list", "a", "b", "c").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !processGone(pid) {
		t.Fatalf("redis-server %d still running after Stop", pid)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	s2 := start(t, Options{Dir: dir})
	if s2.PID() == pid {
		t.Fatal("second Start reused the old pid")
	}
	c2 := client(t, s2)
	if got, err := c2.Get(ctx, "greeting").Result(); err != nil || got != "hello" {
		t.Fatalf("after restart GET = %q, %v; want hello", got, err)
	}
	if got := c2.LRange(ctx, "list", 0, -1).Val(); strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("after restart LRANGE = %v", got)
	}
}

func TestSupervisorRestartsAfterKill(t *testing.T) {
	ctx := context.Background()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	s := start(t, Options{Dir: t.TempDir(), Logger: logger})
	c := client(t, s)
	if err := c.HSet(ctx, "h", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	old := s.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	waitFor(t, "a restarted redis-server", 5*time.Second, func() bool {
		return s.PID() != old && c.Ping(ctx).Err() == nil
	})
	t.Logf("restarted in %s", time.Since(began))
	if got := c.HGet(ctx, "h", "f").Val(); got != "v" {
		t.Fatalf("after crash HGET = %q, want v", got)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "exited unexpectedly") ||
		!strings.Contains(out, "signal: killed") || !strings.Contains(out, "pid="+strconv.Itoa(old)) {
		t.Fatalf("crash not logged as a warning with its status:\n%s", out)
	}

	// A second crash is handled too (the backoff is not a one-shot).
	second := s.PID()
	syscall.Kill(second, syscall.SIGKILL)
	waitFor(t, "a second restart", 5*time.Second, func() bool {
		return s.PID() != second && c.Ping(ctx).Err() == nil
	})

	pid := s.PID()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		t.Fatal("redis-server still running after Stop")
	}
	time.Sleep(2 * minBackoff)
	if processAlive(s.PID()) || s.PID() != pid {
		t.Fatal("supervisor restarted redis-server after Stop")
	}
}

func TestAttachToRunning(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := start(t, Options{Dir: dir})
	if err := client(t, s).Set(ctx, "k", "from-owner", 0).Err(); err != nil {
		t.Fatal(err)
	}

	a, attached, err := Attach(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if !attached {
		t.Fatal("Attach started a second server instead of attaching")
	}
	if a.PID() != s.PID() {
		t.Fatalf("attached PID = %d, want %d", a.PID(), s.PID())
	}
	ac := client(t, a)
	if got := ac.Get(ctx, "k").Val(); got != "from-owner" {
		t.Fatalf("attached GET = %q", got)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ac.Ping(ctx).Err(); err != nil {
		t.Fatalf("Stop on an attached server stopped it: %v", err)
	}
}

func TestAttachStartsWhenNoneRunning(t *testing.T) {
	requireRedis(t)
	ctx := context.Background()
	dir := t.TempDir()
	s, attached, err := Attach(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	t.Cleanup(func() { s.Stop(ctx) })
	if attached {
		t.Fatal("Attach says attached, but nothing was running")
	}
	c := client(t, s)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		t.Fatal("Stop of a server Attach started left it running")
	}
}

func TestLockPreventsSecondStart(t *testing.T) {
	requireRedis(t)
	ctx := context.Background()
	dir := t.TempDir()
	s := start(t, Options{Dir: dir})

	second, err := Start(ctx, Options{Dir: dir})
	if err == nil {
		second.Stop(ctx)
		t.Fatal("second Start on one directory succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Start error = %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if err := client(t, s).Ping(ctx).Err(); err != nil {
		t.Fatalf("first server hurt by the second Start: %v", err)
	}

	// After the owner stops, the directory is free again.
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	start(t, Options{Dir: dir})
}

func TestAttachWaitsForRestartingOwner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := start(t, Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	old := s.PID()
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, "the killed server to exit", 5*time.Second, func() bool { return processGone(old) })

	// The owner is alive but its server is down: Attach must not start a
	// second one; it waits for the owner's restart.
	a, attached, err := Attach(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if !attached {
		a.Stop(ctx)
		t.Fatal("Attach started its own server while the owner was restarting")
	}
	if err := client(t, a).Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestLongPathFallsBackToTCP(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), strings.Repeat("a-very-long-directory-name-", 5))
	if len(filepath.Join(dir, "redis.sock")) < 104 {
		t.Fatalf("test directory %q is not long enough", dir)
	}
	s := start(t, Options{Dir: dir})
	opts := s.ClientOptions()
	if len(opts.Addrs) != 1 || !strings.HasPrefix(opts.Addrs[0], "127.0.0.1:") || opts.Password == "" {
		t.Fatalf("ClientOptions = %+v, want 127.0.0.1 with a password", opts)
	}
	if _, err := os.Stat(filepath.Join(dir, "redis.sock")); !os.IsNotExist(err) {
		t.Fatalf("a unix socket was created: %v", err)
	}
	for _, name := range []string{"password", "redis.conf"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %o, want 600", name, st.Mode().Perm())
		}
	}
	pw, _ := os.ReadFile(filepath.Join(dir, "password"))
	if strings.TrimSpace(string(pw)) != opts.Password {
		t.Fatal("password file does not match ClientOptions")
	}

	noAuth := redis.NewClient(&redis.Options{Addr: opts.Addrs[0], MaxRetries: -1})
	defer noAuth.Close()
	if err := noAuth.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without password = %v, want NOAUTH", err)
	}

	c := client(t, s)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	a, attached, err := Attach(ctx, Options{Dir: dir})
	if err != nil || !attached {
		t.Fatalf("Attach = %v, %v; want attached", attached, err)
	}
	if got := a.ClientOptions(); got.Addrs[0] != opts.Addrs[0] || got.Password != opts.Password {
		t.Fatalf("attached ClientOptions = %+v, want %+v", got, opts)
	}
	if got := client(t, a).Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("attached GET = %q", got)
	}

	// A restart after a crash keeps the address the clients were given.
	old := s.PID()
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, "a restarted redis-server", 5*time.Second, func() bool {
		return s.PID() != old && c.Ping(ctx).Err() == nil
	})
	if got := c.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("after crash GET = %q", got)
	}
}

func TestServerDiesWithKeel(t *testing.T) {
	requireRedis(t)
	ctx := context.Background()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "pid "))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	helper := &Server{dir: dir, sock: filepath.Join(dir, sockName), attached: true}
	if err := client(t, helper).Set(ctx, "k", "written-before-crash", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// While the helper lives, this process cannot start a second server.
	if _, err := Start(ctx, Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Start while the helper runs = %v, want ErrLocked", err)
	}

	cmd.Process.Kill() // Keel crashes
	cmd.Wait()
	// Its redis-server gets SIGTERM and shuts down; until it has, it holds
	// the directory lock, which Start waits for.
	s := start(t, Options{Dir: dir})
	if !processGone(pid) {
		t.Fatalf("redis-server %d of the dead Keel is still running", pid)
	}
	if got := client(t, s).Get(ctx, "k").Val(); got != "written-before-crash" {
		t.Fatalf("GET = %q after taking over the directory", got)
	}
}

func TestNoBinary(t *testing.T) {
	_, err := Start(context.Background(), Options{Dir: t.TempDir(), Binary: "keel-no-such-redis-server"})
	if !errors.Is(err, ErrNoBinary) {
		t.Fatalf("Start = %v, want ErrNoBinary", err)
	}
	_, _, err = Attach(context.Background(), Options{Dir: t.TempDir(), Binary: "keel-no-such-redis-server"})
	if !errors.Is(err, ErrNoBinary) {
		t.Fatalf("Attach = %v, want ErrNoBinary", err)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	requireRedis(t)
	dir := t.TempDir()
	aof := filepath.Join(dir, "appendonlydir")
	if err := os.MkdirAll(aof, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(aof, "appendonly.aof.manifest"), []byte("this is not a manifest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err := Start(context.Background(), Options{Dir: dir})
	if err == nil {
		t.Fatal("Start with a corrupt append-only manifest succeeded")
	}
	if !strings.Contains(err.Error(), "exited during startup") || !strings.Contains(err.Error(), "manifest") {
		t.Fatalf("error does not carry the log tail: %v", err)
	}
	if time.Since(began) > 5*time.Second {
		t.Fatalf("failing Start took %s", time.Since(began))
	}
	// The failed Start released the directory.
	if err := os.Remove(filepath.Join(aof, "appendonly.aof.manifest")); err != nil {
		t.Fatal(err)
	}
	start(t, Options{Dir: dir})
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain/path", `"/plain/path"`},
		{`with "quotes" and \`, `"with \"quotes\" and \\"`},
		{"tab\tnl\n", `"tab\x09nl\x0a"`},
		{"ü", `"\xc3\xbc"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := quote(tt.in); got != tt.want {
				t.Fatalf("quote(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestDirWithSpacesAndQuotes(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), `my "keel" data`)
	s := start(t, Options{Dir: dir})
	c := client(t, s)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "appendonlydir")); err != nil {
		t.Fatalf("append-only file not in the data directory: %v", err)
	}
}
