// Package archtest keeps the dependency arrows of the house style true:
// cmd/web → handlers → (views, auth, store, domain); store → domain; views
// and store never import each other; domain packages import neither.
package archtest

import (
	"os/exec"
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
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func TestDependencyDirection(t *testing.T) {
	for pkg, bad := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			for _, d := range deps(t, pkg) {
				for _, b := range bad {
					target := b
					if !strings.Contains(b, ".") {
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
