// Package handlers is Keel's HTTP layer: routes.go is the whole URL surface;
// one file per resource; render.go renders a full page or an htmx fragment;
// errors.go maps errors to statuses in one place.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/internal/telemetry"
	"github.com/keelhq/keel/store"
)

// Config is what the HTTP layer needs to know of the process configuration.
type Config struct {
	Version       string
	SecureCookies bool
	// BodyLimit caps request bodies (default 2 MiB).
	BodyLimit string
	// StoreCheckEvery is how often Redis is pinged for the health banner.
	StoreCheckEvery time.Duration
}

// Deps are the server's collaborators, passed explicitly.
type Deps struct {
	Store    *store.Store
	Sessions *auth.Sessions
	Tokens   *auth.Tokens
	Hub      *store.Hub
	Metrics  *telemetry.Metrics
	Logger   *slog.Logger
	Config   Config
}

// Server holds the HTTP layer's state.
type Server struct {
	st       *store.Store
	sessions *auth.Sessions
	tokens   *auth.Tokens
	hub      *store.Hub
	metrics  *telemetry.Metrics
	log      *slog.Logger
	cfg      Config
	started  time.Time
	storeUp  atomic.Bool
	cop      *http.CrossOriginProtection
	echo     *echo.Echo
	routes   []Route

	openapiOnce sync.Once
	openapi     map[string]any

	stopping chan struct{}
	stopOnce sync.Once

	consumer *consumerCache
	feeds    *configFeeds
	pages    pageCache
}

// New builds the server and its router.
func New(d Deps) *Server {
	if d.Config.BodyLimit == "" {
		d.Config.BodyLimit = "2M"
	}
	if d.Config.StoreCheckEvery <= 0 {
		d.Config.StoreCheckEvery = time.Second
	}
	s := &Server{
		st: d.Store, sessions: d.Sessions, tokens: d.Tokens, hub: d.Hub, metrics: d.Metrics,
		log: d.Logger, cfg: d.Config, started: time.Now(), cop: http.NewCrossOriginProtection(),
		stopping: make(chan struct{}),
		consumer: newConsumerCache(time.Second),
	}
	s.feeds = newConfigFeeds(d.Store, d.Logger)
	s.storeUp.Store(true)
	s.echo = s.router()
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Routes returns the route table (for tests and the OpenAPI document).
func (s *Server) Routes() []Route { return s.routes }

// InvalidateCaches keeps this process's caches true to changes made by any
// Keel process, until ctx ends: a revoked API token is forgotten at once.
func (s *Server) InvalidateCaches(ctx context.Context) {
	s.hub.Follow(ctx, func(ev store.Event) {
		switch ev.Topic {
		case "tokens":
			s.tokens.Invalidate(ev.Target)
		case "configs":
			s.consumer.configChanged(ev.Env)
		case "environments":
			s.consumer.environmentsChanged()
		}
	})
}

// MonitorStore pings Redis every StoreCheckEvery until ctx ends, keeping the
// "store unavailable" banner and the keel_store_up gauge current.
func (s *Server) MonitorStore(ctx context.Context) {
	t := time.NewTicker(s.cfg.StoreCheckEvery)
	defer t.Stop()
	for {
		s.checkStore(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) checkStore(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	up := s.st.Ping(pctx) == nil
	if was := s.storeUp.Swap(up); was != up {
		if up {
			s.log.Info("store reachable again")
		} else {
			s.log.Warn("store unavailable")
		}
	}
	if up {
		s.metrics.StoreUp.Set(1)
	} else {
		s.metrics.StoreUp.Set(0)
	}
	return up
}

// StopStreams ends every live-update stream, so a graceful shutdown does not
// wait for browser tabs to leave.
func (s *Server) StopStreams() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// RegisteredRoutes lists "METHOD path" for every route the router holds,
// for the test that compares the OpenAPI document with the router.
func (s *Server) RegisteredRoutes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
