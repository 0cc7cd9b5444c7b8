package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		ok   bool
	}{
		{"json", FormatJSON, true},
		{"YAML", FormatYAML, true},
		{"yml", FormatYAML, true},
		{"env", FormatEnv, true},
		{".env", FormatEnv, true},
		{"dotenv", FormatEnv, true},
		{"toml", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
	for _, f := range Formats {
		if f.Extension() == "" || f.ContentType() == "" {
			t.Fatalf("%s has no extension or content type", f)
		}
	}
}

// sample holds one item of each kind, in a scrambled order.
var sample = []Item{
	{Key: "svc/api.url", Type: TypeString, Value: "https://api.example.com/$HOME #x"},
	{Key: "db.port", Type: TypeNumber, Value: "5432"},
	{Key: "db.host", Type: TypeString, Value: "localhost"},
	{Key: "features", Type: TypeJSON, Value: `{"beta":true,"ratio":0.50,"tags":["a","é"]}`},
	{Key: "debug", Type: TypeBoolean, Value: "false"},
	{Key: "api.token", Type: TypeSecret, Value: "s3cr3t"},
	{Key: "old.token", Type: TypeSecret, Masked: true},
	{Key: "greeting", Type: TypeString, Value: "it's \"hi\"\nbye"},
	{Key: "on", Type: TypeString, Value: "yes"},
}

func TestExport(t *testing.T) {
	tests := []struct {
		f    Format
		want string
	}{
		{FormatJSON, `{
  "api.token": {
    "$secret": "s3cr3t"
  },
  "db.host": "localhost",
  "db.port": 5432,
  "debug": false,
  "features": {
    "beta": true,
    "ratio": 0.50,
    "tags": [
      "a",
      "é"
    ]
  },
  "greeting": "it's \"hi\"\nbye",
  "old.token": {
    "$secret": null
  },
  "on": "yes",
  "svc/api.url": "https://api.example.com/$HOME #x"
}
`},
		{FormatYAML, `api.token: {$secret: s3cr3t}
db.host: localhost
db.port: 5432
debug: false
features:
  beta: true
  ratio: 0.50
  tags:
    - a
    - é
greeting: |-
  it's "hi"
  bye
old.token: {$secret: null}
"on": "yes"
svc/api.url: 'https://api.example.com/$HOME #x'
`},
		{FormatEnv, `# keel: type=secret
api.token=s3cr3t
db.host=localhost
# keel: type=number
db.port=5432
# keel: type=boolean
debug=false
# keel: type=json
features='{"beta":true,"ratio":0.50,"tags":["a","é"]}'
greeting="it's \"hi\"\nbye"
# keel: type=secret masked
old.token=
on=yes
# keel: key=svc/api.url
svc_api.url='https://api.example.com/$HOME #x'
`},
	}
	for _, tt := range tests {
		t.Run(string(tt.f), func(t *testing.T) {
			got, err := Export(tt.f, sample)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Export(%s) =\n%s\nwant\n%s", tt.f, got, tt.want)
			}
			again, _ := Export(tt.f, sample)
			if string(again) != string(got) {
				t.Fatal("Export is not deterministic")
			}
			back, err := Import(tt.f, got, typesOf(sample))
			if err != nil {
				t.Fatal(err)
			}
			if want := sortedCopy(sample); !reflect.DeepEqual(back, want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", back, want)
			}
		})
	}
}

func sortedCopy(items []Item) []Item {
	out := append([]Item(nil), items...)
	sortItems(out)
	return out
}

func TestExportEmpty(t *testing.T) {
	for f, want := range map[Format]string{FormatJSON: "{}\n", FormatYAML: "{}\n", FormatEnv: ""} {
		got, err := Export(f, nil)
		if err != nil || string(got) != want {
			t.Fatalf("Export(%s, nil) = %q, %v; want %q", f, got, err, want)
		}
		items, err := Import(f, got, nil)
		if err != nil || len(items) != 0 {
			t.Fatalf("Import(%s, %q) = %v, %v", f, got, items, err)
		}
	}
}

