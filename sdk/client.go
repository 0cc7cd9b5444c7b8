package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sources of the configuration a client holds.
const (
	SourceKeel = "keel" // fetched from Keel and kept current by the watch
	SourceFile = "file" // read from the last-known-good file; Keel not reached yet
)

var (
	// ErrNotFound is returned by JSON for a key that is absent or masked.
	ErrNotFound = errors.New("keel: config not found")
	// ErrClosed is returned by WaitReady once the client is closed.
	ErrClosed = errors.New("keel: client closed")
)

// Client holds one environment's configuration in memory and keeps it
// current. Its methods are safe for concurrent use.
type Client struct {
	env        string
	token      string
	configsURL string
	watchURL   string

	hc           *http.Client
	log          *slog.Logger
	lkgPath      string
	minBackoff   time.Duration
	maxBackoff   time.Duration
	fetchTimeout time.Duration
	idleTimeout  time.Duration

	snap   atomic.Pointer[snapshot]
	events atomic.Uint64 // change events applied

	subMu   sync.Mutex
	subs    []subscriber
	nextSub uint64

	statMu    sync.Mutex
	connected bool
	lastErr   error

	ready     chan struct{}
	readyOnce sync.Once
	dirty     chan struct{} // a new snapshot to save to the last-known-good file

	cancel      context.CancelFunc
	closeOnce   sync.Once
	closed      chan struct{}
	runDone     chan struct{}
	stopWriter  chan struct{}
	writerDone  chan struct{}
	serverRetry time.Duration // the stream's retry field; run goroutine only
	loaded      bool          // a snapshot has been installed; run goroutine only
}

type subscriber struct {
	id uint64
	fn func(Change)
}

// New returns a client for environment env of the Keel at baseURL,
// authenticating with token. It does no I/O itself: a background goroutine
// fetches the configuration and then follows the watch stream, reconnecting
// as needed. Until the first snapshot is loaded the getters return their
// defaults; use WaitReady to wait for it. Close the client when done.
func New(baseURL, token, env string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("keel: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("keel: base URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("keel: base URL %q: must not carry a query or fragment", baseURL)
	}
	if token == "" {
		return nil, errors.New("keel: token is empty")
	}
	if env == "" {
		return nil, errors.New("keel: environment is empty")
	}
	envPath := "/api/v1/envs/" + url.PathEscape(env)
	c := &Client{
		env:          env,
		token:        token,
		configsURL:   joinURL(u.String(), envPath+"/configs"),
		watchURL:     joinURL(u.String(), envPath+"/watch"),
		hc:           &http.Client{},
		log:          slog.Default(),
		minBackoff:   DefaultMinBackoff,
		maxBackoff:   DefaultMaxBackoff,
		fetchTimeout: DefaultFetchTimeout,
		idleTimeout:  DefaultIdleTimeout,
		ready:        make(chan struct{}),
		dirty:        make(chan struct{}, 1),
		closed:       make(chan struct{}),
		runDone:      make(chan struct{}),
		stopWriter:   make(chan struct{}),
		writerDone:   make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	c.log = c.log.With("keel_env", env)
	c.snap.Store(emptySnapshot)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	go c.writeLoop()
	return c, nil
}

// WaitReady returns nil once the client holds a configuration, from Keel
// or from the last-known-good file; ctx's error if ctx ends first; or
// ErrClosed if the client is closed first.
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	default:
	}
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return ErrClosed
	}
}

// Close stops the client and waits for its goroutines, saving the
// last-known-good file a final time if a change is pending. The values
// already loaded stay readable. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		<-c.runDone
		close(c.stopWriter)
		<-c.writerDone
	})
	return nil
}

// get returns the entry for key, or nil. No lock, no allocation.
func (c *Client) get(key string) *entry {
	return c.snap.Load().entries[key]
}

// String returns the value of key as text: strings and secrets as they are,
// numbers and booleans as written (5432, true), json documents compact. It
// returns def when the key is absent or masked.
func (c *Client) String(key, def string) string {
	if e := c.get(key); e != nil && e.okStr {
		return e.str
	}
	return def
}

// Int returns the value of key as an int: a number with no fractional part,
// or a string holding one ("42"). Otherwise, or when absent, it returns def.
func (c *Client) Int(key string, def int) int {
	if e := c.get(key); e != nil && e.okInt {
		return e.integer
	}
	return def
}

// Float returns the value of key as a float64: a number, or a string
// holding one ("1.5"). Otherwise, or when absent, it returns def.
func (c *Client) Float(key string, def float64) float64 {
	if e := c.get(key); e != nil && e.okNum {
		return e.num
	}
	return def
}

