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
	"strconv"
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
	// auditBatch is how many entries QueryAudit reads per shard and round
	// trip; 0 picks a size from the page size. Tests shrink it to exercise
	// the refills.
	auditBatch int64

	// sealer seals and opens secret configuration values; nil refuses
	// secrets.
	sealer Sealer
	// historyLimit is how many version records each config key keeps.
	historyLimit int
	// changeStreamLen caps each environment's change stream.
	changeStreamLen int64
	// schemas caches the compiled configuration schemas.
	schemas *schemaCache
	// resealHook runs after each value a rotation re-seals (tests).
	resealHook func()
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the key prefix (default "keel:"). Tests give each case its
// own prefix so they can share one redis-server.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithNow replaces the clock, for tests.
func WithNow(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithSealer sets what seals and opens secret configuration values. Without
// one, writing a secret is refused.
func WithSealer(sl Sealer) Option { return func(s *Store) { s.sealer = sl } }

// WithHistoryLimit sets how many versions each config key's history keeps
// (default 100, at least 1); the current value is always kept.
func WithHistoryLimit(n int) Option {
	return func(s *Store) { s.historyLimit = max(n, 1) }
}

// WithChangeStreamLen caps each environment's change stream (default
// 10000). Caps of 1000 and more trim approximately (cheaper, may keep a few
// more); smaller caps trim exactly.
func WithChangeStreamLen(n int64) Option {
	return func(s *Store) { s.changeStreamLen = max(n, 1) }
}

// New returns a Store over any go-redis client: single node, Sentinel
// failover or Cluster.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: "keel:", now: time.Now,
		historyLimit: defaultHistoryLimit, changeStreamLen: defaultChangeStreamLen,
		schemas: newSchemaCache()}
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
	if isDomain(err) {
		return err
	}
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if IsUnavailable(err) {
		return &unavailableError{err: err}
	}
	return err
}

// isDomain reports whether err is already one of the store's own errors, whose
// messages may quote user input ("user EOF already exists") and must not be
// mistaken for connection failures.
func isDomain(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid)
}

type unavailableError struct{ err error }

func (u *unavailableError) Error() string        { return "store unavailable: " + u.err.Error() }
func (u *unavailableError) Unwrap() error        { return u.err }
func (u *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// IsUnavailable reports whether err means Redis could not be reached (as
// opposed to Redis answering with an error).
func IsUnavailable(err error) bool {
	if err == nil || isDomain(err) {
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

// maxTxAttempts bounds the optimistic-locking retries of one change.
const maxTxAttempts = 20

// change runs fn with keys WATCHed (fn reads, then queues its writes and
// audit entry with tx.TxPipelined) and retries when a watched key changed
// before EXEC. tag is the hash-tag group whose audit stream fn writes to; it
// is registered in the audit shard set first (idempotent), because that set
// lives in another slot and cannot join the transaction.
func (s *Store) change(ctx context.Context, tag string, keys []string, fn func(tx *redis.Tx) error) error {
	if err := s.rdb.SAdd(ctx, s.auditShardsKey(), tag).Err(); err != nil {
		return wrap(err)
	}
	for attempt := 0; attempt < maxTxAttempts; attempt++ {
		err := s.rdb.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return wrap(err)
		}
		if err := ctx.Err(); err != nil {
			return wrap(err)
		}
	}
	return Conflictf("too many concurrent changes; please try again")
}

// changed announces a committed change on pub/sub. The error is dropped on
// purpose: the change is already committed and live pages are best effort
// (they reload what they show when they reconnect). The publish outlives a
// cancelled request context so a client that hung up still lets others see
// the change.
func (s *Store) changed(ctx context.Context, topic, action, target, env string, a Actor) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = s.Publish(ctx, Event{Topic: topic, Action: action, Target: target, Env: env, Actor: a.Name, RequestID: a.RequestID})
}

// ms encodes a time as Unix milliseconds; the zero time is 0.
func ms(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// fromMS decodes ms; "", "0" and garbage give the zero time.
func fromMS(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func intField(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// clock is s.now() at the millisecond precision the store keeps, in UTC, so
// a value a method returns equals what a later read gives back.
func (s *Store) clock() time.Time { return time.UnixMilli(s.now().UnixMilli()).UTC() }