func TestExportErrors(t *testing.T) {
	tests := []struct {
		name  string
		items []Item
		want  string
	}{
		{"invalid key", []Item{{Key: "a b", Type: TypeString}}, "a space"},
		{"duplicate key", []Item{{Key: "a", Type: TypeString}, {Key: "a", Type: TypeString}}, "appears twice"},
		{"unknown type", []Item{{Key: "a", Type: "int", Value: "1"}}, "Unknown type"},
		{"not canonical", []Item{{Key: "a", Type: TypeNumber, Value: "+5"}}, "canonical"},
		{"invalid value", []Item{{Key: "a", Type: TypeJSON, Value: "{"}}, "Unexpected end"},
		{"masked string", []Item{{Key: "a", Type: TypeString, Masked: true}}, "only a secret"},
	}
	for _, tt := range tests {
		for _, f := range Formats {
			t.Run(tt.name+"/"+string(f), func(t *testing.T) {
				_, err := Export(f, tt.items)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Export = %v; want an error containing %q", err, tt.want)
				}
			})
		}
	}
	if _, err := Export("toml", nil); err == nil {
		t.Fatal("Export accepted an unknown format")
	}
	if _, err := Import("toml", nil, nil); err == nil {
		t.Fatal("Import accepted an unknown format")
	}
}

// importCase is one Import test: either want items or want problems
// (each matched by key, line and a message substring).
type importCase struct {
	name     string
	doc      string
	types    map[string]Type
	want     []Item
	problems []Problem
}

func runImportCases(t *testing.T, f Format, cases []importCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Import(f, []byte(tt.doc), tt.types)
			if tt.problems == nil {
				if err != nil {
					t.Fatalf("Import: %v", err)
				}
				if !sameItems(got, tt.want) {
					t.Fatalf("Import =\n%#v\nwant\n%#v", got, tt.want)
				}
				return
			}
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("Import = %#v, %v; want an *ImportError", got, err)
			}
			if got != nil {
				t.Fatalf("Import returned items with an error: %v", got)
			}
			if len(ie.Problems) != len(tt.problems) {
				t.Fatalf("problems = %+v; want %d", ie.Problems, len(tt.problems))
			}
			for i, want := range tt.problems {
				p := ie.Problems[i]
				if p.Key != want.Key || p.Line != want.Line || !strings.Contains(p.Message, want.Message) {
					t.Errorf("problem %d = %+v; want key %q, line %d, message containing %q", i, p, want.Key, want.Line, want.Message)
				}
			}
			if !strings.Contains(ie.Error(), tt.problems[0].Message) {
				t.Errorf("Error() = %q does not include the first problem", ie.Error())
			}
		})
	}
}

