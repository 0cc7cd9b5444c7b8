package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keelhq/keel/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// testPassword is the password in the parse tests; no error may contain it.
const testPassword = "Sup3rS3cret"

func TestParseRedisURL(t *testing.T) {
	type want struct {
		addrs        []string
		user, pass   string
		db           int
		master       string
		sentinelUser string
		sentinelPass string
		cluster      bool
		tls          bool
		dial, read   time.Duration
		write        time.Duration
		poolSize     int
	}
	base := func(w want) want {
		if w.dial == 0 {
			w.dial = 2 * time.Second
		}
		if w.read == 0 {
			w.read = 2 * time.Second
		}
		if w.write == 0 {
			w.write = 2 * time.Second
		}
		return w
	}
	tests := []struct {
		name string
		url  string
		want want
	}{
		{"single", "redis://localhost:6380", want{addrs: []string{"localhost:6380"}}},
		{"single default port", "redis://cache.internal", want{addrs: []string{"cache.internal:6379"}}},
		{"single with db and password", "redis://:" + testPassword + "@10.0.0.5:6379/3", want{addrs: []string{"10.0.0.5:6379"}, pass: testPassword, db: 3}},
		{"single with user", "redis://keel:" + testPassword + "@h:1/0", want{addrs: []string{"h:1"}, user: "keel", pass: testPassword}},
		{"user without password", "redis://keel@h:6379", want{addrs: []string{"h:6379"}, user: "keel"}},
		{"percent-encoded password", "redis://u:p%40ss%3Aw%2Fo%3Frd%23@h:6379", want{addrs: []string{"h:6379"}, user: "u", pass: "p@ss:w/o?rd#"}},
		{"trailing slash", "redis://h:6379/", want{addrs: []string{"h:6379"}}},
		{"ipv6", "redis://[::1]:6380/2", want{addrs: []string{"[::1]:6380"}, db: 2}},
		{"ipv6 default port", "redis://[fe80::1]", want{addrs: []string{"[fe80::1]:6379"}}},
		{"upper-case scheme", "REDIS://h:6379", want{addrs: []string{"h:6379"}}},
		{"tls", "rediss://:" + testPassword + "@redis.example.com:6380", want{addrs: []string{"redis.example.com:6380"}, pass: testPassword, tls: true}},
		{"timeouts and pool", "redis://h:6379?dial_timeout=500ms&read_timeout=3&write_timeout=1m&pool_size=20",
			want{addrs: []string{"h:6379"}, dial: 500 * time.Millisecond, read: 3 * time.Second, write: time.Minute, poolSize: 20}},
		{"sentinel", "redis-sentinel://:" + testPassword + "@s1:26379,s2:26380,s3/1?master=mymaster",
			want{addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, pass: testPassword, db: 1, master: "mymaster"}},
		{"sentinel with its own auth", "redis-sentinel://s1?master=m&sentinel_username=sen&sentinel_password=" + testPassword,
			want{addrs: []string{"s1:26379"}, master: "m", sentinelUser: "sen", sentinelPass: testPassword}},
		{"sentinel tls with timeouts", "rediss-sentinel://s1:26379?master=m&read_timeout=5s",
			want{addrs: []string{"s1:26379"}, master: "m", tls: true, read: 5 * time.Second}},
		{"cluster", "redis-cluster://u:" + testPassword + "@n1:7000,n2:7001,n3:7002",
			want{addrs: []string{"n1:7000", "n2:7001", "n3:7002"}, user: "u", pass: testPassword, cluster: true}},
		{"cluster one seed", "redis-cluster://n1:7000", want{addrs: []string{"n1:7000"}, cluster: true}},
		{"cluster tls with pool", "rediss-cluster://n1:7000,n2:7001/?pool_size=5",
			want{addrs: []string{"n1:7000", "n2:7001"}, cluster: true, tls: true, poolSize: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseRedisURL(tt.url)
			if err != nil {
				t.Fatalf("ParseRedisURL: %v", err)
			}
			w := base(tt.want)
			got := want{
				addrs: o.Addrs, user: o.Username, pass: o.Password, db: o.DB, master: o.MasterName,
				sentinelUser: o.SentinelUsername, sentinelPass: o.SentinelPassword,
				cluster: o.IsClusterMode, tls: o.TLSConfig != nil,
				dial: o.DialTimeout, read: o.ReadTimeout, write: o.WriteTimeout, poolSize: o.PoolSize,
			}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Fatalf("got  %+v\nwant %+v", got, w)
			}
			if o.PoolTimeout != 3*time.Second || o.MaxRetries != 2 || o.DialerRetries != 1 {
				t.Fatalf("client defaults not applied: pool timeout %s, max retries %d, dialer retries %d",
					o.PoolTimeout, o.MaxRetries, o.DialerRetries)
			}
		})
	}
}

