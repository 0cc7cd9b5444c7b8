package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/config"
)

var (
	alice = Actor{Name: "alice", Role: "publisher", RequestID: "req-alice"}
	bob   = Actor{Name: "bob", Role: "publisher", RequestID: "req-bob"}
	carol = Actor{Name: "carol", Role: "publisher", RequestID: "req-carol"}
)

// promotionEnvs registers base, with staging and production inheriting from
// it.
func promotionEnvs(t *testing.T, s *Store) {
	t.Helper()
	mustCreateEnv(t, s, Environment{Name: "base"})
	mustCreateEnv(t, s, Environment{Name: "staging", Parent: "base"})
	mustCreateEnv(t, s, Environment{Name: "production", Parent: "base", Protected: true, RequireApproval: true})
}

var stagingChain = []string{"staging", "base"}

func mustPlan(t *testing.T, s *Store, fromChain []string, to string, keys []string) []PromotionItem {
	t.Helper()
	items, err := s.PlanPromotion(bg, fromChain, to, keys)
	if err != nil {
		t.Fatalf("PlanPromotion(%v → %s, %v): %v", fromChain, to, keys, err)
	}
	return items
}

func itemKeys(items []PromotionItem) []string {
	return Promotion{Items: items}.Keys()
}

func mustApply(t *testing.T, s *Store, env, action string, writes ...ConfigWrite) {
	t.Helper()
	if _, err := s.ApplyConfigs(bg, testAdmin, env, action, writes); err != nil {
		t.Fatalf("ApplyConfigs(%s): %v", env, err)
	}
}

func auditActionsOf(t *testing.T, s *Store, q AuditQuery) []string {
	t.Helper()
	var out []string
	for _, e := range auditEntries(t, s, q) {
		out = append(out, e.Action+" "+e.Target)
	}
	return out
}

