package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLeaseExclusive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ok, err := s.AcquireLease(bg, "sweep", "a", time.Minute)
		if err != nil || !ok {
			t.Fatalf("a acquires: %v, %v", ok, err)
		}
		if ok, _ := s.AcquireLease(bg, "sweep", "b", time.Minute); ok {
			t.Fatal("b acquired a held lease")
		}
		if ok, _ := s.AcquireLease(bg, "other", "b", time.Minute); !ok {
			t.Fatal("leases with other names are independent")
		}
		if ok, _ := s.AcquireLease(bg, "sweep", "a", 2*time.Minute); !ok {
			t.Fatal("the holder acquiring again should extend")
		}
		if ttl := s.rdb.PTTL(bg, s.leaseKey("sweep")).Val(); ttl <= time.Minute {
			t.Fatalf("TTL after re-acquire = %v", ttl)
		}
		if ok, _ := s.RenewLease(bg, "sweep", "b", time.Minute); ok {
			t.Fatal("b renewed a's lease")
		}
		if ok, _ := s.RenewLease(bg, "sweep", "a", time.Minute); !ok {
			t.Fatal("a could not renew")
		}
		// Releasing someone else's lease does nothing.
		if err := s.ReleaseLease(bg, "sweep", "b"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.AcquireLease(bg, "sweep", "b", time.Minute); ok {
			t.Fatal("b's release freed a's lease")
		}
		if err := s.ReleaseLease(bg, "sweep", "a"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.AcquireLease(bg, "sweep", "b", time.Minute); !ok {
			t.Fatal("b could not take a released lease")
		}
		_, err = s.AcquireLease(bg, "", "a", time.Minute)
		wantField(t, err, "name")
		_, err = s.AcquireLease(bg, "x", "a", 0)
		wantField(t, err, "ttl")
	})
}

func TestLeaseLapses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		if ok, _ := s.AcquireLease(bg, "job", "a", 50*time.Millisecond); !ok {
			t.Fatal("a could not acquire")
		}
		time.Sleep(120 * time.Millisecond)
		if ok, _ := s.RenewLease(bg, "job", "a", time.Minute); ok {
			t.Fatal("a renewed a lapsed lease")
		}
		if ok, _ := s.AcquireLease(bg, "job", "b", time.Minute); !ok {
			t.Fatal("b could not take a lapsed lease")
		}
	})
}

func TestRunExclusive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		var running, overlap atomic.Int32
		var mu sync.Mutex
		runs := map[string]int{}
		job := func(holder string) func(context.Context) error {
			n := 0
			return func(context.Context) error {
				if running.Add(1) > 1 {
					overlap.Add(1)
				}
				defer running.Add(-1)
				mu.Lock()
				runs[holder]++
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
				n++
				switch n {
				case 1:
					panic("first run panics")
				case 2:
					return errors.New("second run fails")
				}
				return nil
			}
		}
		ctxA, stopA := context.WithCancel(bg)
		ctxB, stopB := context.WithCancel(bg)
		defer stopB()
		var wg sync.WaitGroup
		wg.Go(func() { s.RunExclusive(ctxA, "sweeper", "a", 10*time.Millisecond, job("a"), nil) })
		// Let a take the lease first, then start b.
		deadline := time.Now().Add(5 * time.Second)
		for s.rdb.Get(bg, s.leaseKey("sweeper")).Val() != "a" {
			if time.Now().After(deadline) {
				t.Fatal("a never took the lease")
			}
			time.Sleep(time.Millisecond)
		}
		wg.Go(func() { s.RunExclusive(ctxB, "sweeper", "b", 10*time.Millisecond, job("b"), nil) })
		time.Sleep(150 * time.Millisecond)
		mu.Lock()
		ra, rb := runs["a"], runs["b"]
		mu.Unlock()
		if ra < 5 || rb != 0 {
			t.Fatalf("while a holds the lease: a ran %d times, b %d", ra, rb)
		}
		// a stops (and releases); b takes over.
		stopA()
		for {
			mu.Lock()
			rb = runs["b"]
			mu.Unlock()
			if rb >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("b ran %d times after a stopped", rb)
			}
			time.Sleep(5 * time.Millisecond)
		}
		stopB()
		wg.Wait()
		if overlap.Load() != 0 {
			t.Fatalf("jobs overlapped %d times", overlap.Load())
		}
		if n := s.rdb.Exists(bg, s.leaseKey("sweeper")).Val(); n != 0 {
			t.Fatal("the lease was not released on exit")
		}
	})
}
