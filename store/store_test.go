package store

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(redistest.Run(m)) }

// backends are the Redis deployments every store test runs against.
var backends = []struct {
	name   string
	client func(testing.TB) (redis.UniversalClient, string)
}{
	{"single", redistest.Client},
	{"cluster", redistest.Cluster},
}

// forEachBackend runs fn as a parallel subtest on a single node and on the
// 3-node Cluster, each time with a fresh Store under its own key prefix.
// This is the store's contract suite: every test goes through it.
func forEachBackend(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			rdb, prefix := b.client(t)
			fn(t, New(rdb, WithPrefix(prefix)))
		})
	}
}

// testClock is a settable clock for WithNow.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// useClock makes s read time from a test clock starting at start (what
// WithNow does at construction).
func useClock(s *Store, start time.Time) *testClock {
	c := &testClock{t: start}
	WithNow(c.Now)(s)
	return c
}

var (
	bg        = context.Background()
	testAdmin = Actor{Name: "root", Role: "admin", IP: "192.0.2.1", UserAgent: "test-agent", RequestID: "req-1"}
	baseTime  = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// auditEntries returns every audit entry matching q, newest first.
func auditEntries(t *testing.T, s *Store, q AuditQuery) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	if err := s.ExportAudit(bg, q, func(e AuditEntry) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("ExportAudit: %v", err)
	}
	return out
}

// auditActions lists the actions of every audit entry, newest first.
func auditActions(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for _, e := range auditEntries(t, s, AuditQuery{}) {
		out = append(out, e.Action)
	}
	return out
}

// rawAudit is the text of every audit stream, for "never contains" checks.
func rawAudit(t *testing.T, s *Store) string {
	t.Helper()
	shards, err := s.auditShards(bg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, sh := range shards {
		msgs, err := s.rdb.XRange(bg, s.auditKey(sh), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			for k, v := range m.Values {
				b.WriteString(k + "=" + v.(string) + "\n")
			}
		}
	}
	return b.String()
}

func mustCreateUser(t *testing.T, s *Store, name, role string) User {
	t.Helper()
	u, err := s.CreateUser(bg, testAdmin, User{Name: name, Role: role, PasswordHash: "hash-of-" + name})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("got %v, want a ValidationError on %q", err, field)
	}
	if _, ok := v.Fields[field]; !ok {
		t.Fatalf("got fields %v, want %q", v.Fields, field)
	}
}

func TestWrapKeepsDomainErrors(t *testing.T) {
	for _, err := range []error{
		Conflictf("user EOF already exists"),
		Invalid("name", "LOADING is not allowed"),
		ErrNotFound,
	} {
		if got := wrap(err); got != err {
			t.Errorf("wrap(%v) = %v, want it unchanged", err, got)
		}
		if IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = true", err)
		}
	}
	if !errors.Is(wrap(redis.Nil), ErrNotFound) {
		t.Error("redis.Nil should map to ErrNotFound")
	}
	if !errors.Is(wrap(errors.New("dial tcp: connection refused")), ErrUnavailable) {
		t.Error("a refused connection should map to ErrUnavailable")
	}
}

func TestInfo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		info, err := s.Info(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"redis_version", "mode", "used_memory_human", "connected_clients", "aof_enabled", "uptime_in_seconds"} {
			if info[k] == "" {
				t.Errorf("Info()[%q] is empty; got %v", k, info)
			}
		}
		want := "standalone"
		if _, ok := s.rdb.(*redis.ClusterClient); ok {
			want = "cluster"
		}
		if info["mode"] != want {
			t.Errorf("mode = %q, want %q", info["mode"], want)
		}
	})
}
