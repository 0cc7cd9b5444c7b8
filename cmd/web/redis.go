package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel/redisproc"
	"github.com/redis/go-redis/v9"
)

// Client settings for every form of Redis, so a dead Redis makes requests
// fail within seconds instead of hanging. The URL's query parameters may
// override the timeouts.
const (
	redisDialTimeout  = 2 * time.Second
	redisReadTimeout  = 2 * time.Second
	redisWriteTimeout = 2 * time.Second
	redisPoolTimeout  = 3 * time.Second
	redisMaxRetries   = 2
	// One dial attempt per connection (go-redis would otherwise dial five
	// times, each up to DialTimeout, before a command even gets its first
	// retry).
	redisDialerRetries = 1
	// redisStartupPing bounds the check that Redis answers at start.
	redisStartupPing = 5 * time.Second
)

type redisKind int

const (
	kindSingle redisKind = iota
	kindSentinel
	kindCluster
)

var redisSchemes = map[string]struct {
	kind redisKind
	tls  bool
}{
	"redis":           {kindSingle, false},
	"rediss":          {kindSingle, true},
	"redis-sentinel":  {kindSentinel, false},
	"rediss-sentinel": {kindSentinel, true},
	"redis-cluster":   {kindCluster, false},
	"rediss-cluster":  {kindCluster, true},
}

