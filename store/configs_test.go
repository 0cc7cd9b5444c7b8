package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/internal/redistest"
	"github.com/keelhq/keel/secret"
	"github.com/redis/go-redis/v9"
)

// testSealer seals with a secret.Keyring holding one random data key,
// binding each value to its environment and key.
type testSealer struct{ kr *secret.Keyring }

func newTestSealer(t testing.TB) *testSealer {
	t.Helper()
	dk, err := secret.NewDataKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secret.NewKeyring(dk.ID, dk)
	if err != nil {
		t.Fatal(err)
	}
	return &testSealer{kr: kr}
}

func sealAAD(env, key string) []byte { return []byte(env + "\x00" + key) }

func (ts *testSealer) Seal(env, key, plaintext string) (string, error) {
	return ts.kr.Seal([]byte(plaintext), sealAAD(env, key))
}

func (ts *testSealer) Open(env, key, sealed string) (string, error) {
	b, err := ts.kr.Open(sealed, sealAAD(env, key))
	return string(b), err
}

// configStore gives s a test sealer, applies opts and a test clock.
func configStore(t *testing.T, s *Store, opts ...Option) *testClock {
	t.Helper()
	WithSealer(newTestSealer(t))(s)
	for _, o := range opts {
		o(s)
	}
	return useClock(s, baseTime)
}

func mustSetConfig(t *testing.T, s *Store, env string, w ConfigWrite) ConfigEntry {
	t.Helper()
	e, err := s.SetConfig(bg, testAdmin, env, w)
	if err != nil {
		t.Fatalf("SetConfig(%s, %s): %v", env, w.Key, err)
	}
	return e
}

func mustGetConfig(t *testing.T, s *Store, env, key string) ConfigEntry {
	t.Helper()
	e, err := s.GetConfig(bg, env, key)
	if err != nil {
		t.Fatalf("GetConfig(%s, %s): %v", env, key, err)
	}
	return e
}

func str(key, value string) ConfigWrite {
	return ConfigWrite{Key: key, Type: config.TypeString, Value: value}
}