func TestParseRedisURLErrors(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"empty", "  ", "REDIS_URL is empty"},
		{"no scheme", "localhost:6379", "must start with redis://"},
		{"no scheme with password", "u:" + testPassword + "@h:6379", "must start with redis://"},
		{"unknown scheme", "http://h:6379", `scheme "http" is not supported`},
		{"password before scheme", "u:" + testPassword + "@redis://h", "scheme (withheld) is not supported"},
		{"no host", "redis://:" + testPassword + "@", "has no host"},
		{"no host but path", "redis:///0", "has no host"},
		{"bad port", "redis://:" + testPassword + "@h:http", "port must be a number from 1 to 65535"},
		{"port zero", "redis://h:0", "port must be a number"},
		{"port too big", "redis://h:65536", "port must be a number"},
		{"port with sign", "redis://h:+80", "port must be a number"},
		{"bad host", "redis://h$st:6379", "host name is empty or has characters"},
		{"empty host with port", "redis://:6379", "host name is empty"},
		{"bad ipv6", "redis://[::zz]:6379", "host name"},
		{"too many colons", "redis://::1:6379", "must be host:port"},
		{"unencoded slash in password", "redis://u:abc/" + testPassword + "@h:6379", "port must be a number"},
		{"unencoded at and slash in password", "redis://u:" + testPassword + "@x:99999/@h:6379", "port must be a number"},
		{"unencoded question mark in password", "redis://u:6379?" + strings.ToLower(testPassword) + "=1@h:6379", "query parameter (withheld) is not supported"},
		{"unencoded hash in password", "redis://u:ab#" + testPassword + "@h", "must not contain '#'"},
		{"bad percent-encoding in password", "redis://u:%zz" + testPassword + "@h", "password has an invalid percent-encoding"},
		{"bad percent-encoding in user", "redis://%zz:" + testPassword + "@h", "user name has an invalid percent-encoding"},
		{"single with two hosts", "redis://:" + testPassword + "@h1,h2", "takes one address"},
		{"stray comma", "redis-cluster://n1:7000,,n2:7001", "address 2 of 3: empty address"},
		{"second address bad", "redis-cluster://n1:7000,n2:x" + testPassword, "address 2 of 2: port must be a number"},
		{"db not a number", "redis://h/" + testPassword, "database must be a number"},
		{"db negative", "redis://h/-1", "database must be a number"},
		{"db with extra path", "redis://h/0/1", "database must be a number"},
		{"cluster with db", "redis-cluster://n1:7000/1", "Redis Cluster has only database 0"},
		{"sentinel without master", "redis-sentinel://:" + testPassword + "@s1", "needs ?master=NAME"},
		{"sentinel empty master", "redis-sentinel://s1?master=", "master must not be empty"},
		{"master on single", "redis://h?master=m", "only for redis-sentinel:// URLs"},
		{"sentinel password on cluster", "redis-cluster://n1?sentinel_password=" + testPassword, "only for redis-sentinel:// URLs"},
		{"unknown parameter", "redis://h?max_retries=5", `query parameter "max_retries" is not supported`},
		{"repeated parameter", "redis://h?pool_size=1&pool_size=2", `"pool_size" is given more than once`},
		{"bad duration", "redis://h?dial_timeout=" + testPassword, "dial_timeout: must be a duration like 500ms"},
		{"zero duration", "redis://h?read_timeout=0", "read_timeout: must be more than 0"},
		{"negative duration", "redis://h?write_timeout=-1s", "write_timeout: must be more than 0"},
		{"huge duration", "redis://h?write_timeout=99999999999999999", "write_timeout: must be more than 0 and at most 1h"},
		{"bad pool size", "redis://h?pool_size=" + testPassword, "pool_size must be a whole number"},
		{"zero pool size", "redis://h?pool_size=0", "pool_size must be a whole number"},
		{"bad query encoding", "redis://h?pool_size=%zz", "query string is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseRedisURL(tt.url)
			if err == nil {
				t.Fatalf("ParseRedisURL(%q) = %+v, want an error", tt.url, o)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(testPassword)) {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}

func FuzzParseRedisURL(f *testing.F) {
	for _, s := range []string{
		"redis://localhost:6379/0", "rediss://u:p@h:6380", "redis-sentinel://s1:26379,s2?master=m&sentinel_password=x",
		"redis-cluster://n1:7000,n2:7001?pool_size=3", "redis://[::1]:6379?dial_timeout=1s", "redis://u:a/b@h:6379/1",
		"rediss-cluster://n1", "redis://h?read_timeout=3&write_timeout=500ms", "redis://:%41@h",
	} {
		f.Add(s, "pw9Secret")
	}
	f.Fuzz(func(t *testing.T, raw, password string) {
		check := func(raw string) {
			o, err := ParseRedisURL(raw)
			if err != nil {
				if o != nil {
					t.Fatalf("ParseRedisURL(%q) returned options with error %v", raw, err)
				}
				return
			}
			if len(o.Addrs) == 0 {
				t.Fatalf("ParseRedisURL(%q) accepted it without an address", raw)
			}
			for _, a := range o.Addrs {
				host, port, err := net.SplitHostPort(a)
				if err != nil || host == "" {
					t.Fatalf("ParseRedisURL(%q): bad address %q", raw, a)
				}
				if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
					t.Fatalf("ParseRedisURL(%q): bad port in %q", raw, a)
				}
			}
			if !o.IsClusterMode && o.MasterName == "" && len(o.Addrs) != 1 {
				t.Fatalf("ParseRedisURL(%q): single node with %d addresses", raw, len(o.Addrs))
			}
			if o.DialTimeout <= 0 || o.ReadTimeout <= 0 || o.WriteTimeout <= 0 {
				t.Fatalf("ParseRedisURL(%q): timeouts %v %v %v", raw, o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
			}
		}
		check(raw)

		// The password, however mangled the URL around it, is never in an
		// error. (Only passwords that cannot occur in the fixed error texts
		// are checked: letters and digits, both, at least 6; and only where
		// the rest of the URL does not contain them anyway.)
		if !distinctive(password) || strings.Contains(raw, password) {
			return
		}
		for _, u := range []string{
			"redis://user:" + password + "@" + raw,
			"redis-sentinel://:" + password + "@" + raw,
			raw + password,
			strings.Replace(raw, "@", ":"+password+"@", 1),
		} {
			check(u)
			if _, err := ParseRedisURL(u); err != nil && strings.Contains(err.Error(), password) {
				t.Fatalf("ParseRedisURL(%q) error repeats the password: %v", u, err)
			}
		}
	})
}

func distinctive(pw string) bool {
	if len(pw) < 6 {
		return false
	}
	var letter, digit bool
	for _, r := range pw {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			return false
		}
	}
	return letter && digit
}

