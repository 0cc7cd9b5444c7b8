package store

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidUsername(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"A.b_c-9", true},
		{"0", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{".alice", false},
		{"-alice", false},
		{"al ice", false},
		{"alice@example.com", false},
		{"élodie", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidUsername(tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidUsername(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
			if err != nil {
				wantField(t, err, "username")
			}
		})
	}
}

func TestCreateUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		useClock(s, baseTime)
		u, err := s.CreateUser(bg, testAdmin, User{Name: "alice", Role: "editor", PasswordHash: "secret-hash"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Version != 1 || !u.CreatedAt.Equal(baseTime) || !u.UpdatedAt.Equal(baseTime) {
			t.Fatalf("created user = %+v", u)
		}
		got, err := s.GetUser(bg, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got != u {
			t.Fatalf("GetUser = %+v, want %+v", got, u)
		}

		_, err = s.CreateUser(bg, testAdmin, User{Name: "alice", Role: "viewer"})
		wantErr(t, err, ErrConflict)
		if !strings.Contains(err.Error(), "user alice already exists") {
			t.Errorf("conflict message = %q", err)
		}
		if got := auditActions(t, s); !slices.Equal(got, []string{"user.create"}) {
			t.Fatalf("audit = %v, want exactly one user.create", got)
		}
		e := auditEntries(t, s, AuditQuery{})[0]
		if e.Actor != "root" || e.Role != "admin" || e.Target != "alice" || e.IP != testAdmin.IP ||
			e.UserAgent != testAdmin.UserAgent || e.RequestID != testAdmin.RequestID || !e.Time.Equal(baseTime) ||
			!strings.HasPrefix(e.ID, "iam/") {
			t.Errorf("audit entry = %+v", e)
		}
		if string(e.After) != `{"disabled":false,"name":"alice","role":"editor"}` || e.Before != nil {
			t.Errorf("audit before/after = %s / %s", e.Before, e.After)
		}
		if strings.Contains(rawAudit(t, s), "secret-hash") {
			t.Error("the audit log holds a password hash")
		}

		_, err = s.GetUser(bg, "bob")
		wantErr(t, err, ErrNotFound)
	})
}

func TestCreateUserValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		for _, tc := range []struct {
			user  User
			field string
		}{
			{User{Name: "", Role: "admin"}, "username"},
			{User{Name: "a b", Role: "admin"}, "username"},
			{User{Name: "carol", Role: "root"}, "role"},
			{User{Name: "carol", Role: ""}, "role"},
		} {
			_, err := s.CreateUser(bg, testAdmin, tc.user)
			wantErr(t, err, ErrInvalid)
			wantField(t, err, tc.field)
		}
		if n, err := s.CountUsers(bg); err != nil || n != 0 {
			t.Fatalf("CountUsers = %d, %v", n, err)
		}
		if got := auditActions(t, s); len(got) != 0 {
			t.Fatalf("rejected input wrote audit entries: %v", got)
		}
	})
}

func TestListAndCountUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		for _, n := range []string{"mallory", "alice", "bob"} {
			mustCreateUser(t, s, n, "viewer")
		}
		users, err := s.ListUsers(bg)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range users {
			names = append(names, u.Name)
		}
		if !slices.Equal(names, []string{"alice", "bob", "mallory"}) {
			t.Fatalf("ListUsers = %v", names)
		}
		if n, err := s.CountUsers(bg); err != nil || n != 3 {
			t.Fatalf("CountUsers = %d, %v", n, err)
		}
	})
}

func TestSetUserRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		mustCreateUser(t, s, "root", "admin")
		mustCreateUser(t, s, "alice", "viewer")
		clk.Advance(time.Minute)
		u, err := s.SetUserRole(bg, testAdmin, "alice", "publisher")
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != "publisher" || u.Version != 2 || !u.UpdatedAt.Equal(baseTime.Add(time.Minute)) || u.PasswordHash != "hash-of-alice" {
			t.Fatalf("after SetUserRole: %+v", u)
		}
		e := auditEntries(t, s, AuditQuery{ActionPrefix: "user.set_role"})
		if len(e) != 1 || string(e[0].Before) != `{"role":"viewer"}` || string(e[0].After) != `{"role":"publisher"}` {
			t.Fatalf("audit = %+v", e)
		}
		// Setting the same role again changes nothing.
		if u2, err := s.SetUserRole(bg, testAdmin, "alice", "publisher"); err != nil || u2.Version != 2 {
			t.Fatalf("no-op SetUserRole = %+v, %v", u2, err)
		}
		_, err = s.SetUserRole(bg, testAdmin, "alice", "owner")
		wantField(t, err, "role")
		_, err = s.SetUserRole(bg, testAdmin, "nobody", "viewer")
		wantErr(t, err, ErrNotFound)
		if n := len(auditEntries(t, s, AuditQuery{ActionPrefix: "user.set_role"})); n != 1 {
			t.Fatalf("%d set_role entries, want 1", n)
		}
	})
}