// dumpKeys renders every Redis key under the store's prefix with its
// content, for "nothing changed" and "never contains" checks. It uses SCAN,
// as admin tooling does.
func dumpKeys(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	var mu sync.Mutex
	err := s.forEachMasterNode(bg, func(ctx context.Context, node redis.UniversalClient, _ bool) error {
		keys, err := scanKeys(ctx, node, s.prefix, 0)
		if err != nil {
			return err
		}
		for _, k := range keys {
			typ, err := node.Type(ctx, k).Result()
			if err != nil {
				return err
			}
			var parts []string
			switch typ {
			case "string":
				parts = []string{node.Get(ctx, k).Val()}
			case "hash":
				for f, v := range node.HGetAll(ctx, k).Val() {
					parts = append(parts, f+"="+v)
				}
				sort.Strings(parts)
			case "list":
				parts = node.LRange(ctx, k, 0, -1).Val()
			case "set":
				parts = node.SMembers(ctx, k).Val()
				sort.Strings(parts)
			case "zset":
				for _, z := range node.ZRangeWithScores(ctx, k, 0, -1).Val() {
					parts = append(parts, fmt.Sprintf("%v=%v", z.Member, z.Score))
				}
			case "stream":
				for _, m := range node.XRange(ctx, k, "-", "+").Val() {
					var fields []string
					for f, v := range m.Values {
						fields = append(fields, fmt.Sprintf("%s=%v", f, v))
					}
					sort.Strings(fields)
					parts = append(parts, m.ID+" "+strings.Join(fields, " "))
				}
			default:
				return fmt.Errorf("key %s has unexpected type %s", k, typ)
			}
			mu.Lock()
			out[k] = typ + "\n" + strings.Join(parts, "\n")
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dumpKeys: %v", err)
	}
	return out
}

func wantUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	for k, v := range after {
		if before[k] != v {
			t.Errorf("key %s changed:\nbefore: %q\nafter:  %q", k, before[k], v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("key %s disappeared", k)
		}
	}
	t.FailNow()
}

func changeStream(t *testing.T, s *Store, env string) []ConfigChange {
	t.Helper()
	msgs, err := s.rdb.XRange(bg, s.cfgChangesKey(env), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return configChanges(env, msgs)
}

func revOf(t *testing.T, s *Store, env string) string {
	t.Helper()
	r, err := s.ConfigRevision(bg, []string{env})
	if err != nil {
		t.Fatal(err)
	}
	return string(r)
}

func historyActions(t *testing.T, s *Store, env, key string) []string {
	t.Helper()
	h, err := s.ConfigHistory(bg, env, key)
	if err != nil {
		t.Fatalf("ConfigHistory(%s): %v", key, err)
	}
	var out []string
	for _, v := range h {
		out = append(out, fmt.Sprintf("%d:%s", v.Version, v.Action))
	}
	return out
}

// subscribeEvents collects the store's events that keep accepts (nil: all).
// On Cluster, an event published just before the subscription may still
// arrive after it (messages cross the cluster bus), so tests that subscribe
// late filter out what came before.
func subscribeEvents(t *testing.T, s *Store, keep func(Event) bool) func(n int) []Event {
	t.Helper()
	ps := s.rdb.Subscribe(bg, s.EventsChannel())
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(bg); err != nil {
		t.Fatal(err)
	}
	ch := ps.Channel()
	return func(n int) []Event {
		t.Helper()
		var out []Event
		timeout := time.After(5 * time.Second)
		for len(out) < n {
			select {
			case m := <-ch:
				var ev Event
				if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
					t.Fatal(err)
				}
				if keep == nil || keep(ev) {
					out = append(out, ev)
				}
			case <-timeout:
				t.Fatalf("got %d events, want %d: %+v", len(out), n, out)
			}
		}
		return out
	}
}

func TestSetAndGetConfig(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := configStore(t, s)
		events := subscribeEvents(t, s, nil)

		e := mustSetConfig(t, s, "dev", ConfigWrite{Key: "app.name", Type: config.TypeString, Value: "Keel",
			Description: "Shown in the title", Tags: []string{"ui", "core", "ui"}, Comment: "first"})
		want := ConfigEntry{Env: "dev", Key: "app.name", Type: config.TypeString, Value: "Keel",
			Description: "Shown in the title", Tags: []string{"core", "ui"}, Version: 1,
			UpdatedAt: baseTime, UpdatedBy: testAdmin.Name, Comment: "first"}
		if !reflect.DeepEqual(e, want) {
			t.Fatalf("SetConfig = %+v\nwant %+v", e, want)
		}
		if got := mustGetConfig(t, s, "dev", "app.name"); !reflect.DeepEqual(got, want) {
			t.Fatalf("GetConfig = %+v\nwant %+v", got, want)
		}
		if ev := events(1)[0]; ev.Topic != "configs" || ev.Action != "config.set" || ev.Target != "app.name" || ev.Env != "dev" || ev.Actor != "root" {
			t.Fatalf("event = %+v", ev)
		}

		// Values are normalized per type.
		for _, tc := range []struct {
			typ       config.Type
			raw, want string
		}{
			{config.TypeNumber, "007", "7"},
			{config.TypeNumber, "12.50", "12.5"},
			{config.TypeBoolean, "TRUE", "true"},
			{config.TypeJSON, "{ \"a\": [1, 2],\n \"b\": {} }", `{"a":[1,2],"b":{}}`},
		} {
			key := "norm." + string(tc.typ) + "." + fmt.Sprint(len(tc.raw))
			if got := mustSetConfig(t, s, "dev", ConfigWrite{Key: key, Type: tc.typ, Value: tc.raw}); got.Value != tc.want {
				t.Errorf("%s %q stored as %q, want %q", tc.typ, tc.raw, got.Value, tc.want)
			}
		}
		// The type's name is accepted in any case and stored canonically.
		if got := mustSetConfig(t, s, "dev", ConfigWrite{Key: "upper", Type: "NUMBER", Value: "1"}); got.Type != config.TypeNumber {
			t.Fatalf("type = %q", got.Type)
		}
		events(5)

		// An update replaces the version it read.
		clk.Advance(time.Minute)
		up := mustSetConfig(t, s, "dev", ConfigWrite{Key: "app.name", Type: config.TypeString, Value: "Keel 2", Tags: []string{"ui"}, Version: 1})
		if up.Version != 2 || !up.UpdatedAt.Equal(baseTime.Add(time.Minute)) || up.Comment != "" {
			t.Fatalf("update = %+v", up)
		}
		// Saving identical content writes nothing.
		same, err := s.SetConfig(bg, Actor{Name: "other"}, "dev", ConfigWrite{Key: "app.name", Type: config.TypeString, Value: "Keel 2", Tags: []string{"ui"}, Version: 2})
		if err != nil || !reflect.DeepEqual(same, up) {
			t.Fatalf("no-op save = %+v, %v; want %+v", same, err, up)
		}
		if got := historyActions(t, s, "dev", "app.name"); !slices.Equal(got, []string{"2:set", "1:set"}) {
			t.Fatalf("history = %v", got)
		}

		// Version 0 means "must not exist".
		_, err = s.SetConfig(bg, testAdmin, "dev", str("app.name", "again"))
		var cc *ConfigConflict
		if !errors.As(err, &cc) || cc.Key != "app.name" || cc.Current.Version != 2 || !errors.Is(err, ErrConflict) {
			t.Fatalf("create over existing = %v", err)
		}
		var ce *ConflictError
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, "app.name") {
			t.Fatalf("conflict message = %v", err)
		}

		// Indexes follow tags and type.
		if keys := listKeys(t, s, "dev", ConfigQuery{Tag: "core"}); len(keys) != 0 {
			t.Fatalf("tag core still lists %v", keys)
		}
		if keys := listKeys(t, s, "dev", ConfigQuery{Tag: "ui"}); !slices.Equal(keys, []string{"app.name"}) {
			t.Fatalf("tag ui lists %v", keys)
		}
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "app.name", Type: config.TypeNumber, Value: "3", Version: 2})
		if keys := listKeys(t, s, "dev", ConfigQuery{Type: config.TypeString}); len(keys) != 0 {
			t.Fatalf("type string still lists %v", keys)
		}
		if keys := listKeys(t, s, "dev", ConfigQuery{Type: config.TypeNumber}); !slices.Equal(keys, []string{"app.name", "norm.number.3", "norm.number.5", "upper"}) {
			t.Fatalf("type number lists %v", keys)
		}

		// The audit log has before and after.
		au := auditEntries(t, s, AuditQuery{Target: "app.name"})
		if len(au) != 3 || au[0].Action != "config.set" || au[0].Env != "dev" || au[0].Actor != "root" {
			t.Fatalf("audit = %+v", au)
		}
		if !strings.Contains(string(au[1].Before), `"value":"Keel"`) || !strings.Contains(string(au[1].After), `"value":"Keel 2"`) ||
			!strings.Contains(string(au[1].After), `"version":2`) || au[2].Before != nil {
			t.Fatalf("audit before/after = %s / %s", au[1].Before, au[1].After)
		}

		// One change-stream entry per key change.
		cs := changeStream(t, s, "dev")
		if len(cs) != 8 || cs[7].Key != "app.name" || cs[7].Action != "set" || cs[7].Version != 3 {
			t.Fatalf("change stream = %+v", cs)
		}
	})
}

