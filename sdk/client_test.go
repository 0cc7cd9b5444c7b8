package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestNewValidatesArguments(t *testing.T) {
	tests := []struct {
		name, url, token, env string
	}{
		{"empty url", "", "t", "e"},
		{"no scheme", "keel.example.com", "t", "e"},
		{"bad scheme", "ftp://keel.example.com", "t", "e"},
		{"no host", "http://", "t", "e"},
		{"query", "http://keel.example.com/?x=1", "t", "e"},
		{"unparsable", "http://[::1", "t", "e"},
		{"empty token", "http://keel.example.com", "", "e"},
		{"empty env", "http://keel.example.com", "t", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.url, tt.token, tt.env)
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
		})
	}
	t.Run("urls", func(t *testing.T) {
		var d switchDialer // no network in a test
		d.down.Store(true)
		c, err := New("https://keel.example.com/prefix/", "t", "eu west", WithHTTPClient(d.client()), WithBackoff(time.Hour, time.Hour), WithLogger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if want := "https://keel.example.com/prefix/api/v1/envs/eu%20west/configs"; c.configsURL != want {
			t.Errorf("configs URL %s, want %s", c.configsURL, want)
		}
		if want := "https://keel.example.com/prefix/api/v1/envs/eu%20west/watch"; c.watchURL != want {
			t.Errorf("watch URL %s, want %s", c.watchURL, want)
		}
	})
}

func TestSnapshotLoad(t *testing.T) {
	f := newFake(t, "staging")
	f.set("db.host", TypeString, "db1")
	f.set("db.port", TypeNumber, 5432)
	f.set("feature.on", TypeBoolean, true)
	f.set("limits", TypeJSON, map[string]any{"rps": 100, "burst": []int{1, 2}})
	f.set("api.key", TypeSecret, "s3cr3t")
	f.put(wireEntry{Key: "other.key", Type: string(TypeSecret), Masked: true, SourceEnv: "staging"})
	f.set("http.timeout", TypeString, "250ms")
	f.set("retry.after", TypeNumber, 1.5)
	f.put(wireEntry{Key: "inherited", Type: string(TypeString), Value: json.RawMessage(`"base value"`), SourceEnv: "base"})

	c := newTestClient(t, f)
	waitReady(t, c)

	if got := c.String("db.host", "x"); got != "db1" {
		t.Errorf("String(db.host) = %q", got)
	}
	if got := c.Int("db.port", 0); got != 5432 {
		t.Errorf("Int(db.port) = %d", got)
	}
	if got := c.String("db.port", ""); got != "5432" {
		t.Errorf("String(db.port) = %q", got)
	}
	if !c.Bool("feature.on", false) {
		t.Error("Bool(feature.on) = false")
	}
	if got := c.String("api.key", ""); got != "s3cr3t" {
		t.Errorf("String(api.key) = %q", got)
	}
	if got := c.Duration("http.timeout", 0); got != 250*time.Millisecond {
		t.Errorf("Duration(http.timeout) = %v", got)
	}
	if got := c.Duration("retry.after", 0); got != 1500*time.Millisecond {
		t.Errorf("Duration(retry.after) = %v", got)
	}
	if got := c.Float("retry.after", 0); got != 1.5 {
		t.Errorf("Float(retry.after) = %v", got)
	}
	var limits struct {
		RPS   int   `json:"rps"`
		Burst []int `json:"burst"`
	}
	if err := c.JSON("limits", &limits); err != nil || limits.RPS != 100 || !slices.Equal(limits.Burst, []int{1, 2}) {
		t.Errorf("JSON(limits) = %+v, %v", limits, err)
	}
	if got := c.String("limits", ""); got != `{"burst":[1,2],"rps":100}` {
		t.Errorf("String(limits) = %q", got)
	}
	if got := c.String("missing", "def"); got != "def" {
		t.Errorf("String(missing) = %q", got)
	}

	// The masked secret reads as absent.
	if !c.Masked("other.key") || c.Masked("api.key") || c.Masked("missing") {
		t.Error("Masked is wrong")
	}
	if got := c.String("other.key", "def"); got != "def" {
		t.Errorf("String(masked) = %q", got)
	}
	if _, ok := c.Lookup("other.key"); ok {
		t.Error("Lookup(masked) found it")
	}
	if err := c.JSON("other.key", new(string)); !errors.Is(err, ErrNotFound) {
		t.Errorf("JSON(masked) = %v", err)
	}
	want := []string{"api.key", "db.host", "db.port", "feature.on", "http.timeout", "inherited", "limits", "retry.after"}
	if got := c.Keys(); !slices.Equal(got, want) {
		t.Errorf("Keys() = %v, want %v", got, want)
	}

	v, ok := c.Lookup("inherited")
	if !ok || v.Key != "inherited" || v.Type != TypeString || string(v.Raw) != `"base value"` || v.Version != 1 || v.SourceEnv != "base" {
		t.Errorf("Lookup(inherited) = %+v, %v", v, ok)
	}
	v.Raw[1] = 'X' // a caller's copy: the client's value is unchanged
	if got := c.String("inherited", ""); got != "base value" {
		t.Errorf("after changing a Lookup copy: %q", got)
	}
	if w, _ := c.Lookup("inherited"); string(w.Raw) != `"base value"` {
		t.Errorf("Lookup Raw shared with the client: %s", w.Raw)
	}

	eventually(t, "connected", func() bool { return c.Status().Connected })
	st := c.Status()
	if !st.Ready || st.Source != SourceKeel || st.LastEventID != f.position() || st.LastError != nil {
		t.Errorf("Status() = %+v, want ready from keel at %s", st, f.position())
	}
	f.with(func(f *fakeKeel) {
		for i, h := range f.authHeaders {
			if h != "Bearer tok-1" || f.userAgents[i] != userAgent {
				t.Errorf("request %d: Authorization %q, User-Agent %q", i, h, f.userAgents[i])
			}
		}
		if got := f.lastEventIDs; len(got) != 1 || got[0] != f.id(f.seq) {
			t.Errorf("watch Last-Event-ID %v, want the snapshot position %s", got, f.id(f.seq))
		}
	})
}

