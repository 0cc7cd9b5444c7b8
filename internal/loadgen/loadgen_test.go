package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", ms(7), 50, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"two p50 takes lower", ms(1, 2), 50, 1 * time.Millisecond},
		{"two p99 takes upper", ms(1, 2), 99, 2 * time.Millisecond},
		{"odd p50 is median", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p99 exact rank", hundred, 99, 99 * time.Millisecond},
		{"hundred p100 is max", hundred, 100, 100 * time.Millisecond},
		{"tiny p is min", hundred, 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestRunInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no URL", Config{Conns: 1, Duration: time.Second}, "URL is required"},
		{"no conns", Config{URL: "http://127.0.0.1:1/", Duration: time.Second}, "Conns must be positive"},
		{"no duration", Config{URL: "http://127.0.0.1:1/", Conns: 1}, "Duration must be positive"},
		{"negative warmup", Config{URL: "http://127.0.0.1:1/", Conns: 1, Duration: time.Second, Warmup: -time.Second}, "Warmup must not be negative"},
		{"bad method", Config{URL: "http://127.0.0.1:1/", Conns: 1, Duration: time.Second, Method: "BAD METHOD"}, "invalid method"},
		{"bad want status", Config{URL: "http://127.0.0.1:1/", Conns: 1, Duration: time.Second, WantStatus: 42}, "WantStatus must be an HTTP status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// countingServer answers every request with status and counts the requests
// it handled and the TCP connections it accepted.
type countingServer struct {
	*httptest.Server
	handled atomic.Int64
	conns   atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	cs := &countingServer{}
	cs.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.handled.Add(1)
		h(w, r)
	}))
	cs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cs.conns.Add(1)
		}
	}
	cs.Start()
	t.Cleanup(cs.Close)
	return cs
}

