package config

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// OpKind is the kind of a diff operation.
type OpKind int

// Diff operation kinds. OpChange appears only in Diff results: a line of a
// that became a line of b, with word-level Words.
const (
	OpEqual OpKind = iota
	OpInsert
	OpDelete
	OpChange
)

func (k OpKind) String() string {
	switch k {
	case OpEqual:
		return "equal"
	case OpInsert:
		return "insert"
	case OpDelete:
		return "delete"
	case OpChange:
		return "change"
	}
	return "unknown"
}

// Op is one step of a word diff: Text is unchanged (OpEqual), only in b
// (OpInsert) or only in a (OpDelete).
type Op struct {
	Kind OpKind
	Text string
}

// maxEdits bounds the work of one diff: past this many differing tokens
// the remaining middle part is reported as deleted and inserted whole.
const maxEdits = 1000

// WordDiff compares a and b word by word. Text is split into runs of
// letters and digits (a word), runs of white space, and single other
// characters, keeping every separator, so the Equal and Delete texts
// concatenate to a and the Equal and Insert texts concatenate to b.
// Adjacent operations of one kind are merged; in a changed region the
// deletion comes before the insertion. Equal inputs give one OpEqual op
// (none when both are empty).
func WordDiff(a, b string) []Op {
	ta, tb := splitWords(a), splitWords(b)
	var ops []Op
	add := func(k OpKind, s string) {
		if s == "" {
			return
		}
		if n := len(ops); n > 0 && ops[n-1].Kind == k {
			ops[n-1].Text += s
			return
		}
		ops = append(ops, Op{Kind: k, Text: s})
	}
	for _, e := range diffSeq(ta, tb) {
		switch e.kind {
		case OpEqual:
			add(OpEqual, strings.Join(ta[e.i:e.i+e.n], ""))
		case OpDelete:
			add(OpDelete, strings.Join(ta[e.i:e.i+e.n], ""))
		case OpInsert:
			add(OpInsert, strings.Join(tb[e.j:e.j+e.n], ""))
		}
	}
	return reorderChanges(ops)
}

// reorderChanges makes every changed region one deletion followed by one
// insertion. White space alone between two changes joins them ("a b" →
// "c d" reads as one change, not two).
func reorderChanges(ops []Op) []Op {
	out := ops[:0:0]
	for i := 0; i < len(ops); {
		if ops[i].Kind == OpEqual {
			out = append(out, ops[i])
			i++
			continue
		}
		var del, ins strings.Builder
		for i < len(ops) {
			op := ops[i]
			if op.Kind == OpEqual {
				if i+1 == len(ops) || strings.TrimSpace(op.Text) != "" {
					break
				}
				del.WriteString(op.Text)
				ins.WriteString(op.Text)
			} else if op.Kind == OpDelete {
				del.WriteString(op.Text)
			} else {
				ins.WriteString(op.Text)
			}
			i++
		}
		if del.Len() > 0 {
			out = append(out, Op{Kind: OpDelete, Text: del.String()})
		}
		if ins.Len() > 0 {
			out = append(out, Op{Kind: OpInsert, Text: ins.String()})
		}
	}
	return out
}

func wordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// splitWords splits s into words, white-space runs and single other
// characters.
func splitWords(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		j := i + size
		switch {
		case wordRune(r):
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if !wordRune(r2) {
					break
				}
				j += n
			}
		case unicode.IsSpace(r):
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsSpace(r2) || r2 == '\n' || r == '\n' {
					break
				}
				j += n
			}
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

// LineDiff is one line of a Diff: OpEqual (Old == New), OpDelete (Old
// only), OpInsert (New only) or OpChange (Old became New; Words holds the
// word-level ops between them).
type LineDiff struct {
	Kind     OpKind
	Old, New string
	Words    []Op
}