// --- openRedis ---

func TestMain(m *testing.M) { os.Exit(redistest.Run(m)) }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func openForTest(t *testing.T, redisURL, dataDir string, attach bool) *redisConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := openRedis(ctx, redisURL, dataDir, attach, quietLogger())
	if err != nil {
		t.Fatalf("openRedis(%q): %v", redisURL, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func roundTrip(t *testing.T, c redis.UniversalClient, key string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Set(ctx, key, "v-"+key, time.Minute).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	if got, err := c.Get(ctx, key).Result(); err != nil || got != "v-"+key {
		t.Fatalf("GET %s = %q, %v", key, got, err)
	}
}

// startWithPassword starts a dedicated server and then sets its password
// (redistest checks a new server with a password-less PING).
func startWithPassword(t *testing.T, password string) *redistest.Server {
	t.Helper()
	s := redistest.Start(t)
	c := redistest.NewClient(s)
	defer c.Close()
	if err := c.ConfigSet(context.Background(), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenRedisURLSingleNode(t *testing.T) {
	s := startWithPassword(t, testPassword)
	conn := openForTest(t, "redis://:"+testPassword+"@"+s.Addr()+"/2", "", false)
	if _, ok := conn.Client.(*redis.Client); !ok {
		t.Fatalf("client is %T, want *redis.Client", conn.Client)
	}
	if conn.Embedded != nil {
		t.Fatal("Embedded set for a REDIS_URL")
	}
	roundTrip(t, conn.Client, "single")
	opts := conn.Client.(*redis.Client).Options()
	if opts.DB != 2 || opts.DialTimeout != 2*time.Second || opts.ReadTimeout != 2*time.Second ||
		opts.WriteTimeout != 2*time.Second || opts.PoolTimeout != 3*time.Second || opts.MaxRetries != 2 {
		t.Fatalf("client options: db %d dial %s read %s write %s pool %s retries %d",
			opts.DB, opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout, opts.MaxRetries)
	}
	if err := conn.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := conn.Client.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("PING after Close = %v, want ErrClosed", err)
	}
}

func TestOpenRedisWrongPassword(t *testing.T) {
	s := startWithPassword(t, "right-one")
	_, err := openRedis(context.Background(), "redis://:"+testPassword+"@"+s.Addr(), "", false, quietLogger())
	if err == nil {
		t.Fatal("openRedis with a wrong password succeeded")
	}
	if !strings.Contains(err.Error(), "not reachable") || !strings.Contains(err.Error(), s.Addr()) {
		t.Fatalf("error %q does not say which Redis failed", err)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Fatalf("error %q repeats the password", err)
	}
}

func TestOpenRedisUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	began := time.Now()
	_, err = openRedis(context.Background(), "redis://"+addr, "", false, quietLogger())
	if err == nil {
		t.Fatal("openRedis to a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "Redis "+addr+" (from REDIS_URL) is not reachable") {
		t.Fatalf("error = %q", err)
	}
	if d := time.Since(began); d > 6*time.Second {
		t.Fatalf("failing took %s", d)
	}
}

func TestOpenRedisBadURL(t *testing.T) {
	_, err := openRedis(context.Background(), "redis://h:notaport", "", false, quietLogger())
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL address: port must be a number") {
		t.Fatalf("error = %v", err)
	}
}

func TestOpenRedisCluster(t *testing.T) {
	addrs := redistest.ClusterAddrs(t)
	// One seed address is enough, and must still make a Cluster client.
	conn := openForTest(t, "redis-cluster://"+addrs[0], "", false)
	cc, ok := conn.Client.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", conn.Client)
	}
	prefix := redistest.Prefix(t)
	for i := 0; i < 20; i++ { // spread over all three nodes
		roundTrip(t, conn.Client, prefix+strconv.Itoa(i))
	}
	var masters atomic.Int64
	err := cc.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		masters.Add(1)
		return nil
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("cluster client sees %d masters (%v), want 3", masters.Load(), err)
	}
}

