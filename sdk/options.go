package sdk

import (
	"log/slog"
	"net/http"
	"time"
)

// Option configures a Client.
type Option func(*Client)

// Defaults.
const (
	DefaultFetchTimeout = 5 * time.Second
	DefaultMinBackoff   = 200 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	lkgDebounce         = time.Second
)

// WithHTTPClient sets the HTTP client for both the snapshot and the watch
// stream. The watch is a long-lived request, so hc should have no overall
// Timeout (a Timeout cuts the stream, which then reconnects); the snapshot
// request is bounded by WithFetchTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithLastKnownGood keeps a copy of the configuration in the file at path,
// so that an application can start while Keel is unreachable. The file is
// rewritten atomically (temporary file and rename, mode 0600) about a second
// after each change, and when the client closes. It is read only when the
// first snapshot request fails; the client keeps trying Keel and switches
// to it as soon as it answers. The file holds the values the token can
// read, secrets included, in clear: keep it where only the application can
// read it.
func WithLastKnownGood(path string) Option {
	return func(c *Client) { c.lkgPath = path }
}

// WithBackoff sets the range of the delay between reconnection attempts
// (default 200ms to 30s). The delay is drawn at random between zero and a
// ceiling that starts at minDelay and doubles with each failure up to
// maxDelay ("full jitter"); a connection that worked resets it. An answer
// that retrying will not fix (401, 403, 404) waits between maxDelay/2 and
// maxDelay. A retry field on the watch stream, when larger than minDelay,
// takes its place as the starting ceiling.
func WithBackoff(minDelay, maxDelay time.Duration) Option {
	return func(c *Client) {
		if minDelay > 0 {
			c.minBackoff = minDelay
		}
		if maxDelay > 0 {
			c.maxBackoff = maxDelay
		}
		if c.maxBackoff < c.minBackoff {
			c.maxBackoff = c.minBackoff
		}
	}
}

// WithLogger sets where the client reports connection trouble (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithFetchTimeout bounds each snapshot request (default 5s).
func WithFetchTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.fetchTimeout = d
		}
	}
}

// WithIdleTimeout sets how long the watch stream may stay silent before the
// client assumes the connection is dead and reconnects (default 60s; Keel
// sends a ping comment every 15 to 20 seconds).
func WithIdleTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.idleTimeout = d
		}
	}
}
