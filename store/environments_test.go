package store

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func envNames(list []Environment) []string {
	var out []string
	for _, e := range list {
		out = append(out, e.Name)
	}
	return out
}

func mustCreateEnv(t *testing.T, s *Store, e Environment) Environment {
	t.Helper()
	got, err := s.CreateEnvironment(bg, testAdmin, e)
	if err != nil {
		t.Fatalf("CreateEnvironment(%s): %v", e.Name, err)
	}
	return got
}

func TestCreateEnvironment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		useClock(s, baseTime)
		dev := mustCreateEnv(t, s, Environment{Name: "dev"})
		if dev.Order != 1 || dev.Color != DefaultEnvColor || dev.Version != 1 || !dev.CreatedAt.Equal(baseTime) {
			t.Fatalf("dev = %+v", dev)
		}
		mustCreateEnv(t, s, Environment{Name: "qa", Order: 10, Color: "#ABCDEF"})
		next := mustCreateEnv(t, s, Environment{Name: "prod", Parent: "qa", Protected: true})
		if next.Order != 11 {
			t.Fatalf("default order = %d, want one past the highest", next.Order)
		}
		mustCreateEnv(t, s, Environment{Name: "alpha", Order: 10})
		got, err := s.GetEnvironment(bg, "prod")
		if err != nil || got != next {
			t.Fatalf("GetEnvironment = %+v, %v; want %+v", got, err, next)
		}
		list, err := s.ListEnvironments(bg)
		if err != nil {
			t.Fatal(err)
		}
		if names := envNames(list); !slices.Equal(names, []string{"dev", "alpha", "qa", "prod"}) {
			t.Fatalf("ListEnvironments = %v, want by order then name", names)
		}
		_, err = s.CreateEnvironment(bg, testAdmin, Environment{Name: "dev"})
		wantErr(t, err, ErrConflict)
		_, err = s.GetEnvironment(bg, "nope")
		wantErr(t, err, ErrNotFound)

		e := auditEntries(t, s, AuditQuery{Env: "prod"})
		if len(e) != 1 || e[0].Action != "environment.create" || e[0].Target != "prod" || !strings.Contains(string(e[0].After), `"parent":"qa"`) {
			t.Fatalf("audit = %+v", e)
		}
	})
}

func TestEnvironmentValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateEnv(t, s, Environment{Name: "base"})
		for _, tc := range []struct {
			name  string
			env   Environment
			field string
		}{
			{"empty name", Environment{}, "name"},
			{"upper case", Environment{Name: "Prod"}, "name"},
			{"leading dash", Environment{Name: "-prod"}, "name"},
			{"too long", Environment{Name: strings.Repeat("a", 41)}, "name"},
			{"bad color", Environment{Name: "x", Color: "red"}, "color"},
			{"short color", Environment{Name: "x", Color: "#fff"}, "color"},
			{"negative order", Environment{Name: "x", Order: -1}, "order"},
			{"own parent", Environment{Name: "x", Parent: "x"}, "parent"},
			{"missing parent", Environment{Name: "x", Parent: "ghost"}, "parent"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.CreateEnvironment(bg, testAdmin, tc.env)
				wantField(t, err, tc.field)
			})
		}
		if list, _ := s.ListEnvironments(bg); len(list) != 1 {
			t.Fatalf("invalid environments were stored: %v", envNames(list))
		}
		if n := len(auditActions(t, s)); n != 1 {
			t.Fatalf("%d audit entries, want 1", n)
		}
	})
}

func TestUpdateEnvironment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		mustCreateEnv(t, s, Environment{Name: "staging"})
		clk.Advance(time.Minute)
		up, err := s.UpdateEnvironment(bg, testAdmin, "staging", 1, func(e *Environment) error {
			e.Color, e.Order, e.RequireApproval = "#f59e0b", 7, true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if up.Version != 2 || up.Order != 7 || !up.RequireApproval || !up.UpdatedAt.Equal(clk.Now()) || !up.CreatedAt.Equal(baseTime) {
			t.Fatalf("updated = %+v", up)
		}
		if score := s.rdb.ZScore(bg, s.envsIndexKey(), "staging").Val(); score != 7 {
			t.Fatalf("index score = %v", score)
		}
		e := auditEntries(t, s, AuditQuery{ActionPrefix: "environment.update"})
		if len(e) != 1 || !strings.Contains(string(e[0].Before), `"color":"#64748b"`) || !strings.Contains(string(e[0].After), `"color":"#f59e0b"`) {
			t.Fatalf("audit = %+v", e)
		}

		// A stale version is refused and writes nothing.
		_, err = s.UpdateEnvironment(bg, testAdmin, "staging", 1, func(e *Environment) error { e.Order = 9; return nil })
		wantErr(t, err, ErrConflict)
		if !strings.Contains(err.Error(), "environment staging was changed by someone else") {
			t.Errorf("message = %q", err)
		}
		// Version 0 skips the check; an unchanged result writes nothing.
		same, err := s.UpdateEnvironment(bg, testAdmin, "staging", 0, func(e *Environment) error { return nil })
		if err != nil || same.Version != 2 {
			t.Fatalf("no-op update = %+v, %v", same, err)
		}
		_, err = s.UpdateEnvironment(bg, testAdmin, "staging", 0, func(e *Environment) error { e.Name = "other"; return nil })
		wantField(t, err, "name")
		_, err = s.UpdateEnvironment(bg, testAdmin, "staging", 0, func(e *Environment) error { e.Color = "blue"; return nil })
		wantField(t, err, "color")
		_, err = s.UpdateEnvironment(bg, testAdmin, "ghost", 0, func(e *Environment) error { return nil })
		wantErr(t, err, ErrNotFound)
		if n := len(auditEntries(t, s, AuditQuery{ActionPrefix: "environment.update"})); n != 1 {
			t.Fatalf("%d update entries, want 1", n)
		}
	})
}