func TestLiveChange(t *testing.T) {
	f := newFake(t, "dev")
	f.set("db.host", TypeString, "db1")
	c := newTestClient(t, f)
	var seen []string
	var mu sync.Mutex
	c.OnChange(func(ch Change) {
		// The new value is readable by the time a callback runs.
		mu.Lock()
		seen = append(seen, c.String(ch.Key, "<absent>"))
		mu.Unlock()
	})
	rec := record(c)
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })

	f.set("db.host", TypeString, "db2")
	got := rec.wait(t, 1)
	if ch := got[0]; ch.Key != "db.host" || ch.Action != ActionSet || raw(ch.Old) != `"db1"` || raw(ch.New) != `"db2"` || ch.New.Version != 2 || ch.Old.Version != 1 {
		t.Errorf("change = %+v (old %s, new %s)", ch, raw(ch.Old), raw(ch.New))
	}
	if s := c.String("db.host", ""); s != "db2" {
		t.Errorf("String after change = %q", s)
	}

	f.set("new.key", TypeNumber, 7)
	f.del("db.host")
	got = rec.wait(t, 3)
	if ch := got[1]; ch.Key != "new.key" || ch.Action != ActionSet || ch.Old != nil || raw(ch.New) != "7" {
		t.Errorf("add = %+v", ch)
	}
	if ch := got[2]; ch.Key != "db.host" || ch.Action != ActionDelete || raw(ch.Old) != `"db2"` || ch.New != nil {
		t.Errorf("delete = %+v", ch)
	}
	if s := c.String("db.host", "gone"); s != "gone" {
		t.Errorf("String after delete = %q", s)
	}
	if got := c.Keys(); !slices.Equal(got, []string{"new.key"}) {
		t.Errorf("Keys() = %v", got)
	}
	mu.Lock()
	if want := []string{"db2", "7", "<absent>"}; !slices.Equal(seen, want) {
		t.Errorf("values read inside callbacks %v, want %v", seen, want)
	}
	mu.Unlock()
	eventually(t, "position", func() bool { return c.Status().LastEventID == f.position() })
	if fetches, _, watches := f.counts(); fetches != 1 || watches != 1 {
		t.Errorf("fetches %d, watches %d; want 1 and 1", fetches, watches)
	}
}

