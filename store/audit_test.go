package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeAudit appends one entry to group tag as a change would.
func writeAudit(t *testing.T, s *Store, tag string, a Actor, action, target, env string) {
	t.Helper()
	if err := s.rdb.SAdd(bg, s.auditShardsKey(), tag).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.rdb.TxPipelined(bg, func(pipe redis.Pipeliner) error {
		s.appendAudit(pipe, tag, a, action, target, env, map[string]int{"n": 1}, nil)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// expectedOrder is every entry straight from the streams, in the documented
// order: stream id descending, then group name ascending.
func expectedOrder(t *testing.T, s *Store) []string {
	t.Helper()
	type row struct {
		id    streamID
		shard string
	}
	var rows []row
	shards, _ := s.auditShards(bg)
	for _, sh := range shards {
		msgs, err := s.rdb.XRange(bg, s.auditKey(sh), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			id, _ := parseStreamID(m.ID)
			rows = append(rows, row{id, sh})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := cmp.Compare(b.id.ms, a.id.ms); c != 0 {
			return c
		}
		if c := cmp.Compare(b.id.seq, a.id.seq); c != 0 {
			return c
		}
		return strings.Compare(a.shard, b.shard)
	})
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.shard + "/" + r.id.String()
	}
	return out
}

func pageAll(t *testing.T, s *Store, q AuditQuery) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		entries, next, err := s.QueryAudit(bg, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) > q.Limit {
			t.Fatalf("page of %d entries, limit %d", len(entries), q.Limit)
		}
		if next != "" && len(entries) != q.Limit {
			t.Fatalf("a short page (%d) has a next cursor", len(entries))
		}
		for _, e := range entries {
			ids = append(ids, e.ID)
		}
		if next == "" {
			return ids
		}
		q.Cursor = next
	}
}

func TestAuditPaginationAcrossShards(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		s.auditBatch = 2 // force many refills
		tags := []string{"iam", "envs", "settings", "cfg:a", "cfg:b"}
		// Several entries share a millisecond, within and across groups, so
		// ties between groups are part of the test.
		for i := range 40 {
			tag := tags[(i*7)%len(tags)]
			writeAudit(t, s, tag, testAdmin, fmt.Sprintf("test.%d", i), "t", "")
			if i%3 == 0 {
				clk.Advance(time.Millisecond)
			}
		}
		want := expectedOrder(t, s)
		if len(want) != 40 {
			t.Fatalf("%d entries in the streams", len(want))
		}
		for _, limit := range []int{1, 3, 7, 40, 100} {
			t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
				if got := pageAll(t, s, AuditQuery{Limit: limit}); !slices.Equal(got, want) {
					t.Fatalf("paged ids\n got %v\nwant %v", got, want)
				}
			})
		}
		var exported []string
		for _, e := range auditEntries(t, s, AuditQuery{Limit: 1, Cursor: "ignored"}) {
			exported = append(exported, e.ID)
		}
		if !slices.Equal(exported, want) {
			t.Fatalf("ExportAudit ids\n got %v\nwant %v", exported, want)
		}
	})
}

func TestAuditFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		s.auditBatch = 3
		alice, bob := Actor{Name: "alice", Role: "editor"}, Actor{Name: "bob", Role: "admin"}
		type row struct {
			tag    string
			a      Actor
			action string
			target string
			env    string
		}
		rows := []row{
			{"iam", bob, "user.create", "carol", ""},
			{"envs", alice, "environment.update", "production", "production"},
			{"iam", alice, "auth.login", "alice", ""},
			{"cfg:x", alice, "config.update", "checkout/timeout", "staging"},
			{"iam", bob, "user.set_role", "carol", ""},
			{"cfg:x", bob, "config.update", "checkout/retries", "production"},
			{"envs", bob, "environment.create", "staging", "staging"},
			{"iam", alice, "user.change_password", "alice", ""},
		}
		times := make([]time.Time, len(rows))
		for i, r := range rows {
			times[i] = clk.Now()
			writeAudit(t, s, r.tag, r.a, r.action, r.target, r.env)
			clk.Advance(time.Minute)
		}
		for _, tc := range []struct {
			name string
			q    AuditQuery
			want []int // row indexes, newest first
		}{
			{"all", AuditQuery{}, []int{7, 6, 5, 4, 3, 2, 1, 0}},
			{"actor", AuditQuery{Actor: "alice"}, []int{7, 3, 2, 1}},
			{"actor is exact", AuditQuery{Actor: "ali"}, nil},
			{"action prefix", AuditQuery{ActionPrefix: "user."}, []int{7, 4, 0}},
			{"target substring", AuditQuery{Target: "checkout/"}, []int{5, 3}},
			{"env", AuditQuery{Env: "production"}, []int{5, 1}},
			{"since", AuditQuery{Since: times[5]}, []int{7, 6, 5}},
			{"until", AuditQuery{Until: times[1]}, []int{1, 0}},
			{"since and until", AuditQuery{Since: times[2], Until: times[4]}, []int{4, 3, 2}},
			{"combined", AuditQuery{Actor: "bob", Env: "production", ActionPrefix: "config."}, []int{5}},
			{"nothing", AuditQuery{Since: times[7].Add(time.Second)}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var want []string
				for _, i := range tc.want {
					want = append(want, rows[i].action+" "+rows[i].target)
				}
				for _, limit := range []int{1, 2, 50} {
					q := tc.q
					q.Limit = limit
					var got []string
					for {
						entries, next, err := s.QueryAudit(bg, q)
						if err != nil {
							t.Fatal(err)
						}
						for _, e := range entries {
							got = append(got, e.Action+" "+e.Target)
						}
						if next == "" {
							break
						}
						q.Cursor = next
					}
					if !slices.Equal(got, want) {
						t.Fatalf("limit %d: got %v\nwant %v", limit, got, want)
					}
				}
			})
		}
		e, _, _ := s.QueryAudit(bg, AuditQuery{Limit: 1})
		if len(e) != 1 || e[0].Actor != "alice" || e[0].Role != "editor" || !e[0].Time.Equal(times[7]) || string(e[0].Before) != `{"n":1}` || e[0].After != nil {
			t.Fatalf("newest entry = %+v", e)
		}
	})
}

func TestAuditQueryLimitsAndCursor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		for i := range 510 {
			writeAudit(t, s, "iam", testAdmin, "bulk", fmt.Sprint(i), "")
		}
		if e, next, _ := s.QueryAudit(bg, AuditQuery{}); len(e) != 50 || next == "" {
			t.Fatalf("default page: %d entries, next %q", len(e), next)
		}
		if e, _, _ := s.QueryAudit(bg, AuditQuery{Limit: 10_000}); len(e) != 500 {
			t.Fatalf("capped page: %d entries", len(e))
		}
		for _, c := range []string{"%%%", "bm90IGEgY3Vyc29y", "aWFtLzEyMw"} {
			_, _, err := s.QueryAudit(bg, AuditQuery{Cursor: c})
			wantField(t, err, "cursor")
		}
		stop := errors.New("stop")
		n := 0
		err := s.ExportAudit(bg, AuditQuery{}, func(AuditEntry) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Fatalf("ExportAudit stopping: %v after %d", err, n)
		}
	})
}

func TestTrimAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		for day := range 10 {
			writeAudit(t, s, "iam", testAdmin, "old", fmt.Sprint(day), "")
			writeAudit(t, s, "envs", testAdmin, "old", fmt.Sprint(day), "")
			clk.Advance(24 * time.Hour)
		}
		// Now = baseTime + 10 days; entries are 10..1 days old.
		removed, err := s.TrimAudit(bg, 0, 5*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if removed != 10 {
			t.Fatalf("age trim removed %d, want 10", removed)
		}
		for _, e := range auditEntries(t, s, AuditQuery{}) {
			if e.Time.Before(clk.Now().Add(-5 * 24 * time.Hour)) {
				t.Fatalf("entry of %v survived the age trim", e.Time)
			}
		}
		removed, err = s.TrimAudit(bg, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		if removed != 6 {
			t.Fatalf("count trim removed %d, want 6", removed)
		}
		left := auditEntries(t, s, AuditQuery{})
		if len(left) != 4 || left[0].Target != "9" || left[3].Target != "8" {
			t.Fatalf("left = %+v", left)
		}
		if removed, _ := s.TrimAudit(bg, 0, 0); removed != 0 {
			t.Fatalf("disabled trim removed %d", removed)
		}
		_, err = s.TrimAudit(bg, -1, 0)
		wantErr(t, err, ErrInvalid)
		// Appending still works after trimming a stream to nothing.
		s.TrimAudit(bg, 0, time.Millisecond)
		writeAudit(t, s, "iam", testAdmin, "after-trim", "x", "")
		if got := auditActions(t, s); !slices.Equal(got, []string{"after-trim"}) {
			t.Fatalf("after trimming everything: %v", got)
		}
	})
}

func TestAuditClockSteppingBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		writeAudit(t, s, "iam", testAdmin, "first", "", "")
		clk.Set(baseTime.Add(-time.Hour))
		writeAudit(t, s, "iam", testAdmin, "second", "", "")
		if err := s.RecordEvent(bg, testAdmin, "third", "", "", nil); err != nil {
			t.Fatal(err)
		}
		e := auditEntries(t, s, AuditQuery{})
		if len(e) != 3 {
			t.Fatalf("entries = %+v", e)
		}
		iam := auditEntries(t, s, AuditQuery{ActionPrefix: "s"})
		if len(iam) != 1 || !strings.HasPrefix(iam[0].ID, fmt.Sprintf("iam/%d-", baseTime.UnixMilli())) || !iam[0].Time.Equal(baseTime.Add(-time.Hour)) {
			t.Fatalf("entry written after the clock stepped back = %+v", iam)
		}
	})
}

func TestRecordEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ps := s.rdb.Subscribe(bg, s.EventsChannel())
		defer ps.Close()
		if _, err := ps.Receive(bg); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEvent(bg, testAdmin, "secret.reveal", "db-password", "production", map[string]string{"key": "db-password"}); err != nil {
			t.Fatal(err)
		}
		e := auditEntries(t, s, AuditQuery{})
		if len(e) != 1 || !strings.HasPrefix(e[0].ID, "audit/") || e[0].Env != "production" || string(e[0].After) != `{"key":"db-password"}` {
			t.Fatalf("entries = %+v", e)
		}
		msg, err := ps.ReceiveMessage(bg)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg.Payload, `"topic":"audit","action":"secret.reveal"`) {
			t.Fatalf("event = %s", msg.Payload)
		}
		wantField(t, s.RecordEvent(bg, testAdmin, "", "x", "", nil), "action")
	})
}

