package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeKeel implements Keel's consumer API for one environment: a snapshot
// with ETag and watch position, and a watch stream over a log of change
// events that replays after Last-Event-ID and answers reset to an id it no
// longer knows.
type fakeKeel struct {
	t     *testing.T
	env   string
	srv   *httptest.Server
	token atomic.Value // string

	mu      sync.Mutex
	entries map[string]wireEntry
	log     []fakeEvent // retained change events, oldest first
	seq     int         // sequence number of the latest event
	first   int         // sequence number of the oldest retained event
	epoch   int         // ids of another epoch are unknown (a stream rebuilt)
	rev     int         // bumps on every change: the ETag
	wake    chan struct{}
	kick    chan struct{}

	watchDown  bool // watch answers 503
	fetchDown  bool // configs answers 503
	noPosition bool // configs omits Keel-Watch-Position
	silent     bool // watch sends nothing of its own (no greeting)
	hold       bool // watch holds back its response headers until it writes
	crlf       bool // watch ends lines with CRLF
	current    bool // change events carry the key's state when sent, not when made

	fetches      int
	notModified  int
	ifNoneMatch  []string
	watches      int
	lastEventIDs []string // Last-Event-ID of each watch request ("-" when absent)
	authHeaders  []string
	userAgents   []string
}

type fakeEvent struct {
	key   string
	seq   int
	id    string
	event string
	data  string
}

func newFake(t *testing.T, env string) *fakeKeel {
	t.Helper()
	f := &fakeKeel{
		t:       t,
		env:     env,
		entries: map[string]wireEntry{},
		first:   1,
		wake:    make(chan struct{}),
		kick:    make(chan struct{}),
	}
	f.token.Store("tok-1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/envs/{env}/configs", f.configs)
	mux.HandleFunc("GET /api/v1/envs/{env}/watch", f.watch)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.drop()
		f.srv.Close()
	})
	return f
}

func (f *fakeKeel) URL() string { return f.srv.URL }

func (f *fakeKeel) id(seq int) string { return fmt.Sprintf("%d-%d", seq, f.epoch) }

// position is the id a snapshot taken now is current at.
func (f *fakeKeel) position() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id(f.seq)
}

// set stores a value (JSON-encoding v) and logs its change event.
func (f *fakeKeel) set(key string, typ Type, v any) {
	f.t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	f.put(wireEntry{Key: key, Type: string(typ), Value: raw, SourceEnv: f.env})
}

// put stores w (its version bumped) and logs its change event.
func (f *fakeKeel) put(w wireEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Version = f.entries[w.Key].Version + 1
	if w.Masked {
		w.Value = json.RawMessage("null")
	}
	f.entries[w.Key] = w
	data, err := json.MarshalIndent(wireEvent{wireEntry: w, Action: ActionSet}, "", "  ")
	if err != nil {
		f.t.Error(err)
		return
	}
	f.appendLocked(w.Key, "change", string(data))
}

func (f *fakeKeel) del(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.entries[key]
	if !ok {
		f.t.Errorf("fake: delete of absent %s", key)
		return
	}
	delete(f.entries, key)
	data := fmt.Sprintf(`{"key":%q,"action":"delete","version":%d}`, key, w.Version+1)
	f.appendLocked(key, "change", data)
}

// inject logs an arbitrary event without touching the values.
func (f *fakeKeel) inject(event, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.log = append(f.log, fakeEvent{seq: f.seq, id: f.id(f.seq), event: event, data: data})
	f.broadcastLocked()
}

func (f *fakeKeel) appendLocked(key, event, data string) {
	f.rev++
	f.seq++
	f.log = append(f.log, fakeEvent{key: key, seq: f.seq, id: f.id(f.seq), event: event, data: data})
	f.broadcastLocked()
}

func (f *fakeKeel) broadcastLocked() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// trim forgets every logged event: ids older than the latest are unknown.
func (f *fakeKeel) trim() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = nil
	f.first = f.seq + 1
}

// rebuild starts a new stream epoch: every id given out so far is unknown,
// while the values (and so the ETag) stay as they are.
func (f *fakeKeel) rebuild() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch++
	f.log = nil
	f.first = f.seq + 1
}

// drop closes every open watch stream.
func (f *fakeKeel) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.kick)
	f.kick = make(chan struct{})
}

func (f *fakeKeel) setWatchDown(v bool) {
	f.mu.Lock()
	f.watchDown = v
	f.mu.Unlock()
	if v {
		f.drop()
	}
}

func (f *fakeKeel) with(fn func(f *fakeKeel)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeKeel) counts() (fetches, notModified, watches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches, f.notModified, f.watches
}

func (f *fakeKeel) lastEventIDsSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lastEventIDs)
}

func fakeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}

// authorized answers 401/404 itself and reports whether to go on.
func (f *fakeKeel) authorized(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	f.authHeaders = append(f.authHeaders, r.Header.Get("Authorization"))
	f.userAgents = append(f.userAgents, r.Header.Get("User-Agent"))
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+f.token.Load().(string) {
		fakeError(w, http.StatusUnauthorized, "unauthorized", "invalid or missing token")
		return false
	}
	if r.PathValue("env") != f.env {
		fakeError(w, http.StatusNotFound, "not_found", "no such environment")
		return false
	}
	return true
}

