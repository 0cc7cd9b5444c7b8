package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func typesOf(items []Item) map[string]Type {
	m := make(map[string]Type, len(items))
	for _, it := range items {
		m[it.Key] = it.Type
	}
	return m
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"5432", "12.5", "-0", "1e21", "1e-7", "0.1", "+5", ".5", "5.", "007", "1e400", "1e-400", "NaN", "0x10", " 12", "12a", "",
		"true", "FALSE", "yes",
		`{"a":1}`, `[1,2.0,"x"]`, `{"a":1,"a":2}`, ` { "b" : [ ] } `, `"str"`, `{"\u00e9\/":"\ud800"}`, "{\n\"a\": x}",
		"plain text", "line\nbreak", "\xff",
	} {
		for i := range Types {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, raw string, ti uint8) {
		typ := Types[int(ti)%len(Types)]
		v, err := Normalize(typ, raw)
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Message == "" {
				t.Fatalf("Normalize(%s, %q) error %T %v is not a *ValueError with a message", typ, raw, err, err)
			}
			return
		}
		again, err := Normalize(typ, v)
		if err != nil || again != v {
			t.Fatalf("Normalize(%s) not idempotent: %q → %q → %q, %v", typ, raw, v, again, err)
		}
		if typ == TypeNumber {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || FormatNumber(f) != v {
				t.Fatalf("number %q does not round-trip through ParseFloat: %v %v", v, f, err)
			}
		}
		jv := JSONValue(typ, v)
		if !json.Valid(jv) {
			t.Fatalf("JSONValue(%s, %q) = %s is not valid JSON", typ, v, jv)
		}
		back, err := FromJSON(typ, jv)
		if err != nil || back != v {
			t.Fatalf("FromJSON(%s, %s) = %q, %v; want %q", typ, jv, back, err, v)
		}
		if _, err := Any(typ, v); err != nil {
			t.Fatalf("Any(%s, %q): %v", typ, v, err)
		}
		if typ == TypeJSON {
			if p, err := Normalize(typ, Pretty(typ, v)); err != nil || p != v {
				t.Fatalf("Pretty(%q) does not normalize back: %q, %v", v, p, err)
			}
		}
	})
}

// checkImportRoundTrip imports data; when it is accepted, the items must
// survive Export→Import in every format.
func checkImportRoundTrip(t *testing.T, f Format, data []byte) {
	items, err := Import(f, data, nil)
	if err != nil {
		var ie *ImportError
		if !errors.As(err, &ie) || len(ie.Problems) == 0 {
			t.Fatalf("Import error %T %v is not an *ImportError with problems", err, err)
		}
		for _, p := range ie.Problems {
			if p.Message == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}
		return
	}
	types := typesOf(items)
	again, err := Import(f, data, types)
	if err != nil || !sameItems(again, items) {
		t.Fatalf("Import with the items' own types differs:\n%+v\n%+v\n%v", items, again, err)
	}
	for _, g := range Formats {
		out, err := Export(g, items)
		if err != nil {
			t.Fatalf("Export(%s, %+v): %v", g, items, err)
		}
		back, err := Import(g, out, types)
		if err != nil {
			t.Fatalf("Import(%s) of its own export failed: %v\n%s", g, err, out)
		}
		if !sameItems(back, items) {
			t.Fatalf("%s round trip differs:\n got %+v\nwant %+v\n%s", g, back, items, out)
		}
	}
}

func sameItems(a, b []Item) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func FuzzImportJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `[]`, `5`, `{"a":1}`, `{"db.host":"x","port":5432,"on":true,"cfg":{"a":[1,2.0]},"s":{"$secret":"v"}}`,
		`{"a":1,"a":2}`, `{"bad key":1}`, `{"a":null}`, `{"m":{"$secret":null}}`, `{"x":{"$secret":5}}`, `{"a":"é\n\"'#= "}`,
		"{\n  \"a\": 1,\n  \"b\": x\n}", `{"n":1e400}`, `{"n":-0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkImportRoundTrip(t, FormatJSON, data) })
}

func FuzzImportYAML(f *testing.F) {
	for _, s := range []string{
		``, `# only a comment`, `~`, `a: 1`, "db.host: localhost\nport: 5432\non: true\ncfg:\n  a: [1, 2.0]\ns: {$secret: v}\n",
		"a: 1\na: 2\n", "- 1\n- 2\n", "a: &x [1]\nb: *x\n", "<<: {a: 1}\n", "a: !!binary aGk=\n", "a: 0x1f\nb: 0o17\nc: .inf\n",
		"a: |\n  line\n  two\n", "a: \"tab\\there\"\n", "---\na: 1\n---\nb: 2\n", "a: 2024-01-02\n", "a: {b: {c: [x, {d: null}]}}\n",
		"m: {$secret: null}\n", "a: [unclosed\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkImportRoundTrip(t, FormatYAML, data) })
}

