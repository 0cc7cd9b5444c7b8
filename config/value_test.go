package config

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestNormalizeNumber(t *testing.T) {
	tests := []struct {
		in, want string
		err      string // substring of the error
	}{
		{in: "5432", want: "5432"},
		{in: "12.5", want: "12.5"},
		{in: "-3.25", want: "-3.25"},
		{in: "+5", want: "5"},
		{in: "007", want: "7"},
		{in: ".5", want: "0.5"},
		{in: "5.", want: "5"},
		{in: "1.50", want: "1.5"},
		{in: "1e6", want: "1000000"},
		{in: "1E+3", want: "1000"},
		{in: "-0", want: "0"},
		{in: "0.0", want: "0"},
		{in: "0.1", want: "0.1"},
		{in: "0.000001", want: "0.000001"},
		{in: "0.0000001", want: "1e-7"},
		{in: "1.5e-10", want: "1.5e-10"},
		{in: "9007199254740992", want: "9007199254740992"},
		{in: "9007199254740993", want: "9007199254740992"},
		{in: "123456789012345678901", want: "123456789012345680000"},
		{in: "1e20", want: "100000000000000000000"},
		{in: "1e21", want: "1e+21"},
		{in: "-1.5e300", want: "-1.5e+300"},
		{in: "1.7976931348623157e308", want: "1.7976931348623157e+308"},
		{in: "5e-324", want: "5e-324"},
		{in: "1e-400", want: "0"},
		{in: "", err: "Enter a number"},
		{in: "12a", err: `"12a" is not a number`},
		{in: " 12", err: "spaces"},
		{in: "12 ", err: "spaces"},
		{in: "0x10", err: "not a number"},
		{in: "1_000", err: "not a number"},
		{in: "1e400", err: "too large"},
		{in: "-1e400", err: "too large"},
		{in: "NaN", err: "not a number"},
		{in: "Inf", err: "not a number"},
		{in: "-Infinity", err: "not a number"},
		{in: "+", err: "not a number"},
		{in: ".", err: "not a number"},
		{in: "1e", err: "not a number"},
		{in: "1e+", err: "not a number"},
		{in: "--1", err: "not a number"},
		{in: "1,000", err: "not a number"},
		{in: strings.Repeat("9", 39) + "x" + strings.Repeat("9", 10), err: `"` + strings.Repeat("9", 39) + `x…" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(TypeNumber, tt.in)
			checkNormalize(t, TypeNumber, tt.in, got, err, tt.want, tt.err)
			if err == nil {
				f, perr := strconv.ParseFloat(got, 64)
				if perr != nil || FormatNumber(f) != got {
					t.Fatalf("%q does not round-trip through ParseFloat", got)
				}
			}
		})
	}
}

func checkNormalize(t *testing.T, typ Type, in, got string, err error, want, wantErr string) {
	t.Helper()
	if wantErr != "" {
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Fatalf("Normalize(%s, %q) = %q, %v; want a *ValueError", typ, in, got, err)
		}
		if !strings.Contains(ve.Message, wantErr) {
			t.Fatalf("Normalize(%s, %q) error %q; want it to contain %q", typ, in, ve.Message, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("Normalize(%s, %q) = %q, %v; want %q", typ, in, got, err, want)
	}
}

var tenth = 0.1 // a variable, so that 0.1+0.2 is computed in float64

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-1, "-1"},
		{0.5, "0.5"},
		{100, "100"},
		{1 << 53, "9007199254740992"},
		{-(1 << 53), "-9007199254740992"},
		{1e21, "1e+21"},
		{1.5e21, "1.5e+21"},
		{999999999999999900000, "999999999999999900000"},
		{1e-6, "0.000001"},
		{1.25e-6, "0.00000125"},
		{1e-7, "1e-7"},
		{123e-20, "1.23e-18"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.SmallestNonzeroFloat64, "5e-324"},
		{tenth + 2*tenth, "0.30000000000000004"},
		{math.NaN(), "0"},
		{math.Inf(1), "0"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatNumber(tt.f); got != tt.want {
				t.Fatalf("FormatNumber(%v) = %q; want %q", tt.f, got, tt.want)
			}
		})
	}
}

func TestNormalizeBoolean(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "true", want: "true"},
		{in: "false", want: "false"},
		{in: "TRUE", want: "true"},
		{in: "False", want: "false"},
		{in: "", err: "Enter true or false"},
		{in: "yes", err: `"yes" is not a boolean`},
		{in: "1", err: "not a boolean"},
		{in: " true", err: "not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(TypeBoolean, tt.in)
			checkNormalize(t, TypeBoolean, tt.in, got, err, tt.want, tt.err)
		})
	}
}

func TestNormalizeJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            string
		line, col      int
	}{
		{name: "object", in: `{"b": 1, "a": [true, null, "x"]}`, want: `{"b":1,"a":[true,null,"x"]}`},
		{name: "array", in: " [ 1 , 2.50 , -0 , 1E5 ]\n", want: `[1,2.50,-0,1E5]`},
		{name: "empty object", in: `{}`, want: `{}`},
		{name: "empty array", in: `[]`, want: `[]`},
		{name: "escapes", in: `{"k":"\u00e9\/\"\\\n\t\u0001\u2028<>&"}`, want: "{\"k\":\"é/\\\"\\\\\\n\\t\\u0001\u2028<>&\"}"},
		{name: "unicode key", in: `{"日本":"語"}`, want: `{"日本":"語"}`},
		{name: "nested order kept", in: `{"z":{"y":1,"x":2},"a":0}`, want: `{"z":{"y":1,"x":2},"a":0}`},
		{name: "big number literal kept", in: `[123456789012345678901234567890]`, want: `[123456789012345678901234567890]`},
		{name: "scalar number", in: `5`, err: "A JSON value here must be an object or an array.", line: 1, col: 1},
		{name: "scalar string", in: ` "x"`, err: "must be an object or an array", line: 1, col: 2},
		{name: "null", in: `null`, err: "must be an object or an array"},
		{name: "empty", in: ``, err: "Enter a JSON object or array"},
		{name: "blank", in: " \n ", err: "Enter a JSON object or array"},
		{name: "bad char", in: "{\n  \"a\": 1,\n  \"b\": x\n}", err: "Unexpected character 'x' at line 3, column 8.", line: 3, col: 8},
		{name: "bad char col counts characters", in: `{"é": é}`, err: "Unexpected character 'é' at line 1, column 7.", line: 1, col: 7},
		{name: "line break in string", in: "{\"a\": \"x\ny\"}", err: "Unexpected line break at line 1, column 9.", line: 1, col: 9},
		{name: "truncated", in: "[1,\n2", err: "Unexpected end of the JSON text at line 2, column 2.", line: 2, col: 2},
		{name: "trailing comma", in: `{"a":1,}`, err: "Unexpected character '}' at line 1, column 8."},
		{name: "two values", in: `{} {}`, err: "Unexpected character '{' at line 1, column 4."},
		{name: "duplicate key", in: "{\"a\": 1,\n \"a\": 2}", err: `The key "a" appears more than once in the same object (line 2, column 2).`, line: 2, col: 2},
		{name: "nested duplicate", in: `[{"x":{"k":1,"k":1}}]`, err: `The key "k" appears more than once`},
		{name: "invalid utf-8", in: "{\"a\":\"\xff\"}", err: "not valid UTF-8"},
		{name: "too long", in: `["` + strings.Repeat("x", MaxValueLen) + `"]`, err: "the limit is 256 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(TypeJSON, tt.in)
			checkNormalize(t, TypeJSON, tt.in, got, err, tt.want, tt.err)
			if tt.line != 0 {
				var ve *ValueError
				errors.As(err, &ve)
				if ve.Line != tt.line || ve.Column != tt.col {
					t.Fatalf("position = %d:%d; want %d:%d", ve.Line, ve.Column, tt.line, tt.col)
				}
			}
			if err == nil {
				if again, err := Normalize(TypeJSON, got); err != nil || again != got {
					t.Fatalf("not idempotent: %q → %q, %v", got, again, err)
				}
			}
		})
	}
}

func TestNormalizeText(t *testing.T) {
	long := strings.Repeat("x", MaxValueLen)
	tests := []struct {
		name, in, want, err string
	}{
		{name: "plain", in: "hello", want: "hello"},
		{name: "empty", in: "", want: ""},
		{name: "spaces kept", in: "  a b  ", want: "  a b  "},
		{name: "newlines kept", in: "a\r\nb\n", want: "a\r\nb\n"},
		{name: "unicode", in: "日本語 ☃", want: "日本語 ☃"},
		{name: "at the limit", in: long, want: long},
		{name: "over the limit", in: long + "x", err: "the limit is 256 KiB"},
		{name: "invalid utf-8", in: "a\xc3", err: "not valid UTF-8"},
	}
	for _, tt := range tests {
		for _, typ := range []Type{TypeString, TypeSecret} {
			t.Run(string(typ)+"/"+tt.name, func(t *testing.T) {
				got, err := Normalize(typ, tt.in)
				checkNormalize(t, typ, tt.in, got, err, tt.want, tt.err)
			})
		}
	}
	if _, err := Normalize(Type("int"), "1"); err == nil {
		t.Fatal("Normalize accepted an unknown type")
	}
}

func TestJSONValue(t *testing.T) {
	tests := []struct {
		typ             Type
		canonical, want string
	}{
		{TypeNumber, "5432", `5432`},
		{TypeNumber, "1e+21", `1e+21`},
		{TypeNumber, "-0.5", `-0.5`},
		{TypeBoolean, "true", `true`},
		{TypeJSON, `{"a":[1]}`, `{"a":[1]}`},
		{TypeString, "5432", `"5432"`},
		{TypeString, "say \"hi\"\n<b>", `"say \"hi\"\n<b>"`},
		{TypeSecret, "s3cr3t", `"s3cr3t"`},
		{TypeString, "", `""`},
		// Text that is not canonical for its type stays valid JSON.
		{TypeNumber, "", `""`},
		{TypeNumber, "+5", `"+5"`},
		{TypeNumber, "NaN", `"NaN"`},
		{TypeBoolean, "yes", `"yes"`},
		{TypeJSON, "{", `"{"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.canonical, func(t *testing.T) {
			got := JSONValue(tt.typ, tt.canonical)
			if string(got) != tt.want || !json.Valid(got) {
				t.Fatalf("JSONValue(%s, %q) = %s; want %s", tt.typ, tt.canonical, got, tt.want)
			}
		})
	}
}