func TestOpenRedisSentinel(t *testing.T) {
	master := startWithPassword(t, testPassword)
	sentinel := startSentinel(t, master, testPassword, "sentinel-pw")
	u := fmt.Sprintf("redis-sentinel://:%s@%s/1?master=keelmaster&sentinel_password=%s",
		testPassword, sentinel, url.QueryEscape("sentinel-pw"))
	conn := openForTest(t, u, "", false)
	roundTrip(t, conn.Client, "via-sentinel")
	direct := redis.NewClient(&redis.Options{Addr: master.Addr(), Password: testPassword, DB: 1})
	defer direct.Close()
	if got := direct.Get(context.Background(), "via-sentinel").Val(); got != "v-via-sentinel" {
		t.Fatalf("key written through Sentinel not on the master's db 1: %q", got)
	}

	// Wrong Sentinel password: no master can be found.
	bad := fmt.Sprintf("redis-sentinel://:%s@%s?master=keelmaster&sentinel_password=wrong", testPassword, sentinel)
	if _, err := openRedis(context.Background(), bad, "", false, quietLogger()); err == nil {
		t.Fatal("openRedis with a wrong sentinel password succeeded")
	} else if strings.Contains(err.Error(), testPassword) {
		t.Fatalf("error %q repeats the password", err)
	}
}