// ParseRedisURL parses the REDIS_URL forms Keel supports:
//
//	redis://[user:password@]host:port[/db]                 single node
//	rediss://...                                           single node over TLS
//	redis-sentinel://[user:password@]h1:26379,h2:26379[/db]?master=NAME[&sentinel_password=...]
//	                                                       Sentinel (rediss-sentinel:// for TLS)
//	redis-cluster://[user:password@]h1:7000,h2:7001        Cluster (rediss-cluster:// for TLS)
//
// The user and password are those of the Redis server (for Sentinel: of the
// master and replicas; sentinel_username and sentinel_password authenticate
// to the Sentinels themselves). Characters such as @ : / ? # % in them must be
// percent-encoded. A missing port defaults to 6379 (26379 for Sentinel).
// The query parameters dial_timeout, read_timeout, write_timeout (a Go
// duration like 500ms, or whole seconds) and pool_size are honoured on all
// forms; any other parameter is an error.
//
// The options come back with Keel's client defaults filled in (2s dial, read
// and write timeouts, 3s pool timeout, 2 retries). A redis-cluster URL sets
// IsClusterMode, so even a single seed address makes a Cluster client.
// Errors name the problem and where it is, but quote nothing of the URL past
// the scheme (except query parameter names): with a password that was not
// percent-encoded, any part may be a piece of the password.
func ParseRedisURL(raw string) (*redis.UniversalOptions, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("REDIS_URL is empty")
	}
	schemeText, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("REDIS_URL must start with redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster://")
	}
	scheme, ok := redisSchemes[strings.ToLower(schemeText)]
	if !ok {
		return nil, fmt.Errorf("REDIS_URL scheme %s is not supported; use redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster://", quoteScheme(schemeText))
	}
	if strings.Contains(rest, "#") {
		return nil, errors.New("REDIS_URL must not contain '#' (percent-encode it as %23 in a password)")
	}

	// authority, path and query, as RFC 3986 splits them.
	authority, pathQuery := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, pathQuery = rest[:i], rest[i:]
	}
	path, query, _ := strings.Cut(pathQuery, "?")

	o := &redis.UniversalOptions{}
	hosts := authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		hosts = authority[i+1:]
		user, pass, hasPass := strings.Cut(authority[:i], ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return nil, errors.New("REDIS_URL user name has an invalid percent-encoding")
		}
		if hasPass {
			if o.Password, err = url.PathUnescape(pass); err != nil {
				return nil, errors.New("REDIS_URL password has an invalid percent-encoding")
			}
		}
	}

	defaultPort := "6379"
	if scheme.kind == kindSentinel {
		defaultPort = "26379"
	}
	if hosts == "" {
		return nil, errors.New("REDIS_URL has no host")
	}
	entries := strings.Split(hosts, ",")
	for i, e := range entries {
		addr, err := parseRedisAddr(e, defaultPort)
		if err != nil {
			if len(entries) == 1 {
				return nil, fmt.Errorf("REDIS_URL address: %w", err)
			}
			return nil, fmt.Errorf("REDIS_URL address %d of %d: %w", i+1, len(entries), err)
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if scheme.kind == kindSingle && len(o.Addrs) > 1 {
		return nil, fmt.Errorf("REDIS_URL %s:// takes one address; list several only with redis-cluster:// or redis-sentinel://", strings.ToLower(schemeText))
	}

	switch db := strings.TrimPrefix(path, "/"); {
	case db == "":
	case scheme.kind == kindCluster:
		return nil, errors.New("REDIS_URL: Redis Cluster has only database 0; remove the /db from the URL")
	default:
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 || strconv.Itoa(n) != db {
			return nil, errors.New("REDIS_URL database must be a number, as in redis://host:6379/0")
		}
		o.DB = n
	}

	if err := parseRedisQuery(query, scheme.kind, o); err != nil {
		return nil, err
	}
	if scheme.kind == kindSentinel && o.MasterName == "" {
		return nil, errors.New("REDIS_URL redis-sentinel:// needs ?master=NAME, the master name the Sentinels monitor")
	}
	if scheme.kind == kindCluster {
		o.IsClusterMode = true
	}
	if scheme.tls {
		// The server name is taken from each address when connecting.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	applyClientDefaults(o)
	return o, nil
}

// parseRedisAddr checks one host[:port] entry and returns host:port. Its
// errors quote nothing: in a URL whose password was not percent-encoded, what
// looks like a host or port may be a piece of the password.
func parseRedisAddr(e, defaultPort string) (string, error) {
	if e == "" {
		return "", errors.New("empty address (check for a stray comma)")
	}
	var host, port string
	switch {
	case strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]"): // [v6] without port
		host, port = e[1:len(e)-1], defaultPort
	case !strings.Contains(e, ":"):
		host, port = e, defaultPort
	default:
		var err error
		if host, port, err = net.SplitHostPort(e); err != nil {
			return "", errors.New("address must be host:port (IPv6 addresses in brackets, as [::1]:6379)")
		}
	}
	if !validRedisHost(host) {
		return "", errors.New("host name is empty or has characters a host name cannot have")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", errors.New("port must be a number from 1 to 65535")
	}
	return net.JoinHostPort(host, port), nil
}

func validRedisHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if ip, _, _ := strings.Cut(h, "%"); strings.Contains(h, ":") {
		return net.ParseIP(ip) != nil
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func parseRedisQuery(query string, kind redisKind, o *redis.UniversalOptions) error {
	if query == "" {
		return nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return errors.New("REDIS_URL query string is malformed (check its percent-encoding)")
	}
	for name, vs := range values {
		if len(vs) > 1 {
			return fmt.Errorf("REDIS_URL query parameter %s is given more than once", quoteName(name, query))
		}
		v := vs[0]
		switch name {
		case "dial_timeout", "read_timeout", "write_timeout":
			d, err := parseRedisDuration(v)
			if err != nil {
				return fmt.Errorf("REDIS_URL %s: %w", name, err)
			}
			switch name {
			case "dial_timeout":
				o.DialTimeout = d
			case "read_timeout":
				o.ReadTimeout = d
			default:
				o.WriteTimeout = d
			}
		case "pool_size":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				return errors.New("REDIS_URL pool_size must be a whole number from 1 to 100000")
			}
			o.PoolSize = n
		case "master", "sentinel_username", "sentinel_password":
			if kind != kindSentinel {
				return fmt.Errorf("REDIS_URL query parameter %s is only for redis-sentinel:// URLs", name)
			}
			switch name {
			case "master":
				if v == "" {
					return errors.New("REDIS_URL master must not be empty")
				}
				o.MasterName = v
			case "sentinel_username":
				o.SentinelUsername = v
			default:
				o.SentinelPassword = v
			}
		default:
			return fmt.Errorf("REDIS_URL query parameter %s is not supported (supported: dial_timeout, read_timeout, write_timeout, pool_size; for Sentinel also master, sentinel_username, sentinel_password)", quoteName(name, query))
		}
	}
	return nil
}

// parseRedisDuration accepts a Go duration ("500ms", "3s") or whole seconds.
func parseRedisDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			return 0, errors.New("must be a duration like 500ms or 3s")
		}
		d = time.Duration(n) * time.Second
		if n > int(time.Hour/time.Second) {
			d = 2 * time.Hour // only to fail the range check below
		}
	}
	if d <= 0 || d > time.Hour {
		return 0, errors.New("must be more than 0 and at most 1h")
	}
	return d, nil
}

// quoteScheme quotes the URL scheme for an error, unless it does not look
// like one (a URL typed without scheme could have its password there).
func quoteScheme(s string) string {
	if s == "" || len(s) > 20 {
		return "(withheld)"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return "(withheld)"
		}
	}
	return strconv.Quote(s)
}

