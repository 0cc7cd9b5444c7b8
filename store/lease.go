package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// A lease is one key holding the name of the Keel process that runs a job;
// it lapses unless renewed, so another process takes over when one dies.

// acquireLeaseScript takes a free lease, or extends it when holder already has
// it. KEYS[1] lease; ARGV[1] holder, ARGV[2] ttl ms.
var acquireLeaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// renewLeaseScript extends the lease only while holder has it.
var renewLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// releaseLeaseScript deletes the lease only while holder has it.
var releaseLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func checkLease(name, holder string, ttl time.Duration) error {
	v := &ValidationError{}
	if name == "" {
		v.Add("name", "is required")
	}
	if holder == "" {
		v.Add("holder", "is required")
	}
	if ttl < time.Millisecond {
		v.Add("ttl", "must be at least 1ms")
	}
	return v.OrNil()
}

// AcquireLease takes the lease name for holder for ttl. It returns true when
// holder has it afterwards: newly taken, or already held (then extended).
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return false, err
	}
	n, err := acquireLeaseScript.Run(ctx, s.rdb, []string{s.leaseKey(name)}, holder, ttl.Milliseconds()).Int()
	return n == 1, wrap(err)
}

// RenewLease extends the lease when holder still has it; false means it was
// lost (lapsed, or taken by another holder).
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return false, err
	}
	n, err := renewLeaseScript.Run(ctx, s.rdb, []string{s.leaseKey(name)}, holder, ttl.Milliseconds()).Int()
	return n == 1, wrap(err)
}

// ReleaseLease gives the lease up if holder has it (otherwise it does
// nothing).
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := checkLease(name, holder, time.Millisecond); err != nil {
		return err
	}
	return wrap(releaseLeaseScript.Run(ctx, s.rdb, []string{s.leaseKey(name)}, holder).Err())
}

// RunExclusive runs job every interval in whichever process holds the lease
// name, until ctx is done. Each round takes or extends the lease (ttl
// 3*every, so a holder that stops is replaced within three rounds) and runs
// job only while held. Errors and panics of job are logged, never
// propagated; the lease is released on the way out.
func (s *Store) RunExclusive(ctx context.Context, name, holder string, every time.Duration, job func(context.Context) error, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("lease", name, "holder", holder)
	if every <= 0 {
		logger.Error("lease interval must be positive", "every", every)
		return
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := s.ReleaseLease(rctx, name, holder); err != nil {
			logger.Warn("releasing lease", "err", err)
		}
	}()
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	held := false
	for {
		ok, err := s.AcquireLease(ctx, name, holder, 3*every)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			logger.Warn("taking lease", "err", err)
			held = false
		case ok != held:
			held = ok
			if held {
				logger.Info("lease taken")
			} else {
				logger.Info("lease lost")
			}
		}
		if held && err == nil {
			if err := runJob(ctx, job); err != nil && ctx.Err() == nil {
				logger.Error("exclusive job failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// runJob runs job, turning a panic into an error.
func runJob(ctx context.Context, job func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return job(ctx)
}