func TestReconnectReceivesEveryMissedChange(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		t.Run(fmt.Sprintf("crlf=%v", crlf), func(t *testing.T) {
			f := newFake(t, "prod")
			f.crlf = crlf
			f.set("counter", TypeNumber, 0)
			c := newTestClient(t, f)
			rec := record(c)
			waitReady(t, c)
			eventually(t, "connected", func() bool { return c.Status().Connected })
			before := c.Status().LastEventID

			f.setWatchDown(true)
			eventually(t, "disconnected", func() bool { return !c.Status().Connected })
			for i := 1; i <= 10; i++ {
				f.set("counter", TypeNumber, i)
			}
			time.Sleep(20 * time.Millisecond) // let a reconnection or two fail
			if n := len(rec.all()); n != 0 {
				t.Fatalf("%d changes while disconnected", n)
			}
			f.setWatchDown(false)

			got := rec.wait(t, 10)
			if len(got) != 10 {
				t.Fatalf("%d changes, want 10", len(got))
			}
			for i, ch := range got {
				if ch.Key != "counter" || raw(ch.Old) != strconv.Itoa(i) || raw(ch.New) != strconv.Itoa(i+1) {
					t.Errorf("change %d: %s → %s", i, raw(ch.Old), raw(ch.New))
				}
			}
			if n := c.Status().Events; n != 10 {
				t.Errorf("Status().Events = %d, want 10", n)
			}
			if n := c.Int("counter", -1); n != 10 {
				t.Errorf("counter = %d", n)
			}
			ids := f.lastEventIDsSeen()
			if ids[len(ids)-1] != before {
				t.Errorf("reconnected with Last-Event-ID %q, want %q (all: %v)", ids[len(ids)-1], before, ids)
			}
			for _, id := range ids {
				if id != before {
					t.Errorf("a watch request carried Last-Event-ID %q, want always %q", id, before)
				}
			}
			if fetches, _, _ := f.counts(); fetches != 1 {
				t.Errorf("%d snapshot fetches, want 1 (replay, not refetch)", fetches)
			}
			eventually(t, "position", func() bool { return c.Status().LastEventID == f.position() })
		})
	}
}

// A server may send, for each missed event, the key's state when it sends
// the event rather than when the change was made. The client then applies
// (and counts) every event, but reports only the one real change.
func TestReplayOfCurrentState(t *testing.T) {
	f := newFake(t, "prod")
	f.current = true
	f.set("counter", TypeNumber, 0)
	c := newTestClient(t, f)
	rec := record(c)
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })
	f.setWatchDown(true)
	eventually(t, "disconnected", func() bool { return !c.Status().Connected })
	for i := 1; i <= 10; i++ {
		f.set("counter", TypeNumber, i)
	}
	f.set("gone", TypeString, "x")
	f.del("gone")
	f.setWatchDown(false)
	eventually(t, "twelve events", func() bool { return c.Status().Events == 12 })
	got := rec.all()
	if len(got) != 1 || got[0].Key != "counter" || raw(got[0].Old) != "0" || raw(got[0].New) != "10" {
		t.Errorf("changes = %+v", got)
	}
	if c.Status().LastEventID != f.position() {
		t.Errorf("position %s, want %s", c.Status().LastEventID, f.position())
	}
}

