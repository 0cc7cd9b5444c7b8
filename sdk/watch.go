package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

var (
	errIdle  = errors.New("keel: watch stream silent too long")
	errEnded = errors.New("keel: watch stream ended")
)

// healthyAfter is how long a watch connection must last, when it delivers
// nothing, to count as having worked (which resets the backoff).
const healthyAfter = time.Second

// run is the client's goroutine: load a configuration, then follow the
// watch stream until the client closes.
func (c *Client) run(ctx context.Context) {
	defer close(c.runDone)
	if c.initial(ctx) {
		c.follow(ctx)
	}
}

// initial fetches the first snapshot from Keel, retrying with backoff; when
// the first attempt fails it falls back to the last-known-good file, and
// keeps trying Keel. It returns false when the client closes first.
func (c *Client) initial(ctx context.Context) bool {
	triedFile := false
	for attempt := 0; ; attempt++ {
		err := c.refetch(ctx, false)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.setError(err)
		if !triedFile && c.lkgPath != "" {
			triedFile = true
			if ferr := c.loadFile(); ferr != nil {
				c.log.Warn("keel: cannot use the last-known-good file", "path", c.lkgPath, "err", ferr)
			} else {
				c.log.Warn("keel: Keel unreachable; serving the last-known-good file", "path", c.lkgPath, "err", err)
			}
		}
		d := c.delay(attempt, err)
		c.log.Warn("keel: cannot fetch configuration", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return false
		}
	}
}

// follow keeps the watch stream open, reconnecting from the last event
// applied, and refetches the snapshot when the stream asks for it.
func (c *Client) follow(ctx context.Context) {
	attempt, resets := 0, 0
	for {
		res := c.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if res.healthy {
			attempt = 0
		}
		if res.applied > 0 {
			resets = 0
		}
		if res.refetch {
			// A second reset with no change applied in between is paced
			// like a failure, so a confused server is not hammered.
			if resets > 0 {
				if !sleep(ctx, c.delay(attempt, nil)) {
					return
				}
				attempt++
			}
			resets++
			if !c.refetchRetrying(ctx, &attempt) {
				return
			}
			continue
		}
		d := c.delay(attempt, res.err)
		attempt++
		if errors.Is(res.err, errEnded) {
			c.log.Debug("keel: watch stream ended; reconnecting", "retry_in", d)
		} else {
			c.setError(res.err)
			c.log.Warn("keel: watch failed; reconnecting", "err", res.err, "retry_in", d)
		}
		if !sleep(ctx, d) {
			return
		}
	}
}

// refetchRetrying refetches the snapshot after a reset until it succeeds.
func (c *Client) refetchRetrying(ctx context.Context, attempt *int) bool {
	for {
		err := c.refetch(ctx, true)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.setError(err)
		d := c.delay(*attempt, err)
		*attempt++
		c.log.Warn("keel: cannot refetch configuration", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return false
		}
	}
}

// refetch fetches the snapshot (conditionally, once one is loaded) and
// installs it. afterReset says the watch position held is unknown to the
// server: a 304 that names no new position then watches live changes only.
func (c *Client) refetch(ctx context.Context, afterReset bool) error {
	cur := c.snap.Load()
	etag := ""
	if c.loaded {
		etag = cur.etag
	}
	f, err := c.fetch(ctx, etag)
	if err != nil {
		return err
	}
	c.setError(nil)
	if cur.source == SourceFile {
		c.log.Info("keel: reached Keel; leaving the last-known-good file")
	}
	if f.notModified {
		pos := cur.position
		switch {
		case f.hasPosition:
			pos = f.position
		case afterReset:
			pos = ""
		}
		next := cur.at(pos)
		next.source = SourceKeel
		c.install(next)
		return nil
	}
	next, err := newSnapshot(f.configs, f.etag, f.position, SourceKeel)
	if err != nil {
		return fmt.Errorf("keel: reading configs: %w", err)
	}
	c.install(next)
	return nil
}

// install makes next the client's snapshot and reports what changed (not
// for the first one).
func (c *Client) install(next *snapshot) {
	old := c.snap.Load()
	c.snap.Store(next)
	first := !c.loaded
	c.loaded = true
	c.readyOnce.Do(func() { close(c.ready) })
	c.markDirty()
	if !first {
		c.notify(diff(old, next))
	}
}

