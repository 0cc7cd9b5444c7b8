// Package loadgen is a closed-loop HTTP load generator for Keel's benchmarks.
//
// Each of Config.Conns workers owns one http.Client whose transport keeps
// exactly one keep-alive connection, and sends its next request as soon as the
// previous response has been read in full. Latencies of every measured
// request are kept, so the percentiles are exact rather than estimated.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config describes one load run.
type Config struct {
	URL      string
	Conns    int           // concurrent connections, one worker each
	Duration time.Duration // measured period, after Warmup
	Header   http.Header   // sent with every request
	Method   string        // default GET
	Body     []byte        // sent with every request when not nil
	// Warmup runs the same load first without measuring it, so connections
	// are open and caches warm when the measured period starts.
	Warmup time.Duration
	// Timeout bounds each request (DefaultTimeout when zero); a request that
	// times out counts as an error.
	Timeout time.Duration
	// WantStatus, when not zero, is the one status that counts as a
	// success (304 for a conditional request); when zero, any 2xx does.
	WantStatus int
}

// Result is what a run measured. Requests counts every request started in
// the measured period; Errors those that failed in transport or answered
// with a status other than Config.WantStatus (outside 2xx when that is
// zero; redirects are not followed). The latency
// percentiles cover the successful requests only, so fast failures do not
// flatter them.
type Result struct {
	Requests int
	Errors   int
	RPS      float64 // Requests per second of measured time
	P50, P99 time.Duration
	Max      time.Duration
	Status   map[int]int // responses by status code
	// ErrorSample is one transport error, for diagnosis; "" when none.
	ErrorSample string
	Elapsed     time.Duration
}

// ErrorRate is Errors/Requests, 0 when nothing was sent.
func (r Result) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

type worker struct {
	client    *http.Client
	transport *http.Transport
	latencies []time.Duration
	requests  int
	errors    int
	status    map[int]int
	errSample string
	header    http.Header // this worker's copy of Config.Header
}

// Run drives the load described by cfg and reports what it measured. It
// returns an error for an invalid Config, or ctx's error when ctx ends first.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.URL == "" {
		return Result{}, errors.New("loadgen: URL is required")
	}
	if cfg.Conns <= 0 {
		return Result{}, fmt.Errorf("loadgen: Conns must be positive, got %d", cfg.Conns)
	}
	if cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("loadgen: Duration must be positive, got %s", cfg.Duration)
	}
	if cfg.Warmup < 0 {
		return Result{}, fmt.Errorf("loadgen: Warmup must not be negative, got %s", cfg.Warmup)
	}
	if cfg.WantStatus != 0 && (cfg.WantStatus < 100 || cfg.WantStatus > 599) {
		return Result{}, fmt.Errorf("loadgen: WantStatus must be an HTTP status, got %d", cfg.WantStatus)
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	// Build one request up front so a malformed URL or method fails here.
	if _, err := http.NewRequestWithContext(ctx, cfg.Method, cfg.URL, nil); err != nil {
		return Result{}, fmt.Errorf("loadgen: %w", err)
	}

	workers := make([]*worker, cfg.Conns)
	for i := range workers {
		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxConnsPerHost:     1,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     90 * time.Second,
			// The body is discarded unread; a caller that wants compressed
			// responses sets Accept-Encoding itself.
			DisableCompression: true,
			ForceAttemptHTTP2:  false,
		}
		workers[i] = &worker{
			transport: tr,
			client: &http.Client{
				Transport: tr,
				Timeout:   cfg.Timeout,
				CheckRedirect: func(*http.Request, []*http.Request) error {
					return http.ErrUseLastResponse
				},
			},
			status: map[int]int{},
			header: cfg.Header.Clone(),
		}
	}
	defer func() {
		for _, w := range workers {
			w.transport.CloseIdleConnections()
		}
	}()

	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(ctx, cfg, measureFrom, end) })
	}
	wg.Wait()
	finished := time.Now()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	res := Result{Status: map[int]int{}}
	var lat []time.Duration
	for _, w := range workers {
		res.Requests += w.requests
		res.Errors += w.errors
		for code, n := range w.status {
			res.Status[code] += n
		}
		if res.ErrorSample == "" {
			res.ErrorSample = w.errSample
		}
		lat = append(lat, w.latencies...)
	}
	// Requests started before end may finish a little after it; they count,
	// so the measured time runs until the last of them is done.
	res.Elapsed = finished.Sub(measureFrom)
	if res.Elapsed > 0 {
		res.RPS = float64(res.Requests) / res.Elapsed.Seconds()
	}
	slices.Sort(lat)
	res.P50 = Percentile(lat, 50)
	res.P99 = Percentile(lat, 99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res, nil
}

func (w *worker) loop(ctx context.Context, cfg Config, measureFrom, end time.Time) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		status, err := w.do(ctx, cfg)
		if t0.Before(measureFrom) {
			continue // warm-up
		}
		if ctx.Err() != nil {
			return
		}
		w.requests++
		switch {
		case err != nil:
			w.errors++
			if w.errSample == "" {
				w.errSample = err.Error()
			}
		case !cfg.success(status):
			w.errors++
			w.status[status]++
		default:
			w.status[status]++
			w.latencies = append(w.latencies, time.Since(t0))
		}
	}
}

// success reports whether status counts as a successful answer.
func (cfg *Config) success(status int) bool {
	if cfg.WantStatus != 0 {
		return status == cfg.WantStatus
	}
	return status >= 200 && status <= 299
}

func (w *worker) do(ctx context.Context, cfg Config) (int, error) {
	var body io.Reader
	if cfg.Body != nil {
		body = bytes.NewReader(cfg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, cfg.Method, cfg.URL, body)
	if err != nil {
		return 0, err
	}
	if w.header != nil {
		req.Header = w.header
		req.Host = w.header.Get("Host")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read the whole body so the connection goes back to the pool.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted latencies by
// the nearest-rank method: the smallest value that at least p% of the values
// do not exceed. It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// p*n first: 99*100/100 is exactly 99, 99/100*100 is not.
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	rank = max(rank, 1)
	rank = min(rank, len(sorted))
	return sorted[rank-1]
}
