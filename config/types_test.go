package config

import (
	"strings"
	"testing"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want Type
		ok   bool
	}{
		{"string", TypeString, true},
		{"number", TypeNumber, true},
		{"boolean", TypeBoolean, true},
		{"json", TypeJSON, true},
		{"secret", TypeSecret, true},
		{" JSON ", TypeJSON, true},
		{"Number", TypeNumber, true},
		{"int", "", false},
		{"", "", false},
		{"bool", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseType(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseType(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "string, number, boolean, json or secret") {
				t.Fatalf("error %q does not list the types", err)
			}
		})
	}
	for _, typ := range Types {
		if !typ.Valid() || typ.String() != string(typ) {
			t.Fatalf("%q is not valid", typ)
		}
	}
	if Type("int").Valid() {
		t.Fatal(`Type("int") is valid`)
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want []string // substrings of the error; nil when valid
	}{
		{"db.host", nil},
		{"svc/api.url", nil},
		{"feature_x", nil},
		{"log-level", nil},
		{"A", nil},
		{"0", nil},
		{"a.b_c-d/E9", nil},
		{strings.Repeat("k", 200), nil},
		{"", []string{"Enter a key", keyRuleText}},
		{"db host", []string{"a space", "character 3", keyRuleText}},
		{"café", []string{"'é'", "character 4"}},
		{"a*b", []string{"'*'", "character 2"}},
		{"a:b", []string{"':'"}},
		{"tab\there", []string{"a tab"}},
		{"nl\n", []string{"a line break"}},
		{"ctl\x01", []string{"U+0001"}},
		{"bad\xff", []string{"not valid UTF-8"}},
		{strings.Repeat("k", 201), []string{"201 characters", keyRuleText}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			err := ValidKey(tt.key)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidKey(%q) = %v; want nil", tt.key, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidKey(%q) = nil; want an error", tt.key)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("ValidKey(%q) = %q; want it to mention %q", tt.key, err, s)
				}
			}
		})
	}
}

func TestValidTag(t *testing.T) {
	tests := []struct {
		tag  string
		want string // substring of the error; "" when valid
	}{
		{"prod", ""},
		{"0day", ""},
		{"a.b_c-d", ""},
		{strings.Repeat("t", 40), ""},
		{"", "Enter a tag"},
		{"Prod", "'P'"},
		{"-x", "starts with '-'"},
		{".x", "starts with '.'"},
		{"a b", "a space"},
		{"a/b", "'/'"},
		{strings.Repeat("t", 41), "41 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			err := ValidTag(tt.tag)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidTag(%q) = %v", tt.tag, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidTag(%q) = %v; want it to mention %q", tt.tag, err, tt.want)
			}
		})
	}
}