func TestFromJSON(t *testing.T) {
	tests := []struct {
		typ       Type
		raw, want string
		err       string
	}{
		{typ: TypeNumber, raw: `5432`, want: "5432"},
		{typ: TypeNumber, raw: ` "5432" `, want: "5432"},
		{typ: TypeNumber, raw: `1.50`, want: "1.5"},
		{typ: TypeNumber, raw: `"abc"`, err: `"abc" is not a number`},
		{typ: TypeNumber, raw: `true`, err: "Expected a number, got a boolean."},
		{typ: TypeNumber, raw: `1e400`, err: "too large"},
		{typ: TypeBoolean, raw: `true`, want: "true"},
		{typ: TypeBoolean, raw: `"FALSE"`, want: "false"},
		{typ: TypeBoolean, raw: `1`, err: "Expected true or false, got a number."},
		{typ: TypeJSON, raw: `{"a": 1}`, want: `{"a":1}`},
		{typ: TypeJSON, raw: `"[1, 2]"`, want: `[1,2]`},
		{typ: TypeJSON, raw: `5`, err: "Expected a JSON object or array, got a number."},
		{typ: TypeJSON, raw: `{"a":1,"a":2}`, err: "more than once"},
		{typ: TypeString, raw: `"hi"`, want: "hi"},
		{typ: TypeString, raw: `5432`, want: "5432"},
		{typ: TypeString, raw: `false`, want: "false"},
		{typ: TypeString, raw: `{"a":1}`, err: "Expected a string, got an object."},
		{typ: TypeSecret, raw: `"s3cr3t"`, want: "s3cr3t"},
		{typ: TypeSecret, raw: `[1]`, err: "got an array"},
		{typ: TypeString, raw: `null`, err: "null is not a value"},
		{typ: TypeString, raw: ``, err: "Enter a value"},
		{typ: TypeString, raw: `"unterminated`, err: "Unexpected end of the JSON text"},
		{typ: TypeJSON, raw: "{\n\"a\":x}", err: "Unexpected character 'x' at line 2, column 5."},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.raw, func(t *testing.T) {
			got, err := FromJSON(tt.typ, json.RawMessage(tt.raw))
			checkNormalize(t, tt.typ, tt.raw, got, err, tt.want, tt.err)
		})
	}
}

