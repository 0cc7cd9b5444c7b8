package auth

import (
	"os"
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if err := VerifyPassword(h, "correct horse battery"); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := VerifyPassword(h, "correct horse batterY"); err != ErrPasswordMismatch {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("same salt twice")
	}
}

func TestParseHashRefusesHostileParameters(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1,x=3$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, _, _, err := ParseHash(h); err == nil {
			t.Errorf("accepted %q", h)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	for pw, ok := range map[string]bool{"short": false, "          ": false, "long enough pw": true, strings.Repeat("x", 300): false} {
		if got := CheckPasswordPolicy(pw) == ""; got != ok {
			t.Errorf("%q: ok=%v", pw, got)
		}
	}
}

func TestTokenFormat(t *testing.T) {
	id, secret, full := NewToken()
	gid, gsecret, err := ParseToken(full)
	if err != nil || gid != id || gsecret != secret {
		t.Fatalf("round trip: %v", err)
	}
	if !SecretMatches(secret, HashSecret(secret)) || SecretMatches(secret+"x", HashSecret(secret)) {
		t.Fatal("secret matching")
	}
	for _, bad := range []string{"", "keel_", full + "x", strings.Replace(full, "keel_", "kael_", 1), "keel_ABCDEFGHIJKL_" + secret} {
		if _, _, err := ParseToken(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": ""} {
		if got := BearerToken(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

func TestPrincipalPermissions(t *testing.T) {
	prod := EnvironmentInfo{Name: "production", Protected: true}
	dev := EnvironmentInfo{Name: "development"}
	cases := []struct {
		p    Principal
		perm Permission
		env  EnvironmentInfo
		want bool
	}{
		{Principal{Role: Viewer}, PermRead, prod, true},
		{Principal{Role: Viewer}, PermWrite, dev, false},
		{Principal{Role: Editor}, PermWrite, dev, true},
		{Principal{Role: Editor}, PermWrite, prod, false},
		{Principal{Role: Publisher}, PermWrite, prod, true},
		{Principal{Role: Publisher}, PermRevealSecrets, dev, false},
		{Principal{Role: Admin}, PermRevealSecrets, dev, true},
		{Principal{Role: Admin, EnvScope: "development"}, PermWrite, prod, false},
		{Principal{Role: Admin, EnvScope: "development"}, PermWrite, dev, true},
		{Principal{Role: Admin, EnvScope: "development"}, PermManageUsers, EnvironmentInfo{}, false},
		{Principal{Role: RoleNone}, PermRead, dev, false},
	}
	for _, c := range cases {
		if got := c.p.Can(c.perm, c.env); got != c.want {
			t.Errorf("%v %s in %s: %v", c.p, c.perm, c.env.Name, got)
		}
	}
	var nobody *Principal
	if nobody.Has(PermRead) || nobody.ActorName() != "anonymous" {
		t.Fatal("nil principal")
	}
}

func TestRoleParsing(t *testing.T) {
	for _, r := range Roles {
		got, err := ParseRole(strings.ToUpper(r.String()))
		if err != nil || got != r {
			t.Fatalf("%s: %v %v", r, got, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Fatal("accepted root")
	}
}

// TestREADMEPrintsTheMatrix keeps the README's roles table equal to Matrix.
func TestREADMEPrintsTheMatrix(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), MatrixMarkdown()) {
		t.Fatalf("README.md does not hold the current permission matrix; paste:\n%s", MatrixMarkdown())
	}
}

func FuzzParseToken(f *testing.F) {
	_, _, full := NewToken()
	f.Add(full)
	f.Add("keel_abc_def")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseToken(s)
		if err == nil && "keel_"+id+"_"+secret != s {
			t.Fatalf("accepted %q but does not round-trip", s)
		}
	})
}

func FuzzParseHash(f *testing.F) {
	h, _ := HashPassword("seed password")
	f.Add(h)
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := ParseHash(s)
		if err == nil && (p.Memory > 256*1024 || len(salt) < 8 || len(key) < 16) {
			t.Fatalf("accepted hostile %q", s)
		}
	})
}

func TestReceivesSecrets(t *testing.T) {
	cases := []struct {
		p    *Principal
		want bool
	}{
		{nil, false},
		{&Principal{Kind: KindUser, Role: Publisher}, false},
		{&Principal{Kind: KindUser, Role: Admin}, true},
		{&Principal{Kind: KindToken, Role: Viewer}, false},
		{&Principal{Kind: KindToken, Role: Viewer, ReadSecrets: true}, true},
		{&Principal{Kind: KindUser, Role: Viewer, ReadSecrets: true}, false},
	}
	for i, c := range cases {
		if got := c.p.ReceivesSecrets(); got != c.want {
			t.Errorf("case %d: %v", i, got)
		}
	}
}
