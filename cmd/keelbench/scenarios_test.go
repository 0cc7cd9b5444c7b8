package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/internal/loadgen"
	"github.com/keelhq/keel/internal/redistest"
	"github.com/keelhq/keel/store"
)

func TestSeedConfigs(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	st := store.New(rdb, store.WithPrefix(prefix))
	ctx := context.Background()
	if _, err := st.EnsureDefaultEnvironments(ctx); err != nil {
		t.Fatal(err)
	}
	const n = seedBatch + 123 // more than one batch, the last one short
	if err := seedConfigs(ctx, st, apiEnv, n); err != nil {
		t.Fatal(err)
	}
	entries, _, err := st.EffectiveConfigs(ctx, []string{apiEnv})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("%d keys in %s, want %d", len(entries), apiEnv, n)
	}
	types := map[config.Type]int{}
	for _, e := range entries {
		types[e.Type]++
	}
	for _, typ := range []config.Type{config.TypeString, config.TypeNumber, config.TypeBoolean, config.TypeJSON} {
		if types[typ] == 0 {
			t.Errorf("no %s value among the seeded keys (%v)", typ, types)
		}
	}
	if types[config.TypeSecret] != 0 {
		t.Errorf("%d secrets seeded, want none (the bench has no master key)", types[config.TypeSecret])
	}
	// The SDK read benchmark reads key 0 as a string.
	e, err := st.EffectiveConfig(ctx, []string{apiEnv}, seedKey(0))
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != config.TypeString || e.Value != seedWrite(0).Value {
		t.Errorf("%s = %s %q, want string %q", seedKey(0), e.Type, e.Value, seedWrite(0).Value)
	}
}

func TestSeedKeysAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range 10000 {
		k := seedKey(i)
		if seen[k] {
			t.Fatalf("seedKey(%d) = %q again", i, k)
		}
		seen[k] = true
	}
}

func TestTargets(t *testing.T) {
	o := options{pageKeys: 10000, apiKeys: 1000, watchers: 100, changes: 200, changeEvery: 20 * time.Millisecond, maxErrorRate: 0.01}
	res := func(rps float64, p99 time.Duration, requests, errors int) loadgen.Result {
		return loadgen.Result{RPS: rps, P99: p99, Requests: requests, Errors: errors}
	}
	good := report{
		rows: []row{
			{id: idPage, res: res(2500, 20*time.Millisecond, 1000, 0)},
			{id: idAPIFull, res: res(2000, 30*time.Millisecond, 1000, 0)},
			{id: idAPI304, res: res(12000, 5*time.Millisecond, 1000, 0)},
			{id: idHello, res: res(20000, time.Millisecond, 1000, 0)},
		},
		propagation: &propagation{clients: 100, changes: 200, seen: 20000, p50: 5 * time.Millisecond, p99: 40 * time.Millisecond},
		read:        &read{nsPerOp: 12.5, allocsPerOp: 0},
	}
	with := func(f func(r *report)) report {
		r := good
		r.rows = append([]row(nil), good.rows...)
		p, rd := *good.propagation, *good.read
		r.propagation, r.read = &p, &rd
		f(&r)
		return r
	}
	tests := []struct {
		name string
		rep  report
		want []string // Met of each target, in order
	}{
		{"all met", good, []string{"yes", "yes", "yes", "yes", "yes"}},
		{"page too slow", with(func(r *report) { r.rows[0].res.RPS = 1999 }), []string{"no", "yes", "yes", "yes", "yes"}},
		{"page p99 too high", with(func(r *report) { r.rows[0].res.P99 = 26 * time.Millisecond }), []string{"no", "yes", "yes", "yes", "yes"}},
		{"page errors", with(func(r *report) { r.rows[0].res.Errors = 20 }), []string{"no", "yes", "yes", "yes", "yes"}},
		{"full body ratio low", with(func(r *report) { r.rows[1].res.RPS = 1999 }), []string{"yes", "no", "yes", "yes", "yes"}},
		{"304 ratio low", with(func(r *report) { r.rows[2].res.RPS = 9999 }), []string{"yes", "yes", "no", "yes", "yes"}},
		{"one delivery missed", with(func(r *report) { r.propagation.missed, r.propagation.seen = 1, 19999 }), []string{"yes", "yes", "yes", "no", "yes"}},
		{"propagation p99 high", with(func(r *report) { r.propagation.p99 = 51 * time.Millisecond }), []string{"yes", "yes", "yes", "no", "yes"}},
		{"read allocates", with(func(r *report) { r.read.allocsPerOp = 1 }), []string{"yes", "yes", "yes", "yes", "no"}},
		{"read slow", with(func(r *report) { r.read.nsPerOp = 50.1 }), []string{"yes", "yes", "yes", "yes", "no"}},
		{"no hello, nothing else run", with(func(r *report) { r.rows = r.rows[:3]; r.propagation, r.read = nil, nil }),
			[]string{"yes", "–", "–", "–", "–"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := targets(o, tt.rep)
			if len(ts) != len(tt.want) {
				t.Fatalf("%d targets, want %d", len(ts), len(tt.want))
			}
			for i, tg := range ts {
				if tg.met != tt.want[i] {
					t.Errorf("%s: met %q (measured %s), want %q", tg.name, tg.met, tg.measured, tt.want[i])
				}
				if (tg.met == "–") != (tg.measured == notRun) {
					t.Errorf("%s: met %q with measured %q", tg.name, tg.met, tg.measured)
				}
			}
		})
	}
	var b strings.Builder
	printTargets(&b, targets(o, good))
	for _, want := range []string{"| Target (issue 3) | Wanted | Measured | Met |", "0.100 (2,000 / 20,000 requests/s)",
		"p50 5.00 ms, p99 40.0 ms", "0 of 20,000 missed", "12.5 ns/op, 0 allocs/op", "≥ 2,000 requests/s and p99 ≤ 25.0 ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("targets table lacks %q:\n%s", want, b.String())
		}
	}
}