func TestResetRefetchesAndReportsTheDifference(t *testing.T) {
	f := newFake(t, "prod")
	f.set("a", TypeNumber, 1)
	f.set("b", TypeNumber, 2)
	f.set("c", TypeNumber, 3)
	c := newTestClient(t, f)
	rec := record(c)
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })

	f.setWatchDown(true)
	eventually(t, "disconnected", func() bool { return !c.Status().Connected })
	f.set("a", TypeNumber, 10)
	f.del("b")
	f.set("d", TypeNumber, 4)
	f.set("a", TypeNumber, 11)
	f.trim() // the client's position is gone from the log
	f.setWatchDown(false)

	got := rec.wait(t, 3)
	want := []struct{ key, action, old, new string }{
		{"a", ActionSet, "1", "11"},
		{"b", ActionDelete, "2", "<nil>"},
		{"d", ActionSet, "<nil>", "4"},
	}
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if ch := got[i]; ch.Key != w.key || ch.Action != w.action || raw(ch.Old) != w.old || raw(ch.New) != w.new {
			t.Errorf("change %d = %s %s %s→%s, want %+v", i, ch.Action, ch.Key, raw(ch.Old), raw(ch.New), w)
		}
	}
	eventually(t, "reconnected at the new position", func() bool {
		st := c.Status()
		return st.Connected && st.LastEventID == f.position()
	})
	f.with(func(f *fakeKeel) {
		if f.fetches != 2 || f.ifNoneMatch[1] != `"r3"` {
			t.Errorf("fetches %d, If-None-Match %q; want a second, conditional fetch", f.fetches, f.ifNoneMatch)
		}
	})

	f.set("c", TypeNumber, 30) // the watch goes on after the reset
	got = rec.wait(t, 4)
	if ch := got[3]; ch.Key != "c" || raw(ch.New) != "30" {
		t.Errorf("change after reset = %+v", ch)
	}
}

func TestResetWithUnchangedValues(t *testing.T) {
	for _, noPosition := range []bool{false, true} {
		t.Run(fmt.Sprintf("noPosition=%v", noPosition), func(t *testing.T) {
			f := newFake(t, "prod")
			f.set("a", TypeString, "x")
			c := newTestClient(t, f)
			rec := record(c)
			waitReady(t, c)
			eventually(t, "connected", func() bool { return c.Status().Connected })

			f.setWatchDown(true)
			eventually(t, "disconnected", func() bool { return !c.Status().Connected })
			f.rebuild() // ids given out are unknown; values unchanged
			f.with(func(f *fakeKeel) { f.noPosition = noPosition })
			f.setWatchDown(false)

			eventually(t, "a 304", func() bool { _, nm, _ := f.counts(); return nm == 1 })
			wantID := f.position()
			if noPosition {
				wantID = "" // nothing better than live changes from now on
			}
			eventually(t, "reconnected", func() bool {
				st := c.Status()
				return st.Connected && st.LastEventID == wantID
			})
			if ids := f.lastEventIDsSeen(); noPosition && ids[len(ids)-1] != "-" {
				t.Errorf("watch after a 304 without position sent Last-Event-ID %q", ids[len(ids)-1])
			}
			if got := rec.all(); len(got) != 0 {
				t.Errorf("changes reported after a 304: %+v", got)
			}
			if got := c.String("a", ""); got != "x" {
				t.Errorf("value after a 304: %q", got)
			}
			f.set("a", TypeString, "y")
			if got := rec.wait(t, 1); raw(got[0].New) != `"y"` {
				t.Errorf("change after 304 = %+v", got[0])
			}
		})
	}
}

func TestBadEventRefetches(t *testing.T) {
	f := newFake(t, "dev")
	f.set("a", TypeString, "x")
	c := newTestClient(t, f)
	rec := record(c)
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })

	f.inject("change", "{not json")
	eventually(t, "refetch", func() bool { fetches, _, _ := f.counts(); return fetches == 2 })
	f.inject("change", `{"key":"a","action":"explode"}`)
	eventually(t, "refetch", func() bool { fetches, _, _ := f.counts(); return fetches == 3 })
	f.inject("heartbeat", `{}`) // an unknown event type is stepped over
	eventually(t, "position past the unknown event", func() bool { return c.Status().LastEventID == f.position() })
	f.set("a", TypeString, "y")
	if got := rec.wait(t, 1); raw(got[0].New) != `"y"` {
		t.Errorf("change = %+v", got[0])
	}
	if fetches, _, _ := f.counts(); fetches != 3 {
		t.Errorf("%d fetches, want 3", fetches)
	}
}