// TestEveryChangeWritesOneAuditEntry walks the mutating methods: each
// success adds exactly one entry with its action; each refusal adds none.
func TestEveryChangeWritesOneAuditEntry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		// Entries of different groups in the same millisecond order by
		// group name, so the clock moves on between steps.
		clk := useClock(s, baseTime)
		mustCreateUser(t, s, "root", "admin")
		p := ThrottlePolicy{UserLimit: 5, IPLimit: 5, Window: time.Minute}
		future := s.now().Add(time.Hour)
		steps := []struct {
			action string // "" for a change that must be refused
			do     func() error
		}{
			{"user.create", func() error { _, err := s.CreateUser(bg, testAdmin, User{Name: "ann", Role: "viewer"}); return err }},
			{"", func() error { _, err := s.CreateUser(bg, testAdmin, User{Name: "ann", Role: "viewer"}); return err }},
			{"user.set_role", func() error { _, err := s.SetUserRole(bg, testAdmin, "ann", "editor"); return err }},
			{"", func() error { _, err := s.SetUserRole(bg, testAdmin, "root", "editor"); return err }},
			{"auth.login", func() error {
				return s.CreateSession(bg, testAdmin, Session{ID: "i1", Handle: "h1", User: "ann", ExpiresAt: future}, time.Minute)
			}},
			{"session.revoke", func() error { return s.RevokeSession(bg, testAdmin, "h1") }},
			{"", func() error { return s.RevokeSession(bg, testAdmin, "h1") }},
			{"auth.login", func() error {
				return s.CreateSession(bg, testAdmin, Session{ID: "i2", Handle: "h2", User: "ann", ExpiresAt: future}, time.Minute)
			}},
			{"auth.logout", func() error { return s.EndSession(bg, testAdmin, "h2") }},
			{"auth.login_failed", func() error { return s.RecordLoginFailure(bg, p, testAdmin, "ann", "bad password") }},
			{"user.reset_password", func() error { return s.SetPassword(bg, testAdmin, "ann", "h", "user.reset_password", "") }},
			{"user.disable", func() error { _, err := s.SetUserDisabled(bg, testAdmin, "ann", true); return err }},
			{"user.enable", func() error { _, err := s.SetUserDisabled(bg, testAdmin, "ann", false); return err }},
			{"token.create", func() error {
				_, err := s.CreateToken(bg, testAdmin, Token{ID: "t1", Name: "n", Role: "viewer", SecretHash: []byte{1}})
				return err
			}},
			{"", func() error {
				_, err := s.CreateToken(bg, testAdmin, Token{ID: "t1", Name: "n", Role: "viewer", SecretHash: []byte{1}})
				return err
			}},
			{"token.revoke", func() error { return s.RevokeToken(bg, testAdmin, "t1") }},
			{"environment.create", func() error { _, err := s.CreateEnvironment(bg, testAdmin, Environment{Name: "e1"}); return err }},
			{"environment.update", func() error {
				_, err := s.UpdateEnvironment(bg, testAdmin, "e1", 1, func(e *Environment) error { e.Order = 5; return nil })
				return err
			}},
			{"", func() error {
				_, err := s.UpdateEnvironment(bg, testAdmin, "e1", 1, func(e *Environment) error { e.Order = 6; return nil })
				return err
			}},
			{"environment.delete", func() error { return s.DeleteEnvironment(bg, testAdmin, "e1") }},
			{"settings.update", func() error {
				_, err := s.UpdateSettings(bg, testAdmin, 0, Settings{AuditMaxEntries: 2000})
				return err
			}},
			{"", func() error {
				_, err := s.UpdateSettings(bg, testAdmin, 9, Settings{AuditMaxEntries: 3000})
				return err
			}},
			{"secret.reveal", func() error { return s.RecordEvent(bg, testAdmin, "secret.reveal", "k", "", nil) }},
			{"user.delete", func() error { return s.DeleteUser(bg, testAdmin, "ann") }},
		}
		count := len(auditActions(t, s))
		for i, st := range steps {
			clk.Advance(time.Millisecond)
			err := st.do()
			if (err == nil) != (st.action != "") {
				t.Fatalf("step %d (%s): err = %v", i, st.action, err)
			}
			actions := auditActions(t, s)
			want := count
			if st.action != "" {
				want++
			}
			if len(actions) != want {
				t.Fatalf("step %d (%s): %d new audit entries", i, st.action, len(actions)-count)
			}
			if st.action != "" && actions[0] != st.action {
				t.Fatalf("step %d: newest entry is %s, want %s", i, actions[0], st.action)
			}
			count = len(actions)
		}
	})
}
