// Package static embeds Keel's browser assets (CSS, JavaScript, images and
// the vendored htmx) and serves them. Every file is also reachable under a
// content-hash name ("css/app.3f2a9c1d04be.css") that is cached for a year;
// pages link to those names through Path, so a new release is picked up at
// once and an unchanged file is never fetched twice.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// FS holds the assets. The vendor directory is filled from node_modules by
// `make vendor`; only its README is committed.
//
//go:embed css js img vendor
var FS embed.FS

// Prefix is the URL path the handler is mounted at.
const Prefix = "/static/"

// hashLen is the number of hex digits of the content hash in a file name.
const hashLen = 12

type asset struct {
	name   string // path inside FS, e.g. "css/app.css"
	data   []byte
	etag   string
	ctype  string
	hashed string // e.g. "css/app.3f2a9c1d04be.css"
}

var (
	byName   = map[string]*asset{}
	byHashed = map[string]*asset{}
)

// extra content types, for systems whose mime table lacks them.
var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".map":   "application/json",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
	".md":    "text/markdown; charset=utf-8",
}

func init() {
	err := fs.WalkDir(FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := FS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])[:hashLen]
		ext := path.Ext(name)
		ct, ok := contentTypes[ext]
		if !ok {
			ct = mime.TypeByExtension(ext)
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		a := &asset{
			name:   name,
			data:   data,
			etag:   `"` + h + `"`,
			ctype:  ct,
			hashed: strings.TrimSuffix(name, ext) + "." + h + ext,
		}
		byName[name] = a
		byHashed[a.hashed] = a
		return nil
	})
	if err != nil {
		panic("static: reading embedded assets: " + err.Error())
	}
}

// clean turns "/static/css/app.css", "static/css/app.css" or "css/app.css"
// into "css/app.css".
func clean(name string) string {
	name = strings.TrimPrefix(name, Prefix)
	name = strings.TrimPrefix(name, "static/")
	return strings.TrimPrefix(name, "/")
}

// Path returns the URL of an asset under its content-hash name:
// Path("css/app.css") is "/static/css/app.3f2a9c1d04be.css". The name may
// also be given as "/static/css/app.css". A name that is not embedded (the
// vendored htmx before `make vendor`, say) gets its plain URL.
func Path(name string) string {
	n := clean(name)
	if a, ok := byName[n]; ok {
		return Prefix + a.hashed
	}
	return Prefix + n
}

// Handler serves the assets. Mount it at /static/ (with or without
// http.StripPrefix). Hashed names are immutable and cached for a year;
// plain names are revalidated on every use (ETag). Anything else is 404.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		n := clean(r.URL.Path)
		a, hashed := byHashed[n], true
		if a == nil {
			a, hashed = byName[n], false
		}
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if hashed {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
	})
}