// Diff compares two canonical values of type t line by line. JSON values
// are first pretty-printed with sorted keys and two-space indentation, so
// reordered keys do not show as changes; other types are compared as their
// text lines. An empty a or b stands for "no value" (all lines inserted or
// deleted). Runs of deleted lines directly followed by inserted lines are
// paired into OpChange lines (as many as the shorter run); the rest stay
// deletions or insertions.
func Diff(t Type, a, b string) []LineDiff {
	if t == TypeJSON {
		a, b = sortedPretty(a), sortedPretty(b)
	}
	la, lb := splitLines(a), splitLines(b)
	var out []LineDiff
	var dels, ins []string
	flush := func() {
		n := min(len(dels), len(ins))
		for i := 0; i < n; i++ {
			out = append(out, LineDiff{Kind: OpChange, Old: dels[i], New: ins[i], Words: WordDiff(dels[i], ins[i])})
		}
		for _, s := range dels[n:] {
			out = append(out, LineDiff{Kind: OpDelete, Old: s})
		}
		for _, s := range ins[n:] {
			out = append(out, LineDiff{Kind: OpInsert, New: s})
		}
		dels, ins = dels[:0], ins[:0]
	}
	for _, e := range diffSeq(la, lb) {
		switch e.kind {
		case OpEqual:
			flush()
			for _, s := range la[e.i : e.i+e.n] {
				out = append(out, LineDiff{Kind: OpEqual, Old: s, New: s})
			}
		case OpDelete:
			dels = append(dels, la[e.i:e.i+e.n]...)
		case OpInsert:
			ins = append(ins, lb[e.j:e.j+e.n]...)
		}
	}
	flush()
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// sortedPretty pretty-prints a JSON document with sorted object keys; text
// that is not JSON is returned unchanged.
func sortedPretty(s string) string {
	if strings.TrimSpace(s) == "" {
		return s
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return s
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// edit is a run of n equal, deleted or inserted elements starting at a[i]
// (equal, delete) and b[j] (equal, insert).
type edit struct {
	kind OpKind
	i, j int
	n    int
}

// diffSeq computes a shortest edit script from a to b with Myers'
// algorithm, after trimming the common prefix and suffix. When more than
// maxEdits edits are needed, the differing middle is reported as one
// deletion and one insertion.
func diffSeq(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []edit
	push := func(e edit) {
		if e.n == 0 {
			return
		}
		// Runs of one kind arrive in order and touch each other.
		if n := len(out); n > 0 && out[n-1].kind == e.kind {
			out[n-1].n += e.n
			return
		}
		out = append(out, e)
	}
	push(edit{OpEqual, 0, 0, pre})
	for _, e := range middleDiff(a[pre:len(a)-suf], b[pre:len(b)-suf]) {
		e.i += pre
		e.j += pre
		push(e)
	}
	push(edit{OpEqual, len(a) - suf, len(b) - suf, suf})
	return out
}

// maxTableCells bounds the table of the exact (LCS) diff: 2 bytes a cell.
const maxTableCells = 1 << 20

// middleDiff returns an edit script for a → b as runs: exact from a table
// of common-subsequence lengths when len(a)*len(b) is small (this covers
// one short side, where Myers' algorithm is slow), else Myers' algorithm.
func middleDiff(sa, sb []string) []edit {
	n, m := len(sa), len(sb)
	if n == 0 && m == 0 {
		return nil
	}
	if n == 0 || m == 0 {
		return []edit{{OpDelete, 0, 0, n}, {OpInsert, n, 0, m}}
	}
	a, b := tokenIDs(sa, sb)
	if n*m <= maxTableCells {
		return lcsDiff(a, b)
	}
	return myers(a, b)
}

// lcsDiff computes a shortest edit script from the table of the longest
// common subsequence of every pair of suffixes, preferring deletions
// before insertions.
func lcsDiff(a, b []int32) []edit {
	n, m := len(a), len(b)
	w := m + 1
	l := make([]uint16, (n+1)*w) // l[i*w+j]: LCS length of a[i:] and b[j:]
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case a[i] == b[j]:
				l[i*w+j] = l[(i+1)*w+j+1] + 1
			case l[(i+1)*w+j] >= l[i*w+j+1]:
				l[i*w+j] = l[(i+1)*w+j]
			default:
				l[i*w+j] = l[i*w+j+1]
			}
		}
	}
	var out []edit
	add := func(kind OpKind, i, j int) {
		if k := len(out); k > 0 && out[k-1].kind == kind {
			out[k-1].n++
			return
		}
		out = append(out, edit{kind, i, j, 1})
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			add(OpEqual, i, j)
			i++
			j++
		case j == m || i < n && l[(i+1)*w+j] >= l[i*w+j+1]:
			add(OpDelete, i, j)
			i++
		default:
			add(OpInsert, i, j)
			j++
		}
	}
	return out
}