// fakeConsumer speaks the consumer API to SDK clients: a snapshot holding
// a string key and watchKey, a watch stream, and PUT of watchKey, which
// goes out on every open stream (except the values listed in drop, which
// the first stream never gets).
type fakeConsumer struct {
	mu      sync.Mutex
	version int64
	value   int
	seq     int
	streams []chan string
	drop    map[int]bool
}

func (f *fakeConsumer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer reader" && r.Header.Get("Authorization") != "Bearer writer" {
		http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
		return
	}
	base := "/api/v1/envs/" + apiEnv
	switch {
	case r.Method == http.MethodGet && r.URL.Path == base+"/configs":
		f.mu.Lock()
		body := fmt.Sprintf(`{"configs":[{"key":%q,"type":"string","value":%q,"version":1,"source_env":%q},`+
			`{"key":%q,"type":"number","value":%d,"version":%d,"source_env":%q}]}`,
			seedKey(0), seedWrite(0).Value, apiEnv, watchKey, f.value, f.version, apiEnv)
		pos := fmt.Sprint(f.seq)
		f.mu.Unlock()
		w.Header().Set("ETag", `"`+pos+`"`)
		w.Header().Set("Keel-Watch-Position", pos)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	case r.Method == http.MethodGet && r.URL.Path == base+"/watch":
		ch := make(chan string, 1024)
		f.mu.Lock()
		first := len(f.streams) == 0
		f.streams = append(f.streams, ch)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "retry: 1000\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-ch:
				if first && f.dropped(ev) {
					continue
				}
				io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
		}
	case r.Method == http.MethodPut && r.URL.Path == base+"/configs/"+watchKey:
		var in struct {
			Type    string `json:"type"`
			Value   int    `json:"value"`
			Version int64  `json:"version"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Type != "number" {
			http.Error(w, `{"error":{"code":"invalid"}}`, http.StatusUnprocessableEntity)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if in.Version != f.version {
			http.Error(w, `{"error":{"code":"conflict"}}`, http.StatusConflict)
			return
		}
		f.version++
		f.value = in.Value
		f.seq++
		ev := fmt.Sprintf("event: change\nid: %d\ndata: {\"action\":\"set\",\"key\":%q,\"type\":\"number\",\"value\":%d,\"version\":%d,\"source_env\":%q}\n\n",
			f.seq, watchKey, in.Value, f.version, apiEnv)
		for _, ch := range f.streams {
			ch <- ev
		}
		fmt.Fprintf(w, `{"key":%q,"version":%d}`, watchKey, f.version)
	default:
		http.NotFound(w, r)
	}
}

// dropped reports whether ev sets a value listed in drop.
func (f *fakeConsumer) dropped(ev string) bool {
	for v := range f.drop {
		if strings.Contains(ev, fmt.Sprintf(`"value":%d,`, v)) {
			return true
		}
	}
	return false
}

func TestPropagationAndRead(t *testing.T) {
	tests := []struct {
		name       string
		drop       map[int]bool
		wantMissed int
	}{
		{"every change seen", nil, 0},
		{"two changes lost by one client", map[int]bool{3: true, 7: true}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeConsumer{drop: tt.drop}
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			ctx := context.Background()
			const clients, changes = 3, 10

			w := newConfigWriter(srv.URL, "writer", apiEnv)
			defer w.close()
			version, err := w.put(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			ws, err := startWatchers(srv.URL, "reader", apiEnv, clients, changes, logger)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.close()
			if err := ws.waitConnected(ctx, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			grace := 2 * time.Second
			if tt.wantMissed > 0 {
				grace = 300 * time.Millisecond
			}
			p, err := measurePropagation(ctx, ws, w, version, changes, time.Millisecond, grace)
			if err != nil {
				t.Fatal(err)
			}
			if p.puts != changes || p.putErrors != 0 {
				t.Errorf("puts %d, errors %d (%s), want %d and 0", p.puts, p.putErrors, p.putSample, changes)
			}
			if p.samples() != clients*changes || p.missed != tt.wantMissed || p.seen != clients*changes-tt.wantMissed {
				t.Errorf("samples %d, seen %d, missed %d; want %d, %d, %d",
					p.samples(), p.seen, p.missed, clients*changes, clients*changes-tt.wantMissed, tt.wantMissed)
			}
			if !(p.p50 > 0 && p.p50 <= p.p99 && p.p99 <= p.max) {
				t.Errorf("want 0 < p50 <= p99 <= max, got %v, %v, %v", p.p50, p.p99, p.max)
			}

			r, err := benchmarkString(ws.clients[0], seedKey(0), seedWrite(0).Value)
			if err != nil {
				t.Fatal(err)
			}
			if r.n == 0 || r.nsPerOp <= 0 {
				t.Errorf("read: %+v, want iterations and a time per op", r)
			}
			if _, err := benchmarkString(ws.clients[0], seedKey(0), "something else"); err == nil {
				t.Error("benchmarkString with the wrong value: no error")
			}
		})
	}
}

func TestConfigWriterConflict(t *testing.T) {
	srv := httptest.NewServer(&fakeConsumer{})
	t.Cleanup(srv.Close)
	w := newConfigWriter(srv.URL, "writer", apiEnv)
	defer w.close()
	if _, err := w.put(context.Background(), 1, 0); err != nil {
		t.Fatal(err)
	}
	_, err := w.put(context.Background(), 2, 0)
	if err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("stale version: %v, want the 409 reported", err)
	}
}
