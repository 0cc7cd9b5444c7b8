package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/demo"
	"github.com/keelhq/keel/handlers"
	"github.com/keelhq/keel/internal/telemetry"
	"github.com/keelhq/keel/secret"
	"github.com/keelhq/keel/store"
)

// serve runs the dashboard until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := serveFlags(fs, &cfg, getenv); err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	tuneGC(getenv)

	redis.SetLogger(redisLog{logger})
	conn, err := openRedis(ctx, cfg.RedisURL, cfg.DataDir, false, logger)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := conn.Close(cctx); err != nil {
			logger.Warn("closing the store", "err", err.Error())
		}
	}()
	metrics := telemetry.New()
	conn.Client.AddHook(metrics.RedisHook())
	st := store.New(conn.Client, store.WithPrefix(cfg.Prefix), store.WithHistoryLimit(cfg.HistoryLimit))

	if err := firstRun(ctx, st, cfg, stdout, logger); err != nil {
		return err
	}
	sealer, err := openSecrets(ctx, st, cfg, logger)
	if err != nil {
		return err
	}
	if cfg.Demo {
		loaded, err := demo.Load(ctx, st)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if loaded {
			logger.Info("demo data loaded")
		}
	}

	sessions, err := auth.NewSessions(ctx, st, auth.SessionConfig{
		Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute, Secure: cfg.SecureCookies,
	})
	if err != nil {
		return err
	}
	hub := st.NewHub(logger)
	srv := handlers.New(handlers.Deps{
		Store: st, Sessions: sessions, Tokens: auth.NewTokens(st), Hub: hub, Metrics: metrics, Logger: logger,
		Config: handlers.Config{Version: version, SecureCookies: cfg.SecureCookies},
	})

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go func() { _ = hub.Run(bg) }()
	holder := hostID()
	go srv.MonitorStore(bg)
	go srv.InvalidateCaches(bg)
	go reloadKeysOnRotation(bg, hub, sealer, logger)
	go st.RunExclusive(bg, "config-expiry", holder, time.Second, func(ctx context.Context) error {
		envs, err := st.ListEnvironments(ctx)
		if err != nil {
			return err
		}
		names := make([]string, len(envs))
		for i, e := range envs {
			names[i] = e.Name
		}
		n, err := st.SweepExpiredConfigs(ctx, names, time.Now())
		if n > 0 {
			logger.Info("expired config keys removed", "count", n)
		}
		return err
	}, logger)
	go st.RunExclusive(bg, "audit-retention", holder, time.Hour, func(ctx context.Context) error {
		set, err := st.GetSettings(ctx)
		if err != nil {
			return err
		}
		removed, err := st.TrimAudit(ctx, set.AuditMaxEntries, time.Duration(set.AuditMaxAgeDays)*24*time.Hour)
		if removed > 0 {
			logger.Info("audit retention", "removed", removed)
		}
		return err
	}, logger)

	if cfg.PprofAddr != "" {
		go servePprof(bg, cfg.PprofAddr, logger)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	httpSrv.RegisterOnShutdown(srv.StopStreams)
	logger.Info("keel listening", "url", "http://"+ln.Addr().String(), "version", version)
	fmt.Fprintf(stdout, "Keel is running at http://%s\n", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		logger.Warn("graceful shutdown incomplete", "err", err.Error())
	}
	stopBG()
	return nil
}

// firstRun prepares an empty store: the default environments and the first
// admin, whose password is KEEL_ADMIN_PASSWORD or a random one printed once.
func firstRun(ctx context.Context, st *store.Store, cfg config, stdout io.Writer, logger *slog.Logger) error {
	if _, err := st.EnsureDefaultEnvironments(ctx); err != nil {
		return fmt.Errorf("default environments: %w", err)
	}
	n, err := st.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	pw, printed := cfg.AdminPassword, false
	if pw == "" {
		pw, printed = auth.RandomPassword(20), true
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	_, err = st.CreateUser(ctx, store.System, store.User{Name: "admin", Role: auth.Admin.String(), PasswordHash: hash})
	if errors.Is(err, store.ErrConflict) {
		return nil // another Keel process created it first
	}
	if err != nil {
		return err
	}
	logger.Info("created the first admin user", "user", "admin")
	if printed {
		fmt.Fprintf(stdout, "\n  Created user \"admin\" with password: %s\n  (shown once; change it under Account after signing in)\n\n", pw)
	}
	return nil
}

// openSecrets loads the master key (KEEL_MASTER_KEY, or the key file under
// the data directory, created on first run) and the data keys it wraps, and
// installs the sealer of secret values.
func openSecrets(ctx context.Context, st *store.Store, cfg config, logger *slog.Logger) (*store.KeyringSealer, error) {
	kek, source, err := secret.LoadMasterKey(cfg.MasterKey, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	sealer, err := st.OpenSecrets(ctx, kek)
	if err != nil {
		return nil, err
	}
	st.SetSealer(sealer)
	logger.Info("secrets ready", "master_key", source, "data_key", sealer.Keyring().Current())
	return sealer, nil
}

// reloadKeysOnRotation picks up data keys that another Keel process made.
func reloadKeysOnRotation(ctx context.Context, hub *store.Hub, sealer *store.KeyringSealer, logger *slog.Logger) {
	hub.Follow(ctx, func(ev store.Event) {
		if ev.Topic != "secrets" {
			return
		}
		if err := sealer.Reload(ctx); err != nil {
			logger.Warn("reloading data keys", "err", err.Error())
		}
	})
}

// servePprof serves Go's profiles on a separate loopback address, never on
// the dashboard's.
func servePprof(ctx context.Context, addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	logger.Info("profiling", "url", "http://"+addr+"/debug/pprof/")
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("profiling server", "err", err.Error())
	}
}

// tuneGC trades memory for CPU: pages allocate a lot of short-lived
// garbage, and the live heap is small, so the collector runs less often
// (GOGC 400) under a soft limit that brings it back when memory grows
// (1 GiB). GOGC and GOMEMLIMIT, when set, win.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// hostID names this process for leases.
func hostID() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%d", h, os.Getpid(), time.Now().UnixNano())
}