func TestLastAdminProtection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateUser(t, s, "root", "admin")
		mustCreateUser(t, s, "viewer1", "viewer")
		before := len(auditActions(t, s))

		attempts := map[string]func() error{
			"demote":  func() error { _, err := s.SetUserRole(bg, testAdmin, "root", "publisher"); return err },
			"disable": func() error { _, err := s.SetUserDisabled(bg, testAdmin, "root", true); return err },
			"delete":  func() error { return s.DeleteUser(bg, testAdmin, "root") },
		}
		for name, try := range attempts {
			t.Run(name, func(t *testing.T) {
				err := try()
				wantErr(t, err, ErrConflict)
				if !strings.Contains(err.Error(), "last enabled admin") {
					t.Errorf("message = %q", err)
				}
			})
		}
		if after := len(auditActions(t, s)); after != before {
			t.Fatalf("refused changes wrote %d audit entries", after-before)
		}

		// A disabled testAdmin does not count; a second enabled one does.
		mustCreateUser(t, s, "root2", "admin")
		if _, err := s.SetUserDisabled(bg, testAdmin, "root2", true); err != nil {
			t.Fatal(err)
		}
		_, err := s.SetUserRole(bg, testAdmin, "root", "viewer")
		wantErr(t, err, ErrConflict)
		if _, err := s.SetUserDisabled(bg, testAdmin, "root2", false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetUserRole(bg, testAdmin, "root", "viewer"); err != nil {
			t.Fatalf("demoting one of two admins: %v", err)
		}
		err = s.DeleteUser(bg, testAdmin, "root2")
		wantErr(t, err, ErrConflict)
		// Deleting or demoting a non-testAdmin is never blocked.
		if err := s.DeleteUser(bg, testAdmin, "viewer1"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLastAdminConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		names := []string{"a1", "a2", "a3", "a4"}
		for _, n := range names {
			mustCreateUser(t, s, n, "admin")
		}
		var wg sync.WaitGroup
		errs := make([]error, len(names))
		for i, n := range names {
			wg.Go(func() { _, errs[i] = s.SetUserDisabled(bg, testAdmin, n, true) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !strings.Contains(err.Error(), "last enabled admin"):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != len(names)-1 {
			t.Fatalf("%d of %d admins disabled; exactly one must stay", ok, len(names))
		}
		enabled := 0
		users, _ := s.ListUsers(bg)
		for _, u := range users {
			if !u.Disabled {
				enabled++
			}
		}
		if enabled != 1 {
			t.Fatalf("%d admins still enabled", enabled)
		}
	})
}

// newSession registers a session for user and writes a fake session data
// key, as redisstore would.
func newSession(t *testing.T, s *Store, user, handle string) Session {
	t.Helper()
	now := s.now()
	sess := Session{ID: "id-" + handle, Handle: handle, User: user, ExpiresAt: now.Add(12 * time.Hour), IP: "198.51.100.7", UserAgent: "ua"}
	if err := s.CreateSession(bg, Actor{Name: user, IP: sess.IP}, sess, time.Hour); err != nil {
		t.Fatalf("CreateSession(%s): %v", handle, err)
	}
	if err := s.rdb.Set(bg, s.sessionDataKey(sess.ID), "data", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	return sess
}

func sessionGone(t *testing.T, s *Store, sess Session) {
	t.Helper()
	n, err := s.rdb.Exists(bg, s.sessionInfoKey(sess.Handle), s.sessionDataKey(sess.ID)).Result()
	if err != nil || n != 0 {
		t.Fatalf("session %s: %d of its keys remain (%v)", sess.Handle, n, err)
	}
	for _, idx := range []string{s.sessionsIndexKey(), s.userSessionsKey(sess.User)} {
		if err := s.rdb.ZScore(bg, idx, sess.Handle).Err(); err == nil {
			t.Fatalf("session %s still in %s", sess.Handle, idx)
		}
	}
}

func sessionAlive(t *testing.T, s *Store, sess Session) {
	t.Helper()
	if _, err := s.GetSession(bg, sess.Handle); err != nil {
		t.Fatalf("session %s: %v", sess.Handle, err)
	}
	if n := s.rdb.Exists(bg, s.sessionDataKey(sess.ID)).Val(); n != 1 {
		t.Fatalf("session %s lost its data", sess.Handle)
	}
}

func TestSetUserDisabledEndsSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateUser(t, s, "root", "admin")
		mustCreateUser(t, s, "alice", "editor")
		s1, s2 := newSession(t, s, "alice", "h1"), newSession(t, s, "alice", "h2")
		other := newSession(t, s, "root", "h3")

		u, err := s.SetUserDisabled(bg, testAdmin, "alice", true)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Disabled || u.Version != 2 {
			t.Fatalf("user = %+v", u)
		}
		sessionGone(t, s, s1)
		sessionGone(t, s, s2)
		sessionAlive(t, s, other)
		if list, _ := s.ListSessions(bg, "alice"); len(list) != 0 {
			t.Fatalf("alice still has sessions: %+v", list)
		}
		e := auditEntries(t, s, AuditQuery{ActionPrefix: "user.disable"})
		if len(e) != 1 || string(e[0].After) != `{"disabled":true,"sessions_revoked":2}` {
			t.Fatalf("audit = %+v", e)
		}

		// A disabled user cannot sign in.
		err = s.CreateSession(bg, Actor{Name: "alice"}, Session{ID: "x", Handle: "h4", User: "alice", ExpiresAt: s.now().Add(time.Hour)}, time.Hour)
		wantErr(t, err, ErrConflict)

		u, err = s.SetUserDisabled(bg, testAdmin, "alice", false)
		if err != nil || u.Disabled || u.Version != 3 {
			t.Fatalf("enable = %+v, %v", u, err)
		}
		if got := auditActions(t, s)[0]; got != "user.enable" {
			t.Fatalf("last audit action = %s", got)
		}
	})
}

func TestSetPassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateUser(t, s, "alice", "editor")
		keep, drop1, drop2 := newSession(t, s, "alice", "k"), newSession(t, s, "alice", "d1"), newSession(t, s, "alice", "d2")

		if err := s.SetPassword(bg, Actor{Name: "alice"}, "alice", "new-secret-hash", "user.change_password", keep.Handle); err != nil {
			t.Fatal(err)
		}
		u, _ := s.GetUser(bg, "alice")
		if u.PasswordHash != "new-secret-hash" || u.Version != 2 {
			t.Fatalf("user = %+v", u)
		}
		sessionAlive(t, s, keep)
		sessionGone(t, s, drop1)
		sessionGone(t, s, drop2)

		if err := s.SetPassword(bg, testAdmin, "alice", "newer-secret-hash", "user.reset_password", ""); err != nil {
			t.Fatal(err)
		}
		sessionGone(t, s, keep)
		if got := auditActions(t, s)[:2]; !slices.Equal(got, []string{"user.reset_password", "user.change_password"}) {
			t.Fatalf("audit = %v", got)
		}
		if raw := rawAudit(t, s); strings.Contains(raw, "secret-hash") || strings.Contains(raw, "hash-of-alice") {
			t.Fatalf("the audit log holds a password hash:\n%s", raw)
		}

		wantField(t, s.SetPassword(bg, testAdmin, "alice", "h", "user.whatever", ""), "action")
		wantField(t, s.SetPassword(bg, testAdmin, "alice", "", "user.reset_password", ""), "password")
		wantErr(t, s.SetPassword(bg, testAdmin, "nobody", "h", "user.reset_password", ""), ErrNotFound)
	})
}

func TestDeleteUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateUser(t, s, "root", "admin")
		mustCreateUser(t, s, "alice", "editor")
		sess := newSession(t, s, "alice", "h1")
		if err := s.DeleteUser(bg, testAdmin, "alice"); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetUser(bg, "alice")
		wantErr(t, err, ErrNotFound)
		sessionGone(t, s, sess)
		if n, _ := s.CountUsers(bg); n != 1 {
			t.Fatalf("CountUsers = %d", n)
		}
		e := auditEntries(t, s, AuditQuery{ActionPrefix: "user.delete"})
		if len(e) != 1 || e[0].Target != "alice" || string(e[0].Before) != `{"disabled":false,"name":"alice","role":"editor"}` {
			t.Fatalf("audit = %+v", e)
		}
		wantErr(t, s.DeleteUser(bg, testAdmin, "alice"), ErrNotFound)
		// The name is free again.
		mustCreateUser(t, s, "alice", "viewer")
	})
}

func TestUserEventsArePublished(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ps := s.rdb.Subscribe(bg, s.EventsChannel())
		defer ps.Close()
		if _, err := ps.Receive(bg); err != nil {
			t.Fatal(err)
		}
		mustCreateUser(t, s, "alice", "viewer")
		msg, err := ps.ReceiveMessage(bg)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`"topic":"users","action":"user.create","target":"alice","actor":"root","request_id":"%s"`, testAdmin.RequestID)
		if !strings.Contains(msg.Payload, want) {
			t.Fatalf("event = %s, want it to contain %s", msg.Payload, want)
		}
	})
}
