package sdk

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// clientWith returns a client (with no goroutines) holding the given values.
func clientWith(t testing.TB, values map[string]string) *Client {
	t.Helper()
	var list []wireEntry
	for k, v := range values {
		list = append(list, wireEntry{Key: k, Type: "string", Value: json.RawMessage(v), Version: 1})
	}
	s, err := newSnapshot(list, `"e"`, "1-0", SourceKeel)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{}
	c.snap.Store(s)
	return c
}

func TestTypedGetters(t *testing.T) {
	const (
		defS = "DEF"
		defI = -7
		defF = -7.5
		defD = -7 * time.Second
	)
	tests := []struct {
		raw  string // the JSON value
		str  string
		i    int
		f    float64
		b    *bool // nil: the default
		d    time.Duration
		name string
	}{
		{name: "string", raw: `"hello"`, str: "hello", i: defI, f: defF, d: defD},
		{name: "empty string", raw: `""`, str: "", i: defI, f: defF, d: defD},
		{name: "integer", raw: `5432`, str: "5432", i: 5432, f: 5432, d: 5432 * time.Second},
		{name: "negative", raw: `-3`, str: "-3", i: -3, f: -3, d: -3 * time.Second},
		{name: "fraction", raw: `12.5`, str: "12.5", i: defI, f: 12.5, d: 12500 * time.Millisecond},
		{name: "integral float", raw: `12.0`, str: "12.0", i: 12, f: 12, d: 12 * time.Second},
		{name: "exponent", raw: `1e3`, str: "1e3", i: 1000, f: 1000, d: 1000 * time.Second},
		{name: "huge", raw: `1e300`, str: "1e300", i: defI, f: 1e300, d: defD},
		{name: "beyond int64", raw: `9223372036854775808`, str: "9223372036854775808", i: defI, f: 9223372036854775808, d: defD},
		{name: "true", raw: `true`, str: "true", i: defI, f: defF, b: ptr(true), d: defD},
		{name: "false", raw: `false`, str: "false", i: defI, f: defF, b: ptr(false), d: defD},
		{name: "object", raw: `{ "a" : [1, 2] }`, str: `{"a":[1,2]}`, i: defI, f: defF, d: defD},
		{name: "array", raw: `[1,2]`, str: `[1,2]`, i: defI, f: defF, d: defD},
		{name: "integer text", raw: `"42"`, str: "42", i: 42, f: 42, b: nil, d: 42 * time.Second},
		{name: "float text", raw: `"1.5"`, str: "1.5", i: defI, f: 1.5, d: 1500 * time.Millisecond},
		{name: "bool text", raw: `"true"`, str: "true", i: defI, f: defF, b: ptr(true), d: defD},
		{name: "one", raw: `"1"`, str: "1", i: 1, f: 1, b: ptr(true), d: time.Second},
		{name: "duration text", raw: `"250ms"`, str: "250ms", i: defI, f: defF, d: 250 * time.Millisecond},
		{name: "long duration", raw: `"1h30m"`, str: "1h30m", i: defI, f: defF, d: 90 * time.Minute},
		{name: "not a number", raw: `"12a"`, str: "12a", i: defI, f: defF, d: defD},
		{name: "NaN text", raw: `"NaN"`, str: "NaN", i: defI, f: defF, d: defD},
		{name: "Inf text", raw: `"Inf"`, str: "Inf", i: defI, f: defF, d: defD},
		{name: "unicode", raw: `"h\u00e9"`, str: "hé", i: defI, f: defF, d: defD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clientWith(t, map[string]string{"k": tt.raw})
			if got := c.String("k", defS); got != tt.str {
				t.Errorf("String = %q, want %q", got, tt.str)
			}
			if got := c.Int("k", defI); got != tt.i {
				t.Errorf("Int = %d, want %d", got, tt.i)
			}
			if got := c.Float("k", defF); got != tt.f {
				t.Errorf("Float = %v, want %v", got, tt.f)
			}
			for _, def := range []bool{false, true} {
				want := def
				if tt.b != nil {
					want = *tt.b
				}
				if got := c.Bool("k", def); got != want {
					t.Errorf("Bool(def %v) = %v, want %v", def, got, want)
				}
			}
			if got := c.Duration("k", defD); got != tt.d {
				t.Errorf("Duration = %v, want %v", got, tt.d)
			}
			var v any
			if err := c.JSON("k", &v); err != nil {
				t.Errorf("JSON = %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAbsentAndNull(t *testing.T) {
	c := clientWith(t, map[string]string{"null": "null"})
	for _, key := range []string{"null", "missing"} {
		if c.String(key, "d") != "d" || c.Int(key, 3) != 3 || c.Float(key, 1.5) != 1.5 || !c.Bool(key, true) || c.Duration(key, time.Minute) != time.Minute {
			t.Errorf("%s: a getter did not return its default", key)
		}
		if err := c.JSON(key, new(any)); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: JSON = %v", key, err)
		}
		if _, ok := c.Lookup(key); ok {
			t.Errorf("%s: Lookup found it", key)
		}
	}
	var n int
	if err := c.JSON("null", &n); !errors.Is(err, ErrNotFound) {
		t.Errorf("JSON(null) = %v", err)
	}
}

func TestJSONDecodeError(t *testing.T) {
	c := clientWith(t, map[string]string{"k": `{"a":1}`})
	var n int
	if err := c.JSON("k", &n); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("JSON into an int = %v", err)
	}
}

func TestNewEntryRejectsBadValues(t *testing.T) {
	for _, w := range []wireEntry{
		{Key: ""},
		{Key: "k", Value: json.RawMessage(`{`)},
		{Key: "k", Value: json.RawMessage(`nope`)},
	} {
		if _, err := newEntry(w); err == nil {
			t.Errorf("newEntry(%+v) succeeded", w)
		}
	}
}

func TestSeconds(t *testing.T) {
	if _, ok := seconds(math.MaxInt64); ok {
		t.Error("overflow accepted")
	}
	if d, ok := seconds(-1.5); !ok || d != -1500*time.Millisecond {
		t.Errorf("seconds(-1.5) = %v, %v", d, ok)
	}
}

func TestReadsDoNotAllocate(t *testing.T) {
	c := clientWith(t, map[string]string{"s": `"v"`, "n": `42`, "f": `1.5`, "b": `true`, "d": `"250ms"`})
	reads := map[string]func(){
		"String":       func() { _ = c.String("s", "d") },
		"String miss":  func() { _ = c.String("nope", "d") },
		"Int":          func() { _ = c.Int("n", 0) },
		"Int miss":     func() { _ = c.Int("s", 0) },
		"Float":        func() { _ = c.Float("f", 0) },
		"Bool":         func() { _ = c.Bool("b", false) },
		"Duration":     func() { _ = c.Duration("d", 0) },
		"Masked":       func() { _ = c.Masked("s") },
		"Duration num": func() { _ = c.Duration("n", 0) },
	}
	for name, read := range reads {
		if n := testing.AllocsPerRun(1000, read); n != 0 {
			t.Errorf("%s: %v allocations per read", name, n)
		}
	}
}

func TestDiff(t *testing.T) {
	a, _ := newSnapshot([]wireEntry{
		{Key: "same", Value: json.RawMessage(`1`), Version: 1},
		{Key: "changed", Value: json.RawMessage(`1`), Version: 1},
		{Key: "moved", Value: json.RawMessage(`1`), Version: 1, SourceEnv: "base"},
		{Key: "gone", Value: json.RawMessage(`1`), Version: 1},
		{Key: "hidden", Masked: true, Version: 1},
		{Key: "revealed", Masked: true, Version: 1},
	}, "", "", SourceKeel)
	b, _ := newSnapshot([]wireEntry{
		{Key: "same", Value: json.RawMessage(`1`), Version: 1},
		{Key: "changed", Value: json.RawMessage(`2`), Version: 2},
		{Key: "moved", Value: json.RawMessage(`1`), Version: 1, SourceEnv: "dev"},
		{Key: "hidden", Masked: true, Version: 2},
		{Key: "revealed", Value: json.RawMessage(`"x"`), Version: 1},
		{Key: "added", Value: json.RawMessage(`3`), Version: 1},
	}, "", "", SourceKeel)
	var got []string
	for _, ch := range diff(a, b) {
		got = append(got, ch.Action+" "+ch.Key+" "+raw(ch.Old)+" "+raw(ch.New))
	}
	want := []string{
		"set added <nil> 3",
		"set changed 1 2",
		"delete gone 1 <nil>",
		"set moved 1 1",
		"set revealed <nil> \"x\"",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func FuzzNewEntry(f *testing.F) {
	for _, s := range []string{`"x"`, `1`, `1e400`, `-0`, `true`, `{"a":1}`, `[`, `"250ms"`, `"9223372036854775807"`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		e, err := newEntry(wireEntry{Key: "k", Value: json.RawMessage(v)})
		if err != nil {
			return
		}
		if e.present && !json.Valid(e.raw) {
			t.Fatalf("stored invalid JSON %q", e.raw)
		}
		if e.okNum && (math.IsNaN(e.num) || math.IsInf(e.num, 0)) {
			t.Fatalf("non-finite number from %q", v)
		}
		// An integer read agrees with the number read, within float precision.
		if e.okInt && math.Abs(float64(e.integer)-e.num) > math.Abs(e.num)*1e-15 {
			t.Fatalf("int %d vs float %v from %q", e.integer, e.num, v)
		}
		c := &Client{}
		c.snap.Store(&snapshot{entries: map[string]*entry{"k": e}})
		_ = c.String("k", "")
		_, _ = c.Lookup("k")
	})
}
