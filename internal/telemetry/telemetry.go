// Package telemetry holds Keel's Prometheus metrics: HTTP request durations
// by route and status, Redis command latency (a go-redis hook) and the number
// of live-update clients.
package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// Metrics is the set of collectors one Keel process exports.
type Metrics struct {
	reg        *prometheus.Registry
	httpDur    *prometheus.HistogramVec
	redisDur   *prometheus.HistogramVec
	SSEClients prometheus.Gauge
	StoreUp    prometheus.Gauge
}

// New registers Keel's collectors (and the Go and process collectors) on a
// fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keel_http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		redisDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keel_redis_command_duration_seconds",
			Help:    "Redis command latency by command (pipelines count as one observation named pipeline).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1},
		}, []string{"command", "result"}),
		SSEClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_sse_clients", Help: "Browser tabs connected to the live-update stream.",
		}),
		StoreUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_store_up", Help: "1 when Redis answers, 0 when it does not.",
		}),
	}
	reg.MustRegister(m.httpDur, m.redisDur, m.SSEClients, m.StoreUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveHTTP records one request.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	m.httpDur.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// RedisHook returns a go-redis hook that times every command and pipeline.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.m.redisDur.WithLabelValues(strings.ToLower(cmd.Name()), result(err)).Observe(time.Since(start).Seconds())
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.m.redisDur.WithLabelValues("pipeline", result(err)).Observe(time.Since(start).Seconds())
		return err
	}
}

func result(err error) string {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.TxFailedErr) {
		return "ok"
	}
	return "error"
}
