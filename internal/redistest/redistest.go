// Package redistest starts real redis-server processes for tests: a shared
// single node and a shared 3-node Cluster per test binary, plus dedicated
// servers a test can kill and restart. Every server listens on a free
// loopback port (never 6379) and is stopped when the tests end. Each test gets
// its own key prefix, so tests share a server without seeing each other.
//
// A package that uses it runs its tests through Run:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Run(m)) }
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	mu       sync.Mutex
	shared   *Server
	cluster  []*Server
	started  []*Server
	baseDir  string
	sequence atomic.Int64
)

// Run runs the package's tests and then stops every server started for them.
func Run(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	for _, s := range started {
		s.stop()
	}
	if baseDir != "" {
		os.RemoveAll(baseDir)
	}
	return code
}

// Server is one redis-server process.
type Server struct {
	Port int
	Dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Option adds redis-server arguments.
type Option func(*[]string)

// WithArgs passes extra redis-server arguments ("--appendonly", "yes", ...).
func WithArgs(args ...string) Option { return func(a *[]string) { *a = append(*a, args...) } }

func dir() (string, error) {
	if baseDir == "" {
		d, err := os.MkdirTemp("", "keel-redistest-")
		if err != nil {
			return "", err
		}
		baseDir = d
	}
	return baseDir, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

func startLocked(opts ...Option) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server is not on PATH (apt-get install redis-server): %w", err)
	}
	base, err := dir()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		d := filepath.Join(base, strconv.Itoa(port))
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", d,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
			"--logfile", filepath.Join(d, "redis.log")}
		for _, o := range opts {
			o(&args)
		}
		s := &Server{Port: port, Dir: d, args: args}
		if err := s.start(); err != nil {
			lastErr = err
			continue
		}
		started = append(started, s)
		return s, nil
	}
	return nil, lastErr
}

func (s *Server) start() error {
	cmd := exec.Command("redis-server", s.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %s", s.Port, strings.TrimSpace(string(log)))
		default:
		}
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("redis-server on port %d did not answer within 10s", s.Port)
}

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Kill ends the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Stop ends the server gracefully.
func (s *Server) Stop() { s.stop() }

// Restart starts the server again on the same port and directory, so an
// append-only file there is replayed.
func (s *Server) Restart() error {
	mu.Lock()
	defer mu.Unlock()
	return s.start()
}

// Start starts a dedicated server for one test, stopped when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	mu.Lock()
	s, err := startLocked(opts...)
	mu.Unlock()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Prefix returns a key prefix no other test in this binary uses.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "_", "{", "(", "}", ")").Replace(t.Name())
	return fmt.Sprintf("test%d-%s:", sequence.Add(1), name)
}

// Client returns a client of the shared single-node server (started on first
// use) and a key prefix for this test.
func Client(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	mu.Lock()
	if shared == nil {
		s, err := startLocked()
		if err != nil {
			mu.Unlock()
			t.Fatalf("redistest: %v", err)
		}
		shared = s
	}
	addr := shared.Addr()
	mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c, Prefix(t)
}

// Cluster returns a client of the shared 3-node Redis Cluster (started on
// first use) and a key prefix for this test.
func Cluster(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	mu.Lock()
	if cluster == nil {
		nodes, err := startClusterLocked()
		if err != nil {
			mu.Unlock()
			t.Fatalf("redistest: cluster: %v", err)
		}
		cluster = nodes
	}
	addrs := make([]string, len(cluster))
	for i, n := range cluster {
		addrs[i] = n.Addr()
	}
	mu.Unlock()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	return c, Prefix(t)
}

// ClusterAddrs returns the addresses of the shared Cluster's nodes, starting
// it if needed.
func ClusterAddrs(t testing.TB) []string {
	c, _ := Cluster(t)
	return c.(*redis.ClusterClient).Options().Addrs
}

func startClusterLocked() ([]*Server, error) {
	const n = 3
	nodes := make([]*Server, 0, n)
	for i := 0; i < n; i++ {
		s, err := startLocked(WithArgs("--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"))
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, s)
	}
	ctx := context.Background()
	const slots = 16384
	for i, s := range nodes {
		c := redis.NewClient(&redis.Options{Addr: s.Addr()})
		lo, hi := i*slots/n, (i+1)*slots/n-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			c.Close()
			return nil, fmt.Errorf("ADDSLOTSRANGE on %s: %w", s.Addr(), err)
		}
		if i > 0 {
			if err := c.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(nodes[0].Port)).Err(); err != nil {
				c.Close()
				return nil, fmt.Errorf("CLUSTER MEET: %w", err)
			}
		}
		c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range nodes {
		c := redis.NewClient(&redis.Options{Addr: s.Addr()})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") &&
				strings.Contains(info, "cluster_slots_assigned:16384") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				return nil, fmt.Errorf("cluster did not converge: %s", info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return nodes, nil
}

// NewClient returns a plain client of s; the caller closes it.
func NewClient(s *Server) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr()})
}