func listKeys(t *testing.T, s *Store, env string, q ConfigQuery) []string {
	t.Helper()
	var out []string
	for {
		page, next, _, err := s.ListConfigs(bg, env, q)
		if err != nil {
			t.Fatalf("ListConfigs(%+v): %v", q, err)
		}
		for _, e := range page {
			out = append(out, e.Key)
		}
		if next == "" {
			return out
		}
		q.Cursor = next
	}
}

func TestApplyConfigsBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustSetConfig(t, s, "dev", str("a", "1"))
		mustSetConfig(t, s, "dev", str("gone", "x"))
		rev := revOf(t, s, "dev")
		events := subscribeEvents(t, s, func(ev Event) bool { return ev.Action != "config.set" })
		out, err := s.ApplyConfigs(bg, testAdmin, "dev", "import", []ConfigWrite{
			{Key: "a", Type: config.TypeString, Value: "2", Version: 1},
			{Key: "b", Type: config.TypeNumber, Value: "5"},
			{Key: "gone", Delete: true, Version: 1},
			{Key: "never", Delete: true}, // a delete of a missing key is a no-op
		})
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Version != 2 || out[1].Version != 1 || !out[2].Deleted() || out[2].Version != 2 || out[3].Version != 0 {
			t.Fatalf("ApplyConfigs = %+v", out)
		}
		if got := revOf(t, s, "dev"); got != "dev:3" || rev != "dev:2" {
			t.Fatalf("revision %s → %s, want one step per call", rev, got)
		}
		if got := historyActions(t, s, "dev", "gone"); !slices.Equal(got, []string{"2:delete", "1:set"}) {
			t.Fatalf("history of gone = %v", got)
		}
		if got := historyActions(t, s, "dev", "a"); !slices.Equal(got, []string{"2:import", "1:set"}) {
			t.Fatalf("history of a = %v", got)
		}
		var acts []string
		for _, e := range auditEntries(t, s, AuditQuery{Env: "dev"})[:3] {
			acts = append(acts, e.Action+" "+e.Target)
		}
		slices.Sort(acts)
		if !slices.Equal(acts, []string{"config.delete gone", "config.import a", "config.import b"}) {
			t.Fatalf("audit = %v", acts)
		}
		var evs []string
		for _, ev := range events(3) {
			evs = append(evs, ev.Action+" "+ev.Target)
		}
		slices.Sort(evs) // on Cluster, events of one change may arrive in any order
		if !slices.Equal(evs, []string{"config.delete gone", "config.import a", "config.import b"}) {
			t.Fatalf("events = %v", evs)
		}
		if _, err := s.GetConfig(bg, "dev", "gone"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted key: %v", err)
		}

		// Deletes check versions too.
		err = s.DeleteConfig(bg, testAdmin, "dev", "a", 1, "")
		var cc *ConfigConflict
		if !errors.As(err, &cc) || cc.Current.Version != 2 {
			t.Fatalf("stale delete = %v", err)
		}
		if err := s.DeleteConfig(bg, testAdmin, "dev", "a", 2, "cleanup"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.DeleteConfig(bg, testAdmin, "dev", "a", 0, ""), ErrNotFound)
		err = s.DeleteConfig(bg, testAdmin, "dev", "a", 3, "")
		if !errors.As(err, &cc) || cc.Current.Version != 0 || !strings.Contains(err.Error(), "deleted") {
			t.Fatalf("delete of a deleted key = %v", err)
		}
		h, _ := s.ConfigHistory(bg, "dev", "a")
		if !h[0].Deleted || h[0].Comment != "cleanup" || h[0].PrevVersion != 2 || h[0].Author != "root" {
			t.Fatalf("delete record = %+v", h[0])
		}
	})
}

func TestConfigValidationWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustSetConfig(t, s, "dev", str("existing", "x"))
		before := dumpKeys(t, s)
		long := strings.Repeat("x", maxDescriptionLen+1)
		for _, tc := range []struct {
			name  string
			w     ConfigWrite
			field string
			msg   string
		}{
			{"empty key", str("", "x"), "key", ""},
			{"space in key", str("bad key", "x"), "key", ""},
			{"no type", ConfigWrite{Key: "k", Value: "x"}, "type", "Choose a type"},
			{"unknown type", ConfigWrite{Key: "k", Type: "color", Value: "x"}, "type", ""},
			{"bad number", ConfigWrite{Key: "k", Type: config.TypeNumber, Value: "12a"}, "value", ""},
			{"bad boolean", ConfigWrite{Key: "k", Type: config.TypeBoolean, Value: "yes"}, "value", ""},
			{"json syntax", ConfigWrite{Key: "k", Type: config.TypeJSON, Value: "{\n  \"a\": x}"}, "value", "line 2, column 8: "},
			{"json scalar", ConfigWrite{Key: "k", Type: config.TypeJSON, Value: "42"}, "value", ""},
			{"bad tag", ConfigWrite{Key: "k", Type: config.TypeString, Tags: []string{"Bad Tag"}}, "tags", "Bad Tag"},
			{"negative ttl", ConfigWrite{Key: "k", Type: config.TypeString, TTL: -time.Second}, "ttl_seconds", ""},
			{"ttl too long", ConfigWrite{Key: "k", Type: config.TypeString, TTL: 11 * 365 * 24 * time.Hour}, "ttl_seconds", ""},
			{"long description", ConfigWrite{Key: "k", Type: config.TypeString, Description: long}, "description", ""},
			{"keep non-secret", ConfigWrite{Key: "k", Type: config.TypeString, KeepSecret: true}, "value", ""},
			{"keep missing secret", ConfigWrite{Key: "k", Type: config.TypeSecret, KeepSecret: true}, "value", "no current secret"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.SetConfig(bg, testAdmin, "dev", tc.w)
				wantField(t, err, tc.field)
				var v *ValidationError
				errors.As(err, &v)
				if !strings.Contains(v.Fields[tc.field], tc.msg) {
					t.Fatalf("%s: %q, want it to contain %q", tc.field, v.Fields[tc.field], tc.msg)
				}
			})
		}
		// In a batch, one invalid write stops all, and fields name the key.
		_, err := s.ApplyConfigs(bg, testAdmin, "dev", "import", []ConfigWrite{
			str("fine", "1"),
			{Key: "bad.num", Type: config.TypeNumber, Value: "NaN"},
			{Key: "existing", Type: config.TypeString, Value: "y", Version: 1},
		})
		wantField(t, err, "bad.num: value")
		_, err = s.ApplyConfigs(bg, testAdmin, "dev", "import", []ConfigWrite{str("twice", "1"), str("twice", "2")})
		wantField(t, err, "twice: key")
		_, err = s.ApplyConfigs(bg, testAdmin, "dev", "expire", []ConfigWrite{str("k", "1")})
		wantField(t, err, "action")
		_, err = s.SetConfig(bg, testAdmin, "Dev!", str("k", "1"))
		wantField(t, err, "env")
		wantUnchanged(t, before, dumpKeys(t, s))
	})
}

func TestConfigStaleVersionInBatchWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustSetConfig(t, s, "dev", str("a", "1"))
		mustSetConfig(t, s, "dev", str("b", "1"))
		before := dumpKeys(t, s)
		_, err := s.ApplyConfigs(bg, testAdmin, "dev", "promote", []ConfigWrite{
			{Key: "a", Type: config.TypeString, Value: "2", Version: 1},
			{Key: "new", Type: config.TypeString, Value: "2"},
			{Key: "b", Type: config.TypeString, Value: "2", Version: 7},
		})
		var cc *ConfigConflict
		if !errors.As(err, &cc) || cc.Key != "b" || cc.Current.Value != "1" || !strings.Contains(err.Error(), "b was changed") {
			t.Fatalf("err = %v", err)
		}
		wantUnchanged(t, before, dumpKeys(t, s))
	})
}

func TestConcurrentConfigSaves(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		base := mustSetConfig(t, s, "dev", str("app.mode", "v1"))
		const n = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		results, errs := make([]ConfigEntry, n), make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				w := str("app.mode", fmt.Sprintf("v2-%d", i))
				w.Version = base.Version
				results[i], errs[i] = s.SetConfig(bg, Actor{Name: fmt.Sprintf("user%d", i)}, "dev", w)
			}()
		}
		close(start)
		wg.Wait()
		var winners []ConfigEntry
		for i := range n {
			if errs[i] == nil {
				winners = append(winners, results[i])
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d saves of version 1 won, want exactly 1 (errors: %v)", len(winners), errs)
		}
		for i := range n {
			if errs[i] == nil {
				continue
			}
			var cc *ConfigConflict
			if !errors.As(errs[i], &cc) || !errors.Is(errs[i], ErrConflict) {
				t.Fatalf("loser %d got %v, want a ConfigConflict", i, errs[i])
			}
			if !reflect.DeepEqual(cc.Current, winners[0]) {
				t.Fatalf("conflict shows %+v, want the winner %+v", cc.Current, winners[0])
			}
		}
		if got := historyActions(t, s, "dev", "app.mode"); len(got) != 2 {
			t.Fatalf("history = %v", got)
		}
		if got := len(changeStream(t, s, "dev")); got != 2 {
			t.Fatalf("%d change-stream entries, want 2", got)
		}
	})
}

func TestConfigHistoryTrimAndVersionCounting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s, WithHistoryLimit(3))
		var cur ConfigEntry
		for i := 1; i <= 5; i++ {
			w := str("k", fmt.Sprint(i))
			w.Version, w.Comment = cur.Version, fmt.Sprintf("edit %d", i)
			cur = mustSetConfig(t, s, "dev", w)
		}
		h, err := s.ConfigHistory(bg, "dev", "k")
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 3 || h[0].Version != 5 || h[2].Version != 3 || h[0].Value != "5" || h[0].PrevVersion != 4 || h[0].Comment != "edit 5" {
			t.Fatalf("history = %+v", h)
		}
		if err := s.DeleteConfig(bg, testAdmin, "dev", "k", 5, ""); err != nil {
			t.Fatal(err)
		}
		again := mustSetConfig(t, s, "dev", str("k", "back"))
		if again.Version != 7 {
			t.Fatalf("recreated key has version %d, want 7 (versions keep counting)", again.Version)
		}
		if got := historyActions(t, s, "dev", "k"); !slices.Equal(got, []string{"7:set", "6:delete", "5:set"}) {
			t.Fatalf("history = %v", got)
		}
		if h, _ := s.ConfigHistory(bg, "dev", "k"); h[0].PrevVersion != 6 {
			t.Fatalf("recreated PrevVersion = %d", h[0].PrevVersion)
		}
		// The current value stays even with a limit of 1.
		WithHistoryLimit(0)(s)
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "k", Type: config.TypeString, Value: "last", Version: 7})
		if got := historyActions(t, s, "dev", "k"); !slices.Equal(got, []string{"8:set"}) {
			t.Fatalf("history = %v", got)
		}
		if got := mustGetConfig(t, s, "dev", "k"); got.Value != "last" {
			t.Fatalf("current = %+v", got)
		}
		_, err = s.ConfigHistory(bg, "dev", "never")
		wantErr(t, err, ErrNotFound)
	})
}

