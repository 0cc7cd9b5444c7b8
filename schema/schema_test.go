package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const dbSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "db.*",
  "type": "object",
  "properties": {
    "host": {"type": "string", "minLength": 1, "format": "hostname"},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "pool": {
      "type": "object",
      "properties": {"size": {"type": "integer", "minimum": 1}}
    }
  },
  "required": ["host", "port"],
  "additionalProperties": false
}`

func mustCompile(t testing.TB, doc string) *Schema {
	t.Helper()
	s, err := Compile([]byte(doc))
	if err != nil {
		t.Fatalf("Compile(%s): %v", doc, err)
	}
	return s
}

// decodeJSON decodes an instance the way config.Any does.
func decodeJSON(t testing.TB, text string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", text, err)
	}
	return v
}

// where lists "pointer rule" pairs of violations.
func where(vs []Violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Pointer + " " + v.Rule
	}
	return out
}

func checkViolations(t *testing.T, vs []Violation) {
	t.Helper()
	for i, v := range vs {
		if v.Rule == "" || v.Message == "" {
			t.Errorf("violation %d is incomplete: %+v", i, v)
		}
		if v.Pointer != "" && !strings.HasPrefix(v.Pointer, "/") {
			t.Errorf("violation %d has a bad pointer: %+v", i, v)
		}
		if !strings.HasSuffix(v.Message, ".") || strings.ToUpper(v.Message[:1]) != v.Message[:1] {
			t.Errorf("violation %d message is not a sentence: %q", i, v.Message)
		}
		if strings.Contains(v.Message, "keel:///") {
			t.Errorf("violation %d message shows the internal URL: %q", i, v.Message)
		}
		if i > 0 {
			p := vs[i-1]
			if p.Pointer > v.Pointer || (p.Pointer == v.Pointer && p.Rule > v.Rule) {
				t.Errorf("violations out of order: %v before %v", p, v)
			}
			if p == v {
				t.Errorf("duplicate violation %v", v)
			}
		}
	}
}

func TestValidateDBSchema(t *testing.T) {
	s := mustCompile(t, dbSchema)
	tests := []struct {
		name  string
		value string
		want  []string
		msgs  []string // substrings expected in the messages, in order
	}{
		{"valid", `{"host":"db.internal","port":5432}`, nil, nil},
		{"valid with pool", `{"host":"db","port":1,"pool":{"size":1,"extra":true}}`, nil, nil},
		{"port maximum", `{"host":"db","port":65535}`, nil, nil},
		{"missing host and port", `{}`, []string{"/host required", "/port required"}, []string{`The property "host" is required.`, `The property "port" is required.`}},
		{"port below minimum", `{"host":"db","port":0}`, []string{"/port minimum"}, []string{"The value must be at least 1, but it is 0."}},
		{"port above maximum", `{"host":"db","port":70000}`, []string{"/port maximum"}, []string{"The value must be at most 65535, but it is 70000."}},
		{"port not an integer", `{"host":"db","port":54.5}`, []string{"/port type"}, []string{"The value must be an integer, but it is a number."}},
		{"port as text", `{"host":"db","port":"5432"}`, []string{"/port type"}, []string{"The value must be an integer, but it is a string."}},
		{"host empty", `{"host":"","port":5432}`, []string{"/host format"}, []string{"host name"}}, // a format failure ends the checks at that place
		{"host not a host name", `{"host":"db_primary!","port":5432}`, []string{"/host format"}, []string{"The value is not a valid host name"}},
		{"host null", `{"host":null,"port":5432}`, []string{"/host type"}, []string{"The value must be a string, but it is null."}},
		{"pool size zero", `{"host":"db","port":5432,"pool":{"size":0}}`, []string{"/pool/size minimum"}, []string{"at least 1"}},
		{"pool not an object", `{"host":"db","port":5432,"pool":[1]}`, []string{"/pool type"}, []string{"must be an object, but it is an array"}},
		{"unknown property", `{"host":"db","port":5432,"user":"x"}`, []string{"/user additionalProperties"}, []string{`The property "user" is not allowed.`}},
		{"property name needing escapes", `{"host":"db","port":5432,"a/b~c":1}`, []string{"/a~1b~0c additionalProperties"}, nil},
		{"everything wrong", `{"port":0,"pool":{"size":-1},"x":1}`, []string{"/host required", "/pool/size minimum", "/port minimum", "/x additionalProperties"}, nil},
		{"not an object", `"db.internal:5432"`, []string{" type"}, []string{"The value must be an object, but it is a string."}},
		{"null", `null`, []string{" type"}, []string{"but it is null"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := s.Validate(decodeJSON(t, tt.value))
			checkViolations(t, vs)
			if got := where(vs); !slices.Equal(got, tt.want) {
				t.Fatalf("violations %q, want %q\n%v", got, tt.want, vs)
			}
			if tt.want == nil && vs != nil {
				t.Fatalf("Validate returned a non-nil empty list")
			}
			for i, m := range tt.msgs {
				if !strings.Contains(vs[i].Message, m) {
					t.Errorf("message %d %q does not contain %q", i, vs[i].Message, m)
				}
			}
		})
	}
}

func TestValidateScalars(t *testing.T) {
	s := mustCompile(t, `{"type":"integer","minimum":1}`)
	tests := []struct {
		value any
		want  []string
	}{
		{5.0, nil},
		{1.0, nil},
		{json.Number("3"), nil},
		{7, nil},
		{0.0, []string{" minimum"}},
		{-3.0, []string{" minimum"}},
		{1.5, []string{" type"}},
		{"5", []string{" type"}},
		{true, []string{" type"}},
		{nil, []string{" type"}},
		{[]any{1.0}, []string{" type"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T %v", tt.value, tt.value), func(t *testing.T) {
			vs := s.Validate(tt.value)
			checkViolations(t, vs)
			if got := where(vs); !slices.Equal(got, tt.want) {
				t.Fatalf("violations %q, want %q", got, tt.want)
			}
		})
	}
	if got := s.Validate(0.0)[0].String(); got != "minimum: The value must be at least 1, but it is 0." {
		t.Fatalf("String = %q", got)
	}
	if got := (Violation{Pointer: "/a", Rule: "type", Message: "M."}).String(); got != "/a: type: M." {
		t.Fatalf("String = %q", got)
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		value  string
		want   []string
		msg    string // expected substring of the first message
	}{
		{"pattern", `{"type":"string","pattern":"^[a-z]+$"}`, `"ABC"`, []string{" pattern"}, "must match the pattern ^[a-z]+$"},
		{"pattern ok", `{"type":"string","pattern":"^[a-z]+$"}`, `"abc"`, nil, ""},
		{"enum", `{"enum":["debug","info","warn"]}`, `"trace"`, []string{" enum"}, `one of "debug", "info", "warn"`},
		{"enum of two", `{"enum":[1,2]}`, `3`, []string{" enum"}, "must be 1 or 2"},
		{"enum of one", `{"enum":[true]}`, `false`, []string{" enum"}, "must be true"},
		{"const", `{"const":"on"}`, `"off"`, []string{" const"}, `must be "on"`},
		{"minLength", `{"type":"string","minLength":1}`, `""`, []string{" minLength"}, "The text must be at least 1 character long, but it has 0."},
		{"maxLength", `{"maxLength":3}`, `"abcd"`, []string{" maxLength"}, "at most 3 characters long, but it has 4"},
		{"maxLength counts characters", `{"maxLength":3}`, `"äöü"`, nil, ""},
		{"multipleOf", `{"multipleOf":5}`, `12`, []string{" multipleOf"}, "multiple of 5, but it is 12"},
		{"multipleOf fraction", `{"multipleOf":0.01}`, `0.123`, []string{" multipleOf"}, "multiple of 0.01, but it is 0.123"},
		{"tiny numbers", `{"minimum":1e-30}`, `1e-31`, []string{" minimum"}, "at least 1e-30, but it is 1e-31"},
		{"huge numbers", `{"maximum":1e300}`, `1e301`, []string{" maximum"}, "at most 1e+300, but it is 1e+301"},
		{"fractions", `{"minimum":0.5}`, `0.1`, []string{" minimum"}, "at least 0.5, but it is 0.1"},
		{"exclusiveMinimum", `{"exclusiveMinimum":0}`, `0`, []string{" exclusiveMinimum"}, "greater than 0"},
		{"exclusiveMaximum", `{"exclusiveMaximum":1}`, `1`, []string{" exclusiveMaximum"}, "less than 1"},
		{"minItems", `{"type":"array","minItems":2}`, `[1]`, []string{" minItems"}, "at least 2 items, but it has 1"},
		{"maxItems", `{"maxItems":1}`, `[1,2]`, []string{" maxItems"}, "at most 1 item, but it has 2"},
		{"uniqueItems", `{"uniqueItems":true}`, `[1,2,1]`, []string{" uniqueItems"}, "items 0 and 2 are equal"},
		{"items", `{"type":"array","items":{"type":"string"}}`, `["a",2,"c",false]`, []string{"/1 type", "/3 type"}, "must be a string"},
		{"prefixItems", `{"prefixItems":[{"type":"string"},{"type":"integer"}]}`, `["a","b"]`, []string{"/1 type"}, ""},
		{"contains", `{"contains":{"const":"x"}}`, `["a"]`, []string{" contains"}, "contain"},
		{"minProperties", `{"minProperties":2}`, `{"a":1}`, []string{" minProperties"}, "at least 2 properties, but it has 1"},
		{"maxProperties", `{"maxProperties":1}`, `{"a":1,"b":2}`, []string{" maxProperties"}, "at most 1 property"},
		{"propertyNames", `{"propertyNames":{"pattern":"^[a-z]+$"}}`, `{"ok":1,"Bad":2}`, []string{"/Bad propertyNames"}, `The property name "Bad" is not allowed: the text must match the pattern ^[a-z]+$.`},
		{"dependentRequired", `{"dependentRequired":{"tls":["cert"]}}`, `{"tls":true}`, []string{"/cert dependentRequired"}, `"cert" is required when "tls" is present`},
		{"false property", `{"properties":{"legacy":false}}`, `{"legacy":1}`, []string{"/legacy false"}, "No value is allowed here."},
		{"false schema", `false`, `1`, []string{" false"}, ""},
		{"true schema", `true`, `{"anything":[1,2]}`, nil, ""},
		{"not", `{"not":{"type":"null"}}`, `null`, []string{" not"}, `must not match`},
		{"anyOf", `{"anyOf":[{"type":"string"},{"type":"integer","minimum":3}]}`, `2`, []string{" anyOf"}, "1: the value must be a string, but it is a number; 2: the value must be at least 3, but it is 2"},
		{"anyOf nested pointer", `{"anyOf":[{"properties":{"a":{"type":"string"}}},{"required":["b"]}]}`, `{"a":1}`, []string{" anyOf"}, "1: at /a: the value must be a string"},
		{"oneOf none", `{"oneOf":[{"type":"string"},{"type":"boolean"}]}`, `1`, []string{" oneOf"}, "exactly one"},
		{"oneOf several", `{"oneOf":[{"type":"number"},{"minimum":0}]}`, `1`, []string{" oneOf"}, "more than one alternative (1 and 2)"},
		{"allOf", `{"allOf":[{"minimum":5},{"maximum":3}]}`, `4`, []string{" maximum", " minimum"}, ""},
		{"allOf duplicates", `{"allOf":[{"minimum":5},{"minimum":5}]}`, `4`, []string{" minimum"}, ""},
		{"if then", `{"if":{"properties":{"tls":{"const":true}}},"then":{"required":["cert"]}}`, `{"tls":true}`, []string{"/cert required"}, ""},
		{"if else", `{"if":{"type":"string"},"then":{"minLength":2},"else":{"minimum":10}}`, `5`, []string{" minimum"}, ""},
		{"local $ref", `{"$defs":{"port":{"type":"integer","maximum":65535}},"properties":{"p":{"$ref":"#/$defs/port"}}}`, `{"p":70000}`, []string{"/p maximum"}, ""},
		{"$ref by $id and anchor", `{"$id":"https://example.com/s.json","$defs":{"n":{"$anchor":"name","type":"string"}},"items":{"$ref":"#name"}}`, `["a",1]`, []string{"/1 type"}, ""},
		{"recursive $ref", `{"type":"object","properties":{"child":{"$ref":"#"},"n":{"type":"integer"}}}`, `{"child":{"child":{"n":"x"}}}`, []string{"/child/child/n type"}, ""},
		{"unevaluatedProperties", `{"properties":{"a":true},"unevaluatedProperties":false}`, `{"a":1,"b":2}`, []string{"/b false"}, ""},
		{"format email", `{"format":"email"}`, `"no-at-sign"`, []string{" format"}, "email address: missing @"},
		{"format email ok", `{"format":"email"}`, `"ops@example.com"`, nil, ""},
		{"format ipv4", `{"format":"ipv4"}`, `"300.1.1.1"`, []string{" format"}, "IPv4 address"},
		{"format ipv6", `{"format":"ipv6"}`, `"::g"`, []string{" format"}, "IPv6 address"},
		{"format uri", `{"format":"uri"}`, `"relative/path"`, []string{" format"}, "absolute URI"},
		{"format date-time", `{"format":"date-time"}`, `"2025-13-01T00:00:00Z"`, []string{" format"}, "date and time"},
		{"format date-time ok", `{"format":"date-time"}`, `"2025-01-31T12:00:00+01:00"`, nil, ""},
		{"format duration", `{"format":"duration"}`, `"30s"`, []string{" format"}, "duration"},
		{"format duration ok", `{"format":"duration"}`, `"PT30S"`, nil, ""},
		{"format uuid", `{"format":"uuid"}`, `"123"`, []string{" format"}, "UUID"},
		{"format hostname", `{"format":"hostname"}`, `"-bad-"`, []string{" format"}, "host name"},
		{"format ignores other types", `{"format":"email"}`, `42`, nil, ""},
		{"unknown format is an annotation", `{"format":"x-custom"}`, `"anything"`, nil, ""},
		{"draft-07 document", `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a":{"type":"integer"}},"dependencies":{"a":["b"]}}`, `{"a":1}`, []string{"/b dependencies"}, `"b" is required when "a" is present`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, tt.schema)
			vs := s.Validate(decodeJSON(t, tt.value))
			checkViolations(t, vs)
			if got := where(vs); !slices.Equal(got, tt.want) {
				t.Fatalf("violations %q, want %q\n%v", got, tt.want, vs)
			}
			if tt.msg != "" && !strings.Contains(vs[0].Message, tt.msg) {
				t.Fatalf("message %q does not contain %q", vs[0].Message, tt.msg)
			}
		})
	}
}

