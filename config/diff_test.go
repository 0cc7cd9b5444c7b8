package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestWordDiff(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       []Op
	}{
		{"both empty", "", "", nil},
		{"equal", "same text", "same text", []Op{{OpEqual, "same text"}}},
		{"insert all", "", "new", []Op{{OpInsert, "new"}}},
		{"delete all", "old", "", []Op{{OpDelete, "old"}}},
		{"one word", "the quick brown fox", "the slow brown fox", []Op{
			{OpEqual, "the "}, {OpDelete, "quick"}, {OpInsert, "slow"}, {OpEqual, " brown fox"},
		}},
		{"punctuation is its own token", "a.b.c", "a.x.c", []Op{
			{OpEqual, "a."}, {OpDelete, "b"}, {OpInsert, "x"}, {OpEqual, ".c"},
		}},
		{"words are not split", "connection", "connections", []Op{
			{OpDelete, "connection"}, {OpInsert, "connections"},
		}},
		{"appended word", "host", "host name", []Op{{OpEqual, "host"}, {OpInsert, " name"}}},
		{"space change", "a  b", "a b", []Op{{OpEqual, "a"}, {OpDelete, "  "}, {OpInsert, " "}, {OpEqual, "b"}}},
		{"json number", `"size": 10,`, `"size": 20,`, []Op{{OpEqual, `"size": `}, {OpDelete, "10"}, {OpInsert, "20"}, {OpEqual, ","}}},
		{"unicode words", "日本語 テキスト", "日本語 text", []Op{{OpEqual, "日本語 "}, {OpDelete, "テキスト"}, {OpInsert, "text"}}},
		{"moved word", "a b c", "b c a", []Op{{OpDelete, "a "}, {OpEqual, "b c"}, {OpInsert, " a"}}},
		{"space between changes joins them", "set a b now", "set c d now", []Op{{OpEqual, "set "}, {OpDelete, "a b"}, {OpInsert, "c d"}, {OpEqual, " now"}}},
		{"words between changes stay", "a x b", "c x d", []Op{{OpDelete, "a"}, {OpInsert, "c"}, {OpEqual, " x "}, {OpDelete, "b"}, {OpInsert, "d"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WordDiff(tt.a, tt.b)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("WordDiff(%q, %q) =\n%v\nwant\n%v", tt.a, tt.b, got, tt.want)
			}
			checkWordOps(t, tt.a, tt.b, got)
		})
	}
}

