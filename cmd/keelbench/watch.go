package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keelhq/keel/internal/loadgen"
	"github.com/keelhq/keel/sdk"
)

// watchKey is the key the propagation scenario changes.
const watchKey = "bench.propagation"

// propagation is what the change-to-SDK scenario measured: for every
// (client, change) pair, the time from just before the PUT was sent to the
// moment the client's OnChange saw the new value.
type propagation struct {
	clients, changes int
	seen             int // (client, change) pairs delivered
	missed           int // pairs never delivered
	p50, p99, max    time.Duration
	puts             int
	putErrors        int
	putSample        string
	elapsed          time.Duration // first PUT to last delivery (or the end of the wait)
}

// samples is every pair there should be.
func (p propagation) samples() int { return p.clients * p.changes }

// putErrorRate is failed PUTs over PUTs sent.
func (p propagation) putErrorRate() float64 {
	if p.puts == 0 {
		return 0
	}
	return float64(p.putErrors) / float64(p.puts)
}

// watchers are SDK clients following one environment, each recording when
// it saw each value of watchKey.
type watchers struct {
	clients []*sdk.Client
	// seen[c][n] is when client c saw value n, as nanoseconds since base; 0
	// until then. Written from the clients' goroutines, read by the bench.
	seen      [][]atomic.Int64
	delivered atomic.Int64
	base      time.Time
	tr        *http.Transport
}

// checkFileLimit fails early when the process may not open enough files
// for the watch streams and the load generator's connections. (Go raises
// the soft limit to the hard one at start, so this is the hard limit.)
func checkFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: let the dials report it
	}
	if lim.Cur < uint64(need) {
		return fmt.Errorf("open-file limit is %d, the watch scenario needs about %d (raise it with ulimit -n)", lim.Cur, need)
	}
	return nil
}

// startWatchers starts n clients of env and registers their OnChange
// callbacks for values 1 to changes of watchKey.
func startWatchers(baseURL, token, env string, n, changes int, logger *slog.Logger) (*watchers, error) {
	ws := &watchers{
		seen: make([][]atomic.Int64, n),
		base: time.Now(),
		// One transport for all clients: each watch stream holds one
		// connection; idle ones (after the snapshot) are kept for reuse.
		tr: &http.Transport{
			MaxIdleConnsPerHost: n,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   false,
		},
	}
	hc := &http.Client{Transport: ws.tr}
	for i := range n {
		c, err := sdk.New(baseURL, token, env, sdk.WithHTTPClient(hc), sdk.WithLogger(logger))
		if err != nil {
			ws.close()
			return nil, err
		}
		ws.clients = append(ws.clients, c)
		ws.seen[i] = make([]atomic.Int64, changes+1)
		seen := ws.seen[i]
		c.OnChange(func(ch sdk.Change) {
			at := int64(time.Since(ws.base))
			if ch.Key != watchKey || ch.New == nil {
				return
			}
			v, err := strconv.Atoi(string(ch.New.Raw))
			if err != nil || v < 1 || v > changes {
				return
			}
			if seen[v].CompareAndSwap(0, at) {
				ws.delivered.Add(1)
			}
		})
	}
	return ws, nil
}

// waitConnected waits until every client holds the configuration and has
// its watch stream open.
func (ws *watchers) waitConnected(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, c := range ws.clients {
		if err := c.WaitReady(ctx); err != nil {
			return fmt.Errorf("waiting for the snapshot: %w (last error: %v)", err, c.Status().LastError)
		}
	}
	for {
		connected := 0
		var lastErr error
		for _, c := range ws.clients {
			st := c.Status()
			if st.Connected {
				connected++
			} else if st.LastError != nil {
				lastErr = st.LastError
			}
		}
		if connected == len(ws.clients) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d watch streams open after %s (last error: %v)", connected, len(ws.clients), timeout, lastErr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitDelivered waits until want pairs are delivered or ctx ends.
func (ws *watchers) waitDelivered(ctx context.Context, want int) {
	for ws.delivered.Load() < int64(want) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// close stops every client and drops their connections.
func (ws *watchers) close() {
	var wg sync.WaitGroup
	for _, c := range ws.clients {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
	ws.tr.CloseIdleConnections()
}

// configWriter sets watchKey through the management API.
type configWriter struct {
	url   string
	token string
	hc    *http.Client
}

func newConfigWriter(baseURL, token, env string) *configWriter {
	return &configWriter{
		url:   baseURL + "/api/v1/envs/" + url.PathEscape(env) + "/configs/" + url.PathEscape(watchKey),
		token: token,
		hc:    &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
	}
}

// put sets watchKey to the number value, replacing version (0 creates the
// key), and returns the new version.
func (w *configWriter) put(ctx context.Context, value int, version int64) (int64, error) {
	body := fmt.Sprintf(`{"type":"number","value":%d,"version":%d}`, value, version)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.url, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("PUT %s: %s: %s", w.url, resp.Status, summarize(b))
	}
	var out struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, fmt.Errorf("PUT %s: %w", w.url, err)
	}
	if out.Version <= version {
		return 0, fmt.Errorf("PUT %s: version %d after %d", w.url, out.Version, version)
	}
	return out.Version, nil
}

func (w *configWriter) close() {
	w.hc.CloseIdleConnections()
}

// measurePropagation sets watchKey to 1, 2, ... changes, one PUT every
// `every`, recording the time just before each PUT, then waits (at most
// grace after the last PUT) for every client to see every value. version is
// the key's current version.
func measurePropagation(ctx context.Context, ws *watchers, w *configWriter, version int64, changes int, every, grace time.Duration) (propagation, error) {
	p := propagation{clients: len(ws.clients), changes: changes}
	sent := make([]time.Duration, changes+1)
	start := time.Now()
	for n := 1; n <= changes; n++ {
		if d := time.Until(start.Add(time.Duration(n-1) * every)); d > 0 {
			select {
			case <-ctx.Done():
				return p, ctx.Err()
			case <-time.After(d):
			}
		}
		sent[n] = time.Since(ws.base)
		p.puts++
		v, err := w.put(ctx, n, version)
		if err != nil {
			if ctx.Err() != nil {
				return p, ctx.Err()
			}
			p.putErrors++
			if p.putSample == "" {
				p.putSample = err.Error()
			}
			sent[n] = 0 // never set: its deliveries count as missed
			continue
		}
		version = v
	}
	wctx, cancel := context.WithTimeout(ctx, grace)
	ws.waitDelivered(wctx, p.samples())
	cancel()
	if err := ctx.Err(); err != nil {
		return p, err
	}
	p.elapsed = time.Since(start)

	lat := make([]time.Duration, 0, p.samples())
	for c := range ws.seen {
		for n := 1; n <= changes; n++ {
			at := time.Duration(ws.seen[c][n].Load())
			if at == 0 || sent[n] == 0 {
				continue
			}
			lat = append(lat, at-sent[n])
		}
	}
	slices.Sort(lat)
	p.seen = len(lat)
	p.missed = p.samples() - p.seen
	p.p50 = loadgen.Percentile(lat, 50)
	p.p99 = loadgen.Percentile(lat, 99)
	if len(lat) > 0 {
		p.max = lat[len(lat)-1]
	}
	return p, nil
}