func TestRollbackConfig(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		v1 := mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.port", Type: config.TypeNumber, Value: "5432", Description: "first", Tags: []string{"db"}})
		v2 := mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.port", Type: config.TypeNumber, Value: "6543", Version: 1})
		rb, err := s.RollbackConfig(bg, testAdmin, "dev", "db.port", 1, v2.Version, "back to 5432")
		if err != nil {
			t.Fatal(err)
		}
		if rb.Version != 3 || rb.Value != v1.Value || rb.Description != "first" || !slices.Equal(rb.Tags, []string{"db"}) || rb.Comment != "back to 5432" {
			t.Fatalf("rollback = %+v", rb)
		}
		if got := historyActions(t, s, "dev", "db.port"); !slices.Equal(got, []string{"3:rollback", "2:set", "1:set"}) {
			t.Fatalf("history = %v", got)
		}
		if au := auditEntries(t, s, AuditQuery{ActionPrefix: "config.rollback"}); len(au) != 1 {
			t.Fatalf("audit = %+v", au)
		}
		// A stale current version conflicts.
		_, err = s.RollbackConfig(bg, testAdmin, "dev", "db.port", 2, 2, "")
		wantErr(t, err, ErrConflict)
		// Versions no longer in the history are not found.
		_, err = s.RollbackConfig(bg, testAdmin, "dev", "db.port", 42, 3, "")
		wantErr(t, err, ErrNotFound)

		// Rolling back to a delete deletes; and back again recreates.
		if err := s.DeleteConfig(bg, testAdmin, "dev", "db.port", 3, ""); err != nil {
			t.Fatal(err)
		}
		back, err := s.RollbackConfig(bg, testAdmin, "dev", "db.port", 2, 0, "")
		if err != nil || back.Version != 5 || back.Value != "6543" {
			t.Fatalf("rollback of a deleted key = %+v, %v", back, err)
		}
		gone, err := s.RollbackConfig(bg, testAdmin, "dev", "db.port", 4, 5, "")
		if err != nil || !gone.Deleted() || gone.Version != 6 {
			t.Fatalf("rollback to a delete = %+v, %v", gone, err)
		}
		wantErr(t, func() error { _, err := s.GetConfig(bg, "dev", "db.port"); return err }(), ErrNotFound)
		_, err = s.RollbackConfig(bg, testAdmin, "dev", "db.port", 4, 0, "")
		wantField(t, err, "version")

		// Rollback validates again, schema included.
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "pool", Type: config.TypeNumber, Value: "1"})
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "pool", Type: config.TypeNumber, Value: "10", Version: 1})
		if _, err := s.PutSchema(bg, testAdmin, "pool", []byte(`{"type":"number","minimum":5}`), 0); err != nil {
			t.Fatal(err)
		}
		_, err = s.RollbackConfig(bg, testAdmin, "dev", "pool", 1, 2, "")
		wantField(t, err, "value")

		// A secret keeps its sealed value as it is.
		sec1 := mustSetConfig(t, s, "dev", ConfigWrite{Key: "api.token", Type: config.TypeSecret, Value: "token-one"})
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "api.token", Type: config.TypeSecret, Value: "token-two", Version: 1})
		srb, err := s.RollbackConfig(bg, testAdmin, "dev", "api.token", 1, 2, "")
		if err != nil {
			t.Fatal(err)
		}
		if srb.Value != sec1.Value {
			t.Fatalf("rolled back secret = %q, want the old sealed text %q", srb.Value, sec1.Value)
		}
		if clear, err := s.RevealConfig(bg, testAdmin, "dev", "api.token"); err != nil || clear != "token-one" {
			t.Fatalf("reveal = %q, %v", clear, err)
		}
		if raw := rawAudit(t, s); strings.Contains(raw, "token-one") || strings.Contains(raw, sec1.Value) {
			t.Fatal("the audit log holds a secret")
		}
	})
}

func TestListConfigsPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		groups := []string{"alpha", "beta", "gamma", "delta"}
		type item struct {
			key  string
			typ  config.Type
			tags []string
		}
		var all []item
		var writes []ConfigWrite
		for i := range 1000 {
			it := item{key: fmt.Sprintf("svc.%s.k%04d", groups[i%4], i), typ: config.TypeString, tags: []string{"team-" + groups[i%2]}}
			if i%5 == 0 {
				it.typ = config.TypeNumber
			}
			if i%3 == 0 {
				it.tags = append(it.tags, "hot")
			}
			all = append(all, it)
			writes = append(writes, ConfigWrite{Key: it.key, Type: it.typ, Value: fmt.Sprint(i), Tags: it.tags})
		}
		for i := 0; i < len(writes); i += 250 {
			if _, err := s.ApplyConfigs(bg, testAdmin, "dev", "import", writes[i:i+250]); err != nil {
				t.Fatal(err)
			}
		}
		slices.SortFunc(all, func(a, b item) int { return strings.Compare(a.key, b.key) })
		for _, q := range []ConfigQuery{
			{},
			{Prefix: "svc.beta."},
			{Prefix: "svc.b"},
			{Tag: "hot"},
			{Type: config.TypeNumber},
			{Tag: "hot", Type: config.TypeNumber},
			{Tag: "team-alpha", Prefix: "svc.gamma."},
			{Prefix: "svc.delta.", Cursor: "a"},      // a cursor before the prefix starts at the prefix
			{Prefix: "svc.alpha.", Cursor: "svc.b"},  // one past it ends at once
			{Cursor: "svc.delta.k0500", Limit: 1000}, // at most 500 per page
			{Prefix: "nothing"},
		} {
			t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
				var want []string
				for _, it := range all {
					if strings.HasPrefix(it.key, q.Prefix) && (q.Tag == "" || slices.Contains(it.tags, q.Tag)) &&
						(q.Type == "" || it.typ == q.Type) && it.key > q.Cursor {
						want = append(want, it.key)
					}
				}
				limit := q.Limit
				if limit == 0 {
					limit = 37
					q.Limit = limit
				}
				var got []string
				for pages := 0; ; pages++ {
					page, next, total, err := s.ListConfigs(bg, "dev", q)
					if err != nil {
						t.Fatal(err)
					}
					if total != 1000 {
						t.Fatalf("total = %d", total)
					}
					if len(page) > min(limit, configListMax) || (next != "" && len(page) != min(limit, configListMax)) {
						t.Fatalf("page of %d with next %q", len(page), next)
					}
					for _, e := range page {
						got = append(got, e.Key)
					}
					if next == "" {
						break
					}
					if pages > 100 {
						t.Fatal("paging does not end")
					}
					q.Cursor = next
				}
				if !slices.Equal(got, want) {
					t.Fatalf("got %d keys, want %d (first got %v, want %v)", len(got), len(want), head(got), head(want))
				}
			})
		}
		_, _, _, err := s.ListConfigs(bg, "dev", ConfigQuery{Type: "color"})
		wantField(t, err, "type")
	})
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestListConfigsSpeedAt10000Keys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		var writes []ConfigWrite
		for i := range 10000 {
			writes = append(writes, ConfigWrite{Key: fmt.Sprintf("service%02d.setting%05d", i%50, i), Type: config.TypeString,
				Value: strings.Repeat("v", 40), Description: "a setting", Tags: []string{fmt.Sprintf("t%d", i%7)}})
		}
		startWrite := time.Now()
		for i := 0; i < len(writes); i += 1000 {
			if _, err := s.ApplyConfigs(bg, testAdmin, "dev", "import", writes[i:i+1000]); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("10,000 keys imported in 10 batches in %v", time.Since(startWrite))
		for _, q := range []ConfigQuery{
			{Limit: 50, Cursor: "service25"},
			{Limit: 50, Prefix: "service33."},
			{Limit: 50, Tag: "t3", Cursor: "service40"},
		} {
			start := time.Now()
			page, next, total, err := s.ListConfigs(bg, "dev", q)
			d := time.Since(start)
			if err != nil || len(page) != 50 || next == "" || total != 10000 {
				t.Fatalf("ListConfigs(%+v) = %d entries, next %q, total %d, %v", q, len(page), next, total, err)
			}
			t.Logf("one page of 50 out of 10,000 keys (%+v): %v", q, d)
		}
		start := time.Now()
		all, err := s.AllConfigs(bg, "dev")
		if err != nil || len(all) != 10000 {
			t.Fatalf("AllConfigs = %d, %v", len(all), err)
		}
		t.Logf("AllConfigs of 10,000 keys: %v", time.Since(start))
	})
}

func TestEffectiveConfigs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		chain := []string{"dev", "staging", "base"}
		if _, rev, err := s.EffectiveConfigs(bg, chain); err != nil || rev != "dev:0,staging:0,base:0" {
			t.Fatalf("empty chain: %q, %v", rev, err)
		}
		if _, err := s.ApplyConfigs(bg, testAdmin, "base", "import", []ConfigWrite{str("a", "base"), str("b", "base"), str("c", "base")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplyConfigs(bg, testAdmin, "staging", "import", []ConfigWrite{str("b", "staging"), str("c", "staging")}); err != nil {
			t.Fatal(err)
		}
		mustSetConfig(t, s, "dev", str("c", "dev"))
		got, rev, err := s.EffectiveConfigs(bg, chain)
		if err != nil {
			t.Fatal(err)
		}
		render := func(list []EffectiveEntry) string {
			var parts []string
			for _, e := range list {
				parts = append(parts, e.Key+"="+e.Value+"@"+e.SourceEnv+"/"+e.Env)
			}
			return strings.Join(parts, " ")
		}
		if r := render(got); r != "a=base@base/base b=staging@staging/staging c=dev@dev/dev" {
			t.Fatalf("effective = %s", r)
		}
		if rev != "dev:1,staging:1,base:1" {
			t.Fatalf("revision = %q", rev)
		}
		if r, _ := s.ConfigRevision(bg, chain); r != rev {
			t.Fatalf("ConfigRevision = %q, want %q", r, rev)
		}
		// A change anywhere in the chain changes the revision.
		mustSetConfig(t, s, "base", ConfigWrite{Key: "a", Type: config.TypeString, Value: "base2", Version: 1})
		r2, _ := s.ConfigRevision(bg, chain)
		if r2 != "dev:1,staging:1,base:2" {
			t.Fatalf("revision after a base change = %q", r2)
		}
		if err := s.DeleteConfig(bg, testAdmin, "dev", "c", 1, ""); err != nil {
			t.Fatal(err)
		}
		got, rev, _ = s.EffectiveConfigs(bg, chain)
		if r := render(got); r != "a=base2@base/base b=staging@staging/staging c=staging@staging/staging" || rev != "dev:2,staging:1,base:2" {
			t.Fatalf("after changes: %s (%s)", r, rev)
		}
		// The middle of a chain sees only its own ancestors.
		got, _, _ = s.EffectiveConfigs(bg, chain[1:])
		if r := render(got); r != "a=base2@base/base b=staging@staging/staging c=staging@staging/staging" {
			t.Fatalf("staging sees %s", r)
		}
		_, _, err = s.EffectiveConfigs(bg, nil)
		wantField(t, err, "env")
	})
}