func TestWordDiffLarge(t *testing.T) {
	// Beyond maxEdits differences the middle is reported whole, and the
	// ops still rebuild both texts.
	var a, b strings.Builder
	for i := 0; i < 3000; i++ {
		a.WriteString("a" + itoa(i) + " ")
		b.WriteString("b" + itoa(i) + " ")
	}
	a.WriteString("tail")
	b.WriteString("tail")
	ops := WordDiff(a.String(), b.String())
	checkWordOps(t, a.String(), b.String(), ops)
	if len(ops) != 3 || ops[2] != (Op{OpEqual, " tail"}) {
		t.Fatalf("ops = %d, last %v; want delete, insert, equal", len(ops), ops[len(ops)-1])
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name string
		typ  Type
		a, b string
		want []LineDiff
	}{
		{"equal", TypeString, "x", "x", []LineDiff{{Kind: OpEqual, Old: "x", New: "x"}}},
		{"both empty", TypeString, "", "", nil},
		{"created", TypeString, "", "a\nb", []LineDiff{{Kind: OpInsert, New: "a"}, {Kind: OpInsert, New: "b"}}},
		{"deleted", TypeString, "a", "", []LineDiff{{Kind: OpDelete, Old: "a"}}},
		{"number", TypeNumber, "5432", "5433", []LineDiff{{Kind: OpChange, Old: "5432", New: "5433", Words: []Op{{OpDelete, "5432"}, {OpInsert, "5433"}}}}},
		{"changed line between equal lines", TypeString, "one\ntwo words\nthree", "one\ntwo birds\nthree", []LineDiff{
			{Kind: OpEqual, Old: "one", New: "one"},
			{Kind: OpChange, Old: "two words", New: "two birds", Words: []Op{{OpEqual, "two "}, {OpDelete, "words"}, {OpInsert, "birds"}}},
			{Kind: OpEqual, Old: "three", New: "three"},
		}},
		{"more deleted than inserted", TypeString, "a\nb\nc\nz", "x\nz", []LineDiff{
			{Kind: OpChange, Old: "a", New: "x", Words: []Op{{OpDelete, "a"}, {OpInsert, "x"}}},
			{Kind: OpDelete, Old: "b"},
			{Kind: OpDelete, Old: "c"},
			{Kind: OpEqual, Old: "z", New: "z"},
		}},
		{"inserted line", TypeString, "a\nc", "a\nb\nc", []LineDiff{
			{Kind: OpEqual, Old: "a", New: "a"},
			{Kind: OpInsert, New: "b"},
			{Kind: OpEqual, Old: "c", New: "c"},
		}},
		{"json key order does not matter", TypeJSON, `{"b":1,"a":2}`, `{"a":2,"b":1}`, []LineDiff{
			{Kind: OpEqual, Old: "{", New: "{"},
			{Kind: OpEqual, Old: `  "a": 2,`, New: `  "a": 2,`},
			{Kind: OpEqual, Old: `  "b": 1`, New: `  "b": 1`},
			{Kind: OpEqual, Old: "}", New: "}"},
		}},
		{"json change", TypeJSON, `{"pool":{"size":10},"host":"db"}`, `{"host":"db","pool":{"size":20}}`, []LineDiff{
			{Kind: OpEqual, Old: "{", New: "{"},
			{Kind: OpEqual, Old: `  "host": "db",`, New: `  "host": "db",`},
			{Kind: OpEqual, Old: `  "pool": {`, New: `  "pool": {`},
			{Kind: OpChange, Old: `    "size": 10`, New: `    "size": 20`, Words: []Op{{OpEqual, `    "size": `}, {OpDelete, "10"}, {OpInsert, "20"}}},
			{Kind: OpEqual, Old: "  }", New: "  }"},
			{Kind: OpEqual, Old: "}", New: "}"},
		}},
		{"json keeps number literals and unicode", TypeJSON, `[1.50,"é<"]`, `[1.50,"é>"]`, []LineDiff{
			{Kind: OpEqual, Old: "[", New: "["},
			{Kind: OpEqual, Old: "  1.50,", New: "  1.50,"},
			{Kind: OpChange, Old: `  "é<"`, New: `  "é>"`, Words: []Op{{OpEqual, `  "é`}, {OpDelete, "<"}, {OpInsert, ">"}, {OpEqual, `"`}}},
			{Kind: OpEqual, Old: "]", New: "]"},
		}},
		{"json created", TypeJSON, "", `{"a":1}`, []LineDiff{
			{Kind: OpInsert, New: "{"}, {Kind: OpInsert, New: `  "a": 1`}, {Kind: OpInsert, New: "}"},
		}},
		{"invalid json is diffed as text", TypeJSON, "{", "{\n", []LineDiff{
			{Kind: OpEqual, Old: "{", New: "{"}, {Kind: OpInsert, New: ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.typ, tt.a, tt.b)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Diff =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDiffLarge(t *testing.T) {
	var a, b []string
	for i := 0; i < 5000; i++ {
		a = append(a, "line "+itoa(i))
		if i%2 == 0 {
			b = append(b, "line "+itoa(i))
		} else {
			b = append(b, "changed "+itoa(i))
		}
	}
	lines := Diff(TypeString, strings.Join(a, "\n"), strings.Join(b, "\n"))
	var olds, news []string
	for _, l := range lines {
		if l.Kind != OpInsert {
			olds = append(olds, l.Old)
		}
		if l.Kind != OpDelete {
			news = append(news, l.New)
		}
	}
	if !reflect.DeepEqual(olds, a) || !reflect.DeepEqual(news, b) {
		t.Fatal("large diff does not rebuild its inputs")
	}
}

func TestOpKindString(t *testing.T) {
	for k, want := range map[OpKind]string{OpEqual: "equal", OpInsert: "insert", OpDelete: "delete", OpChange: "change", OpKind(9): "unknown"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q; want %q", int(k), k.String(), want)
		}
	}
}

func TestMyersMatchesExactDiff(t *testing.T) {
	pairs := [][2]string{
		{"a b c a b b a", "c b a b a c"},
		{"x", "a b c d e f x g"},
		{"the quick brown fox jumps", "the quick red fox leaps over"},
		{strings.Repeat("a b ", 50), strings.Repeat("b a ", 50)},
		{"", ""},
	}
	for _, p := range pairs {
		checkMyers(t, splitWords(p[0]), splitWords(p[1]))
	}
}