func TestAny(t *testing.T) {
	tests := []struct {
		typ       Type
		canonical string
		want      any
		ok        bool
	}{
		{TypeString, "x", "x", true},
		{TypeSecret, "s", "s", true},
		{TypeNumber, "12.5", 12.5, true},
		{TypeNumber, "1e+21", 1e21, true},
		{TypeBoolean, "true", true, true},
		{TypeBoolean, "false", false, true},
		{TypeJSON, `{"a":[1,"x",null,true],"b":{}}`, map[string]any{"a": []any{json.Number("1"), "x", nil, true}, "b": map[string]any{}}, true},
		{TypeJSON, `[1.50]`, []any{json.Number("1.50")}, true},
		{TypeNumber, "abc", nil, false},
		{TypeBoolean, "yes", nil, false},
		{TypeJSON, "{", nil, false},
		{TypeJSON, "{} {}", nil, false},
		{Type("int"), "1", nil, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.canonical, func(t *testing.T) {
			got, err := Any(tt.typ, tt.canonical)
			if (err == nil) != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Any(%s, %q) = %#v, %v; want %#v ok=%v", tt.typ, tt.canonical, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestPretty(t *testing.T) {
	tests := []struct {
		typ             Type
		canonical, want string
	}{
		{TypeJSON, `{"b":1,"a":[1,{"c":"d"}],"e":{}}`, "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    {\n      \"c\": \"d\"\n    }\n  ],\n  \"e\": {}\n}"},
		{TypeJSON, `[]`, `[]`},
		{TypeJSON, `not json`, `not json`},
		{TypeString, `{"a":1}`, `{"a":1}`},
		{TypeNumber, "5", "5"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.canonical, func(t *testing.T) {
			if got := Pretty(tt.typ, tt.canonical); got != tt.want {
				t.Fatalf("Pretty(%s, %q) = %q; want %q", tt.typ, tt.canonical, got, tt.want)
			}
		})
	}
}