// Messages must not repeat a string from the value: it may be a secret.
func TestMessagesDoNotRepeatValues(t *testing.T) {
	const secret = "s3cr3t-Passw0rd-value"
	tests := []struct{ schema, value string }{
		{`{"pattern":"^x"}`, `"` + secret + `"`},
		{`{"format":"email"}`, `"` + secret + `"`},
		{`{"format":"date-time"}`, `"` + secret + `"`},
		{`{"format":"ipv6"}`, `"` + secret + `"`},
		{`{"format":"uri"}`, `"` + secret + `"`},
		{`{"format":"duration"}`, `"` + secret + `"`},
		{`{"format":"uuid"}`, `"` + secret + `"`},
		{`{"format":"json-pointer"}`, `"` + secret + `"`},
		{`{"format":"regex"}`, `"(` + secret + `"`},
		{`{"enum":["a"]}`, `"` + secret + `"`},
		{`{"const":"a"}`, `"` + secret + `"`},
		{`{"maxLength":3}`, `"` + secret + `"`},
		{`{"type":"integer"}`, `"` + secret + `"`},
		{`{"not":{"type":"string"}}`, `"` + secret + `"`},
		{`{"items":{"type":"integer"}}`, `["` + secret + `"]`},
		{`{"anyOf":[{"pattern":"^a"},{"format":"email"}]}`, `"` + secret + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			vs := mustCompile(t, tt.schema).Validate(decodeJSON(t, tt.value))
			if len(vs) == 0 {
				t.Fatal("expected a violation")
			}
			for _, v := range vs {
				if strings.Contains(v.Message, "s3cr3t") {
					t.Fatalf("message repeats the value: %q", v.Message)
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "other.json")
	if err := os.WriteFile(local, []byte(`{"type":"string"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  string
		want []string
		line int
		col  int
	}{
		{"empty", ``, []string{"The schema is empty"}, 0, 0},
		{"blank", " \n ", []string{"The schema is empty"}, 0, 0},
		{"syntax error", "{\n  \"type\": \"object\",\n}", []string{"not valid JSON", "line 3, column 1"}, 3, 1},
		{"unterminated", `{"type":`, []string{"not valid JSON", "ends too early"}, 1, 9},
		{"trailing data", `{} {}`, []string{"unexpected data after the document", "line 1, column 4"}, 1, 4},
		{"array", `[{"type":"string"}]`, []string{"must be a JSON object or a boolean, not an array"}, 0, 0},
		{"string", `"string"`, []string{"not a string"}, 0, 0},
		{"number", `1`, []string{"not a number"}, 0, 0},
		{"null", `null`, []string{"not null"}, 0, 0},
		{"keyword of the wrong type", `{"properties":{"port":{"minimum":"1"}}}`, []string{"The schema is not valid: at /properties/port/minimum: the value must be a number, but it is a string."}, 0, 0},
		{"unknown type name", `{"type":"strin"}`, []string{"The schema is not valid: at /type:"}, 0, 0},
		{"negative minLength", `{"minLength":-1}`, []string{"at /minLength"}, 0, 0},
		{"several problems", `{"minLength":"a","maxLength":"b","minItems":"c","maxItems":"d"}`, []string{"and 1 more problem(s)"}, 0, 0},
		{"remote https $ref", `{"$ref":"https://example.com/schema.json"}`, []string{`refers to "https://example.com/schema.json"`, "does not load schemas from other places", "$defs"}, 0, 0},
		{"remote http $ref", `{"properties":{"a":{"$ref":"http://127.0.0.1:1/s.json#/x"}}}`, []string{`refers to "http://127.0.0.1:1/s.json"`}, 0, 0},
		{"file $ref", `{"$ref":"file://` + filepath.ToSlash(local) + `"}`, []string{"does not load schemas from other places"}, 0, 0},
		{"relative $ref", `{"$ref":"other.json"}`, []string{`refers to "other.json"`}, 0, 0},
		{"relative $ref under $id", `{"$id":"https://example.com/a/s.json","$ref":"b.json"}`, []string{`refers to "https://example.com/a/b.json"`}, 0, 0},
		{"remote $schema", `{"$schema":"https://example.com/meta.json"}`, []string{`its "$schema" names "https://example.com/meta.json", which is not a draft Keel supports`}, 0, 0},
		{"draft-03", `{"$schema":"http://json-schema.org/draft-03/schema#"}`, []string{`"http://json-schema.org/draft-03/schema", which is not a draft`}, 0, 0},
		{"$schema not a URL", `{"$schema":":bad"}`, []string{`"$schema" is not a valid URL`}, 0, 0},
		{"$schema not a string", `{"$schema":5}`, []string{"at /$schema"}, 0, 0},
		{"remote $dynamicRef", `{"$dynamicRef":"https://example.com/x.json#meta"}`, []string{"does not load schemas"}, 0, 0},
		{"missing local definition", `{"$ref":"#/$defs/nope"}`, []string{`the reference "#/$defs/nope" points to nothing`}, 0, 0},
		{"missing anchor", `{"$ref":"#nope"}`, []string{"anchor"}, 0, 0},
		{"lookahead pattern", `{"pattern":"(?=x)"}`, []string{"at /pattern", "regular expression"}, 0, 0},
		{"bad patternProperties", `{"patternProperties":{"[":{}}}`, []string{"regular expression"}, 0, 0},
		{"huge number", `{"properties":{"n":{"minimum":1e999999}}}`, []string{"at /properties/n/minimum: the number 1e999999 is outside the range"}, 0, 0},
		{"tiny number", `{"multipleOf":1e-999999}`, []string{"at /multipleOf: the number"}, 0, 0},
		{"long number", `{"enum":[1, 0.` + strings.Repeat("1", 100) + `]}`, []string{"at /enum/1: the number 0.1111"}, 0, 0},
		{"too large", `{"description":"` + strings.Repeat("x", MaxSchemaLen) + `"}`, []string{"too large"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Compile succeeded: %s", s.Source())
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "keel:///") || strings.Contains(msg, "jsonschema") {
				t.Errorf("error shows library internals: %q", msg)
			}
			if !strings.HasPrefix(msg, "The schema") || !strings.HasSuffix(msg, ".") {
				t.Errorf("error is not a sentence: %q", msg)
			}
			if e.Line != tt.line || e.Column != tt.col {
				t.Errorf("line %d column %d, want %d %d", e.Line, e.Column, tt.line, tt.col)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, doc := range []string{
		`{}`,
		`true`,
		`false`,
		` {"type":"string"} ` + "\n",
		`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`,
		`{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"string"}`,
		`{"$ref":"https://json-schema.org/draft/2020-12/schema"}`,
		`{"$id":"https://example.com/root.json","$defs":{"a":{"$id":"a.json","type":"string"}},"$ref":"a.json"}`,
		`{"x-keel-note":"unknown keywords are annotations","format":"made-up"}`,
		`{"minimum":-1.7e308,"maximum":123456789012345678901234567890,"multipleOf":1e-300}`,
	} {
		t.Run(doc, func(t *testing.T) {
			s := mustCompile(t, doc)
			if string(s.Source()) != doc {
				t.Fatalf("Source = %q", s.Source())
			}
		})
	}
	t.Run("the draft defaults to 2020-12", func(t *testing.T) {
		// prefixItems exists only in 2020-12; under draft-07 it would be ignored.
		s := mustCompile(t, `{"prefixItems":[{"type":"string"}]}`)
		if got := where(s.Validate([]any{1.0})); !slices.Equal(got, []string{"/0 type"}) {
			t.Fatalf("violations %q", got)
		}
	})
	t.Run("Source is a copy", func(t *testing.T) {
		doc := []byte(`{"type":"string"}`)
		s, err := Compile(doc)
		if err != nil {
			t.Fatal(err)
		}
		doc[2] = 'X'
		src := s.Source()
		src[3] = 'Y'
		if string(s.Source()) != `{"type":"string"}` {
			t.Fatalf("Source = %s", s.Source())
		}
	})
}

func TestValidateIsDeterministic(t *testing.T) {
	s := mustCompile(t, `{"type":"object","additionalProperties":{"type":"integer","minimum":0},"required":["z","y","x"]}`)
	v := decodeJSON(t, `{"a":"1","b":-1,"c":true,"d":-5,"e":null,"f":[],"g":{}}`)
	first := s.Validate(v)
	checkViolations(t, first)
	if len(first) != 10 {
		t.Fatalf("got %d violations: %v", len(first), first)
	}
	for range 50 {
		if got := s.Validate(v); !reflect.DeepEqual(got, first) {
			t.Fatalf("order changed:\n%v\n%v", got, first)
		}
	}
}

func TestConcurrentValidate(t *testing.T) {
	s := mustCompile(t, dbSchema)
	good := decodeJSON(t, `{"host":"db","port":5432,"pool":{"size":4}}`)
	bad := decodeJSON(t, `{"port":0,"pool":{"size":0},"x":1}`)
	want := where(s.Validate(bad))
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if vs := s.Validate(good); vs != nil {
					errs <- fmt.Sprint("good value failed: ", vs)
					return
				}
				if got := where(s.Validate(bad)); !slices.Equal(got, want) {
					errs <- fmt.Sprint("bad value: ", got)
					return
				}
			}
		}()
	}
	// Compiling concurrently shares nothing either.
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := Compile([]byte(dbSchema)); err != nil {
					errs <- err.Error()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestValidateHugeNumbers(t *testing.T) {
	s := mustCompile(t, `{"properties":{"n":{"multipleOf":3}}}`)
	for _, n := range []json.Number{"1e999999", "1e-999999", json.Number("1" + strings.Repeat("0", 100))} {
		vs := s.Validate(map[string]any{"n": n})
		if len(vs) != 1 || vs[0].Pointer != "/n" || vs[0].Rule != "type" || !strings.Contains(vs[0].Message, "outside the range") {
			t.Fatalf("Validate(%s) = %v", n, vs)
		}
	}
	if vs := s.Validate(map[string]any{"n": json.Number("0e-999999")}); vs != nil {
		t.Fatalf("zero with a large exponent: %v", vs)
	}
	if vs := s.Validate(map[string]any{"n": json.Number("9e300")}); vs != nil {
		t.Fatalf("9e300: %v", vs)
	}
}

func TestValidateNonJSONGoValue(t *testing.T) {
	s := mustCompile(t, `{"type":"object","properties":{"a":{"type":"string"}}}`)
	for _, v := range []any{struct{}{}, map[string]any{"a": struct{}{}}} {
		vs := s.Validate(v)
		if len(vs) != 1 || vs[0].Rule != "type" || !strings.Contains(vs[0].Message, "not a JSON value") {
			t.Fatalf("Validate(%#v) = %v", v, vs)
		}
	}
}

// anyOfChain builds n levels of anyOf whose two branches both lead to the
// next level: checking a value visits 2^n schemas.
func anyOfChain(n int) string {
	var defs []string
	for i := range n {
		defs = append(defs, fmt.Sprintf(`"d%d":{"anyOf":[{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d","minimum":1}]}`, i, i+1, i+1))
	}
	defs = append(defs, fmt.Sprintf(`"d%d":{"type":"string"}`, n))
	return `{"$ref":"#/$defs/d0","$defs":{` + strings.Join(defs, ",") + `}}`
}

func TestComplexity(t *testing.T) {
	t.Run("a modest chain compiles and validates", func(t *testing.T) {
		s := mustCompile(t, anyOfChain(8))
		if vs := s.Validate("text"); vs != nil {
			t.Fatalf("violations %v", vs)
		}
		vs := s.Validate(5.0)
		if len(vs) != 1 || vs[0].Rule != "anyOf" || len(vs[0].Message) > 400 {
			t.Fatalf("violations %v", vs)
		}
	})
	t.Run("an exponential chain is refused at compile time", func(t *testing.T) {
		start := time.Now()
		_, err := Compile([]byte(anyOfChain(40)))
		if err == nil || !strings.Contains(err.Error(), "too complex") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("a deep value against a branching recursive schema is refused", func(t *testing.T) {
		s := mustCompile(t, `{"anyOf":[{"properties":{"a":{"$ref":"#"}}},{"properties":{"a":{"$ref":"#"}},"required":["b"]}],"type":["object","integer"]}`)
		var v any = 1.5
		for range 40 {
			v = map[string]any{"a": v}
		}
		start := time.Now()
		vs := s.Validate(v)
		if len(vs) != 1 || vs[0].Rule != "complexity" || vs[0].Pointer != "" {
			t.Fatalf("violations %v", vs)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
		// The same schema checks a shallow value normally.
		if vs := s.Validate(map[string]any{"a": map[string]any{"a": 1.5}}); len(vs) != 1 || vs[0].Rule != "anyOf" {
			t.Fatalf("shallow value: %v", vs)
		}
	})
	t.Run("a large flat value is not too complex", func(t *testing.T) {
		s := mustCompile(t, `{"type":"array","items":{"anyOf":[{"type":"string"},{"type":"integer","minimum":0}]}}`)
		arr := make([]any, 20000)
		for i := range arr {
			arr[i] = float64(i)
		}
		if vs := s.Validate(arr); vs != nil {
			t.Fatalf("violations %v", vs[:1])
		}
		arr[123] = -1.0
		if got := where(s.Validate(arr)); !slices.Equal(got, []string{"/123 anyOf"}) {
			t.Fatalf("violations %v", got)
		}
	})
}
