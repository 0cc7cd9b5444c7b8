// Package store is Keel's Redis persistence. Every key is built in keys.go;
// every change that spans several keys is one MULTI/EXEC (with WATCH where it
// reads first) or one Lua script, and writes its audit entry in that same
// step. Keys that change together share a hash tag so each atomic step stays
// inside one Redis Cluster slot.
package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is the Redis-backed persistence for every Keel entity.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the key prefix (default "keel:"). Tests give each case its
// own prefix so they can share one redis-server.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithNow replaces the clock, for tests.
func WithNow(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store over any go-redis client: single node, Sentinel
// failover or Cluster.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: "keel:", now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Client returns the underlying Redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return wrap(s.rdb.Ping(ctx).Err())
}

// Actor says who makes a change and from where; it fills the audit entry
// written with the change.
type Actor struct {
	Name      string // user name, "token:<name>", or "system"
	Role      string
	IP        string
	UserAgent string
	RequestID string
}

// System is the actor for changes Keel makes by itself (first run, sweepers).
var System = Actor{Name: "system", Role: "system"}

// wrap maps go-redis errors onto the store's error vocabulary: redis.Nil
// becomes ErrNotFound, connection failures wrap ErrUnavailable.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if IsUnavailable(err) {
		return &unavailableError{err: err}
	}
	return err
}

type unavailableError struct{ err error }

func (u *unavailableError) Error() string        { return "store unavailable: " + u.err.Error() }
func (u *unavailableError) Unwrap() error        { return u.err }
func (u *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// IsUnavailable reports whether err means Redis could not be reached (as
// opposed to Redis answering with an error).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "broken pipe", "i/o timeout",
		"LOADING", "CLUSTERDOWN", "MASTERDOWN", "no such file or directory", "EOF", "pool timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