func TestPlanPromotion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		promotionEnvs(t, s)
		mustApply(t, s, "base", "set",
			str("a", "base"), str("b", "base"),
			ConfigWrite{Key: "shared.secret", Type: config.TypeSecret, Value: "base-secret"})
		mustApply(t, s, "staging", "set",
			ConfigWrite{Key: "b", Type: config.TypeString, Value: "staging", Description: "the b", Tags: []string{"core"}},
			ConfigWrite{Key: "c", Type: config.TypeNumber, Value: "2"},
			ConfigWrite{Key: "api.key", Type: config.TypeSecret, Value: "same-clear-value"})
		mustApply(t, s, "production", "set",
			ConfigWrite{Key: "c", Type: config.TypeNumber, Value: "1"},
			ConfigWrite{Key: "api.key", Type: config.TypeSecret, Value: "same-clear-value"},
			str("only.prod", "x"))
		stagingKey := mustGetConfig(t, s, "staging", "api.key")
		if stagingKey.Value == mustGetConfig(t, s, "production", "api.key").Value {
			t.Fatal("two environments hold the same sealed text; the secret comparison proves nothing")
		}

		// All differences: b (production inherits another value) and c;
		// not a and shared.secret (both inherit them from base), not
		// api.key (same clear value), not only.prod (never deleted).
		items := mustPlan(t, s, stagingChain, "production", nil)
		want := []PromotionItem{
			{Key: "b", Type: config.TypeString, Value: "staging", SourceEnv: "staging", SourceVersion: 1, BaseVersion: 0, Description: "the b", Tags: []string{"core"}},
			{Key: "c", Type: config.TypeNumber, Value: "2", SourceEnv: "staging", SourceVersion: 1, BaseVersion: 1},
		}
		if !reflect.DeepEqual(items, want) {
			t.Fatalf("all differences = %+v\nwant %+v", items, want)
		}

		// A secret that differs is planned with the source's sealed text.
		mustSetConfig(t, s, "production", ConfigWrite{Key: "api.key", Type: config.TypeSecret, Value: "other-clear-value", Version: 1})
		items = mustPlan(t, s, stagingChain, "production", nil)
		if got := itemKeys(items); !slices.Equal(got, []string{"api.key", "b", "c"}) {
			t.Fatalf("all differences = %v", got)
		}
		if it := items[0]; it.Value != stagingKey.Value || it.SourceEnv != "staging" || it.BaseVersion != 2 || it.Type != config.TypeSecret {
			t.Fatalf("secret item = %+v", it)
		}

		// Explicit keys, inherited ones included, sorted and deduplicated;
		// an explicit key is planned even when it holds the same value.
		items = mustPlan(t, s, stagingChain, "production", []string{"shared.secret", "a", "c", "a"})
		want = []PromotionItem{
			{Key: "a", Type: config.TypeString, Value: "base", SourceEnv: "base", SourceVersion: 1},
			{Key: "c", Type: config.TypeNumber, Value: "2", SourceEnv: "staging", SourceVersion: 1, BaseVersion: 1},
			{Key: "shared.secret", Type: config.TypeSecret, Value: mustGetConfig(t, s, "base", "shared.secret").Value, SourceEnv: "base", SourceVersion: 1},
		}
		if !reflect.DeepEqual(items, want) {
			t.Fatalf("explicit keys = %+v\nwant %+v", items, want)
		}

		// From production to staging: b (production inherits base's value,
		// staging has its own), c and api.key differ, only.prod is new.
		items = mustPlan(t, s, []string{"production", "base"}, "staging", nil)
		if got := itemKeys(items); !slices.Equal(got, []string{"api.key", "b", "c", "only.prod"}) {
			t.Fatalf("production → staging = %v", got)
		}
		if it := items[1]; it.SourceEnv != "base" || it.Value != "base" || it.BaseVersion != 1 {
			t.Fatalf("inherited item = %+v", it)
		}
		// From base to staging, which inherits from it: only staging's own
		// overrides differ.
		if items := mustPlan(t, s, []string{"base"}, "staging", nil); !slices.Equal(itemKeys(items), []string{"b"}) {
			t.Fatalf("base → staging = %v", itemKeys(items))
		}
		// Into an environment that is not registered (no parents) or empty.
		if items := mustPlan(t, s, []string{"base"}, "unregistered", nil); !slices.Equal(itemKeys(items), []string{"a", "b", "shared.secret"}) {
			t.Fatalf("base → an empty environment = %v", itemKeys(items))
		}
		// After promoting every difference, none is left.
		if _, err := s.Promote(bg, alice, "staging", "production", mustPlan(t, s, stagingChain, "production", nil), ""); err != nil {
			t.Fatal(err)
		}
		if items := mustPlan(t, s, stagingChain, "production", nil); len(items) != 0 {
			t.Fatalf("after promoting all differences: %v", itemKeys(items))
		}
		if items := mustPlan(t, s, []string{"staging", "base"}, "staging-copy", nil); len(items) != 5 {
			t.Fatalf("staging → empty = %v", itemKeys(items))
		}

		for _, tc := range []struct {
			name      string
			fromChain []string
			to        string
			keys      []string
			field     string
		}{
			{"bad key", stagingChain, "production", []string{"a", "bad key"}, "keys"},
			{"missing key", stagingChain, "production", []string{"a", "nope"}, "keys"},
			{"no keys", stagingChain, "production", []string{}, "keys"},
			{"same env", stagingChain, "staging", nil, "to"},
			{"bad target", stagingChain, "Prod!", nil, "to"},
			{"no source", nil, "production", nil, "from"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.PlanPromotion(bg, tc.fromChain, tc.to, tc.keys)
				wantField(t, err, tc.field)
			})
		}
		_, err := s.PlanPromotion(bg, stagingChain, "production", []string{"a", "nope", "zed"})
		if msg := valueError(t, err, "keys"); msg != "not set in staging: nope, zed" {
			t.Fatalf("missing keys message = %q", msg)
		}

		// Comparing secrets reveals nothing: no reveal is audited and no
		// item holds clear text.
		if au := auditEntries(t, s, AuditQuery{ActionPrefix: "secret.reveal"}); len(au) != 0 {
			t.Fatalf("planning audited reveals: %+v", au)
		}
	})
}

