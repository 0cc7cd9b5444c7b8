package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// config is the process configuration. Every field comes from a flag whose
// default is the matching environment variable.
type config struct {
	Addr            string
	DataDir         string
	RedisURL        string
	Prefix          string
	AdminPassword   string
	MasterKey       string
	SecureCookies   bool
	Demo            bool
	LogLevel        string
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	PprofAddr       string
	HistoryLimit    int
}

// storeFlags registers the flags every command shares: where the store is.
func storeFlags(fs *flag.FlagSet, cfg *config, getenv func(string) string) {
	fs.StringVar(&cfg.DataDir, "data-dir", envOr(getenv, "KEEL_DATA_DIR", "./data"), "data directory (embedded Redis, key file) [KEEL_DATA_DIR]")
	fs.StringVar(&cfg.RedisURL, "redis-url", getenv("REDIS_URL"), "external Redis; unset: Keel runs its own redis-server [REDIS_URL]")
	fs.StringVar(&cfg.Prefix, "redis-prefix", envOr(getenv, "KEEL_REDIS_PREFIX", "keel:"), "prefix of every Redis key [KEEL_REDIS_PREFIX]")
	fs.StringVar(&cfg.LogLevel, "log-level", envOr(getenv, "KEEL_LOG_LEVEL", "info"), "debug, info, warn or error [KEEL_LOG_LEVEL]")
	limit, err := strconv.Atoi(envOr(getenv, "KEEL_HISTORY_LIMIT", "100"))
	if err != nil {
		limit = -1 // refused by validate
	}
	fs.IntVar(&cfg.HistoryLimit, "history-limit", limit, "versions kept per config key and environment [KEEL_HISTORY_LIMIT]")
}

// serveFlags registers the flags of "serve".
func serveFlags(fs *flag.FlagSet, cfg *config, getenv func(string) string) error {
	storeFlags(fs, cfg, getenv)
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "KEEL_ADDR", "127.0.0.1:8080"), "listen address [KEEL_ADDR]")
	fs.StringVar(&cfg.AdminPassword, "admin-password", getenv("KEEL_ADMIN_PASSWORD"), "password of the first admin; unset: random, printed once [KEEL_ADMIN_PASSWORD]")
	fs.StringVar(&cfg.MasterKey, "master-key", getenv("KEEL_MASTER_KEY"), "256-bit key for secrets, base64 or hex [KEEL_MASTER_KEY]")
	fs.BoolVar(&cfg.Demo, "demo", false, "load the demo data set into an empty store")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", getenv("KEEL_PPROF_ADDR"), "serve Go profiling (/debug/pprof) on this loopback address; unset: off [KEEL_PPROF_ADDR]")
	secure, err := envBool(getenv, "KEEL_SECURE_COOKIES")
	if err != nil {
		return err
	}
	fs.BoolVar(&cfg.SecureCookies, "secure-cookies", secure, "mark cookies Secure (behind TLS) [KEEL_SECURE_COOKIES]")
	idle, err := envDuration(getenv, "KEEL_SESSION_IDLE", 30*time.Minute)
	if err != nil {
		return err
	}
	fs.DurationVar(&cfg.SessionIdle, "session-idle", idle, "sign out after this long without activity [KEEL_SESSION_IDLE]")
	abs, err := envDuration(getenv, "KEEL_SESSION_ABSOLUTE", 12*time.Hour)
	if err != nil {
		return err
	}
	fs.DurationVar(&cfg.SessionAbsolute, "session-absolute", abs, "sign out this long after sign-in [KEEL_SESSION_ABSOLUTE]")
	return nil
}

func (c *config) validate() error {
	if c.SessionIdle < time.Minute || c.SessionAbsolute < c.SessionIdle {
		return usageError{"session-idle must be at least 1m and session-absolute at least session-idle"}
	}
	if c.MasterKey != "" {
		if _, err := decodeKey(c.MasterKey); err != nil {
			return usageError{"KEEL_MASTER_KEY: " + err.Error()}
		}
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 10 {
		return usageError{"KEEL_ADMIN_PASSWORD must be at least 10 characters"}
	}
	if c.HistoryLimit < 1 || c.HistoryLimit > 100000 {
		return usageError{"KEEL_HISTORY_LIMIT must be a whole number from 1 to 100000"}
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return usageError{"KEEL_PPROF_ADDR must be a loopback address such as 127.0.0.1:6060"}
		}
	}
	if c.Prefix == "" || strings.ContainsAny(c.Prefix, "{} \t\n") {
		return usageError{"KEEL_REDIS_PREFIX must be non-empty, without braces or spaces"}
	}
	return nil
}

// decodeKey reads a 256-bit key written as base64 (std or URL) or hex.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("want 32 bytes, written as base64 or hex (openssl rand -base64 32)")
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(getenv func(string) string, key string) (bool, error) {
	v := getenv(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, usageError{fmt.Sprintf("%s=%q: use 1/0 or true/false", key, v)}
	}
	return b, nil
}

func envDuration(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, usageError{fmt.Sprintf("%s=%q: use a duration such as 30m or 12h", key, v)}
	}
	return d, nil
}

// newLogger writes JSON lines at the configured level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("log level %q: use debug, info, warn or error", level)}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// parseFlags parses a command's flags, turning mistakes into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// redisLog sends go-redis's own messages (dial failures while Redis is
// down, ...) into the JSON log instead of bare lines on stderr.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.Debug("redis client", "msg", fmt.Sprintf(format, v...))
}