func (f *fakeKeel) configs(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	f.mu.Lock()
	f.fetches++
	f.ifNoneMatch = append(f.ifNoneMatch, r.Header.Get("If-None-Match"))
	if f.fetchDown {
		f.mu.Unlock()
		fakeError(w, http.StatusServiceUnavailable, "unavailable", "storage unavailable")
		return
	}
	etag := fmt.Sprintf(`"r%d"`, f.rev)
	list := make([]wireEntry, 0, len(f.entries))
	for _, e := range f.entries {
		list = append(list, e)
	}
	pos, noPos := f.id(f.seq), f.noPosition
	notModified := r.Header.Get("If-None-Match") == etag
	if notModified {
		f.notModified++
	}
	f.mu.Unlock()

	w.Header().Set("ETag", etag)
	if !noPos {
		w.Header().Set(headerPosition, pos)
	}
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	slices.SortFunc(list, func(a, b wireEntry) int { return strings.Compare(a.Key, b.Key) })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"configs": list})
}

// cursor turns a Last-Event-ID into the sequence number to replay after;
// ok is false for an id the log cannot replay from.
func (f *fakeKeel) cursorLocked(lastID string) (int, bool) {
	if lastID == "" {
		return f.seq, true
	}
	var seq, epoch int
	if _, err := fmt.Sscanf(lastID, "%d-%d", &seq, &epoch); err != nil || f.id(seq) != lastID {
		return 0, false
	}
	if epoch != f.epoch || seq < f.first-1 || seq > f.seq {
		return 0, false
	}
	return seq, true
}

func (f *fakeKeel) watch(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	lastID, has := r.Header[http.CanonicalHeaderKey(headerLastEventID)]
	f.mu.Lock()
	f.watches++
	if has {
		f.lastEventIDs = append(f.lastEventIDs, lastID[0])
	} else {
		f.lastEventIDs = append(f.lastEventIDs, "-")
	}
	down, silent, hold, crlf := f.watchDown, f.silent, f.hold, f.crlf
	cursor, ok := f.cursorLocked(r.Header.Get(headerLastEventID))
	kick := f.kick
	f.mu.Unlock()
	if down {
		fakeError(w, http.StatusServiceUnavailable, "unavailable", "watch unavailable")
		return
	}
	if r.Header.Get("Accept") != "text/event-stream" {
		fakeError(w, http.StatusNotAcceptable, "not_acceptable", "want text/event-stream")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	if !hold {
		fl.Flush()
	}
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	write := func(s string) bool {
		if _, err := io.WriteString(w, strings.ReplaceAll(s, "\n", nl)); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !ok {
		write("event: reset\ndata: {}\n\n")
		return
	}
	if !silent && !write("retry: 5\n: connected\n\n") {
		return
	}
	for {
		f.mu.Lock()
		var batch []fakeEvent
		for _, ev := range f.log {
			if ev.seq <= cursor {
				continue
			}
			if f.current && ev.key != "" {
				ev.data = fmt.Sprintf(`{"key":%q,"action":"delete"}`, ev.key)
				if w, ok := f.entries[ev.key]; ok {
					b, _ := json.Marshal(wireEvent{wireEntry: w, Action: ActionSet})
					ev.data = string(b)
				}
			}
			batch = append(batch, ev)
		}
		wake := f.wake
		f.mu.Unlock()
		var b strings.Builder
		for _, ev := range batch {
			fmt.Fprintf(&b, "event: %s\nid: %s\n", ev.event, ev.id)
			for _, line := range strings.Split(ev.data, "\n") {
				fmt.Fprintf(&b, "data: %s\n", line)
			}
			b.WriteString("\n")
			cursor = ev.seq
		}
		if b.Len() > 0 && !write(b.String()) {
			return
		}
		select {
		case <-wake:
		case <-kick:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// switchDialer fails every connection while down, as when Keel is not
// running.
type switchDialer struct {
	down atomic.Bool
	d    net.Dialer
}

func (s *switchDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.down.Load() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	return s.d.DialContext(ctx, network, addr)
}

func (s *switchDialer) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: s.DialContext, DisableKeepAlives: true}}
}

// testLogger sends the client's log to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTestClient starts a client against f with quick backoff; it closes
// with the test.
func newTestClient(t *testing.T, f *fakeKeel, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithBackoff(5*time.Millisecond, 40*time.Millisecond), WithFetchTimeout(2 * time.Second), WithLogger(testLogger(t))}
	c, err := New(f.URL(), "tok-1", f.env, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitReady(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v (status %+v)", err, c.Status())
	}
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder collects the changes a client reports.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func record(c *Client) *recorder {
	r := &recorder{}
	c.OnChange(func(ch Change) {
		r.mu.Lock()
		r.changes = append(r.changes, ch)
		r.mu.Unlock()
	})
	return r
}

func (r *recorder) all() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

func (r *recorder) wait(t *testing.T, n int) []Change {
	t.Helper()
	eventually(t, fmt.Sprintf("%d changes", n), func() bool { return len(r.all()) >= n })
	return r.all()
}

func raw(v *Value) string {
	if v == nil {
		return "<nil>"
	}
	return string(v.Raw)
}