func TestExpireConfigs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := configStore(t, s)
		k1 := mustSetConfig(t, s, "dev", ConfigWrite{Key: "promo.banner", Type: config.TypeString, Value: "sale", TTL: time.Minute})
		if !k1.ExpiresAt.Equal(baseTime.Add(time.Minute)) {
			t.Fatalf("ExpiresAt = %v", k1.ExpiresAt)
		}
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "promo.later", Type: config.TypeString, Value: "x", TTL: 2 * time.Minute})
		mustSetConfig(t, s, "dev", str("stays", "x"))
		clk.Advance(90 * time.Second)
		events := subscribeEvents(t, s, func(ev Event) bool { return ev.Action == "config.expire" })
		n, err := s.ExpireConfigs(bg, "dev", clk.Now())
		if err != nil || n != 1 {
			t.Fatalf("ExpireConfigs = %d, %v", n, err)
		}
		if _, err := s.GetConfig(bg, "dev", "promo.banner"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired key: %v", err)
		}
		h, _ := s.ConfigHistory(bg, "dev", "promo.banner")
		if h[0].Action != "expire" || !h[0].Deleted || h[0].Author != "system" || h[0].Version != 2 {
			t.Fatalf("history = %+v", h[0])
		}
		au := auditEntries(t, s, AuditQuery{ActionPrefix: "config.expire"})
		if len(au) != 1 || au[0].Actor != "system" || au[0].Target != "promo.banner" || !strings.Contains(string(au[0].Before), `"value":"sale"`) {
			t.Fatalf("audit = %+v", au)
		}
		cs := changeStream(t, s, "dev")
		if last := cs[len(cs)-1]; last.Key != "promo.banner" || last.Action != "expire" || last.Version != 2 {
			t.Fatalf("change stream = %+v", last)
		}
		if ev := events(1)[0]; ev.Action != "config.expire" || ev.Target != "promo.banner" {
			t.Fatalf("event = %+v", ev)
		}

		// A write without TTL removes the expiry; one with a TTL renews it.
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "promo.later", Type: config.TypeString, Value: "x", Version: 1})
		if n := s.rdb.ZCard(bg, s.cfgExpiryKey("dev")).Val(); n != 0 {
			t.Fatalf("expiry schedule holds %d keys", n)
		}
		clk.Advance(time.Hour)
		if n, _ := s.SweepExpiredConfigs(bg, []string{"dev", "other"}, clk.Now()); n != 0 {
			t.Fatalf("swept %d", n)
		}

		// Concurrent sweepers remove each key once.
		var writes []ConfigWrite
		for i := range 20 {
			writes = append(writes, ConfigWrite{Key: fmt.Sprintf("tmp.%02d", i), Type: config.TypeString, Value: "x", TTL: time.Second})
		}
		if _, err := s.ApplyConfigs(bg, testAdmin, "dev", "import", writes); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		var total atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := s.ExpireConfigs(bg, "dev", clk.Now())
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(n))
			}()
		}
		wg.Wait()
		if total.Load() != 20 {
			t.Fatalf("concurrent sweepers removed %d keys, want 20", total.Load())
		}
		for _, w := range writes {
			if got := historyActions(t, s, "dev", w.Key); !slices.Equal(got, []string{"2:expire", "1:import"}) {
				t.Fatalf("history of %s = %v", w.Key, got)
			}
		}
		if keys := listKeys(t, s, "dev", ConfigQuery{}); !slices.Equal(keys, []string{"promo.later", "stays"}) {
			t.Fatalf("left: %v", keys)
		}
	})
}

func TestSecretsNeverInClear(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		const clear1, clear2 = "hunter2-Very-Secret-One", "correct-horse-Secret-Two"
		e := mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.password", Type: config.TypeSecret, Value: clear1, Description: "db"})
		if !strings.HasPrefix(e.Value, "s1:") || strings.Contains(e.Value, clear1) {
			t.Fatalf("stored value %q is not sealed", e.Value)
		}
		// Editing only the description keeps the sealed value.
		kept := mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.password", Type: config.TypeSecret, KeepSecret: true, Description: "primary db", Version: 1})
		if kept.Value != e.Value || kept.Version != 2 {
			t.Fatalf("KeepSecret = %+v", kept)
		}
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.password", Type: config.TypeSecret, Value: clear2, Version: 2})
		// Promotion re-seals for the target environment without the caller
		// seeing the clear value.
		src := mustGetConfig(t, s, "dev", "db.password")
		out, err := s.ApplyConfigs(bg, testAdmin, "prod", "promote", []ConfigWrite{
			{Key: "db.password", Type: config.TypeSecret, Value: src.Value, SealedEnv: "dev"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Value == src.Value {
			t.Fatal("a promoted secret kept the source environment's sealed text")
		}
		for _, env := range []string{"dev", "prod"} {
			got, err := s.RevealConfig(bg, testAdmin, env, "db.password")
			if err != nil || got != clear2 {
				t.Fatalf("RevealConfig(%s) = %q, %v", env, got, err)
			}
		}
		reveals := auditEntries(t, s, AuditQuery{ActionPrefix: "secret.reveal"})
		if len(reveals) != 2 || reveals[0].Actor != "root" || reveals[0].Target != "db.password" {
			t.Fatalf("reveal audit = %+v", reveals)
		}
		h, _ := s.ConfigHistory(bg, "dev", "db.password")
		for _, v := range h {
			if !strings.HasPrefix(v.Value, "s1:") {
				t.Fatalf("history holds %q", v.Value)
			}
		}
		for k, v := range dumpKeys(t, s) {
			for _, c := range []string{clear1, clear2} {
				if strings.Contains(v, c) {
					t.Fatalf("key %s holds a secret in clear", k)
				}
			}
		}
		raw := rawAudit(t, s)
		if !strings.Contains(raw, secret.Mask) {
			t.Fatal("audit entries do not mask secrets")
		}
		if strings.Contains(raw, "s1:") {
			t.Fatal("audit entries hold sealed text")
		}

		wantErr(t, func() error { _, err := s.RevealConfig(bg, testAdmin, "dev", "nope"); return err }(), ErrNotFound)
		mustSetConfig(t, s, "dev", str("plain", "x"))
		_, err = s.RevealConfig(bg, testAdmin, "dev", "plain")
		wantField(t, err, "key")

		// Without a master key, secrets are refused.
		bare := New(s.rdb, WithPrefix(s.prefix))
		_, err = bare.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "other.secret", Type: config.TypeSecret, Value: "x"})
		var v *ValidationError
		if !errors.As(err, &v) || v.Fields["value"] != "Secrets need a master key." {
			t.Fatalf("secret without a sealer = %v", err)
		}
	})
}

