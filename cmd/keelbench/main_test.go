package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Run(m)) }

func TestCSRFField(t *testing.T) {
	tests := []struct {
		name   string
		page   string
		want   string
		wantOK bool
	}{
		{"name first", `<form><input type="hidden" name="_csrf" value="abc123"></form>`, "abc123", true},
		{"value first", `<input value="v-1" type="hidden" name="_csrf"/>`, "v-1", true},
		{"escaped value", `<input type="hidden" name="_csrf" value="a&amp;b&#43;c">`, "a&b+c", true},
		{"multi-line tag", "<input\n  type=\"hidden\"\n  name=\"_csrf\"\n  value=\"xyz\"\n>", "xyz", true},
		{"other inputs first", `<input name="username" value="admin"><input name="_csrf" value="tok">`, "tok", true},
		{"missing", `<input name="username" value="admin">`, "", false},
		{"empty value", `<input name="_csrf" value="">`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := csrfField([]byte(tt.page))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("csrfField = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	rates := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {999.4, "999"}, {1000, "1,000"}, {12345.6, "12,346"}, {1234567, "1,234,567"},
	}
	for _, tt := range rates {
		if got := formatRate(tt.in); got != tt.want {
			t.Errorf("formatRate(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	lats := []struct {
		in   time.Duration
		want string
	}{
		{0, "–"}, {450 * time.Microsecond, "0.45 ms"}, {12340 * time.Microsecond, "12.3 ms"}, {1500 * time.Millisecond, "1500 ms"},
	}
	for _, tt := range lats {
		if got := formatLatency(tt.in); got != tt.want {
			t.Errorf("formatLatency(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// fakeLogin follows Keel's sign-in contract: GET /login sets keel_csrf and
// renders the token in a hidden _csrf field; POST /login wants the field,
// the cookie, a same-origin Origin header and the right password.
func fakeLogin(t *testing.T, password string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/login" {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			http.SetCookie(w, &http.Cookie{Name: "keel_csrf", Value: "c00kie", Path: "/", HttpOnly: true})
			w.Write([]byte(`<form method="post"><input type="hidden" name="_csrf" value="f0rm"></form>`))
		case http.MethodPost:
			c, err := r.Cookie("keel_csrf")
			if err != nil || c.Value != "c00kie" || r.PostFormValue("_csrf") != "f0rm" || r.Header.Get("Origin") != srv.URL {
				http.Error(w, "csrf", http.StatusForbidden)
				return
			}
			if r.PostFormValue("username") != "admin" || r.PostFormValue("password") != password {
				http.Error(w, "Wrong username or password", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "keel_session", Value: "s3ss", Path: "/", HttpOnly: true})
			http.Redirect(w, r, "/", http.StatusSeeOther)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSignIn(t *testing.T) {
	srv := fakeLogin(t, "right")
	t.Run("right password", func(t *testing.T) {
		c, err := signIn(context.Background(), srv.URL, "admin", "right")
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != "keel_session=s3ss" {
			t.Errorf("cookie = %q, want keel_session=s3ss", c.String())
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := signIn(context.Background(), srv.URL, "admin", "wrong")
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("err = %v, want the 401 reported", err)
		}
	})
}

func TestExpectStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if r.Header.Get("If-None-Match") == `"e1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("all good"))
	}))
	t.Cleanup(srv.Close)
	good := http.Header{"Authorization": {"Bearer good"}}
	if _, err := expectStatus(context.Background(), srv.URL, good, http.StatusOK, ""); err != nil {
		t.Errorf("expectStatus with the token: %v", err)
	}
	_, err := expectStatus(context.Background(), srv.URL, nil, http.StatusOK, "")
	if err == nil || !strings.Contains(err.Error(), "303") || !strings.Contains(err.Error(), "to /login") {
		t.Errorf("expectStatus without the token: %v, want the 303 to /login reported", err)
	}
	cond := good.Clone()
	cond.Set("If-None-Match", `"e1"`)
	if _, err := expectStatus(context.Background(), srv.URL, cond, http.StatusNotModified, ""); err != nil {
		t.Errorf("expectStatus 304: %v", err)
	}
	_, err = expectStatus(context.Background(), srv.URL, good, http.StatusNotModified, "")
	if err == nil || !strings.Contains(err.Error(), "200 OK, want 304") {
		t.Errorf("expectStatus 304 without the validator: %v, want the 200 reported", err)
	}
	if n, err := expectStatus(context.Background(), srv.URL, good, http.StatusOK, "all good"); err != nil || n != len("all good") {
		t.Errorf("expectStatus with text present: %d bytes, %v; want %d, nil", n, err, len("all good"))
	}
	_, err = expectStatus(context.Background(), srv.URL, good, http.StatusOK, "svc-000.setting-0")
	if err == nil || !strings.Contains(err.Error(), `without "svc-000.setting-0"`) {
		t.Errorf("expectStatus with text absent: %v, want it reported", err)
	}
}
