package static

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var hashedCSS = regexp.MustCompile(`^/static/css/app\.[0-9a-f]{12}\.css$`)

func TestPath(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"relative", "css/app.css"},
		{"url", "/static/css/app.css"},
		{"no leading slash", "static/css/app.css"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Path(tc.in); !hashedCSS.MatchString(got) {
				t.Errorf("Path(%q) = %q, want a hashed name", tc.in, got)
			}
		})
	}
	if Path("css/app.css") != Path("/static/css/app.css") {
		t.Errorf("the same file got two names")
	}
	if got := Path("js/nope.js"); got != "/static/js/nope.js" {
		t.Errorf("unknown file: Path = %q", got)
	}
	if Path("js/app.js") == Path("js/theme.js") {
		t.Errorf("different files share a name")
	}
}

func TestHandler(t *testing.T) {
	h := Handler()
	css, err := FS.ReadFile("css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	hashed := Path("css/app.css")
	tests := []struct {
		name        string
		method      string
		path        string
		strip       bool // mounted behind http.StripPrefix("/static/")
		status      int
		cache       string
		contentType string
	}{
		{"hashed", "GET", hashed, false, 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{"hashed behind StripPrefix", "GET", hashed, true, 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{"plain", "GET", "/static/css/app.css", false, 200, "no-cache", "text/css; charset=utf-8"},
		{"js", "GET", Path("js/app.js"), false, 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"svg", "GET", Path("img/favicon.svg"), false, 200, "public, max-age=31536000, immutable", "image/svg+xml"},
		{"head", "HEAD", hashed, false, 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{"wrong hash", "GET", "/static/css/app.000000000000.css", false, 404, "", ""},
		{"unknown", "GET", "/static/css/nope.css", false, 404, "", ""},
		{"directory", "GET", "/static/css/", false, 404, "", ""},
		{"traversal", "GET", "/static/../static.go", false, 404, "", ""},
		{"post", "POST", hashed, false, 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var handler http.Handler = h
			if tc.strip {
				handler = http.StripPrefix("/static/", h)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if rec.Header().Get("ETag") == "" {
				t.Errorf("no ETag")
			}
			if tc.method == "GET" && strings.HasSuffix(tc.path, ".css") && rec.Body.String() != string(css) {
				t.Errorf("body differs from the embedded file")
			}
		})
	}
}

func TestHandlerConditional(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/js/app.js", nil))
	etag := rec.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.Contains(Path("js/app.js"), strings.Trim(etag, `"`)) {
		t.Fatalf("ETag %q is not the content hash of %s", etag, Path("js/app.js"))
	}
	req := httptest.NewRequest("GET", "/static/js/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status = %d, want 304", rec.Code)
	}
}

// TestEmbedded: the files the pages link to are embedded.
func TestEmbedded(t *testing.T) {
	for _, name := range []string{"css/app.css", "js/app.js", "js/theme.js", "img/favicon.svg", "vendor/README.md"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("%s is not embedded", name)
		}
	}
}
