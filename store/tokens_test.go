package store

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		secret := []byte{0xde, 0xad, 0xbe, 0xef, 0x01}
		tok, err := s.CreateToken(bg, testAdmin, Token{ID: "tk1", Name: " deploy bot ", Role: "publisher", SecretHash: secret, ExpiresAt: baseTime.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Name != "deploy bot" || tok.CreatedBy != "root" || !tok.CreatedAt.Equal(baseTime) {
			t.Fatalf("created = %+v", tok)
		}
		got, err := s.GetToken(bg, "tk1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != tok.ID || got.Name != tok.Name || got.Role != tok.Role || !got.ExpiresAt.Equal(tok.ExpiresAt) ||
			hex.EncodeToString(got.SecretHash) != hex.EncodeToString(secret) || !got.LastUsedAt.IsZero() {
			t.Fatalf("GetToken = %+v", got)
		}
		clk.Advance(time.Second)
		if _, err := s.CreateToken(bg, testAdmin, Token{ID: "tk2", Name: "ci", Role: "viewer", SecretHash: secret}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListTokens(bg)
		if err != nil || len(list) != 2 || list[0].ID != "tk2" || list[1].ID != "tk1" || !list[0].ExpiresAt.IsZero() {
			t.Fatalf("ListTokens = %+v, %v", list, err)
		}

		_, err = s.CreateToken(bg, testAdmin, Token{ID: "tk1", Name: "again", Role: "viewer", SecretHash: secret})
		wantErr(t, err, ErrConflict)

		if err := s.TouchToken(bg, "tk1", baseTime.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetToken(bg, "tk1"); !got.LastUsedAt.Equal(baseTime.Add(time.Hour)) {
			t.Fatalf("LastUsedAt = %v", got.LastUsedAt)
		}

		if err := s.RevokeToken(bg, testAdmin, "tk1"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetToken(bg, "tk1")
		wantErr(t, err, ErrNotFound)
		wantErr(t, s.RevokeToken(bg, testAdmin, "tk1"), ErrNotFound)
		wantErr(t, s.TouchToken(bg, "tk1", baseTime), ErrNotFound)
		if n := s.rdb.Exists(bg, s.tokenKey("tk1")).Val(); n != 0 {
			t.Fatal("TouchToken brought a revoked token back")
		}
		if list, _ := s.ListTokens(bg); len(list) != 1 {
			t.Fatalf("ListTokens after revoke = %+v", list)
		}

		e := auditEntries(t, s, AuditQuery{ActionPrefix: "token."})
		if len(e) != 3 || e[0].Action != "token.revoke" || e[2].Action != "token.create" || e[2].Target != "tk1" {
			t.Fatalf("audit = %+v", e)
		}
		if want := `{"env":"","expires_at":"2030-01-03T03:04:05Z","id":"tk1","name":"deploy bot","read_secrets":false,"role":"publisher"}`; string(e[2].After) != want {
			t.Errorf("create entry after = %s, want %s", e[2].After, want)
		}
		if raw := rawAudit(t, s); strings.Contains(raw, hex.EncodeToString(secret)) {
			t.Fatal("the audit log holds a token secret hash")
		}
	})
}

func TestCreateTokenValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		if _, err := s.CreateEnvironment(bg, testAdmin, Environment{Name: "prod"}); err != nil {
			t.Fatal(err)
		}
		ok := Token{ID: "t", Name: "n", Role: "viewer", SecretHash: []byte{1}}
		for _, tc := range []struct {
			name  string
			edit  func(*Token)
			field string
		}{
			{"empty name", func(t *Token) { t.Name = "  " }, "name"},
			{"long name", func(t *Token) { t.Name = strings.Repeat("n", 101) }, "name"},
			{"bad role", func(t *Token) { t.Role = "god" }, "role"},
			{"bad id", func(t *Token) { t.ID = "a:b" }, "id"},
			{"no secret", func(t *Token) { t.SecretHash = nil }, "secret"},
			{"expired", func(t *Token) { t.ExpiresAt = s.now().Add(-time.Minute) }, "expires_at"},
			{"unknown env", func(t *Token) { t.Env = "staging" }, "env"},
			{"bad env", func(t *Token) { t.Env = "Prod!" }, "env"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tok := ok
				tc.edit(&tok)
				_, err := s.CreateToken(bg, testAdmin, tok)
				wantField(t, err, tc.field)
			})
		}
		tok := ok
		tok.Env, tok.Name = "prod", strings.Repeat("n", 100)
		if _, err := s.CreateToken(bg, testAdmin, tok); err != nil {
			t.Fatalf("scoped token: %v", err)
		}
		if e := auditEntries(t, s, AuditQuery{ActionPrefix: "token."}); len(e) != 1 || e[0].Env != "prod" {
			t.Fatalf("audit = %+v", e)
		}
	})
}