func TestConcurrentEnvironmentUpdates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateEnv(t, s, Environment{Name: "prod"})
		const writers = 8
		var wg sync.WaitGroup
		errs := make([]error, writers)
		start := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				<-start
				_, errs[i] = s.UpdateEnvironment(bg, testAdmin, "prod", 1, func(e *Environment) error {
					e.Order = 100 + i
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if won >= 0 {
					t.Fatalf("writers %d and %d both won", won, i)
				}
				won = i
			case !strings.Contains(err.Error(), "changed by someone else"):
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no writer won")
		}
		got, _ := s.GetEnvironment(bg, "prod")
		if got.Version != 2 || got.Order != 100+won {
			t.Fatalf("stored = %+v, want the winner's order %d", got, 100+won)
		}
		if n := len(auditEntries(t, s, AuditQuery{ActionPrefix: "environment.update"})); n != 1 {
			t.Fatalf("%d update entries, want 1", n)
		}
	})
}

func TestEnvironmentParents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustCreateEnv(t, s, Environment{Name: "a"})
		mustCreateEnv(t, s, Environment{Name: "b", Parent: "a"})
		mustCreateEnv(t, s, Environment{Name: "c", Parent: "b"})

		for _, tc := range []struct{ env, parent string }{
			{"a", "c"}, // a → c → b → a
			{"a", "b"},
			{"b", "c"},
			{"a", "a"},
		} {
			_, err := s.UpdateEnvironment(bg, testAdmin, tc.env, 0, func(e *Environment) error { e.Parent = tc.parent; return nil })
			wantField(t, err, "parent")
		}
		// Re-parenting without a cycle is fine.
		if _, err := s.UpdateEnvironment(bg, testAdmin, "c", 0, func(e *Environment) error { e.Parent = "a"; return nil }); err != nil {
			t.Fatal(err)
		}

		err := s.DeleteEnvironment(bg, testAdmin, "a")
		wantErr(t, err, ErrConflict)
		if !strings.Contains(err.Error(), "parent of") {
			t.Errorf("message = %q", err)
		}
		for _, n := range []string{"c", "b", "a"} {
			if err := s.DeleteEnvironment(bg, testAdmin, n); err != nil {
				t.Fatalf("delete %s: %v", n, err)
			}
		}
		wantErr(t, s.DeleteEnvironment(bg, testAdmin, "a"), ErrNotFound)
		if list, _ := s.ListEnvironments(bg); len(list) != 0 {
			t.Fatalf("left: %v", envNames(list))
		}
		if n := len(auditEntries(t, s, AuditQuery{ActionPrefix: "environment.delete"})); n != 3 {
			t.Fatalf("%d delete entries, want 3", n)
		}
	})
}

func TestConcurrentParentChangesCannotMakeACycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		for round := range 10 {
			x, y := "x"+string(rune('a'+round)), "y"+string(rune('a'+round))
			mustCreateEnv(t, s, Environment{Name: x})
			mustCreateEnv(t, s, Environment{Name: y})
			var wg sync.WaitGroup
			wg.Go(func() {
				s.UpdateEnvironment(bg, testAdmin, x, 0, func(e *Environment) error { e.Parent = y; return nil })
			})
			wg.Go(func() {
				s.UpdateEnvironment(bg, testAdmin, y, 0, func(e *Environment) error { e.Parent = x; return nil })
			})
			wg.Wait()
			ex, _ := s.GetEnvironment(bg, x)
			ey, _ := s.GetEnvironment(bg, y)
			if ex.Parent == y && ey.Parent == x {
				t.Fatalf("round %d: %s and %s are each other's parent", round, x, y)
			}
		}
	})
}

func TestEnsureDefaultEnvironments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		var wg sync.WaitGroup
		created := make([]bool, 4)
		for i := range created {
			wg.Go(func() {
				var err error
				if created[i], err = s.EnsureDefaultEnvironments(bg); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := len(slices.DeleteFunc(created, func(b bool) bool { return !b })); n != 1 {
			t.Fatalf("%d callers created the defaults, want 1", n)
		}
		list, err := s.ListEnvironments(bg)
		if err != nil {
			t.Fatal(err)
		}
		if names := envNames(list); !slices.Equal(names, []string{"development", "staging", "production"}) {
			t.Fatalf("defaults = %v", names)
		}
		prod := list[2]
		if !prod.Protected || !prod.RequireApproval || prod.Color != "#ef4444" || prod.Order != 3 || list[0].Color != "#22c55e" || list[1].Color != "#f59e0b" {
			t.Fatalf("defaults = %+v", list)
		}
		e := auditEntries(t, s, AuditQuery{Actor: "system"})
		if len(e) != 3 {
			t.Fatalf("audit = %+v", e)
		}
		if again, err := s.EnsureDefaultEnvironments(bg); err != nil || again {
			t.Fatalf("second EnsureDefaultEnvironments = %v, %v", again, err)
		}
	})
}
