package store

import (
	"strings"
	"testing"
	"time"
)

func TestLoginThrottleByAccount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		p := ThrottlePolicy{UserLimit: 3, IPLimit: 100, Window: 15 * time.Minute}
		from := Actor{Name: "alice", IP: "203.0.113.9"}
		for i := 0; i < 3; i++ {
			until, err := s.LoginLockedUntil(bg, p, "alice", from.IP)
			if err != nil || !until.IsZero() {
				t.Fatalf("after %d failures: locked until %v, %v", i, until, err)
			}
			if err := s.RecordLoginFailure(bg, p, from, "alice", "bad password"); err != nil {
				t.Fatal(err)
			}
		}
		until, err := s.LoginLockedUntil(bg, p, "alice", from.IP)
		if err != nil {
			t.Fatal(err)
		}
		// The lock ends a window after the first failure (clock time plus
		// the counter's remaining TTL).
		if until.Before(clk.Now().Add(p.Window-10*time.Second)) || until.After(clk.Now().Add(p.Window)) {
			t.Fatalf("locked until %v, want about %v", until, clk.Now().Add(p.Window))
		}
		// Another account from the same address is not locked.
		if until, _ := s.LoginLockedUntil(bg, p, "bob", from.IP); !until.IsZero() {
			t.Fatalf("bob locked until %v", until)
		}
		e := auditEntries(t, s, AuditQuery{ActionPrefix: "auth.login_failed"})
		if len(e) != 3 || e[0].Target != "alice" || e[0].IP != from.IP || string(e[0].After) != `{"reason":"bad password"}` {
			t.Fatalf("audit = %+v", e)
		}

		if err := s.ResetLoginFailures(bg, "alice"); err != nil {
			t.Fatal(err)
		}
		if until, _ := s.LoginLockedUntil(bg, p, "alice", from.IP); !until.IsZero() {
			t.Fatalf("still locked after reset: %v", until)
		}
	})
}

func TestLoginThrottleByAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		p := ThrottlePolicy{UserLimit: 5, IPLimit: 4, Window: time.Minute}
		from := Actor{Name: "anonymous", IP: "198.51.100.1"}
		for i, name := range []string{"a", "b", "c", "d"} {
			if until, _ := s.LoginLockedUntil(bg, p, "zed", from.IP); !until.IsZero() {
				t.Fatalf("locked after %d failures", i)
			}
			if err := s.RecordLoginFailure(bg, p, from, name, "unknown user"); err != nil {
				t.Fatal(err)
			}
		}
		if until, _ := s.LoginLockedUntil(bg, p, "zed", from.IP); until.IsZero() {
			t.Fatal("address not locked after 4 failures")
		}
		if until, _ := s.LoginLockedUntil(bg, p, "zed", "198.51.100.2"); !until.IsZero() {
			t.Fatal("another address is locked")
		}
		// A successful sign-in resets the account, not the address.
		s.ResetLoginFailures(bg, "zed")
		if until, _ := s.LoginLockedUntil(bg, p, "zed", from.IP); until.IsZero() {
			t.Fatal("address lock lifted by an account reset")
		}
	})
}

func TestLoginThrottleWindow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		p := ThrottlePolicy{UserLimit: 2, Window: 400 * time.Millisecond}
		from := Actor{Name: "x", IP: "192.0.2.50"}
		long := strings.Repeat("x", 5000) // stays a short key
		for range 2 {
			if err := s.RecordLoginFailure(bg, p, from, long, "bad password"); err != nil {
				t.Fatal(err)
			}
		}
		if until, _ := s.LoginLockedUntil(bg, p, long, ""); until.IsZero() {
			t.Fatal("not locked")
		}
		if k := s.throttleUserKey(throttleName(long)); len(k) > 200 {
			t.Fatalf("throttle key is %d bytes", len(k))
		}
		// Later failures do not push the window out.
		time.Sleep(250 * time.Millisecond)
		s.RecordLoginFailure(bg, p, from, long, "bad password")
		if ttl := s.rdb.PTTL(bg, s.throttleUserKey(throttleName(long))).Val(); ttl > 200*time.Millisecond {
			t.Fatalf("window restarted: TTL %v", ttl)
		}
		time.Sleep(250 * time.Millisecond)
		if until, _ := s.LoginLockedUntil(bg, p, long, ""); !until.IsZero() {
			t.Fatalf("still locked after the window: %v", until)
		}
		wantField(t, s.RecordLoginFailure(bg, ThrottlePolicy{UserLimit: 1}, from, "a", "r"), "window")
	})
}