// execDropper simulates a client that dies in the middle of a transaction:
// while on, a connection that is about to send EXEC sends everything before
// it (MULTI and the queued commands) and then closes.
type execDropper struct {
	on      atomic.Bool
	dropped atomic.Int64
}

var execCommand = []byte("*1\r\n$4\r\nexec\r\n")

type dropConn struct {
	net.Conn
	d *execDropper
}

func (c *dropConn) Write(p []byte) (int, error) {
	if c.d.on.Load() {
		if i := bytes.Index(bytes.ToLower(p), execCommand); i >= 0 {
			c.d.dropped.Add(1)
			_, _ = c.Conn.Write(p[:i])
			c.Conn.Close()
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(p)
}

func (d *execDropper) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &dropConn{Conn: c, d: d}, nil
}

// droppingClient is a client of the same server as rdb whose connections
// go through d.
func droppingClient(t *testing.T, rdb redis.UniversalClient, d *execDropper) redis.UniversalClient {
	t.Helper()
	var c redis.UniversalClient
	switch r := rdb.(type) {
	case *redis.Client:
		opt := *r.Options()
		opt.Dialer = d.dial
		c = redis.NewClient(&opt)
	case *redis.ClusterClient:
		opt := *r.Options()
		opt.Dialer = d.dial
		c = redis.NewClusterClient(&opt)
	default:
		t.Fatalf("unexpected client %T", rdb)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConfigCrashBeforeExecLeavesNoPartialState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		sealer := newTestSealer(t)
		WithSealer(sealer)(s)
		mustSetConfig(t, s, "dev", str("a", "1"))
		d := &execDropper{}
		crashy := New(droppingClient(t, s.rdb, d), WithPrefix(s.prefix), WithSealer(sealer))
		before := dumpKeys(t, s)
		d.on.Store(true)
		_, err := crashy.ApplyConfigs(bg, testAdmin, "dev", "import", []ConfigWrite{
			{Key: "a", Type: config.TypeString, Value: "2", Version: 1, TTL: time.Hour, Tags: []string{"x"}},
			{Key: "b", Type: config.TypeSecret, Value: "s3cret"},
			{Key: "c", Type: config.TypeJSON, Value: `{"k":1}`},
		})
		d.on.Store(false)
		if err == nil || d.dropped.Load() == 0 {
			t.Fatalf("ApplyConfigs through a dying connection = %v (dropped %d)", err, d.dropped.Load())
		}
		if !IsUnavailable(err) {
			t.Errorf("error %v should say the store is unavailable", err)
		}
		wantUnchanged(t, before, dumpKeys(t, s))

		// The same change goes through once the connection is healthy.
		if _, err := crashy.ApplyConfigs(bg, testAdmin, "dev", "import", []ConfigWrite{
			{Key: "a", Type: config.TypeString, Value: "2", Version: 1},
		}); err != nil {
			t.Fatal(err)
		}
		if got := historyActions(t, s, "dev", "a"); !slices.Equal(got, []string{"2:import", "1:set"}) {
			t.Fatalf("history = %v", got)
		}

		// A request cancelled before the change commits writes nothing.
		ctx, cancel := context.WithCancel(bg)
		cancel()
		before = dumpKeys(t, s)
		if _, err := s.SetConfig(ctx, testAdmin, "dev", str("d", "1")); err == nil {
			t.Fatal("a cancelled SetConfig succeeded")
		}
		wantUnchanged(t, before, dumpKeys(t, s))
	})
}

// TestConfigKeysShareOneSlot proves every key of one environment's
// configuration hashes to one Cluster slot.
func TestConfigKeysShareOneSlot(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	s := New(rdb, WithPrefix(prefix))
	env := "prod"
	keys := []string{s.cfgEntriesKey(env), s.cfgVersionsKey(env), s.cfgIndexKey(env), s.cfgTagIndexKey(env, "t"),
		s.cfgTypeIndexKey(env, "secret"), s.cfgHistKey(env, "db/pool.size"), s.cfgExpiryKey(env),
		s.cfgChangesKey(env), s.cfgRevKey(env), s.auditKey(cfgTag(env))}
	for _, k := range keys {
		if clusterSlot(k) != clusterSlot(keys[0]) {
			t.Fatalf("%s is in slot %d, %s in %d", k, clusterSlot(k), keys[0], clusterSlot(keys[0]))
		}
	}
	if clusterSlot(s.schemaKey("db.*")) != clusterSlot(s.schemaPatternsKey()) || clusterSlot(s.schemaKey("x")) != clusterSlot(s.auditKey(tagSchemas)) {
		t.Fatal("schema keys are not in one slot")
	}
}