func TestImportJSON(t *testing.T) {
	runImportCases(t, FormatJSON, []importCase{
		{name: "empty", doc: ""},
		{name: "blank", doc: " \n\t "},
		{name: "empty object", doc: "{}"},
		{name: "natural types", doc: `{"s":"x","n":5432,"f":1.50,"b":true,"j":{"a":[1]},"l":[],"sec":{"$secret":"v"},"e":{"$secret":""}}`, want: []Item{
			{Key: "b", Type: TypeBoolean, Value: "true"},
			{Key: "e", Type: TypeSecret, Value: ""},
			{Key: "f", Type: TypeNumber, Value: "1.5"},
			{Key: "j", Type: TypeJSON, Value: `{"a":[1]}`},
			{Key: "l", Type: TypeJSON, Value: `[]`},
			{Key: "n", Type: TypeNumber, Value: "5432"},
			{Key: "s", Type: TypeString, Value: "x"},
			{Key: "sec", Type: TypeSecret, Value: "v"},
		}},
		{name: "existing types win", doc: `{"port":"5432","on":"TRUE","cfg":"[1, 2]","name":5432,"flag":false,"tok":"plain","doc":{"$secret":"x"}}`,
			types: map[string]Type{"port": TypeNumber, "on": TypeBoolean, "cfg": TypeJSON, "name": TypeString, "flag": TypeString, "tok": TypeSecret, "doc": TypeJSON},
			want: []Item{
				{Key: "cfg", Type: TypeJSON, Value: `[1,2]`},
				{Key: "doc", Type: TypeJSON, Value: `{"$secret":"x"}`},
				{Key: "flag", Type: TypeString, Value: "false"},
				{Key: "name", Type: TypeString, Value: "5432"},
				{Key: "on", Type: TypeBoolean, Value: "true"},
				{Key: "port", Type: TypeNumber, Value: "5432"},
				{Key: "tok", Type: TypeSecret, Value: "plain"},
			}},
		{name: "masked secret keeps value", doc: `{"tok":{"$secret":null}}`, types: map[string]Type{"tok": TypeSecret},
			want: []Item{{Key: "tok", Type: TypeSecret, Masked: true}}},
		{name: "secret-like objects", doc: `{"a":{"$secret":5},"b":{"$secret":"x","y":1}}`, want: []Item{
			{Key: "a", Type: TypeJSON, Value: `{"$secret":5}`},
			{Key: "b", Type: TypeJSON, Value: `{"$secret":"x","y":1}`},
		}},
		{name: "type mismatch", doc: "{\n  \"port\": \"abc\",\n  \"on\": 1,\n  \"cfg\": \"x\"\n}",
			types: map[string]Type{"port": TypeNumber, "on": TypeBoolean, "cfg": TypeJSON},
			problems: []Problem{
				{Key: "port", Line: 2, Message: `"abc" is not a number`},
				{Key: "on", Line: 3, Message: "Expected true or false for this boolean key, got the number"},
				{Key: "cfg", Line: 4, Message: "Unexpected character 'x'"},
			}},
		{name: "object for a string key", doc: `{"s":{"a":1}}`, types: map[string]Type{"s": TypeString},
			problems: []Problem{{Key: "s", Line: 1, Message: "Expected a string for this string key, got an object."}}},
		{name: "secret for a plain key", doc: `{"s":{"$secret":"x"}}`, types: map[string]Type{"s": TypeString},
			problems: []Problem{{Key: "s", Line: 1, Message: "marks this value as a secret but the key is a string here"}}},
		{name: "masked secret for a new key", doc: `{"s":{"$secret":null}}`,
			problems: []Problem{{Key: "s", Line: 1, Message: "no value to keep"}}},
		{name: "null", doc: `{"a":null}`, problems: []Problem{{Key: "a", Line: 1, Message: "The value is null"}}},
		{name: "invalid keys", doc: "{\"bad key\": 1,\n\"\": 2, \"ok\": 3}", problems: []Problem{
			{Key: "bad key", Line: 1, Message: "contains a space (character 4)"},
			{Key: "", Line: 2, Message: "Enter a key"},
		}},
		{name: "duplicate top-level key", doc: "{\"a\": 1,\n\"a\": 2}", problems: []Problem{{Key: "a", Line: 2, Message: "more than once (first on line 1)"}}},
		{name: "duplicate nested key", doc: "{\"a\":\n {\"x\": 1,\n  \"x\": 2}}", problems: []Problem{{Key: "a", Line: 1, Message: `The key "x" appears more than once in the same object (line 3, column 3)`}}},
		{name: "syntax error", doc: "{\n \"a\": 1\n \"b\": 2\n}", problems: []Problem{{Line: 3, Message: "Unexpected character '\"' at line 3, column 2."}}},
		{name: "array document", doc: "\n[1]", problems: []Problem{{Line: 2, Message: "must be a JSON object"}}},
		{name: "scalar document", doc: "5", problems: []Problem{{Line: 1, Message: "must be a JSON object"}}},
		{name: "number too large", doc: `{"n":1e999}`, problems: []Problem{{Key: "n", Line: 1, Message: "too large"}}},
		{name: "invalid utf-8", doc: "{\"a\":\n\"\xff\"}", problems: []Problem{{Line: 2, Message: "not valid UTF-8"}}},
		{name: "byte order mark", doc: "\xef\xbb\xbf{\"a\":\"x\"}", want: []Item{{Key: "a", Type: TypeString, Value: "x"}}},
	})
}