// Bool returns the value of key as a bool: a boolean, or a string that
// strconv.ParseBool accepts ("true", "false", "1", "0", ...). Otherwise, or
// when absent, it returns def.
func (c *Client) Bool(key string, def bool) bool {
	if e := c.get(key); e != nil && e.okBool {
		return e.boolean
	}
	return def
}

// Duration returns the value of key as a time.Duration: a string that
// time.ParseDuration accepts ("250ms", "1h30m"), or a number of seconds
// (a number value, or a string holding one). Otherwise, or when absent, it
// returns def.
func (c *Client) Duration(key string, def time.Duration) time.Duration {
	if e := c.get(key); e != nil && e.okDur {
		return e.dur
	}
	return def
}

// JSON decodes the value of key into v with encoding/json: a json document
// into a struct, map or slice; any other value into a matching Go type. It
// returns ErrNotFound when the key is absent or masked.
func (c *Client) JSON(key string, v any) error {
	e := c.get(key)
	if !visible(e) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err := json.Unmarshal(e.raw, v); err != nil {
		return fmt.Errorf("keel: config %s: %w", key, err)
	}
	return nil
}

// Lookup returns the value of key and true, or false when it is absent or
// masked.
func (c *Client) Lookup(key string) (Value, bool) {
	v := c.get(key).value()
	if v == nil {
		return Value{}, false
	}
	return *v, true
}

// Keys returns the keys that have a readable value, sorted. Masked secrets
// are not listed.
func (c *Client) Keys() []string {
	return slices.Clone(c.snap.Load().keys)
}

// Masked reports whether key is a secret that the token may not read.
func (c *Client) Masked(key string) bool {
	e := c.get(key)
	return e != nil && e.masked
}

// OnChange registers fn to be called for each key whose value changes: by
// a change on the watch stream, or when a fresh snapshot (after a reset, or
// on switching from the last-known-good file to Keel) differs from the one
// held. It is not called for the first configuration loaded. Calls come one
// at a time, in order, from the client's goroutine, after the new value is
// readable through the getters; a callback that blocks holds up every
// further update (and Close), so hand slow work to another goroutine, and
// never call Close from a callback. A panicking callback is logged and
// skipped. The returned function removes the callback.
func (c *Client) OnChange(fn func(Change)) (unsubscribe func()) {
	if fn == nil {
		panic("keel: OnChange with a nil callback")
	}
	c.subMu.Lock()
	c.nextSub++
	id := c.nextSub
	c.subs = append(slices.Clip(c.subs), subscriber{id: id, fn: fn})
	c.subMu.Unlock()
	return func() {
		c.subMu.Lock()
		defer c.subMu.Unlock()
		c.subs = slices.DeleteFunc(slices.Clone(c.subs), func(s subscriber) bool { return s.id == id })
	}
}

// notify passes changes to the callbacks.
func (c *Client) notify(changes []Change) {
	if len(changes) == 0 {
		return
	}
	c.subMu.Lock()
	subs := c.subs
	c.subMu.Unlock()
	for _, ch := range changes {
		for _, s := range subs {
			c.call(s.fn, ch)
		}
	}
}

func (c *Client) call(fn func(Change), ch Change) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("keel: OnChange callback panicked", "key", ch.Key, "panic", r)
		}
	}()
	fn(ch)
}

// Status describes the client's connection to Keel.
type Status struct {
	Ready       bool   // a configuration is loaded
	Connected   bool   // the watch stream is open
	Source      string // SourceKeel, SourceFile, or "" before the first load
	LastEventID string // the watch position: the last change applied
	// Events counts the change events applied since New, replays included
	// (an event that leaves a value as it was is counted, though no
	// OnChange call follows).
	Events uint64
	// LastError is the latest failure to reach Keel; nil once a request
	// succeeds again.
	LastError error
}

// Status returns the client's current state.
func (c *Client) Status() Status {
	s := c.snap.Load()
	c.statMu.Lock()
	defer c.statMu.Unlock()
	return Status{
		Ready:       s.source != "",
		Connected:   c.connected,
		Source:      s.source,
		LastEventID: s.position,
		Events:      c.events.Load(),
		LastError:   c.lastErr,
	}
}

func (c *Client) setConnected(v bool) {
	c.statMu.Lock()
	c.connected = v
	if v {
		c.lastErr = nil
	}
	c.statMu.Unlock()
}

func (c *Client) setError(err error) {
	c.statMu.Lock()
	c.lastErr = err
	c.statMu.Unlock()
}
