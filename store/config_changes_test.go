package store

import (
	"fmt"
	"testing"
	"time"
)

func changeKeys(list []ConfigChange) []string {
	var out []string
	for _, c := range list {
		out = append(out, fmt.Sprintf("%s:%s:%d", c.Key, c.Action, c.Version))
	}
	return out
}

func TestConfigChangesAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s, WithChangeStreamLen(10))
		if id, err := s.LastConfigChangeID(bg, "dev"); err != nil || id != "0-0" {
			t.Fatalf("LastConfigChangeID of an empty env = %q, %v", id, err)
		}
		// No stream yet: nothing to catch up on from the start; an id from
		// elsewhere must reset.
		if ch, reset, err := s.ConfigChangesAfter(bg, "dev", "0-0", 0); err != nil || reset || len(ch) != 0 {
			t.Fatalf("empty env from 0 = %v, %v, %v", ch, reset, err)
		}
		if _, reset, _ := s.ConfigChangesAfter(bg, "dev", "1700000000000-0", 0); !reset {
			t.Fatal("an id the env never had should reset")
		}

		var ids []string
		for i := 1; i <= 5; i++ {
			mustSetConfig(t, s, "dev", str(fmt.Sprintf("k%02d", i), "x"))
			id, err := s.LastConfigChangeID(bg, "dev")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		ch, reset, err := s.ConfigChangesAfter(bg, "dev", "", 0)
		if err != nil || reset || len(ch) != 5 || ch[0].Key != "k01" || ch[0].Action != "set" || ch[0].Version != 1 || ch[0].Env != "dev" || ch[4].ID != ids[4] {
			t.Fatalf("from the start = %+v, %v, %v", ch, reset, err)
		}
		ch, reset, _ = s.ConfigChangesAfter(bg, "dev", ids[1], 2)
		if reset || len(ch) != 2 || ch[0].Key != "k03" || ch[1].Key != "k04" {
			t.Fatalf("after the 2nd, count 2 = %v, %v", changeKeys(ch), reset)
		}
		if ch, reset, _ = s.ConfigChangesAfter(bg, "dev", ids[4], 0); reset || len(ch) != 0 {
			t.Fatalf("after the last = %v, %v", ch, reset)
		}

		// Ten more changes: the stream keeps the last 10 (k06..k15), so a
		// consumer at k06 still catches up; one at k05 or before, whose
		// position was trimmed away, must reset.
		for i := 6; i <= 15; i++ {
			mustSetConfig(t, s, "dev", str(fmt.Sprintf("k%02d", i), "x"))
			id, _ := s.LastConfigChangeID(bg, "dev")
			ids = append(ids, id)
		}
		if n := s.rdb.XLen(bg, s.cfgChangesKey("dev")).Val(); n != 10 {
			t.Fatalf("stream holds %d entries, want exactly 10", n)
		}
		ch, reset, _ = s.ConfigChangesAfter(bg, "dev", ids[5], 100)
		if reset || len(ch) != 9 || ch[0].Key != "k07" || ch[8].Key != "k15" {
			t.Fatalf("after k06 = %v, %v", changeKeys(ch), reset)
		}
		for _, from := range []string{ids[4], ids[3], ids[0], "0", ""} {
			if ch, reset, _ := s.ConfigChangesAfter(bg, "dev", from, 100); !reset || ch != nil {
				t.Fatalf("after %q (trimmed) = %v, reset %v; want a reset", from, changeKeys(ch), reset)
			}
		}
		// An id beyond anything the stream held comes from another life.
		if _, reset, _ := s.ConfigChangesAfter(bg, "dev", "99999999999999-0", 100); !reset {
			t.Fatal("an id from the future should reset")
		}
		_, _, err = s.ConfigChangesAfter(bg, "dev", "yesterday", 10)
		wantField(t, err, "after")
	})
}

func TestReadConfigChanges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustSetConfig(t, s, "dev", str("a", "1"))
		last, _ := s.LastConfigChangeID(bg, "dev")

		// Nothing new: a timeout gives nil, nil.
		start := time.Now()
		ch, err := s.ReadConfigChanges(bg, "dev", "$", 100*time.Millisecond)
		if err != nil || ch != nil {
			t.Fatalf("timeout = %v, %v", ch, err)
		}
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Fatalf("returned after %v, before the block time", d)
		}
		// Not blocking: what is there after the id.
		if ch, err := s.ReadConfigChanges(bg, "dev", "0", 0); err != nil || len(ch) != 1 || ch[0].Key != "a" {
			t.Fatalf("non-blocking read = %+v, %v", ch, err)
		}

		// A change while waiting wakes the reader.
		done := make(chan []ConfigChange, 1)
		go func() {
			ch, err := s.ReadConfigChanges(bg, "dev", last, 5*time.Second)
			if err != nil {
				t.Error(err)
			}
			done <- ch
		}()
		time.Sleep(100 * time.Millisecond)
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "a", Type: "string", Value: "2", Version: 1})
		select {
		case ch := <-done:
			if len(ch) != 1 || ch[0].Key != "a" || ch[0].Version != 2 || ch[0].Env != "dev" {
				t.Fatalf("woken with %+v", ch)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the reader was not woken")
		}
		_, err = s.ReadConfigChanges(bg, "dev", "nope", 0)
		wantField(t, err, "after")
	})
}