func TestPromote(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := configStore(t, s)
		promotionEnvs(t, s)
		mustApply(t, s, "base", "set", str("a", "base"))
		mustApply(t, s, "staging", "set",
			ConfigWrite{Key: "b", Type: config.TypeString, Value: "staging", Description: "the b", Tags: []string{"core"}, TTL: time.Hour},
			ConfigWrite{Key: "db.password", Type: config.TypeSecret, Value: "pw-from-staging"})
		mustApply(t, s, "production", "set", str("b", "old"))
		clk.Advance(time.Minute)
		events := subscribeEvents(t, s, func(ev Event) bool { return ev.Topic == "promotions" || ev.Action == "config.promote" })

		items := mustPlan(t, s, stagingChain, "production", []string{"a", "b", "db.password"})
		p, err := s.Promote(bg, alice, "staging", "production", items, "ship it")
		if err != nil {
			t.Fatal(err)
		}
		want := Promotion{ID: "production-1", From: "staging", To: "production", Author: "alice", Comment: "ship it",
			Items: items, Created: clk.Now(), Status: PromotionApplied}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("Promote = %+v\nwant %+v", p, want)
		}
		if p.IsRequest() || !p.AppliedAt().Equal(clk.Now()) {
			t.Fatalf("IsRequest %v, AppliedAt %v", p.IsRequest(), p.AppliedAt())
		}
		got, err := s.GetPromotion(bg, p.ID)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("GetPromotion = %+v, %v", got, err)
		}

		// The values landed with the source's description and tags, no TTL.
		b := mustGetConfig(t, s, "production", "b")
		if b.Value != "staging" || b.Description != "the b" || !slices.Equal(b.Tags, []string{"core"}) || !b.ExpiresAt.IsZero() ||
			b.Version != 2 || b.UpdatedBy != "alice" || b.Comment != "ship it" {
			t.Fatalf("promoted b = %+v", b)
		}
		if a := mustGetConfig(t, s, "production", "a"); a.Value != "base" || a.Version != 1 {
			t.Fatalf("promoted a = %+v", a)
		}
		if clear, err := s.RevealConfig(bg, testAdmin, "production", "db.password"); err != nil || clear != "pw-from-staging" {
			t.Fatalf("promoted secret = %q, %v", clear, err)
		}
		for _, k := range []string{"a", "b", "db.password"} {
			if h := historyActions(t, s, "production", k); h[0] != fmt.Sprintf("%d:promote", mustGetConfig(t, s, "production", k).Version) {
				t.Fatalf("history of %s = %v", k, h)
			}
		}
		if got := revOf(t, s, "production"); got != "production:2" {
			t.Fatalf("revision = %s, want one step for the promotion", got)
		}

		// Audit: one config.promote per key and one promotion.apply.
		acts := auditActionsOf(t, s, AuditQuery{Env: "production", Actor: "alice"})
		slices.Sort(acts)
		if !slices.Equal(acts, []string{"config.promote a", "config.promote b", "config.promote db.password", "promotion.apply production-1"}) {
			t.Fatalf("audit = %v", acts)
		}
		au := auditEntries(t, s, AuditQuery{ActionPrefix: "promotion.apply"})
		var doc struct {
			ID, From, To, Comment string
			Keys                  []string
		}
		if err := json.Unmarshal(au[0].After, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.ID != "production-1" || doc.From != "staging" || doc.To != "production" || doc.Comment != "ship it" ||
			!slices.Equal(doc.Keys, []string{"a", "b", "db.password"}) || au[0].Env != "production" {
			t.Fatalf("promotion.apply = %+v (%s)", au[0], au[0].After)
		}

		// Events: one per key, then the promotion.
		var evs []string
		for _, ev := range events(4) {
			evs = append(evs, ev.Topic+" "+ev.Action+" "+ev.Target+" "+ev.Env)
		}
		slices.Sort(evs)
		if !slices.Equal(evs, []string{"configs config.promote a production", "configs config.promote b production",
			"configs config.promote db.password production", "promotions promotion.apply production-1 production"}) {
			t.Fatalf("events = %v", evs)
		}

		// Listed; a second promotion gets the next number and lists first.
		clk.Advance(time.Minute)
		mustSetConfig(t, s, "staging", ConfigWrite{Key: "b", Type: config.TypeString, Value: "staging 2", Version: 1})
		p2, err := s.Promote(bg, bob, "staging", "production", mustPlan(t, s, stagingChain, "production", nil), "")
		if err != nil {
			t.Fatal(err)
		}
		if p2.ID != "production-2" || !slices.Equal(p2.Keys(), []string{"b"}) {
			t.Fatalf("second promotion = %+v", p2)
		}
		list, err := s.ListPromotions(bg, []string{"production", "staging"}, 0)
		if err != nil || len(list) != 2 || list[0].ID != "production-2" || list[1].ID != "production-1" {
			t.Fatalf("ListPromotions = %+v, %v", list, err)
		}
		if reqs, err := s.ListChangeRequests(bg, []string{"production"}, 0); err != nil || len(reqs) != 0 {
			t.Fatalf("ListChangeRequests = %+v, %v", reqs, err)
		}

		// Promoting values the target already holds writes no new
		// versions but is still recorded.
		same, err := s.Promote(bg, bob, "staging", "production", mustPlan(t, s, stagingChain, "production", []string{"b"}), "again")
		if err != nil || same.ID != "production-3" {
			t.Fatalf("no-op promotion = %+v, %v", same, err)
		}
		if got := mustGetConfig(t, s, "production", "b"); got.Version != 3 {
			t.Fatalf("a no-op promotion wrote version %d", got.Version)
		}
		if got := revOf(t, s, "production"); got != "production:3" {
			t.Fatalf("revision = %s after a no-op promotion", got)
		}

		// Bad input.
		for _, tc := range []struct {
			name     string
			from, to string
			items    []PromotionItem
			comment  string
			field    string
		}{
			{"no items", "staging", "production", nil, "", "keys"},
			{"same env", "staging", "staging", items, "", "to"},
			{"bad from", "Staging", "production", items, "", "from"},
			{"long comment", "staging", "production", items, strings.Repeat("x", maxCommentLen+1), "comment"},
			{"bad type", "staging", "production", []PromotionItem{{Key: "x", Type: "color", Value: "1"}}, "", "keys"},
			{"bad key", "staging", "production", []PromotionItem{{Key: "bad key", Type: config.TypeString, Value: "1"}}, "", "key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Promote(bg, alice, tc.from, tc.to, tc.items, tc.comment)
				wantField(t, err, tc.field)
			})
		}
	})
}

func TestPromotionFailingValidationChangesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		promotionEnvs(t, s)
		mustApply(t, s, "staging", "set",
			str("fine", "ok"),
			ConfigWrite{Key: "pool.size", Type: config.TypeNumber, Value: "50"},
			ConfigWrite{Key: "token", Type: config.TypeSecret, Value: "t0k3n"})
		mustApply(t, s, "production", "set", str("existing", "x"))
		items := mustPlan(t, s, stagingChain, "production", nil)
		// The schema arrives after the source value was written.
		mustPutSchema(t, s, "pool.*", `{"type":"number","maximum":10}`, 0)
		before := dumpKeys(t, s)
		_, err := s.Promote(bg, alice, "staging", "production", items, "")
		if msg := valueError(t, err, "pool.size: value"); !strings.Contains(msg, "maximum") {
			t.Fatalf("schema message = %q", msg)
		}
		// A change request that could never apply is refused as well.
		_, err = s.RequestPromotion(bg, alice, "staging", "production", items, "")
		wantField(t, err, "pool.size: value")
		// CheckConfigs, for the preview, says the same.
		err = s.CheckConfigs(bg, "production", Promotion{From: "staging", Items: items}.Writes())
		wantField(t, err, "pool.size: value")
		wantUnchanged(t, before, dumpKeys(t, s))
		if list, _ := s.ListPromotions(bg, []string{"production"}, 0); len(list) != 0 {
			t.Fatalf("listed: %+v", list)
		}
	})
}

func TestPromotionStaleBaseChangesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustApply(t, s, "staging", "set", str("a", "new"), str("b", "new"))
		mustApply(t, s, "production", "set", str("a", "old"))
		items := mustPlan(t, s, []string{"staging"}, "production", nil)
		if items[0].BaseVersion != 1 || items[1].BaseVersion != 0 {
			t.Fatalf("items = %+v", items)
		}
		// Someone edits a, and someone else creates b, in the target.
		mustSetConfig(t, s, "production", ConfigWrite{Key: "a", Type: config.TypeString, Value: "hotfix", Version: 1})
		before := dumpKeys(t, s)
		_, err := s.Promote(bg, alice, "staging", "production", items, "")
		var cc *ConfigConflict
		if !errors.As(err, &cc) || cc.Key != "a" || cc.Current.Value != "hotfix" || !errors.Is(err, ErrConflict) {
			t.Fatalf("stale promotion = %v", err)
		}
		if err := s.CheckConfigs(bg, "production", Promotion{Items: items}.Writes()); !errors.As(err, &cc) {
			t.Fatalf("CheckConfigs of a stale write = %v", err)
		}
		_, err = s.RequestPromotion(bg, alice, "staging", "production", items, "")
		wantErr(t, err, ErrConflict)
		wantUnchanged(t, before, dumpKeys(t, s))

		mustSetConfig(t, s, "production", str("b", "theirs"))
		items = mustPlan(t, s, []string{"staging"}, "production", nil)
		mustSetConfig(t, s, "production", ConfigWrite{Key: "b", Type: config.TypeString, Value: "theirs 2", Version: 1})
		_, err = s.Promote(bg, alice, "staging", "production", items, "")
		if !errors.As(err, &cc) || cc.Key != "b" {
			t.Fatalf("stale promotion = %v", err)
		}
	})
}