// quoteName quotes a query parameter name for an error, unless it does not
// look like one or the query holds an '@': then a password that was not
// percent-encoded may have spilled into the query.
func quoteName(name, query string) string {
	if name == "" || len(name) > 32 || strings.Contains(query, "@") {
		return "(withheld)"
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r == '_') {
			return "(withheld)"
		}
	}
	return strconv.Quote(name)
}

// applyClientDefaults fills Keel's fail-fast client settings where the
// options leave them unset.
func applyClientDefaults(o *redis.UniversalOptions) {
	if o.DialTimeout == 0 {
		o.DialTimeout = redisDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = redisReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = redisWriteTimeout
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = redisPoolTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = redisMaxRetries
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = redisDialerRetries
	}
}

// newRedisClient builds the client the options describe: a ClusterClient for
// redis-cluster URLs (even with one seed address), a Sentinel-backed failover
// client when a master name is set, else a single-node client.
func newRedisClient(o *redis.UniversalOptions) redis.UniversalClient {
	switch {
	case o.IsClusterMode:
		return redis.NewClusterClient(o.Cluster())
	case o.MasterName != "":
		return redis.NewFailoverClient(o.Failover())
	default:
		return redis.NewClient(o.Simple())
	}
}

// describeRedis says where options point, for logs and errors (no password).
func describeRedis(o *redis.UniversalOptions) string {
	addrs := strings.Join(o.Addrs, ",")
	switch {
	case o.IsClusterMode:
		return "Redis Cluster " + addrs
	case o.MasterName != "":
		return fmt.Sprintf("Redis master %q via Sentinel %s", o.MasterName, addrs)
	default:
		return "Redis " + addrs
	}
}

// redisConn is the Redis Keel uses: its client, the embedded server when
// Keel runs its own, and how to let go of both.
type redisConn struct {
	Client   redis.UniversalClient
	Embedded *redisproc.Server // nil when REDIS_URL is set
	// Close closes the client and stops the embedded server (unless it was
	// only attached to).
	Close func(ctx context.Context) error
}

var errNoRedis = errors.New("no Redis to use: set REDIS_URL to an existing Redis server, or install redis-server (apt-get install redis-server) so Keel can start its own")

// openRedis connects to the Redis in REDIS_URL, or, when redisURL is empty,
// to Keel's embedded redis-server in <dataDir>/redis: started and supervised
// by this process (attach=false, for serving), or shared with a Keel already
// running there (attach=true, for CLI commands). It fails when Redis does not
// answer PING within a few seconds, so the caller can exit with a clear
// message instead of serving errors.
func openRedis(ctx context.Context, redisURL, dataDir string, attach bool, logger *slog.Logger) (*redisConn, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if redisURL != "" {
		opts, err := ParseRedisURL(redisURL)
		if err != nil {
			return nil, err
		}
		client := newRedisClient(opts)
		if err := pingRedis(ctx, client); err != nil {
			client.Close()
			return nil, fmt.Errorf("%s (from REDIS_URL) is not reachable: %w", describeRedis(opts), err)
		}
		logger.Info("using Redis", "redis", describeRedis(opts))
		return &redisConn{Client: client, Close: func(context.Context) error { return client.Close() }}, nil
	}

	if dataDir == "" {
		return nil, errors.New("no REDIS_URL and no data directory for the embedded Redis")
	}
	po := redisproc.Options{Dir: filepath.Join(dataDir, "redis"), Logger: logger}
	var srv *redisproc.Server
	var err error
	if attach {
		srv, _, err = redisproc.Attach(ctx, po)
	} else {
		srv, err = redisproc.Start(ctx, po)
	}
	if errors.Is(err, redisproc.ErrNoBinary) {
		return nil, errNoRedis
	}
	if err != nil {
		return nil, fmt.Errorf("embedded Redis: %w", err)
	}
	opts := srv.ClientOptions()
	applyClientDefaults(opts)
	client := newRedisClient(opts)
	stop := func(ctx context.Context) error {
		return errors.Join(client.Close(), srv.Stop(ctx))
	}
	if err := pingRedis(ctx, client); err != nil {
		stop(ctx)
		return nil, fmt.Errorf("embedded Redis in %s is not reachable: %w", srv.Dir(), err)
	}
	logger.Info("using embedded Redis", "dir", srv.Dir(), "addr", opts.Addrs[0], "pid", srv.PID())
	return &redisConn{Client: client, Embedded: srv, Close: stop}, nil
}

func pingRedis(ctx context.Context, c redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, redisStartupPing)
	defer cancel()
	return c.Ping(ctx).Err()
}