func TestRunCountsAndConnections(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 4096))
	})
	const conns = 3
	res, err := Run(context.Background(), Config{URL: srv.URL, Conns: conns, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 {
		t.Fatal("no requests measured")
	}
	if res.Errors != 0 {
		t.Errorf("Errors = %d, want 0 (sample %q)", res.Errors, res.ErrorSample)
	}
	if res.Status[http.StatusOK] != res.Requests || len(res.Status) != 1 {
		t.Errorf("Status = %v, want only 200 x %d", res.Status, res.Requests)
	}
	if got := srv.handled.Load(); got != int64(res.Requests) {
		t.Errorf("server handled %d requests, Result.Requests = %d", got, res.Requests)
	}
	// One keep-alive connection per worker, reused for every request.
	if got := srv.conns.Load(); got != conns {
		t.Errorf("server saw %d connections, want %d", got, conns)
	}
	if res.RPS <= 0 {
		t.Errorf("RPS = %v, want > 0", res.RPS)
	}
	if want := float64(res.Requests) / res.Elapsed.Seconds(); res.RPS != want {
		t.Errorf("RPS = %v, want Requests/Elapsed = %v", res.RPS, want)
	}
	if res.Elapsed < 300*time.Millisecond {
		t.Errorf("Elapsed = %v, want at least the duration", res.Elapsed)
	}
	if !(res.P50 > 0 && res.P50 <= res.P99 && res.P99 <= res.Max) {
		t.Errorf("want 0 < P50 <= P99 <= Max, got %v, %v, %v", res.P50, res.P99, res.Max)
	}
}

func TestRunSendsMethodHeaderAndBody(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer t0k" ||
			string(b) != `{"a":1}` || r.Host != "keel.test" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	h := http.Header{}
	h.Set("Authorization", "Bearer t0k")
	h.Set("Host", "keel.test")
	res, err := Run(context.Background(), Config{
		URL: srv.URL, Conns: 2, Duration: 200 * time.Millisecond,
		Method: http.MethodPost, Header: h, Body: []byte(`{"a":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Status[http.StatusCreated] != res.Requests {
		t.Fatalf("Requests=%d Errors=%d Status=%v, want every request 201", res.Requests, res.Errors, res.Status)
	}
}

func TestRunCountsErrorStatuses(t *testing.T) {
	var n atomic.Int64
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.WriteHeader(http.StatusInternalServerError)
		case 1:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	res, err := Run(context.Background(), Config{URL: srv.URL, Conns: 1, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 3 {
		t.Fatalf("Requests = %d, want at least 3", res.Requests)
	}
	// Redirects are not followed: a 303 is an answer, and not a success.
	if got, want := res.Errors, res.Status[500]+res.Status[303]; got != want {
		t.Errorf("Errors = %d, want 500s + 303s = %d (Status %v)", got, want, res.Status)
	}
	if res.Status[200] == 0 || res.Status[500] == 0 || res.Status[303] == 0 {
		t.Errorf("Status = %v, want 200, 303 and 500 all present", res.Status)
	}
	if res.Status[200]+res.Errors != res.Requests {
		t.Errorf("200s (%d) + errors (%d) != Requests (%d)", res.Status[200], res.Errors, res.Requests)
	}
}

func TestRunWantStatus(t *testing.T) {
	// A request with the validator gets 304, any other a full body.
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body")
	})
	tests := []struct {
		name       string
		header     http.Header
		want       int
		wantStatus int // the status every request should get
		wantErrors bool
	}{
		{"304 wanted and answered", http.Header{"If-None-Match": {`"v1"`}}, http.StatusNotModified, http.StatusNotModified, false},
		{"304 is no 2xx by default", http.Header{"If-None-Match": {`"v1"`}}, 0, http.StatusNotModified, true},
		{"200 when 304 is wanted", http.Header{"If-None-Match": {`"v0"`}}, http.StatusNotModified, http.StatusOK, true},
		{"200 wanted exactly", nil, http.StatusOK, http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{
				URL: srv.URL, Conns: 2, Duration: 100 * time.Millisecond, Header: tt.header, WantStatus: tt.want,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests == 0 || res.Status[tt.wantStatus] != res.Requests {
				t.Fatalf("Requests=%d Status=%v, want every request %d", res.Requests, res.Status, tt.wantStatus)
			}
			wantErrs := 0
			if tt.wantErrors {
				wantErrs = res.Requests
			}
			if res.Errors != wantErrs {
				t.Errorf("Errors = %d, want %d", res.Errors, wantErrs)
			}
			if !tt.wantErrors && res.P50 == 0 {
				t.Error("P50 = 0, want the successes' latencies")
			}
		})
	}
}

func TestRunTransportErrors(t *testing.T) {
	// A port that was free a moment ago: connections are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Conns: 2, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != res.Requests {
		t.Fatalf("Requests=%d Errors=%d, want every request to fail", res.Requests, res.Errors)
	}
	if res.ErrorSample == "" {
		t.Error("ErrorSample is empty")
	}
	if res.ErrorRate() != 1 {
		t.Errorf("ErrorRate = %v, want 1", res.ErrorRate())
	}
	if res.P50 != 0 || res.Max != 0 {
		t.Errorf("latencies of failures were counted: P50=%v Max=%v", res.P50, res.Max)
	}
}

func TestRunWarmupIsNotMeasured(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	res, err := Run(context.Background(), Config{
		URL: srv.URL, Conns: 2, Duration: 150 * time.Millisecond, Warmup: 150 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	handled := srv.handled.Load()
	if res.Requests == 0 || int64(res.Requests) >= handled {
		t.Fatalf("Requests = %d of %d handled, want warm-up requests left out", res.Requests, handled)
	}
	if res.Elapsed < 150*time.Millisecond || res.Elapsed > 150*time.Millisecond+time.Second {
		t.Errorf("Elapsed = %v, want about the measured duration, not the warm-up", res.Elapsed)
	}
}

func TestRunLatencies(t *testing.T) {
	const delay = 20 * time.Millisecond
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(delay) })
	res, err := Run(context.Background(), Config{URL: srv.URL, Conns: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.P50 < delay || res.P99 < delay {
		t.Errorf("P50=%v P99=%v, want both >= %v", res.P50, res.P99, delay)
	}
	// Closed loop: each connection completes at most one request per delay.
	if limit := 4 * float64(time.Second/delay); res.RPS > limit {
		t.Errorf("RPS = %v, more than a closed loop of 4 x %v allows (%v)", res.RPS, delay, limit)
	}
}

func TestRunTimeoutCountsAsError(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	res, err := Run(context.Background(), Config{URL: srv.URL, Conns: 1, Duration: 100 * time.Millisecond, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != res.Requests {
		t.Fatalf("Requests=%d Errors=%d, want every request to time out", res.Requests, res.Errors)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, Config{URL: srv.URL, Conns: 2, Duration: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after its context ended", d)
	}
}