func TestPromotionCrashLeavesNoPartialState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		sealer := newTestSealer(t)
		WithSealer(sealer)(s)
		mustApply(t, s, "staging", "set", str("a", "1"), str("b", "2"), ConfigWrite{Key: "s", Type: config.TypeSecret, Value: "sh"})
		mustApply(t, s, "production", "set", str("a", "0"))
		d := &execDropper{}
		crashy := New(droppingClient(t, s.rdb, d), WithPrefix(s.prefix), WithSealer(sealer))
		items := mustPlan(t, s, []string{"staging"}, "production", nil)

		crash := func(name string, fn func() error) {
			t.Helper()
			before := dumpKeys(t, s)
			d.on.Store(true)
			dropped := d.dropped.Load()
			err := fn()
			d.on.Store(false)
			if err == nil || d.dropped.Load() == dropped {
				t.Fatalf("%s through a dying connection = %v (dropped %d)", name, err, d.dropped.Load()-dropped)
			}
			if !IsUnavailable(err) {
				t.Errorf("%s: error %v should say the store is unavailable", name, err)
			}
			wantUnchanged(t, before, dumpKeys(t, s))
		}
		crash("Promote", func() error {
			_, err := crashy.Promote(bg, alice, "staging", "production", items, "")
			return err
		})
		crash("RequestPromotion", func() error {
			_, err := crashy.RequestPromotion(bg, alice, "staging", "production", items, "")
			return err
		})
		req, err := s.RequestPromotion(bg, alice, "staging", "production", items, "")
		if err != nil {
			t.Fatal(err)
		}
		crash("ApprovePromotion", func() error {
			_, err := crashy.ApprovePromotion(bg, bob, req.ID, "ok")
			return err
		})
		crash("RejectPromotion", func() error {
			_, err := crashy.RejectPromotion(bg, bob, req.ID, "no")
			return err
		})

		// Healthy again, the same steps go through.
		if _, err := crashy.ApprovePromotion(bg, bob, req.ID, "ok"); err != nil {
			t.Fatal(err)
		}
		if got := historyActions(t, s, "production", "a"); !slices.Equal(got, []string{"2:promote", "1:set"}) {
			t.Fatalf("history = %v", got)
		}
		if clear, err := s.RevealConfig(bg, testAdmin, "production", "s"); err != nil || clear != "sh" {
			t.Fatalf("promoted secret = %q, %v", clear, err)
		}
	})
}

func TestChangeRequestLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := configStore(t, s)
		promotionEnvs(t, s)
		mustApply(t, s, "staging", "set", str("a", "new"), ConfigWrite{Key: "n", Type: config.TypeNumber, Value: "7"})
		mustApply(t, s, "production", "set", str("a", "old"))
		events := subscribeEvents(t, s, func(ev Event) bool { return ev.Topic == "promotions" })
		items := mustPlan(t, s, stagingChain, "production", nil)

		clk.Advance(time.Minute)
		before := dumpKeys(t, s)
		req, err := s.RequestPromotion(bg, alice, "staging", "production", items, "please")
		if err != nil {
			t.Fatal(err)
		}
		created := clk.Now()
		if req.ID != "production-1" || req.RequestID != req.ID || req.Status != RequestPending || req.Author != "alice" ||
			!req.Created.Equal(created) || !req.IsRequest() || !req.AppliedAt().IsZero() {
			t.Fatalf("request = %+v", req)
		}
		// Nothing but the request itself was written.
		for k, v := range dumpKeys(t, s) {
			if before[k] != v && !strings.Contains(k, ":promotion") && !strings.Contains(k, ":requests") && !strings.HasSuffix(k, ":audit") {
				t.Fatalf("a request changed %s", k)
			}
		}
		if got := mustGetConfig(t, s, "production", "a"); got.Value != "old" {
			t.Fatalf("a request applied: %+v", got)
		}
		if ev := events(1)[0]; ev.Action != "change_request.create" || ev.Target != req.ID || ev.Env != "production" || ev.Actor != "alice" {
			t.Fatalf("event = %+v", ev)
		}
		if stale, err := s.PromotionStale(bg, req); err != nil || stale {
			t.Fatalf("PromotionStale = %v, %v", stale, err)
		}

		// The author cannot approve it.
		_, err = s.ApprovePromotion(bg, alice, req.ID, "")
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Message != "You cannot approve your own change request." {
			t.Fatalf("self-approval = %v", err)
		}

		// Another publisher approves: the values land.
		clk.Advance(time.Minute)
		ok, err := s.ApprovePromotion(bg, bob, req.ID, "looks good")
		if err != nil {
			t.Fatal(err)
		}
		if ok.Status != RequestApproved || ok.Reviewer != "bob" || ok.ReviewComment != "looks good" || !ok.Reviewed.Equal(clk.Now()) ||
			!ok.AppliedAt().Equal(clk.Now()) || ok.Author != "alice" || ok.Comment != "please" {
			t.Fatalf("approved = %+v", ok)
		}
		if got, _ := s.GetPromotion(bg, req.ID); !reflect.DeepEqual(got, ok) {
			t.Fatalf("GetPromotion = %+v\nwant %+v", got, ok)
		}
		a := mustGetConfig(t, s, "production", "a")
		if a.Value != "new" || a.Version != 2 || a.UpdatedBy != "bob" || a.Comment != "please" {
			t.Fatalf("approved a = %+v", a)
		}
		if n := mustGetConfig(t, s, "production", "n"); n.Value != "7" {
			t.Fatalf("approved n = %+v", n)
		}
		if ev := events(1)[0]; ev.Action != "change_request.approve" || ev.Target != req.ID || ev.Actor != "bob" {
			t.Fatalf("event = %+v", ev)
		}
		acts := auditActionsOf(t, s, AuditQuery{Env: "production", Since: created})
		slices.Sort(acts)
		if !slices.Equal(acts, []string{"change_request.approve production-1", "change_request.create production-1", "config.promote a", "config.promote n"}) {
			t.Fatalf("audit = %v", acts)
		}
		list, err := s.ListPromotions(bg, []string{"production"}, 0)
		if err != nil || len(list) != 1 || list[0].ID != req.ID || list[0].Status != RequestApproved {
			t.Fatalf("ListPromotions = %+v, %v", list, err)
		}

		// It cannot be approved or rejected twice.
		_, err = s.ApprovePromotion(bg, carol, req.ID, "")
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, "already approved by bob") {
			t.Fatalf("second approval = %v", err)
		}
		_, err = s.RejectPromotion(bg, carol, req.ID, "late")
		wantErr(t, err, ErrConflict)
		if got := historyActions(t, s, "production", "a"); !slices.Equal(got, []string{"2:promote", "1:set"}) {
			t.Fatalf("history = %v", got)
		}

		// Rejection needs a comment and writes nothing else.
		mustSetConfig(t, s, "staging", ConfigWrite{Key: "a", Type: config.TypeString, Value: "newer", Version: 1})
		clk.Advance(time.Minute)
		req2, err := s.RequestPromotion(bg, alice, "staging", "production", mustPlan(t, s, stagingChain, "production", nil), "")
		if err != nil || req2.ID != "production-2" {
			t.Fatalf("second request = %+v, %v", req2, err)
		}
		events(1)
		_, err = s.RejectPromotion(bg, bob, req2.ID, "  ")
		wantField(t, err, "comment")
		before = dumpKeys(t, s)
		clk.Advance(time.Minute)
		no, err := s.RejectPromotion(bg, bob, req2.ID, "not this week")
		if err != nil {
			t.Fatal(err)
		}
		if no.Status != RequestRejected || no.Reviewer != "bob" || no.ReviewComment != "not this week" || !no.Reviewed.Equal(clk.Now()) {
			t.Fatalf("rejected = %+v", no)
		}
		if ev := events(1)[0]; ev.Action != "change_request.reject" || ev.Target != req2.ID {
			t.Fatalf("event = %+v", ev)
		}
		for k, v := range dumpKeys(t, s) {
			if before[k] != v && !strings.Contains(k, ":promotion:") && !strings.HasSuffix(k, ":requests-pending") && !strings.HasSuffix(k, ":audit") {
				t.Fatalf("a rejection changed %s", k)
			}
		}
		_, err = s.ApprovePromotion(bg, carol, req2.ID, "")
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, "already rejected") {
			t.Fatalf("approval of a rejected request = %v", err)
		}
		au := auditEntries(t, s, AuditQuery{ActionPrefix: "change_request.reject"})
		if len(au) != 1 || au[0].Actor != "bob" || !strings.Contains(string(au[0].After), `"review_comment":"not this week"`) {
			t.Fatalf("reject audit = %+v", au)
		}

		// Direct promotions are not change requests.
		direct, err := s.Promote(bg, carol, "staging", "production", mustPlan(t, s, stagingChain, "production", []string{"n"}), "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.ApprovePromotion(bg, bob, direct.ID, "")
		wantErr(t, err, ErrConflict)

		// Pending requests list first, then the others, newest first.
		clk.Advance(time.Minute)
		req3, err := s.RequestPromotion(bg, alice, "staging", "production", mustPlan(t, s, stagingChain, "production", nil), "")
		if err != nil {
			t.Fatal(err)
		}
		mustApply(t, s, "staging", "set", str("only.staging", "x"))
		clk.Advance(time.Minute)
		req4, err := s.RequestPromotion(bg, alice, "production", "staging", mustPlan(t, s, []string{"production", "base"}, "staging", nil), "")
		if err != nil {
			t.Fatal(err)
		}
		if req4.ID != "staging-1" {
			t.Fatalf("ids are numbered per target: %s", req4.ID)
		}
		var ids []string
		reqs, err := s.ListChangeRequests(bg, []string{"production", "staging"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			ids = append(ids, r.ID+":"+r.Status)
		}
		if !slices.Equal(ids, []string{"staging-1:pending", "production-4:pending", "production-2:rejected", "production-1:approved"}) {
			t.Fatalf("ListChangeRequests = %v", ids)
		}
		if reqs, _ := s.ListChangeRequests(bg, []string{"production", "staging"}, 3); len(reqs) != 3 || reqs[2].ID != "production-2" {
			t.Fatalf("limited ListChangeRequests = %+v", reqs)
		}
		var applied []string
		list, _ = s.ListPromotions(bg, []string{"production", "staging"}, 0)
		for _, p := range list {
			applied = append(applied, p.ID)
		}
		if !slices.Equal(applied, []string{"production-3", "production-1"}) || req3.ID != "production-4" {
			t.Fatalf("ListPromotions = %v", applied)
		}

		for _, id := range []string{"", "production", "production-0", "production-99", "production-x", "Prod-1", "production-01"} {
			_, err := s.GetPromotion(bg, id)
			wantErr(t, err, ErrNotFound)
		}
		_, err = s.ApprovePromotion(bg, bob, "production-99", "")
		wantErr(t, err, ErrNotFound)
		_, err = s.RejectPromotion(bg, bob, "nope", "x")
		wantErr(t, err, ErrNotFound)
	})
}

func TestConcurrentApprovalsApplyOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustApply(t, s, "staging", "set", str("a", "new"))
		mustApply(t, s, "production", "set", str("a", "old"))
		req, err := s.RequestPromotion(bg, alice, "staging", "production", mustPlan(t, s, []string{"staging"}, "production", nil), "")
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.ApprovePromotion(bg, Actor{Name: fmt.Sprintf("reviewer%d", i)}, req.ID, "")
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrConflict):
				t.Fatalf("a losing approval got %v, want a conflict", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d approvals applied, want exactly 1 (%v)", won, errs)
		}
		if got := historyActions(t, s, "production", "a"); !slices.Equal(got, []string{"2:promote", "1:set"}) {
			t.Fatalf("history = %v", got)
		}
		if au := auditEntries(t, s, AuditQuery{ActionPrefix: "change_request.approve"}); len(au) != 1 {
			t.Fatalf("approve audit = %d entries", len(au))
		}
	})
}

func TestStaleChangeRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		promotionEnvs(t, s)
		mustApply(t, s, "staging", "set", str("a", "new"), str("b", "new"))
		mustApply(t, s, "production", "set", str("a", "old"))
		req, err := s.RequestPromotion(bg, alice, "staging", "production", mustPlan(t, s, stagingChain, "production", nil), "ship")
		if err != nil {
			t.Fatal(err)
		}
		// The target changes after the request was made.
		mustSetConfig(t, s, "production", ConfigWrite{Key: "a", Type: config.TypeString, Value: "hotfix", Version: 1})
		if stale, err := s.PromotionStale(bg, req); err != nil || !stale {
			t.Fatalf("PromotionStale = %v, %v", stale, err)
		}
		before := dumpKeys(t, s)
		_, err = s.ApprovePromotion(bg, bob, req.ID, "")
		var se *StaleRequestError
		if !errors.As(err, &se) || se.ID != req.ID || se.Key != "a" || !errors.Is(err, ErrConflict) {
			t.Fatalf("approval of a stale request = %v", err)
		}
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Message != "The target changed since this request was made; refresh it first." {
			t.Fatalf("stale message = %v", err)
		}
		wantUnchanged(t, before, dumpKeys(t, s))

		// Refresh reads the source and the target again.
		mustSetConfig(t, s, "staging", ConfigWrite{Key: "b", Type: config.TypeString, Value: "newer", Version: 1})
		_, err = s.RefreshPromotion(bg, alice, req.ID, []string{"production"})
		wantField(t, err, "from")
		fresh, err := s.RefreshPromotion(bg, alice, req.ID, stagingChain)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Status != RequestPending || fresh.ID != req.ID || !slices.Equal(fresh.Keys(), req.Keys()) ||
			fresh.Items[0].BaseVersion != 2 || fresh.Items[1].Value != "newer" || fresh.Items[1].SourceVersion != 2 {
			t.Fatalf("refreshed = %+v", fresh)
		}
		if got, _ := s.GetPromotion(bg, req.ID); !reflect.DeepEqual(got, fresh) {
			t.Fatalf("stored = %+v\nwant %+v", got, fresh)
		}
		if stale, err := s.PromotionStale(bg, fresh); err != nil || stale {
			t.Fatalf("PromotionStale after refresh = %v, %v", stale, err)
		}
		if au := auditEntries(t, s, AuditQuery{ActionPrefix: "change_request.refresh"}); len(au) != 1 || au[0].Actor != "alice" || au[0].Target != req.ID {
			t.Fatalf("refresh audit = %+v", au)
		}
		_, err = s.ApprovePromotion(bg, bob, req.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if a, b := mustGetConfig(t, s, "production", "a"), mustGetConfig(t, s, "production", "b"); a.Value != "new" || a.Version != 3 || b.Value != "newer" {
			t.Fatalf("applied a = %+v, b = %+v", a, b)
		}
		_, err = s.RefreshPromotion(bg, alice, req.ID, stagingChain)
		wantErr(t, err, ErrConflict)
		if stale, err := s.PromotionStale(bg, fresh); err != nil || !stale {
			// fresh is the pending copy; the target moved on by applying it.
			t.Fatalf("PromotionStale of the pending copy = %v, %v", stale, err)
		}
		if stale, err := s.PromotionStale(bg, mustGetPromotion(t, s, req.ID)); err != nil || stale {
			t.Fatalf("an approved request is never stale: %v, %v", stale, err)
		}

		// A key deleted from the source makes the refresh fail.
		req2, err := s.RequestPromotion(bg, alice, "staging", "production", mustPlan(t, s, stagingChain, "production", []string{"b"}), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteConfig(bg, testAdmin, "staging", "b", 2, ""); err != nil {
			t.Fatal(err)
		}
		_, err = s.RefreshPromotion(bg, alice, req2.ID, stagingChain)
		wantField(t, err, "keys")
	})
}