// myers computes a shortest edit script with Myers' O((N+M)D) algorithm,
// or returns a whole deletion plus insertion when more than maxEdits edits
// would be needed.
func myers(a, b []int32) []edit {
	n, m := len(a), len(b)
	whole := []edit{{OpDelete, 0, 0, n}, {OpInsert, n, 0, m}}
	limit := min(n+m, maxEdits)
	// v[off+k] is the furthest x reached on diagonal k = x-y, or -1 when
	// no path of the current length reaches that diagonal inside the grid.
	// trace keeps v for every distance d (diagonals -d..d, 2d+1 values,
	// starting at d*d), to walk the path back.
	off := limit + 1
	v := make([]int32, 2*limit+3)
	var trace []int32
	found := -1
	for d := 0; d <= limit && found < 0; d++ {
		for k := -d; k <= d; k += 2 {
			x := 0
			if d > 0 {
				x = max(moves(v[off-d+1:off+d], d, k, n, m))
			}
			if x >= 0 {
				y := x - k
				for x < n && y < m && a[x] == b[y] {
					x++
					y++
				}
				if x == n && y == m {
					found = d
				}
			}
			v[off+k] = int32(x)
		}
		trace = append(trace, v[off-d:off+d+1]...)
	}
	if found < 0 {
		return whole
	}
	var rev []edit
	x, y := n, m
	for d := found; d > 0; d-- {
		k := x - y
		prev := trace[(d-1)*(d-1) : d*d] // distance d-1: diagonals -(d-1)..d-1
		// Recompute the move that reached diagonal k, then walk the snake
		// back to where that move ended.
		down, right := moves(prev, d, k, n, m)
		var sx, sy int
		var kind OpKind
		if down >= 0 && down >= right {
			sx, sy, kind = down, down-k, OpInsert
		} else {
			sx, sy, kind = right, right-k, OpDelete
		}
		for x > sx && y > sy {
			x--
			y--
			rev = append(rev, edit{OpEqual, x, y, 1})
		}
		if kind == OpInsert {
			y--
			rev = append(rev, edit{OpInsert, x, y, 1})
		} else {
			x--
			rev = append(rev, edit{OpDelete, x, y, 1})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, edit{OpEqual, x, y, 1})
	}
	out := make([]edit, 0, len(rev))
	for i := len(rev) - 1; i >= 0; i-- {
		e := rev[i]
		if l := len(out); l > 0 && out[l-1].kind == e.kind {
			out[l-1].n++
			continue
		}
		out = append(out, e)
	}
	return out
}

// tokenIDs numbers the distinct strings of a and b, so that the diff
// compares integers.
func tokenIDs(sa, sb []string) (a, b []int32) {
	ids := make(map[string]int32, len(sa))
	number := func(ss []string) []int32 {
		out := make([]int32, len(ss))
		for i, s := range ss {
			id, ok := ids[s]
			if !ok {
				id = int32(len(ids))
				ids[s] = id
			}
			out[i] = id
		}
		return out
	}
	return number(sa), number(sb)
}

// moves returns the x reached on diagonal k at edit distance d by moving
// down from diagonal k+1 (an insertion) and right from diagonal k-1 (a
// deletion), each -1 when impossible. prev holds the furthest x (or -1)
// per diagonal at distance d-1, for diagonals -(d-1)..d-1.
func moves(prev []int32, d, k, n, m int) (down, right int) {
	down, right = -1, -1
	if k+1 <= d-1 {
		if x := int(prev[k+1+d-1]); x >= 0 && x-k <= m {
			down = x
		}
	}
	if k-1 >= -(d - 1) {
		if x := int(prev[k-1+d-1]); x >= 0 && x+1 <= n {
			right = x + 1
		}
	}
	return down, right
}