// watchResult is how one watch connection ended.
type watchResult struct {
	healthy bool  // the connection worked for a while
	applied int   // change events applied
	refetch bool  // the snapshot must be fetched again before watching
	err     error // why it ended otherwise
}

// watch follows one watch connection until it ends.
func (c *Client) watch(ctx context.Context) (res watchResult) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The idle timer covers the wait for the response headers too: a
	// server or proxy that holds them back is as dead as a silent stream.
	var idle atomic.Bool
	timer := time.AfterFunc(c.idleTimeout, func() {
		idle.Store(true)
		cancel()
	})
	defer timer.Stop()
	pos := c.snap.Load().position
	resp, err := c.openWatch(ctx, pos)
	if err != nil {
		if idle.Load() {
			err = errIdle
		}
		res.err = err
		return res
	}
	defer resp.Body.Close()
	c.setConnected(true)
	defer c.setConnected(false)

	start := time.Now()
	timer.Reset(c.idleTimeout)
	lines := 0
	p := newSSEParser(resp.Body, pos)
	p.OnLine = func() {
		lines++
		timer.Reset(c.idleTimeout)
	}
	defer func() {
		res.healthy = lines > 0 || time.Since(start) >= healthyAfter
		if p.Retry > 0 {
			c.serverRetry = p.Retry
		}
	}()
	for {
		ev, err := p.Next()
		if err != nil {
			switch {
			case idle.Load():
				err = errIdle
			case errors.Is(err, io.EOF):
				err = errEnded
			}
			res.err = err
			return res
		}
		switch ev.Type {
		case "change":
			if err := c.apply(ev); err != nil {
				c.log.Warn("keel: bad change event; refetching the configuration", "err", err)
				res.refetch = true
				return res
			}
			res.applied++
		case "reset":
			c.log.Info("keel: watch position unknown to Keel; refetching the configuration", "last_event_id", ev.ID)
			res.refetch = true
			return res
		default:
			// An event this client does not know: step over it.
			c.advance(ev.ID)
		}
	}
}

// apply applies one change event, then moves the watch position to its id.
func (c *Client) apply(ev sseEvent) error {
	var w wireEvent
	if err := json.Unmarshal([]byte(ev.Data), &w); err != nil {
		return fmt.Errorf("change %q: %w", ev.ID, err)
	}
	if w.Key == "" {
		return fmt.Errorf("change %q: no key", ev.ID)
	}
	var e *entry
	switch w.Action {
	case ActionSet:
		var err error
		if e, err = newEntry(w.wireEntry); err != nil {
			return fmt.Errorf("change %q: %w", ev.ID, err)
		}
	case ActionDelete:
	default:
		return fmt.Errorf("change %q: unknown action %q", ev.ID, w.Action)
	}
	c.events.Add(1)
	cur := c.snap.Load()
	old := cur.entries[w.Key]
	if same(old, e) {
		c.advance(ev.ID)
		return nil
	}
	c.snap.Store(cur.with(w.Key, e, ev.ID))
	c.markDirty()
	if ch, ok := change(w.Key, old, e); ok {
		c.notify([]Change{ch})
	}
	return nil
}

// advance moves the watch position without changing any value.
func (c *Client) advance(id string) {
	cur := c.snap.Load()
	if cur.position == id {
		return
	}
	c.snap.Store(cur.at(id))
	c.markDirty()
}

// delay is how long to wait before attempt number attempt (0 first) after
// err: full jitter under a ceiling that doubles from the minimum (or the
// stream's retry hint, when larger) up to the maximum. An error retrying
// will not fix soon waits between max/2 and max.
func (c *Client) delay(attempt int, err error) time.Duration {
	hi := c.maxBackoff
	if permanent(err) {
		return hi/2 + rand.N(hi/2+1)
	}
	base := c.minBackoff
	if c.serverRetry > base {
		base = min(c.serverRetry, hi)
	}
	ceiling := hi
	if attempt < 32 {
		if d := base << attempt; d > 0 && d < hi {
			ceiling = d
		}
	}
	return rand.N(ceiling + 1)
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