// startSentinel runs a real Redis Sentinel watching master and returns its
// address.
func startSentinel(t *testing.T, master *redistest.Server, masterPassword, sentinelPassword string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nrequirepass %s\n"+
		"sentinel monitor keelmaster 127.0.0.1 %d 1\nsentinel auth-pass keelmaster %s\n",
		port, dir, filepath.Join(dir, "sentinel.log"), sentinelPassword, master.Port, masterPassword)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", path, "--sentinel")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: sentinelPassword})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.GetMasterAddrByName(context.Background(), "keelmaster").Result()
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "sentinel.log"))
			t.Fatalf("sentinel did not come up: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOpenRedisEmbedded(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("needs redis-server: %v", err)
	}
	ctx := context.Background()
	dataDir := t.TempDir()
	owner := openForTest(t, "", dataDir, false)
	if owner.Embedded == nil {
		t.Fatal("no embedded server")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "redis", "redis.sock")); err != nil {
		t.Fatalf("embedded server not in <data>/redis: %v", err)
	}
	roundTrip(t, owner.Client, "embedded")
	opts := owner.Client.(*redis.Client).Options()
	if opts.Network != "unix" || opts.ReadTimeout != 2*time.Second || opts.MaxRetries != 2 {
		t.Fatalf("embedded client options: network %s read %s retries %d", opts.Network, opts.ReadTimeout, opts.MaxRetries)
	}

	// A CLI command attaches to it and leaves it running when done.
	cli := openForTest(t, "", dataDir, true)
	if cli.Embedded.PID() != owner.Embedded.PID() {
		t.Fatalf("CLI started its own server (pid %d, owner's %d)", cli.Embedded.PID(), owner.Embedded.PID())
	}
	if got := cli.Client.Get(ctx, "embedded").Val(); got != "v-embedded" {
		t.Fatalf("CLI sees %q", got)
	}
	if err := cli.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := owner.Client.Ping(ctx).Err(); err != nil {
		t.Fatalf("closing the CLI connection stopped the server: %v", err)
	}

	// A second server on the same data directory is refused.
	if _, err := openRedis(ctx, "", dataDir, false, quietLogger()); err == nil || !strings.Contains(err.Error(), "in use by another Keel process") {
		t.Fatalf("second embedded start = %v, want an in-use error", err)
	}

	pid := owner.Embedded.PID()
	if err := owner.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("embedded redis-server %d still running after Close", pid)
	}

	// With nothing running, the CLI starts the server itself and stops it.
	cli2 := openForTest(t, "", dataDir, true)
	if got := cli2.Client.Get(ctx, "embedded").Val(); got != "v-embedded" {
		t.Fatalf("data lost across embedded restarts: %q", got)
	}
	pid = cli2.Embedded.PID()
	if err := cli2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("server the CLI started still running after Close")
	}
}

func TestOpenRedisNoBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := openRedis(context.Background(), "", t.TempDir(), false, quietLogger())
	if !errors.Is(err, errNoRedis) {
		t.Fatalf("openRedis without redis-server = %v, want errNoRedis", err)
	}
	_, err = openRedis(context.Background(), "", t.TempDir(), true, quietLogger())
	if !errors.Is(err, errNoRedis) {
		t.Fatalf("attach without redis-server = %v, want errNoRedis", err)
	}
}
