package store

import (
	"strings"
	"testing"
)

func TestSettings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		got, err := s.GetSettings(bg)
		if err != nil || got != DefaultSettings {
			t.Fatalf("GetSettings = %+v, %v; want the defaults", got, err)
		}
		next, err := s.UpdateSettings(bg, testAdmin, 0, Settings{AuditMaxEntries: 5000, AuditMaxAgeDays: 30})
		if err != nil {
			t.Fatal(err)
		}
		if next.Version != 1 || next.AuditMaxEntries != 5000 || next.AuditMaxAgeDays != 30 {
			t.Fatalf("updated = %+v", next)
		}
		if got, _ := s.GetSettings(bg); got != next {
			t.Fatalf("GetSettings = %+v, want %+v", got, next)
		}
		_, err = s.UpdateSettings(bg, testAdmin, 7, Settings{AuditMaxEntries: 0, AuditMaxAgeDays: 0})
		wantErr(t, err, ErrConflict)
		if !strings.Contains(err.Error(), "changed by someone else") {
			t.Errorf("message = %q", err)
		}
		last, err := s.UpdateSettings(bg, testAdmin, 1, Settings{AuditMaxEntries: 0, AuditMaxAgeDays: 0})
		if err != nil || last.Version != 2 {
			t.Fatalf("update = %+v, %v", last, err)
		}
		for _, tc := range []struct {
			name  string
			next  Settings
			field string
		}{
			{"cap too small", Settings{AuditMaxEntries: 999}, "audit_max_entries"},
			{"negative cap", Settings{AuditMaxEntries: -1}, "audit_max_entries"},
			{"negative age", Settings{AuditMaxAgeDays: -1}, "audit_max_age_days"},
			{"age too long", Settings{AuditMaxAgeDays: 36501}, "audit_max_age_days"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.UpdateSettings(bg, testAdmin, 0, tc.next)
				wantField(t, err, tc.field)
			})
		}
		e := auditEntries(t, s, AuditQuery{ActionPrefix: "settings."})
		if len(e) != 2 || e[0].Target != "settings" || !strings.HasPrefix(e[0].ID, "settings/") ||
			string(e[1].Before) != `{"audit_max_entries":1000000,"audit_max_age_days":400,"version":0}` {
			t.Fatalf("audit = %+v", e)
		}
	})
}
