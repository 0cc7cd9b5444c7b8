package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fuzzInstances are validated against every schema FuzzCompile compiles.
var fuzzInstances = []any{
	nil, true, 0.0, -1.5, 1e300, "", "text", "2025-01-31T00:00:00Z",
	[]any{}, []any{1.0, "a", nil, []any{1.0}}, map[string]any{}, map[string]any{"a": 1.0, "b": map[string]any{"c": []any{"x"}}},
}

// FuzzCompile feeds arbitrary documents to Compile: it must never panic,
// errors are *Error sentences, and a compiled schema validates any value
// without panicking.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		dbSchema, `{}`, `true`, `false`, `[]`, `null`, `{"type":"integer","minimum":1}`,
		`{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"type":"string"}}}`,
		`{"$ref":"#"}`, `{"$dynamicRef":"#meta","$dynamicAnchor":"meta"}`,
		`{"$id":"https://example.com/x","$ref":"y"}`, `{"$schema":"http://json-schema.org/draft-04/schema#","exclusiveMinimum":true,"minimum":1}`,
		`{"pattern":"^(a+)+$"}`, `{"format":"regex"}`, `{"anyOf":[{"oneOf":[{"not":{}}]}],"if":{"const":1},"then":false}`,
		`{"unevaluatedProperties":false,"allOf":[{"properties":{"a":true}}]}`, `{"$defs":{"x":{"$anchor":"a"}},"$ref":"#a"}`,
		`{"multipleOf":1e-400}`, `{"enum":[{"a":[1,2]},[],null]}`, `{"contentEncoding":"base64","contentMediaType":"application/json"}`,
		"{\"type\":\n\"object\",}", `{"$ref":"file:///etc/passwd"}`, `{"$schema":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("slow input: %q", doc)) })
		defer watchdog.Stop()
		s, err := Compile(doc)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" || !strings.HasSuffix(e.Message, ".") {
				t.Fatalf("Compile error %T %q is not a sentence", err, err)
			}
			if strings.Contains(e.Message, "keel:///") {
				t.Fatalf("error shows the internal URL: %q", e.Message)
			}
			return
		}
		if !bytes.Equal(s.Source(), doc) {
			t.Fatal("Source differs from the document")
		}
		for _, v := range fuzzInstances {
			checkFuzzViolations(t, s.Validate(v))
		}
	})
}

const fuzzSchema = `{
  "type": "object",
  "properties": {
    "host": {"type": "string", "format": "hostname", "maxLength": 253},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9-]+$"}, "uniqueItems": true, "maxItems": 5},
    "mode": {"enum": ["a", "b", 3, null]},
    "url": {"format": "uri"},
    "when": {"format": "date-time"},
    "ttl": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "format": "duration"}]},
    "nested": {"$ref": "#"},
    "pool": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1, "multipleOf": 2}}, "required": ["size"], "additionalProperties": false}
  },
  "patternProperties": {"^x-": {"type": "string"}},
  "propertyNames": {"maxLength": 20},
  "dependentRequired": {"tls": ["cert"]},
  "required": ["host"],
  "additionalProperties": false
}`

// FuzzValidate validates arbitrary JSON instances against a fixed schema:
// it must never panic, and the result is sorted, unique and complete.
func FuzzValidate(f *testing.F) {
	s := mustCompile(f, fuzzSchema)
	for _, seed := range []string{
		`{"host":"db","port":5432}`, `{}`, `null`, `[]`, `"x"`, `1`,
		`{"host":"-bad","port":0.5,"tags":["A","a","a"],"mode":4,"url":"x","when":"y","ttl":"5m","nested":{"nested":{"port":"x"}},"pool":{"size":3,"x":1},"x-a":1,"tls":true,"averyveryverylongpropertyname":1}`,
		`{"a/b":{"~":[]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("slow input: %q", data)) })
		defer watchdog.Stop()
		var v any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return
		}
		vs := s.Validate(v)
		checkFuzzViolations(t, vs)
		var plain any
		if json.Unmarshal(data, &plain) == nil {
			checkFuzzViolations(t, s.Validate(plain))
		}
		// Messages never repeat a string value (keys may be quoted).
		for _, str := range stringValues(v, nil) {
			if len(str) < 6 || strings.Contains(fuzzSchema, str) {
				continue
			}
			for _, vi := range vs {
				if strings.Contains(vi.Message, str) && !isKeyIn(v, str) {
					t.Fatalf("message %q repeats the value %q", vi.Message, str)
				}
			}
		}
	})
}

func checkFuzzViolations(t *testing.T, vs []Violation) {
	t.Helper()
	if vs != nil && len(vs) == 0 {
		t.Fatal("empty non-nil result")
	}
	for i, v := range vs {
		if v.Rule == "" || v.Message == "" || (v.Pointer != "" && v.Pointer[0] != '/') {
			t.Fatalf("bad violation %+v", v)
		}
		if i > 0 {
			p := vs[i-1]
			if p == v {
				t.Fatalf("duplicate %v", v)
			}
			if p.Pointer > v.Pointer || (p.Pointer == v.Pointer && p.Rule > v.Rule) {
				t.Fatalf("out of order: %v before %v", p, v)
			}
		}
	}
}

// stringValues lists the string values (not keys) inside v.
func stringValues(v any, out []string) []string {
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, e := range v {
			out = stringValues(e, out)
		}
	case map[string]any:
		for _, e := range v {
			out = stringValues(e, out)
		}
	}
	return out
}

// isKeyIn reports whether s is (part of) an object key somewhere in v.
func isKeyIn(v any, s string) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if isKeyIn(e, s) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, s) || isKeyIn(e, s) {
				return true
			}
		}
	}
	return false
}