func TestMaskedSecretChanges(t *testing.T) {
	f := newFake(t, "prod")
	f.put(wireEntry{Key: "hidden", Type: string(TypeSecret), Masked: true})
	f.set("shown", TypeSecret, "one")
	c := newTestClient(t, f)
	rec := record(c)
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })

	f.put(wireEntry{Key: "hidden", Type: string(TypeSecret), Masked: true}) // a new version nobody here may read
	f.put(wireEntry{Key: "shown", Type: string(TypeSecret), Masked: true})  // now hidden from this token
	got := rec.wait(t, 1)
	eventually(t, "position", func() bool { return c.Status().LastEventID == f.position() })
	if got = rec.all(); len(got) != 1 || got[0].Key != "shown" || got[0].Action != ActionDelete || raw(got[0].Old) != `"one"` {
		t.Errorf("changes = %+v", got)
	}
	if !c.Masked("shown") || c.String("shown", "def") != "def" {
		t.Error("shown is not masked after the change")
	}
	if v, _ := c.Lookup("hidden"); v.Key != "" {
		t.Errorf("Lookup(hidden) = %+v", v)
	}
	if got := c.Keys(); len(got) != 0 {
		t.Errorf("Keys() = %v", got)
	}
}

func TestAuthFailureKeepsRetrying(t *testing.T) {
	f := newFake(t, "dev")
	f.set("a", TypeString, "x")
	f.token.Store("other")
	c := newTestClient(t, f, WithBackoff(time.Millisecond, 20*time.Millisecond))

	eventually(t, "three attempts", func() bool {
		n := 0
		f.with(func(f *fakeKeel) { n = len(f.authHeaders) })
		return n >= 3
	})
	if ids := f.lastEventIDsSeen(); len(ids) != 0 {
		t.Errorf("watched before any snapshot: %v", ids)
	}
	var ae *APIError
	if err := c.Status().LastError; !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "unauthorized" || ae.Message == "" {
		t.Fatalf("LastError = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady = %v, want a deadline", err)
	}
	if got := c.String("a", "def"); got != "def" {
		t.Errorf("String before ready = %q", got)
	}
	f.token.Store("tok-1") // the token is granted again
	waitReady(t, c)
	if got := c.String("a", ""); got != "x" {
		t.Errorf("String = %q", got)
	}
	eventually(t, "error cleared", func() bool { return c.Status().LastError == nil })
}

func TestWatchFailureSetsLastError(t *testing.T) {
	f := newFake(t, "dev")
	c := newTestClient(t, f)
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })
	f.setWatchDown(true)
	eventually(t, "a watch error", func() bool {
		var ae *APIError
		return errors.As(c.Status().LastError, &ae) && ae.Status == 503
	})
	f.setWatchDown(false)
	eventually(t, "reconnected", func() bool { st := c.Status(); return st.Connected && st.LastError == nil })
}

func TestIdleStreamReconnects(t *testing.T) {
	for _, hold := range []bool{false, true} {
		t.Run(fmt.Sprintf("hold headers=%v", hold), func(t *testing.T) {
			f := newFake(t, "dev")
			f.silent, f.hold = true, hold
			c := newTestClient(t, f, WithIdleTimeout(50*time.Millisecond))
			waitReady(t, c)
			if !hold {
				eventually(t, "connected", func() bool { return c.Status().Connected })
			}
			eventually(t, "reconnections", func() bool { _, _, watches := f.counts(); return watches >= 3 })
			eventually(t, "the idle error", func() bool { return errors.Is(c.Status().LastError, errIdle) })
		})
	}
}