func mustGetPromotion(t *testing.T, s *Store, id string) Promotion {
	t.Helper()
	p, err := s.GetPromotion(bg, id)
	if err != nil {
		t.Fatalf("GetPromotion(%s): %v", id, err)
	}
	return p
}

func TestSecretsThroughChangeRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		promotionEnvs(t, s)
		const clearBase, clearStaging = "Base-Clear-Secret-9f3", "Staging-Clear-Secret-41c"
		mustApply(t, s, "base", "set", ConfigWrite{Key: "inherited.secret", Type: config.TypeSecret, Value: clearBase})
		mustApply(t, s, "staging", "set", ConfigWrite{Key: "db.password", Type: config.TypeSecret, Value: clearStaging, Description: "db"})
		mustApply(t, s, "production", "set", ConfigWrite{Key: "db.password", Type: config.TypeSecret, Value: "old-prod-pw"})
		items := mustPlan(t, s, stagingChain, "production", []string{"db.password", "inherited.secret"})
		for _, it := range items {
			if !strings.HasPrefix(it.Value, "s1:") {
				t.Fatalf("item %s holds %q, want sealed text", it.Key, it.Value)
			}
		}
		req, err := s.RequestPromotion(bg, alice, "staging", "production", items, "rotate db password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApprovePromotion(bg, bob, req.ID, "ok"); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{"db.password": clearStaging, "inherited.secret": clearBase} {
			got, err := s.RevealConfig(bg, testAdmin, "production", key)
			if err != nil || got != want {
				t.Fatalf("RevealConfig(production, %s) = %q, %v", key, got, err)
			}
			e := mustGetConfig(t, s, "production", key)
			if src := itemByKey(items, key); e.Value == src.Value {
				t.Fatalf("%s kept the source's sealed text instead of being sealed for production", key)
			}
		}
		if d := mustGetConfig(t, s, "production", "db.password"); d.Description != "db" {
			t.Fatalf("description = %q", d.Description)
		}
		for k, v := range dumpKeys(t, s) {
			for _, c := range []string{clearBase, clearStaging} {
				if strings.Contains(v, c) {
					t.Fatalf("key %s holds a secret in clear", k)
				}
			}
		}
		raw := rawAudit(t, s)
		if strings.Contains(raw, "s1:") || strings.Contains(raw, clearStaging) || strings.Contains(raw, clearBase) {
			t.Fatal("the audit log holds a secret")
		}
	})
}

func itemByKey(items []PromotionItem, key string) PromotionItem {
	for _, it := range items {
		if it.Key == key {
			return it
		}
	}
	return PromotionItem{}
}

func TestPromotionKeysShareTheTargetSlot(t *testing.T) {
	s := New(nil, WithPrefix("keel:"))
	env := "production"
	keys := []string{s.cfgEntriesKey(env), s.cfgPromotionSeqKey(env), s.cfgPromotionKey(env, "production-12"),
		s.cfgPromotionsKey(env), s.cfgRequestsKey(env), s.cfgPendingRequestsKey(env), s.auditKey(cfgTag(env))}
	for _, k := range keys {
		if clusterSlot(k) != clusterSlot(keys[0]) {
			t.Fatalf("%s is in slot %d, %s in %d", k, clusterSlot(k), keys[0], clusterSlot(keys[0]))
		}
	}
	for id, want := range map[string]string{"production-12": "production", "us-east-1-3": "us-east-1", "a-1": "a"} {
		if env, ok := promotionEnv(id); !ok || env != want {
			t.Errorf("promotionEnv(%q) = %q, %v; want %q", id, env, ok, want)
		}
	}
}
