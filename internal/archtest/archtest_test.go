// Package archtest keeps the dependency arrows of the house style true:
// cmd/web → handlers → (views, auth, store, domain); store → domain; views
// and store never import each other; domain packages import neither.
package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/keelhq/keel/"

// forbidden lists, per package, what it must not depend on (directly or not).
var forbidden = map[string][]string{
	"views":              {"store", "handlers", "auth", "redisproc", "github.com/labstack/echo", "github.com/redis/go-redis"},
	"static":             {"store", "handlers", "auth", "views", "github.com/labstack/echo", "github.com/redis/go-redis"},
	"store":              {"views", "handlers", "auth", "static", "github.com/labstack/echo", "github.com/a-h/templ"},
	"auth":               {"views", "handlers", "static", "github.com/labstack/echo"},
	"redisproc":          {"store", "views", "handlers", "auth"},
	"handlers":           {"redisproc", "demo"},
	"internal/telemetry": {"store", "views", "handlers", "auth"},
	// Domain packages: plain values in, plain values out.
	"config": {"store", "views", "handlers", "auth", "secret", "schema", "github.com/labstack/echo", "github.com/redis/go-redis", "net/http"},
	"secret": {"store", "views", "handlers", "auth", "config", "schema", "github.com/labstack/echo", "github.com/redis/go-redis", "net/http"},
	"schema": {"store", "views", "handlers", "auth", "config", "secret", "github.com/labstack/echo", "github.com/redis/go-redis", "net/http"},
	// The SDK applications import: the standard library only.
	"sdk": {"store", "views", "handlers", "auth", "config", "secret", "schema", "github.com/labstack/echo", "github.com/redis/go-redis", "github.com/a-h/templ"},
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// isLocal reports whether name is a package of this module (a directory at
// the module root) rather than a standard-library or third-party path.
func isLocal(name string) bool {
	fi, err := os.Stat(filepath.Join("..", "..", name))
	return err == nil && fi.IsDir()
}

func TestDependencyDirection(t *testing.T) {
	for pkg, bad := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			for _, d := range deps(t, pkg) {
				for _, b := range bad {
					target := b
					if isLocal(b) {
						target = mod + b
					}
					if d == target || strings.HasPrefix(d, target+"/") {
						t.Errorf("%s depends on %s", pkg, d)
					}
				}
			}
		})
	}
}