func TestCallbacksPanicAndUnsubscribe(t *testing.T) {
	f := newFake(t, "dev")
	c := newTestClient(t, f)
	c.OnChange(func(Change) { panic("boom") })
	rec := record(c)
	var mu sync.Mutex
	var other []string
	stop := c.OnChange(func(ch Change) {
		mu.Lock()
		other = append(other, ch.Key)
		mu.Unlock()
	})
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })

	f.set("a", TypeString, "1")
	rec.wait(t, 1)
	stop()
	stop() // twice is harmless
	f.set("b", TypeString, "2")
	rec.wait(t, 2)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(other, []string{"a"}) {
		t.Errorf("unsubscribed callback saw %v", other)
	}
	defer func() {
		if recover() == nil {
			t.Error("OnChange(nil) did not panic")
		}
	}()
	c.OnChange(nil)
}

func TestCloseIsPrompt(t *testing.T) {
	t.Run("watching", func(t *testing.T) {
		f := newFake(t, "dev")
		c := newTestClient(t, f)
		waitReady(t, c)
		eventually(t, "connected", func() bool { return c.Status().Connected })
		start := time.Now()
		c.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v", d)
		}
		if c.Status().Connected {
			t.Error("still connected after Close")
		}
		if err := c.WaitReady(context.Background()); err != nil {
			t.Errorf("WaitReady after Close of a ready client = %v", err)
		}
	})
	t.Run("backing off", func(t *testing.T) {
		var d switchDialer
		d.down.Store(true)
		c, err := New("http://127.0.0.1:9", "t", "dev", WithHTTPClient(d.client()), WithBackoff(time.Hour, time.Hour), WithLogger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "a failure", func() bool { return c.Status().LastError != nil })
		start := time.Now()
		c.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v", d)
		}
		if err := c.WaitReady(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("WaitReady after Close = %v, want ErrClosed", err)
		}
		c.Close() // idempotent
	})
}

func TestConcurrentReadsDuringUpdates(t *testing.T) {
	f := newFake(t, "dev")
	f.set("n", TypeNumber, 0)
	f.set("s", TypeString, "v0")
	c := newTestClient(t, f)
	waitReady(t, c)
	eventually(t, "connected", func() bool { return c.Status().Connected })

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for ctx.Err() == nil {
				n := c.Int("n", -1)
				if n < last {
					t.Errorf("n went back from %d to %d", last, n)
					return
				}
				last = n
				_ = c.String("s", "")
				_ = c.Keys()
				_, _ = c.Lookup("s")
				_ = c.Status()
			}
		}()
	}
	const updates = 200
	for i := 1; i <= updates; i++ {
		f.set("n", TypeNumber, i)
		if i%10 == 0 {
			f.set(fmt.Sprintf("k%d", i), TypeString, "x")
		}
	}
	eventually(t, "all updates", func() bool { return c.Int("n", -1) == updates })
	cancel()
	wg.Wait()
	if got := len(c.Keys()); got != 2+updates/10 {
		t.Errorf("%d keys", got)
	}
}

func TestLastKnownGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keel-dev.json")
	f := newFake(t, "dev")
	f.set("db.host", TypeString, "db1")
	f.set("pool", TypeNumber, 4)
	f.put(wireEntry{Key: "hidden", Type: string(TypeSecret), Masked: true})

	// A client that reaches Keel saves the file after each change.
	a := newTestClient(t, f, WithLastKnownGood(path))
	waitReady(t, a)
	readFile := func() lkgFile {
		var lf lkgFile
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &lf)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return lf
	}
	eventually(t, "the file", func() bool { return len(readFile().Configs) == 3 })
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
	eventually(t, "connected", func() bool { return a.Status().Connected })
	f.set("pool", TypeNumber, 8)
	eventually(t, "the file to follow the change", func() bool {
		lf := readFile()
		return len(lf.Configs) == 3 && string(lf.Configs[2].Value) == "8" && lf.Position == f.position()
	})
	lf := readFile()
	// The ETag names the values fetched; once a change is applied it no
	// longer does, and is dropped.
	if lf.Format != 1 || lf.Env != "dev" || lf.ETag != "" || !lf.Configs[1].Masked {
		t.Errorf("file = %+v", lf)
	}
	a.Close()
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	t.Run("start from the file, then switch to Keel", func(t *testing.T) {
		var d switchDialer
		d.down.Store(true)
		b := newTestClient(t, f, WithLastKnownGood(path), WithHTTPClient(d.client()))
		rec := record(b)
		waitReady(t, b)
		st := b.Status()
		if st.Source != SourceFile || st.LastError == nil || st.Connected {
			t.Errorf("Status() = %+v, want the file and an error", st)
		}
		if b.String("db.host", "") != "db1" || b.Int("pool", 0) != 8 || !b.Masked("hidden") {
			t.Errorf("values from the file: %q %d %v", b.String("db.host", ""), b.Int("pool", 0), b.Masked("hidden"))
		}
		f.set("db.host", TypeString, "db2") // changed while b could not see Keel
		d.down.Store(false)
		eventually(t, "Keel", func() bool { st := b.Status(); return st.Source == SourceKeel && st.Connected })
		got := rec.wait(t, 1)
		if len(got) != 1 || got[0].Key != "db.host" || raw(got[0].Old) != `"db1"` || raw(got[0].New) != `"db2"` {
			t.Errorf("changes on switching = %+v", got)
		}
		eventually(t, "the file to be rewritten", func() bool { return readFile().ETag == `"r5"` })
	})

	t.Run("unchanged values: a 304", func(t *testing.T) {
		var d switchDialer
		d.down.Store(true)
		c := newTestClient(t, f, WithLastKnownGood(path), WithHTTPClient(d.client()))
		rec := record(c)
		waitReady(t, c)
		_, before, _ := f.counts()
		d.down.Store(false)
		eventually(t, "Keel", func() bool { st := c.Status(); return st.Source == SourceKeel && st.Connected })
		if _, after, _ := f.counts(); after != before+1 {
			t.Errorf("304 answers %d → %d, want one more", before, after)
		}
		if got := rec.all(); len(got) != 0 {
			t.Errorf("changes = %+v", got)
		}
		if c.String("db.host", "") != "db2" {
			t.Error("value lost")
		}
		f.set("pool", TypeNumber, 9)
		if got := rec.wait(t, 1); got[0].Key != "pool" {
			t.Errorf("change = %+v", got[0])
		}
	})
}

func TestLastKnownGoodUnusable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct{ name, path string }{
		{"missing", filepath.Join(dir, "none.json")},
		{"corrupt", write("corrupt.json", "{")},
		{"other environment", write("other.json", `{"format":1,"env":"prod","configs":[]}`)},
		{"other format", write("format.json", `{"format":2,"env":"dev","configs":[]}`)},
		{"bad entry", write("entry.json", `{"format":1,"env":"dev","configs":[{"key":""}]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d switchDialer
			d.down.Store(true)
			c, err := New("http://127.0.0.1:9", "t", "dev", WithLastKnownGood(tt.path), WithHTTPClient(d.client()), WithBackoff(time.Millisecond, 10*time.Millisecond), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if err := c.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitReady = %v, want a deadline", err)
			}
			if st := c.Status(); st.Ready || st.Source != "" {
				t.Errorf("Status() = %+v", st)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	c := &Client{minBackoff: 100 * time.Millisecond, maxBackoff: 10 * time.Second}
	for attempt := range 40 {
		ceiling := min(c.maxBackoff, c.minBackoff<<min(attempt, 20))
		for range 50 {
			if d := c.delay(attempt, nil); d < 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", attempt, d, ceiling)
			}
		}
	}
	for range 50 {
		if d := c.delay(0, &APIError{Status: 403}); d < c.maxBackoff/2 || d > c.maxBackoff {
			t.Fatalf("403: delay %v outside [max/2, max]", d)
		}
		if d := c.delay(0, &APIError{Status: 503}); d > c.minBackoff {
			t.Fatalf("503 on the first attempt: delay %v", d)
		}
	}
	c.serverRetry = 2 * time.Second // the stream's retry raises the base
	var high bool
	for range 200 {
		d := c.delay(0, nil)
		if d > 2*time.Second {
			t.Fatalf("delay %v above the stream's retry", d)
		}
		high = high || d > c.minBackoff
	}
	if !high {
		t.Error("the stream's retry did not raise the delay")
	}
}