func TestImportYAML(t *testing.T) {
	runImportCases(t, FormatYAML, []importCase{
		{name: "empty", doc: ""},
		{name: "comment only", doc: "# nothing here\n"},
		{name: "null document", doc: "~\n"},
		{name: "natural types", doc: `s: x
q: "5432"
n: 5432
hex: 0x1f
oct: 0o17
f: 1.50
b: true
y: yes
d: 2024-01-02
j: {a: [1, 2.0]}
l: [x, null]
sec: {$secret: v}
block:
  nested:
    - one
text: |
  line one
  line two
`, want: []Item{
			{Key: "b", Type: TypeBoolean, Value: "true"},
			{Key: "block", Type: TypeJSON, Value: `{"nested":["one"]}`},
			{Key: "d", Type: TypeString, Value: "2024-01-02"},
			{Key: "f", Type: TypeNumber, Value: "1.5"},
			{Key: "hex", Type: TypeNumber, Value: "31"},
			{Key: "j", Type: TypeJSON, Value: `{"a":[1,2.0]}`},
			{Key: "l", Type: TypeJSON, Value: `["x",null]`},
			{Key: "n", Type: TypeNumber, Value: "5432"},
			{Key: "oct", Type: TypeNumber, Value: "15"},
			{Key: "q", Type: TypeString, Value: "5432"},
			{Key: "s", Type: TypeString, Value: "x"},
			{Key: "sec", Type: TypeSecret, Value: "v"},
			{Key: "text", Type: TypeString, Value: "line one\nline two\n"},
			{Key: "y", Type: TypeString, Value: "yes"},
		}},
		{name: "existing types win", doc: "port: '5432'\nname: 0x1f\nflag: True\ntok: plain\nj: '{\"a\": 1}'\n",
			types: map[string]Type{"port": TypeNumber, "name": TypeString, "flag": TypeBoolean, "tok": TypeSecret, "j": TypeJSON},
			want: []Item{
				{Key: "flag", Type: TypeBoolean, Value: "true"},
				{Key: "j", Type: TypeJSON, Value: `{"a":1}`},
				{Key: "name", Type: TypeString, Value: "0x1f"},
				{Key: "port", Type: TypeNumber, Value: "5432"},
				{Key: "tok", Type: TypeSecret, Value: "plain"},
			}},
		{name: "yaml scalars in json values", doc: "j: {h: 0x1f, u: 1_000, f: .5, t: 2024-01-02, b: True, k: {1: x}, n: ~, big: [18446744073709551615, 1.0e+3]}\nbig: 18446744073709551615\nneg: -0b101\n",
			want: []Item{
				{Key: "big", Type: TypeNumber, Value: "18446744073709552000"},
				{Key: "j", Type: TypeJSON, Value: `{"h":31,"u":1000,"f":0.5,"t":"2024-01-02","b":true,"k":{"1":"x"},"n":null,"big":[18446744073709551615,1.0e+3]}`},
				{Key: "neg", Type: TypeNumber, Value: "-5"},
			}},
		{name: "yaml scalars json cannot hold", doc: "a: [.inf]\nb: [!!binary aGk=]\nc: [.nan]\n", problems: []Problem{
			{Key: "a", Line: 1, Message: "not a number JSON can hold"},
			{Key: "b", Line: 2, Message: "!!binary is not supported"},
			{Key: "c", Line: 3, Message: "not a number JSON can hold"},
		}},
		{name: "masked secret keeps value", doc: "tok: {$secret: null}\n", types: map[string]Type{"tok": TypeSecret},
			want: []Item{{Key: "tok", Type: TypeSecret, Masked: true}}},
		{name: "aliases", doc: "base: &b {x: 1}\ncopy: *b\n", want: []Item{
			{Key: "base", Type: TypeJSON, Value: `{"x":1}`},
			{Key: "copy", Type: TypeJSON, Value: `{"x":1}`},
		}},
		{name: "alias bomb", doc: "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
			problems: []Problem{
				{Key: "e", Line: 5, Message: "larger than 256 KiB"},
				{Key: "f", Line: 6, Message: "larger than 256 KiB"},
				{Key: "g", Line: 7, Message: "larger than 256 KiB"},
			}},
		{name: "type mismatch", doc: "port: abc\non: 1\n", types: map[string]Type{"port": TypeNumber, "on": TypeBoolean},
			problems: []Problem{
				{Key: "port", Line: 1, Message: `"abc" is not a number`},
				{Key: "on", Line: 2, Message: "Expected true or false"},
			}},
		{name: "problems", doc: "a b: 1\nn: ~\ninf: .inf\nbin: !!binary aGk=\ncustom: !thing x\n? [k]\n: v\nm: {<<: {a: 1}}\n",
			problems: []Problem{
				{Key: "a b", Line: 1, Message: "a space"},
				{Key: "n", Line: 2, Message: "null"},
				{Key: "inf", Line: 3, Message: "not a finite number"},
				{Key: "bin", Line: 4, Message: "!!binary is not supported"},
				{Key: "custom", Line: 5, Message: "!thing is not supported"},
				{Line: 6, Message: "must be plain text"},
				{Key: "m", Line: 8, Message: "merge keys"},
			}},
		{name: "top-level merge key", doc: "<<: {a: 1}\n", problems: []Problem{{Line: 1, Message: "merge keys"}}},
		{name: "duplicate key", doc: "a: 1\nb: 2\na: 3\n", problems: []Problem{{Key: "a", Line: 3, Message: "first on line 1"}}},
		{name: "nested duplicate", doc: "a:\n  x: 1\n  x: 2\n", problems: []Problem{{Key: "a", Line: 1, Message: `"x" appears more than once`}}},
		{name: "syntax error", doc: "a: 1\nb: c: d\n", problems: []Problem{{Line: 2, Message: "The YAML is not valid at line 2: mapping values are not allowed in this context."}}},
		{name: "sequence document", doc: "- 1\n- 2\n", problems: []Problem{{Line: 1, Message: "must be a YAML mapping"}}},
		{name: "two documents", doc: "a: 1\n---\nb: 2\n", problems: []Problem{{Line: 2, Message: "more than one YAML document"}}},
	})
}