func FuzzImportEnv(f *testing.F) {
	for _, s := range []string{
		``, `# comment`, "A=1\nB=two\n", "db.host=localhost\n# keel: type=number\nport=5432\n", "export A=\"x\\ny\"\n",
		"A='single'\n", "A=\"double \\\"q\\\" $B\"\n", "# keel: key=svc/api.url\nsvc_api.url=x\n", "# keel: type=secret masked\nT=\n",
		"# keel: base64\nA=aGk=\n", "A=1 # comment\n", "A\n", "A=\"unterminated\n", "bad-name=1\n", "A: yaml style\n",
		"# keel: type=json\nJ='{\"a\":1}'\n", "# keel: nonsense\nA=1\n", "# keel: type=number\n\nA=1\n", "A=1\nA=2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkImportRoundTrip(t, FormatEnv, data) })
}

// FuzzRoundTrip exports one arbitrary, valid item among fixed neighbours
// in every format and reads it back.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "plain", "with space", " lead", "trail ", "it's", `say "hi"`, `ends with "`, `ends with \`, "a\nb", "a\r\nb", "$HOME", `\$X`,
		"# not a comment", "a #b", "=", "'", `"`, `\`, "é ü 日本", "tab\there", "\x00\x01", "x\n\"y\"", "it's\n\"x\"", "\u2028", "\ufeff",
		"yes", "null", "~", "123", "1e5", "- item", ": colon", "{a: 1}", "[x]", "&anchor", "*alias", "!tag", "%dir", "@at", "`tick`",
		`{"a":1}`, `[1,"x",{"b":null}]`, "5432", "-12.5", "true",
	} {
		f.Add("some.key", uint8(0), s, false)
		f.Add("svc/a-b", uint8(4), s, false)
	}
	f.Add("k", uint8(4), "", true)
	f.Add("k", uint8(1), "1e21", false)
	f.Add("k", uint8(3), `{"x":[1.50,"é\u0000"]}`, false)
	f.Fuzz(func(t *testing.T, key string, ti uint8, raw string, masked bool) {
		if ValidKey(key) != nil {
			return
		}
		typ := Types[int(ti)%len(Types)]
		value, err := Normalize(typ, raw)
		if err != nil {
			return
		}
		it := Item{Key: key, Type: typ, Value: value}
		if typ == TypeSecret && masked {
			it = Item{Key: key, Type: typ, Masked: true}
		}
		items := []Item{it}
		for _, n := range []Item{
			{Key: "a", Type: TypeString, Value: "first"},
			{Key: "svc_a_b", Type: TypeString, Value: "name clash"},
			{Key: "zz", Type: TypeNumber, Value: "1"},
		} {
			if n.Key != key {
				items = append(items, n)
			}
		}
		sortItems(items)
		types := typesOf(items)
		for _, g := range Formats {
			out, err := Export(g, items)
			if err != nil {
				t.Fatalf("Export(%s): %v", g, err)
			}
			back, err := Import(g, out, types)
			if err != nil {
				t.Fatalf("Import(%s): %v\n%s", g, err, out)
			}
			if !sameItems(back, items) {
				t.Fatalf("%s round trip differs:\n got %#v\nwant %#v\n%s", g, back, items, out)
			}
		}
	})
}

func sortItems(items []Item) {
	sort.Slice(items, func(i, j int) bool { return items[i].Key < items[j].Key })
}

func FuzzWordDiff(f *testing.F) {
	for _, p := range [][2]string{
		{"", ""}, {"a", ""}, {"", "b"}, {"the quick brown fox", "the slow brown dog"}, {"a b c", "a c b"},
		{"{\"a\": 1}", "{\"a\": 2}"}, {"日本語 テキスト", "日本語 text"}, {"x\ny\n", "x\nz\n"}, {"aaaa", "aaab"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		checkWordOps(t, a, b, WordDiff(a, b))
		checkMyers(t, splitWords(a), splitWords(b))
		lines := Diff(TypeString, a, b)
		var olds, news []string
		for _, l := range lines {
			switch l.Kind {
			case OpEqual:
				if l.Old != l.New {
					t.Fatalf("equal line differs: %+v", l)
				}
				olds, news = append(olds, l.Old), append(news, l.New)
			case OpDelete:
				olds = append(olds, l.Old)
			case OpInsert:
				news = append(news, l.New)
			case OpChange:
				checkWordOps(t, l.Old, l.New, l.Words)
				olds, news = append(olds, l.Old), append(news, l.New)
			}
		}
		if strings.Join(olds, "\n") != a || strings.Join(news, "\n") != b {
			t.Fatalf("Diff lines do not rebuild the inputs: %+v", lines)
		}
	})
}

// checkWordOps checks that ops rebuild a and b and are merged.
func checkWordOps(t *testing.T, a, b string, ops []Op) {
	t.Helper()
	var ra, rb strings.Builder
	for i, op := range ops {
		if op.Text == "" {
			t.Fatalf("empty op %d in %+v", i, ops)
		}
		if i > 0 && ops[i-1].Kind == op.Kind {
			t.Fatalf("ops %d and %d share a kind: %+v", i-1, i, ops)
		}
		if i > 0 && ops[i-1].Kind == OpInsert && op.Kind == OpDelete {
			t.Fatalf("insert before delete at %d: %+v", i, ops)
		}
		switch op.Kind {
		case OpEqual:
			ra.WriteString(op.Text)
			rb.WriteString(op.Text)
		case OpDelete:
			ra.WriteString(op.Text)
		case OpInsert:
			rb.WriteString(op.Text)
		default:
			t.Fatalf("unexpected kind %v", op.Kind)
		}
	}
	if ra.String() != a || rb.String() != b {
		t.Fatalf("ops do not rebuild the inputs:\n a=%q\n b=%q\nops=%+v", a, b, ops)
	}
}

// checkMyers checks that Myers' algorithm finds an edit script that
// rebuilds b from a, as short as the exact table diff's.
func checkMyers(t *testing.T, sa, sb []string) {
	t.Helper()
	if len(sa) == 0 || len(sb) == 0 || len(sa)*len(sb) > 4*maxTableCells {
		return
	}
	a, b := tokenIDs(sa, sb)
	cost := func(es []edit) int {
		c := 0
		for _, e := range es {
			if e.kind != OpEqual {
				c += e.n
			}
		}
		return c
	}
	exact, fast := lcsDiff(a, b), myers(a, b)
	for _, es := range [][]edit{exact, fast} {
		var ra, rb []int32
		i, j := 0, 0
		for _, e := range es {
			switch e.kind {
			case OpEqual:
				if e.i != i || e.j != j {
					t.Fatalf("edit %+v out of place (at %d, %d)", e, i, j)
				}
				ra, rb = append(ra, a[i:i+e.n]...), append(rb, b[j:j+e.n]...)
				i, j = i+e.n, j+e.n
			case OpDelete:
				if e.i != i {
					t.Fatalf("edit %+v out of place (at %d, %d)", e, i, j)
				}
				ra = append(ra, a[i:i+e.n]...)
				i += e.n
			case OpInsert:
				if e.j != j {
					t.Fatalf("edit %+v out of place (at %d, %d)", e, i, j)
				}
				rb = append(rb, b[j:j+e.n]...)
				j += e.n
			}
		}
		if !reflect.DeepEqual(ra, a) || !reflect.DeepEqual(rb, b) {
			t.Fatalf("edit script %+v does not rebuild the inputs", es)
		}
	}
	if c := cost(exact); c <= maxEdits && cost(fast) != c {
		t.Fatalf("Myers found %d edits, the exact diff %d", cost(fast), c)
	}
}
