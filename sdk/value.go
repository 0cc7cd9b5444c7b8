package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Type is the type Keel gives a configuration value.
type Type string

// The configuration types Keel knows. A client may meet a type it does not
// list (a newer Keel); its value is still readable by its JSON kind.
const (
	TypeString  Type = "string"
	TypeNumber  Type = "number"
	TypeBoolean Type = "boolean"
	TypeJSON    Type = "json"   // a JSON object or array
	TypeSecret  Type = "secret" // a string; masked when the token may not read it
)

// Change actions.
const (
	ActionSet    = "set"
	ActionDelete = "delete"
)

// Value is one configuration value as the client holds it.
type Value struct {
	Key  string
	Type Type
	// Raw is the JSON value: a string for string and secret, a number,
	// true or false, or the document for json.
	Raw       json.RawMessage
	Version   int64
	SourceEnv string    // the environment the value comes from (inheritance)
	ExpiresAt time.Time // zero when the value does not expire
}

// Change is one key's change, passed to OnChange callbacks. Old is nil for a
// key that was absent (or masked) before; New is nil when Action is
// ActionDelete.
type Change struct {
	Key    string
	Action string // ActionSet or ActionDelete
	Old    *Value
	New    *Value
}

// entry is a value with everything the getters need parsed up front, so a
// read is one map lookup and a field load.
type entry struct {
	key       string
	typ       Type
	raw       json.RawMessage // nil when there is no readable value
	version   int64
	sourceEnv string
	expiresAt time.Time
	masked    bool

	str            string
	num            float64
	integer        int
	boolean        bool
	dur            time.Duration
	okStr, okNum   bool
	okInt, okBool  bool
	okDur, present bool
}

// newEntry builds an entry from its wire form. The derived forms come from
// the value's JSON kind, not its declared type, so an unknown type still
// reads sensibly.
func newEntry(w wireEntry) (*entry, error) {
	if w.Key == "" {
		return nil, errors.New("config entry without a key")
	}
	e := &entry{
		key:       w.Key,
		typ:       Type(w.Type),
		version:   w.Version,
		sourceEnv: w.SourceEnv,
		masked:    w.Masked,
	}
	if w.ExpiresAt != nil {
		e.expiresAt = *w.ExpiresAt
	}
	raw := bytes.TrimSpace(w.Value)
	if e.masked || len(raw) == 0 || string(raw) == "null" {
		return e, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("config %q: value is not valid JSON", w.Key)
	}
	e.present = true
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("config %q: %w", w.Key, err)
		}
		e.raw = slices.Clone(raw)
		e.str, e.okStr = s, true
		e.parseText(s)
	case 't', 'f':
		e.raw = slices.Clone(raw)
		e.boolean, e.okBool = raw[0] == 't', true
		e.str, e.okStr = string(raw), true
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("config %q: %w", w.Key, err)
		}
		e.raw = buf.Bytes()
		e.str, e.okStr = buf.String(), true
	default: // a number
		e.raw = slices.Clone(raw)
		e.str, e.okStr = string(raw), true
		e.parseNumber(string(raw))
		if e.okNum {
			e.dur, e.okDur = seconds(e.num)
		}
	}
	return e, nil
}

// parseNumber fills the numeric forms from JSON number text.
func (e *entry) parseNumber(s string) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return
	}
	e.num, e.okNum = f, true
	if i, err := strconv.ParseInt(s, 10, strconv.IntSize); err == nil {
		e.integer, e.okInt = int(i), true
		return
	}
	// 1e3 or 12.0: integral, if it fits an int exactly.
	if f == math.Trunc(f) && f >= math.MinInt && f < math.MaxInt {
		e.integer, e.okInt = int(f), true
	}
}

// parseText fills the typed forms a string value can also be read as:
// "42" as an int, "1.5" as a float, "true" as a bool, "250ms" (or a bare
// number of seconds) as a duration.
func (e *entry) parseText(s string) {
	e.parseNumber(s)
	if b, err := strconv.ParseBool(s); err == nil {
		e.boolean, e.okBool = b, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		e.dur, e.okDur = d, true
	} else if e.okNum {
		e.dur, e.okDur = seconds(e.num)
	}
}