func TestImportEnv(t *testing.T) {
	runImportCases(t, FormatEnv, []importCase{
		{name: "empty", doc: ""},
		{name: "comments only", doc: "# a comment\n\n   # another\n"},
		{name: "plain", doc: "A=1\nexport B=two words\nC='single $X'\nD=\"double\\n\\\"q\\\" end\"\nE=\nF=x # comment\nG: yaml style\n", want: []Item{
			{Key: "A", Type: TypeString, Value: "1"},
			{Key: "B", Type: TypeString, Value: "two words"},
			{Key: "C", Type: TypeString, Value: "single $X"},
			{Key: "D", Type: TypeString, Value: "double\n\"q\" end"},
			{Key: "E", Type: TypeString, Value: ""},
			{Key: "F", Type: TypeString, Value: "x"},
			{Key: "G", Type: TypeString, Value: "yaml style"},
		}},
		{name: "expansion", doc: "HOST=db\nURL=\"pg://$HOST/x\"\n", want: []Item{
			{Key: "HOST", Type: TypeString, Value: "db"},
			{Key: "URL", Type: TypeString, Value: "pg://db/x"},
		}},
		{name: "crlf", doc: "A=1\r\nB='x'\r\n", want: []Item{
			{Key: "A", Type: TypeString, Value: "1"},
			{Key: "B", Type: TypeString, Value: "x"},
		}},
		{name: "directives", doc: "# keel: type=number\nport=5432\n# keel: key=svc/api.url\nsvc_api.url=x\n# keel: type=json\nj='{\"a\": 1}'\n# keel: type=secret\nt=s\n# keel: base64\nb=aGkK\n", want: []Item{
			{Key: "b", Type: TypeString, Value: "hi\n"},
			{Key: "j", Type: TypeJSON, Value: `{"a":1}`},
			{Key: "port", Type: TypeNumber, Value: "5432"},
			{Key: "svc/api.url", Type: TypeString, Value: "x"},
			{Key: "t", Type: TypeSecret, Value: "s"},
		}},
		{name: "existing types win", doc: "port=5432\non=TRUE\n# keel: type=number\nname=12\ntok=plain\n",
			types: map[string]Type{"port": TypeNumber, "on": TypeBoolean, "name": TypeString, "tok": TypeSecret},
			want: []Item{
				{Key: "name", Type: TypeString, Value: "12"},
				{Key: "on", Type: TypeBoolean, Value: "true"},
				{Key: "port", Type: TypeNumber, Value: "5432"},
				{Key: "tok", Type: TypeSecret, Value: "plain"},
			}},
		{name: "masked", doc: "# keel: type=secret masked\nt=\n# keel: masked\nu=filled in\n", types: map[string]Type{"t": TypeSecret, "u": TypeSecret},
			want: []Item{
				{Key: "t", Type: TypeSecret, Masked: true},
				{Key: "u", Type: TypeSecret, Value: "filled in"},
			}},
		{name: "masked new key", doc: "# keel: type=secret masked\nt=\n", problems: []Problem{{Key: "t", Line: 2, Message: "no value to keep"}}},
		{name: "secret for a plain key", doc: "# keel: type=secret\nt=x\n", types: map[string]Type{"t": TypeString},
			problems: []Problem{{Key: "t", Line: 2, Message: "the key is a string here"}}},
		{name: "type mismatch", doc: "port=abc\n", types: map[string]Type{"port": TypeNumber},
			problems: []Problem{{Key: "port", Line: 1, Message: `"abc" is not a number`}}},
		{name: "name not a key", doc: "A=1\nbad-name=1\n", problems: []Problem{{Line: 2, Message: "The name contains '-'"}}},
		{name: "unicode name", doc: "ключ=1\n", problems: []Problem{{Line: 1, Message: "The name contains 'к'"}}},
		{name: "unicode letters godotenv accepts", doc: "ê=1\n", problems: []Problem{{Key: "ê", Line: 1, Message: "'ê' (character 1), which is not allowed"}}},
		{name: "no equals sign", doc: "A=1\nB\nC=2\n", problems: []Problem{{Line: 2, Message: "no = after its name"}}},
		{name: "no equals sign at the end", doc: "A=1\nB", problems: []Problem{{Line: 2, Message: "no name before its value"}}},
		{name: "unterminated quote", doc: "A=1\nB=\"open\nC=2\n", problems: []Problem{{Line: 2, Message: "no closing \""}}},
		{name: "duplicate name", doc: "A=1\nB=2\nA=3\n", problems: []Problem{{Key: "A", Line: 3, Message: "first on line 1"}}},
		{name: "duplicate key through directive", doc: "a.b=1\n# keel: key=a.b\nother=2\n", problems: []Problem{{Key: "a.b", Line: 3, Message: "first on line 1"}}},
		{name: "directive not above a line", doc: "# keel: type=number\n\nA=1\n", problems: []Problem{{Line: 1, Message: "directly above"}}},
		{name: "directive at the end", doc: "A=1\n# keel: type=number\n", problems: []Problem{{Line: 2, Message: "directly above"}}},
		{name: "unknown directive word", doc: "# keel: type=number frozen\nA=1\n", problems: []Problem{{Key: "A", Line: 1, Message: `Unknown word "frozen"`}}},
		{name: "unknown directive type", doc: "# keel: type=int\nA=1\n", problems: []Problem{{Key: "A", Line: 1, Message: "Unknown type"}}},
		{name: "masked non-secret", doc: "# keel: type=number masked\nA=\n", problems: []Problem{{Key: "A", Line: 1, Message: "Only a secret can be masked"}}},
		{name: "bad base64", doc: "# keel: base64\nA=!!!\n", problems: []Problem{{Key: "A", Line: 2, Message: "not valid base64"}}},
		{name: "base64 not utf-8", doc: "# keel: base64\nA=/w==\n", problems: []Problem{{Key: "A", Line: 2, Message: "not valid UTF-8"}}},
	})
}

