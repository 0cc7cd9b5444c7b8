package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSessionLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, time.Now().UTC().Truncate(time.Millisecond))
		mustCreateUser(t, s, "alice", "editor")
		mustCreateUser(t, s, "bob", "viewer")
		a := newSession(t, s, "alice", "ha")
		clk.Advance(time.Second)
		b := newSession(t, s, "bob", "hb")

		got, err := s.GetSession(bg, "ha")
		if err != nil {
			t.Fatal(err)
		}
		want := a
		want.CreatedAt, want.LastSeen, want.ExpiresAt = clk.Now().Add(-time.Second), clk.Now().Add(-time.Second), a.ExpiresAt.UTC()
		if got != want {
			t.Fatalf("GetSession = %+v\nwant %+v", got, want)
		}
		if e := auditEntries(t, s, AuditQuery{ActionPrefix: "auth.login"}); len(e) != 2 || e[1].Target != "alice" || e[1].Actor != "alice" {
			t.Fatalf("login audit = %+v", e)
		}

		// Touch moves last_seen, so alice's session lists first.
		clk.Advance(time.Second)
		if err := s.TouchSession(bg, "ha", 30*time.Minute, clk.Now()); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{s.sessionInfoKey("ha"), s.sessionDataKey(a.ID)} {
			if ttl := s.rdb.PTTL(bg, k).Val(); ttl <= 29*time.Minute || ttl > 30*time.Minute {
				t.Errorf("TTL of %s after touch = %v, want the idle timeout", k, ttl)
			}
		}
		list, err := s.ListSessions(bg, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Handle != "ha" || list[1].Handle != "hb" || !list[0].LastSeen.Equal(clk.Now()) {
			t.Fatalf("ListSessions = %+v", list)
		}
		if list, _ := s.ListSessions(bg, "bob"); len(list) != 1 || list[0].Handle != "hb" {
			t.Fatalf("ListSessions(bob) = %+v", list)
		}

		if err := s.RevokeSession(bg, testAdmin, "ha"); err != nil {
			t.Fatal(err)
		}
		sessionGone(t, s, a)
		sessionAlive(t, s, b)
		wantErr(t, s.RevokeSession(bg, testAdmin, "ha"), ErrNotFound)
		wantErr(t, s.TouchSession(bg, "ha", time.Minute, clk.Now()), ErrNotFound)
		_, err = s.GetSession(bg, "ha")
		wantErr(t, err, ErrNotFound)

		if err := s.EndSession(bg, Actor{Name: "bob"}, "hb"); err != nil {
			t.Fatal(err)
		}
		sessionGone(t, s, b)
		if got := auditActions(t, s)[:2]; !slices.Equal(got, []string{"auth.logout", "session.revoke"}) {
			t.Fatalf("audit = %v", got)
		}
		e := auditEntries(t, s, AuditQuery{ActionPrefix: "session.revoke"})[0]
		if e.Target != "alice" || string(e.Before) != `{"session":"ha"}` || e.Actor != "root" {
			t.Fatalf("revoke entry = %+v", e)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, time.Now().UTC())
		mustCreateUser(t, s, "alice", "editor")
		end := clk.Now().Add(10 * time.Minute)
		sess := Session{ID: "sid", Handle: "h", User: "alice", ExpiresAt: end}
		if err := s.CreateSession(bg, Actor{Name: "alice"}, sess, time.Hour); err != nil {
			t.Fatal(err)
		}
		// The idle timeout never outlives the absolute end.
		if ttl := s.rdb.PTTL(bg, s.sessionInfoKey("h")).Val(); ttl > 10*time.Minute || ttl < 9*time.Minute {
			t.Fatalf("registry TTL = %v, want about 10m", ttl)
		}
		clk.Advance(9 * time.Minute)
		if err := s.TouchSession(bg, "h", time.Hour, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if ttl := s.rdb.PTTL(bg, s.sessionInfoKey("h")).Val(); ttl > time.Minute || ttl < 59*time.Second {
			t.Fatalf("TTL after touch = %v, want the minute left", ttl)
		}
		clk.Advance(time.Minute)
		_, err := s.GetSession(bg, "h")
		wantErr(t, err, ErrNotFound)
		wantErr(t, s.TouchSession(bg, "h", time.Hour, clk.Now()), ErrNotFound)
		if list, _ := s.ListSessions(bg, "alice"); len(list) != 0 {
			t.Fatalf("expired session listed: %+v", list)
		}
	})
}

func TestListSessionsDropsLapsedEntries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateUser(t, s, "alice", "editor")
		a, b := newSession(t, s, "alice", "h1"), newSession(t, s, "alice", "h2")
		// h1 idles out: its registry hash expires.
		s.rdb.Del(bg, s.sessionInfoKey(a.Handle))
		list, err := s.ListSessions(bg, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Handle != b.Handle {
			t.Fatalf("ListSessions = %+v", list)
		}
		for _, idx := range []string{s.sessionsIndexKey(), s.userSessionsKey("alice")} {
			if s.rdb.ZScore(bg, idx, a.Handle).Err() == nil {
				t.Errorf("%s still lists the lapsed session", idx)
			}
		}
	})
}

func TestCreateSessionRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateUser(t, s, "alice", "editor")
		future := s.now().Add(time.Hour)
		for _, tc := range []struct {
			name  string
			sess  Session
			idle  time.Duration
			field string
		}{
			{"no handle", Session{ID: "i", User: "alice", ExpiresAt: future}, time.Minute, "handle"},
			{"no id", Session{Handle: "h", User: "alice", ExpiresAt: future}, time.Minute, "id"},
			{"no user", Session{ID: "i", Handle: "h", ExpiresAt: future}, time.Minute, "user"},
			{"no idle", Session{ID: "i", Handle: "h", User: "alice", ExpiresAt: future}, 0, "idle"},
			{"past end", Session{ID: "i", Handle: "h", User: "alice", ExpiresAt: s.now().Add(-time.Second)}, time.Minute, "expires_at"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantField(t, s.CreateSession(bg, testAdmin, tc.sess, tc.idle), tc.field)
			})
		}
		wantErr(t, s.CreateSession(bg, testAdmin, Session{ID: "i", Handle: "h", User: "ghost", ExpiresAt: future}, time.Minute), ErrNotFound)
		newSession(t, s, "alice", "dup")
		wantErr(t, s.CreateSession(bg, testAdmin, Session{ID: "j", Handle: "dup", User: "alice", ExpiresAt: future}, time.Minute), ErrConflict)
		if n := len(auditEntries(t, s, AuditQuery{ActionPrefix: "auth."})); n != 1 {
			t.Fatalf("%d auth entries, want only the successful login", n)
		}
	})
}

func TestSessionWithUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateUser(t, s, "sam", "viewer")
		mustCreateUser(t, s, "tom", "viewer")
		newSession(t, s, "sam", "h-sam")
		got, u, err := s.SessionWithUser(bg, "h-sam", "sam")
		if err != nil || got.Handle != "h-sam" || u.Name != "sam" {
			t.Fatalf("got %+v %+v %v", got, u, err)
		}
		if _, _, err := s.SessionWithUser(bg, "h-sam", "tom"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("someone else's session: %v", err)
		}
		if _, _, err := s.SessionWithUser(bg, "h-none", "sam"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown session: %v", err)
		}
		if err := s.RevokeSession(bg, testAdmin, "h-sam"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionWithUser(bg, "h-sam", "sam"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoked session: %v", err)
		}
	})
}