// seconds converts a number of seconds to a Duration, refusing overflow.
func seconds(f float64) (time.Duration, bool) {
	ns := f * float64(time.Second)
	if ns >= math.MaxInt64 || ns <= math.MinInt64 || math.IsNaN(ns) {
		return 0, false
	}
	return time.Duration(ns), true
}

// value returns the entry as a Value with its own copy of Raw, or nil when
// the entry has no readable value.
func (e *entry) value() *Value {
	if e == nil || !e.present {
		return nil
	}
	return &Value{
		Key:       e.key,
		Type:      e.typ,
		Raw:       slices.Clone(e.raw),
		Version:   e.version,
		SourceEnv: e.sourceEnv,
		ExpiresAt: e.expiresAt,
	}
}

// wire returns the entry in its wire form (for the last-known-good file).
func (e *entry) wire() wireEntry {
	w := wireEntry{
		Key:       e.key,
		Type:      string(e.typ),
		Version:   e.version,
		SourceEnv: e.sourceEnv,
		Masked:    e.masked,
		Value:     json.RawMessage("null"),
	}
	if e.present {
		w.Value = e.raw
	}
	if !e.expiresAt.IsZero() {
		t := e.expiresAt
		w.ExpiresAt = &t
	}
	return w
}

// same reports whether two entries read the same, so no change is reported.
func same(a, b *entry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.present == b.present && a.masked == b.masked && a.typ == b.typ &&
		a.version == b.version && a.sourceEnv == b.sourceEnv &&
		a.expiresAt.Equal(b.expiresAt) && bytes.Equal(a.raw, b.raw)
}

// visible reports whether e has a readable value.
func visible(e *entry) bool { return e != nil && e.present }

// change describes the move from old to next, and whether it is one an
// application sees: masked or absent on both sides is no change.
func change(key string, old, next *entry) (Change, bool) {
	if same(old, next) || (!visible(old) && !visible(next)) {
		return Change{}, false
	}
	c := Change{Key: key, Action: ActionSet, Old: old.value(), New: next.value()}
	if c.New == nil {
		c.Action = ActionDelete
	}
	return c, true
}

// snapshot is an immutable view of an environment's configuration. It is
// replaced whole, never modified, so readers need no lock.
type snapshot struct {
	entries  map[string]*entry
	keys     []string // keys with a readable value, sorted
	etag     string   // ETag of the fetch it holds the values of; "" once a change is applied
	position string   // watch position: the id of the last event applied
	source   string   // SourceKeel or SourceFile; "" before the first load
}

var emptySnapshot = &snapshot{entries: map[string]*entry{}}

// newSnapshot builds a snapshot from fetched entries.
func newSnapshot(list []wireEntry, etag, position, source string) (*snapshot, error) {
	m := make(map[string]*entry, len(list))
	for _, w := range list {
		e, err := newEntry(w)
		if err != nil {
			return nil, err
		}
		m[e.key] = e
	}
	return &snapshot{entries: m, keys: visibleKeys(m), etag: etag, position: position, source: source}, nil
}

func visibleKeys(m map[string]*entry) []string {
	keys := make([]string, 0, len(m))
	for k, e := range m {
		if visible(e) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// at returns a copy of s with another watch position; the entries are shared.
func (s *snapshot) at(position string) *snapshot {
	n := *s
	n.position = position
	return &n
}

// with returns s with key set to e (nil: removed) at a new position.
func (s *snapshot) with(key string, e *entry, position string) *snapshot {
	m := make(map[string]*entry, len(s.entries)+1)
	for k, v := range s.entries {
		m[k] = v
	}
	old := m[key]
	if e == nil {
		delete(m, key)
	} else {
		m[key] = e
	}
	// The values no longer match the fetch the ETag came from: an ETag is
	// opaque, so a later 304 for it would not prove these values current.
	n := &snapshot{entries: m, keys: s.keys, position: position, source: s.source}
	if visible(old) != visible(e) {
		n.keys = visibleKeys(m)
	}
	return n
}

// diff lists the changes from a to b, sorted by key.
func diff(a, b *snapshot) []Change {
	keys := make([]string, 0, len(a.entries)+len(b.entries))
	for k := range a.entries {
		keys = append(keys, k)
	}
	for k := range b.entries {
		if _, ok := a.entries[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []Change
	for _, k := range keys {
		if c, ok := change(k, a.entries[k], b.entries[k]); ok {
			out = append(out, c)
		}
	}
	return out
}