func TestImportLimits(t *testing.T) {
	big := make([]byte, MaxDocumentSize+1)
	for i := range big {
		big[i] = ' '
	}
	for _, f := range Formats {
		_, err := Import(f, big, nil)
		var ie *ImportError
		if !errors.As(err, &ie) || !strings.Contains(ie.Problems[0].Message, "the limit is 10 MiB") {
			t.Fatalf("Import(%s) of %d bytes = %v", f, len(big), err)
		}
	}
}

// TestImportLarge imports a document of many keys in every format, which
// must not take quadratic time.
func TestImportLarge(t *testing.T) {
	var items []Item
	for i := 0; i < 20000; i++ {
		items = append(items, Item{Key: "key." + strings.Repeat("x", i%7) + "/" + string(rune('a'+i%26)) + "-" + itoa(i), Type: Types[i%4], Value: []string{"value with spaces", "42", "true", `{"a":[1,2]}`}[i%4]})
	}
	sortItems(items)
	for _, f := range Formats {
		out, err := Export(f, items)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Import(f, out, typesOf(items))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, items) {
			t.Fatalf("%s: round trip of %d items differs", f, len(items))
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	values := []string{
		"", "plain", "two words", " leading", "trailing ", "  both  ", "\ttab", "tab\t",
		"line\nbreak", "ends with newline\n", "\n", "\n\nblank lines\n\n", "crlf\r\nline", "cr\ronly", "trailing space \nnext",
		`"double"`, `'single'`, `it's "both"`, `ends with "`, `ends with \`, `back\slash`, `\n literal`, `\`, `"`, `'`, `''`, `""`,
		"# hash", "a # comment-like", "a#b", "=", "a=b=c", "$HOME", "${HOME}", "$(cmd)", `\$HOME`, "price: $5", "`tick`",
		"日本語", "emoji 🎉", "é\u0301", "\u00a0nbsp\u00a0", "\u0085nel", "\u2028sep", "\ufeffbom", "\x00nul", "\x1bescape", "\x7f",
		"yes", "no", "on", "off", "y", "n", "true", "null", "~", "123", "0x10", "1e5", "- dash", "? q", ": colon", "@at", "&amp", "*star", "!bang", "%pct", "|pipe", ">gt", "{a: 1}", "[x]", "---", "...",
		"it's\n\"x\"", "multi\nline ending in quote \"", "multi\nline ending in backslash \\", "'\n'",
	}
	var items []Item
	for i, v := range values {
		key := "k" + itoa(i)
		typ := TypeString
		if i%2 == 1 {
			typ = TypeSecret
			key = "secret/" + key
		}
		items = append(items, Item{Key: key, Type: typ, Value: v})
	}
	items = append(items,
		Item{Key: "json", Type: TypeJSON, Value: `{"s":"é\n\"'#= $X\\","n":[1.50,-0,1E+5,123456789012345678901234567890],"o":{},"a":[],"z":null,"t":true}`},
		Item{Key: "json-list", Type: TypeJSON, Value: `[" lead","trail ","yes","0x10","",{"$secret":"x"}]`},
		Item{Key: "number.big", Type: TypeNumber, Value: "1e+21"},
		Item{Key: "number.small", Type: TypeNumber, Value: "-1.5e-7"},
		Item{Key: "number.int", Type: TypeNumber, Value: "9007199254740992"},
		Item{Key: "bool", Type: TypeBoolean, Value: "false"},
		Item{Key: "masked", Type: TypeSecret, Masked: true},
		Item{Key: "a-b", Type: TypeString, Value: "dash"},
		Item{Key: "a_b", Type: TypeString, Value: "underscore"},
		Item{Key: "a/b", Type: TypeString, Value: "slash"},
		Item{Key: "export", Type: TypeString, Value: "a name godotenv treats specially"},
		Item{Key: "export.x", Type: TypeNumber, Value: "1"},
		Item{Key: "0", Type: TypeString, Value: "digit key"},
		Item{Key: "-", Type: TypeString, Value: "dash key"},
		Item{Key: "true", Type: TypeString, Value: "boolean-looking key"},
		Item{Key: "...", Type: TypeString, Value: "dots"},
	)
	for _, it := range items {
		if v, err := Normalize(it.Type, it.Value); !it.Masked && (err != nil || v != it.Value) {
			t.Fatalf("test value %q of %s is not canonical: %q %v", it.Value, it.Type, v, err)
		}
	}
	sortItems(items)
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			out, err := Export(f, items)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Import(f, out, typesOf(items))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(back) != len(items) {
				t.Fatalf("got %d items; want %d", len(back), len(items))
			}
			for i := range items {
				if back[i] != items[i] {
					t.Errorf("item %d:\n got %#v\nwant %#v", i, back[i], items[i])
				}
			}
		})
	}
}

func TestImportErrorText(t *testing.T) {
	tests := []struct {
		err  ImportError
		want string
	}{
		{ImportError{}, "The document could not be imported."},
		{ImportError{Problems: []Problem{{Key: "a", Line: 3, Message: "Bad."}}}, "line 3: a: Bad."},
		{ImportError{Problems: []Problem{{Message: "Bad."}, {Key: "b", Message: "Worse."}}}, "2 problems: Bad.; b: Worse."},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q; want %q", got, tt.want)
		}
	}
}
