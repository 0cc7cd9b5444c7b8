package config

import (
	"sort"
	"strings"
	"testing"
)

func TestValidPattern(t *testing.T) {
	tests := []struct {
		p  string
		ok bool
	}{
		{"db.host", true},
		{"db.*", true},
		{"*", true},
		{"*.url", true},
		{"svc/*/timeout", true},
		{"a**b", true},
		{"", false},
		{"db host*", false},
		{"db.?", false},
		{strings.Repeat("*", 200), true},
		{strings.Repeat("*", 201), false},
	}
	for _, tt := range tests {
		t.Run(tt.p, func(t *testing.T) {
			if err := ValidPattern(tt.p); (err == nil) != tt.ok {
				t.Fatalf("ValidPattern(%q) = %v; want ok=%v", tt.p, err, tt.ok)
			}
		})
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"db.host", "db.host", true},
		{"db.host", "db.hostx", false},
		{"db.host", "db.hos", false},
		{"db.*", "db.host", true},
		{"db.*", "db.pool.size", true},
		{"db.*", "db.", true},
		{"db.*", "db", false},
		{"db.*", "xdb.host", false},
		{"*", "anything/at.all", true},
		{"*.url", "svc/api.url", true},
		{"*.url", "svc/api.urls", false},
		{"svc/*/timeout", "svc/api/timeout", true},
		{"svc/*/timeout", "svc/a/b/timeout", true},
		{"svc/*/timeout", "svc/timeout", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"a**b", "ab", true},
		{"*a*a*a*b", strings.Repeat("a", 100), false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.key, func(t *testing.T) {
			if got := MatchPattern(tt.pattern, tt.key); got != tt.want {
				t.Fatalf("MatchPattern(%q, %q) = %v; want %v", tt.pattern, tt.key, got, tt.want)
			}
		})
	}
}

func TestSpecificity(t *testing.T) {
	// Most specific first.
	want := []string{
		"db.pool.size",
		"db.pool.*",
		"db.pool*",
		"db.*.size",
		"db.*",
		"d*",
		"*.size",
		"*",
	}
	got := append([]string(nil), want...)
	sort.SliceStable(got, func(i, j int) bool { return Specificity(got[i]) > Specificity(got[j]) })
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %q; want %q", got, want)
		}
	}
	if Specificity("a") <= Specificity(strings.Repeat("a", 199)+"*") {
		t.Fatal("a short exact key must beat a long glob")
	}
}
