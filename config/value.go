package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Normalize checks raw user text against a type and returns the canonical
// stored text:
//
//   - number: decimal text, an optional sign, digits with an optional
//     fraction and exponent ("42", "-3.5", "+7", "007", ".5", "1e6"); no
//     spaces, hex, NaN, infinities or values beyond float64 range. The
//     canonical form is the shortest text that parses back to the same
//     float64, written the way JavaScript's Number#toString (and
//     JSON.stringify) writes it: no exponent from 1e-7 up to 1e21 ("5432",
//     "12.5", "0.000001", "1e+21", "1e-7"); negative zero becomes "0".
//   - boolean: "true" or "false", any letter case.
//   - json: a JSON object or array; duplicate keys are rejected; the
//     canonical form is compact, keeps key order and number literals, and
//     writes strings with minimal escaping (see the package doc).
//   - string, secret: the text as is.
//
// Every value must be valid UTF-8 and at most MaxValueLen bytes. Errors
// are *ValueError.
func Normalize(t Type, raw string) (string, error) {
	if len(raw) > MaxValueLen {
		return "", &ValueError{Message: fmt.Sprintf("The value is %s; the limit is %s.", byteSize(len(raw)), byteSize(MaxValueLen))}
	}
	if !utf8.ValidString(raw) {
		return "", &ValueError{Message: "The value is not valid UTF-8 text."}
	}
	switch t {
	case TypeString, TypeSecret:
		return raw, nil
	case TypeNumber:
		return normalizeNumber(raw)
	case TypeBoolean:
		switch strings.ToLower(raw) {
		case "true":
			return "true", nil
		case "false":
			return "false", nil
		}
		if raw == "" {
			return "", &ValueError{Message: "Enter true or false."}
		}
		return "", &ValueError{Message: fmt.Sprintf("%s is not a boolean. Enter true or false.", quoteShort(raw))}
	case TypeJSON:
		return canonicalJSON([]byte(raw))
	}
	return "", &ValueError{Message: fmt.Sprintf("Unknown type %q.", string(t))}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// quoteShort quotes user text for an error message, shortened when long.
func quoteShort(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}

// numberSyntax reports whether s is [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?.
func numberSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

const numberRuleText = "Use digits with an optional sign, decimal point and exponent, like 42, -3.5 or 1e6."

func normalizeNumber(raw string) (string, error) {
	if raw == "" {
		return "", &ValueError{Message: "Enter a number. " + numberRuleText}
	}
	if strings.TrimSpace(raw) != raw {
		return "", &ValueError{Message: "A number can't have spaces before or after it."}
	}
	if !numberSyntax(raw) {
		return "", &ValueError{Message: fmt.Sprintf("%s is not a number. %s", quoteShort(raw), numberRuleText)}
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil && (math.IsInf(f, 0) || !errors.Is(err, strconv.ErrRange)) {
		return "", &ValueError{Message: fmt.Sprintf("%s is too large for a number (the limit is about ±1.8e308).", quoteShort(raw))}
	}
	return FormatNumber(f), nil
}

// FormatNumber writes f in canonical number form (see Normalize). f must be
// finite; NaN and infinities are written as "0".
func FormatNumber(f float64) string {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return "0"
	}
	// Shortest round-trip digits and decimal exponent, as in ECMAScript
	// Number::toString (also RFC 8785 JSON canonicalization).
	e := strconv.FormatFloat(f, 'e', -1, 64) // "-1.2345e+06"
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	digits := strings.Replace(mant, ".", "", 1)
	k := len(digits)
	n := exp + 1 // the decimal point sits after n digits
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case k <= n && n <= 21:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		b.WriteString(digits[:n])
		b.WriteByte('.')
		b.WriteString(digits[n:])
	case -6 < n && n <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n))
		b.WriteString(digits)
	default:
		b.WriteString(digits[:1])
		if k > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(n - 1))
	}
	return b.String()
}

// JSONValue renders canonical text as the JSON value applications receive:
// number → bare number, boolean → true/false, json → the document,
// string/secret → JSON string. Text that is not canonical for its type is
// rendered as a JSON string, so the result is always valid JSON.
func JSONValue(t Type, canonical string) json.RawMessage {
	switch t {
	case TypeNumber:
		if numberSyntax(canonical) && json.Valid([]byte(canonical)) {
			if _, err := strconv.ParseFloat(canonical, 64); err == nil {
				return json.RawMessage(canonical)
			}
		}
	case TypeBoolean:
		if canonical == "true" || canonical == "false" {
			return json.RawMessage(canonical)
		}
	case TypeJSON:
		if json.Valid([]byte(canonical)) {
			return json.RawMessage(canonical)
		}
	}
	return json.RawMessage(appendJSONString(nil, canonical))
}

// FromJSON accepts an API value: the JSON value of the type, or a JSON
// string holding its text (e.g. "5432" for a number). It returns canonical
// text. A number or boolean is also accepted for a string or secret, as
// its JSON text.
func FromJSON(t Type, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", &ValueError{Message: "Enter a value."}
	}
	if !utf8.Valid(raw) {
		return "", &ValueError{Message: "The value is not valid UTF-8 text."}
	}
	var probe json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", jsonSyntaxError(raw, err)
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", jsonSyntaxError(raw, err)
		}
		return Normalize(t, s)
	case 'n':
		return "", &ValueError{Message: "null is not a value. Enter a " + string(t) + "."}
	case 't', 'f':
		if t == TypeBoolean || t == TypeString || t == TypeSecret {
			return Normalize(t, string(raw))
		}
	case '{', '[':
		if t == TypeJSON {
			return Normalize(t, string(raw))
		}
	default: // a number
		if t == TypeNumber || t == TypeString || t == TypeSecret {
			return Normalize(t, string(raw))
		}
	}
	return "", &ValueError{Message: fmt.Sprintf("Expected %s, got %s.", typeNoun(t), jsonKind(raw[0]))}
}

func typeNoun(t Type) string {
	switch t {
	case TypeString:
		return "a string"
	case TypeNumber:
		return "a number"
	case TypeBoolean:
		return "true or false"
	case TypeJSON:
		return "a JSON object or array"
	case TypeSecret:
		return "a string for the secret"
	}
	return "a value"
}

func jsonKind(first byte) string {
	switch first {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Any decodes canonical text into a Go value for schema validation:
// string/secret → string, number → float64, boolean → bool, json → the
// document as map[string]any / []any whose numbers are json.Number (exact,
// as written).
func Any(t Type, canonical string) (any, error) {
	switch t {
	case TypeString, TypeSecret:
		return canonical, nil
	case TypeNumber:
		if !numberSyntax(canonical) {
			return nil, &ValueError{Message: fmt.Sprintf("%s is not a number.", quoteShort(canonical))}
		}
		f, err := strconv.ParseFloat(canonical, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, &ValueError{Message: fmt.Sprintf("%s is not a finite number.", quoteShort(canonical))}
		}
		return f, nil
	case TypeBoolean:
		switch canonical {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, &ValueError{Message: fmt.Sprintf("%s is not a boolean.", quoteShort(canonical))}
	case TypeJSON:
		dec := json.NewDecoder(strings.NewReader(canonical))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, jsonSyntaxError([]byte(canonical), err)
		}
		if dec.More() {
			return nil, &ValueError{Message: "The JSON text has more than one value."}
		}
		return v, nil
	}
	return nil, &ValueError{Message: fmt.Sprintf("Unknown type %q.", string(t))}
}

// Pretty renders canonical json indented by two spaces, keeping key order,
// for display; other types (and text that is not valid JSON) are returned
// unchanged.
func Pretty(t Type, canonical string) string {
	if t != TypeJSON {
		return canonical
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(canonical), "", "  "); err != nil {
		return canonical
	}
	return b.String()
}

// canonicalJSON validates a JSON object or array and returns its canonical
// compact text.
func canonicalJSON(data []byte) (string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "", &ValueError{Message: "Enter a JSON object or array."}
	}
	var probe json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return "", jsonSyntaxError(data, err)
	}
	if trimmed[0] != '{' && trimmed[0] != '[' {
		line, col := lineCol(data, len(data)-len(bytes.TrimLeft(data, " \t\r\n")))
		return "", &ValueError{Message: "A JSON value here must be an object or an array.", Line: line, Column: col}
	}
	return canonicalJSONAt(data, 0, len(data))
}

// canonicalJSONAt writes the canonical form of the valid JSON value
// data[at:at+n]; error positions are given in data.
func canonicalJSONAt(data []byte, at, n int) (string, error) {
	w := jsonWriter{data: data, base: at, dec: json.NewDecoder(bytes.NewReader(data[at : at+n]))}
	w.dec.UseNumber()
	if err := w.next(); err != nil {
		return "", err
	}
	if len(w.out) > MaxValueLen {
		return "", &ValueError{Message: fmt.Sprintf("The JSON value is %s; the limit is %s.", byteSize(len(w.out)), byteSize(MaxValueLen))}
	}
	return string(w.out), nil
}

type jsonWriter struct {
	data []byte // the whole text, for error positions
	base int    // where the decoder's input starts in data
	dec  *json.Decoder
	out  []byte
}

// next copies the next JSON value from the (already validated) input.
func (w *jsonWriter) next() error {
	tok, err := w.dec.Token()
	if err != nil {
		return jsonSyntaxError(w.data, err)
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			w.out = append(w.out, '{')
			seen := make(map[string]bool)
			for first := true; w.dec.More(); first = false {
				at := w.nextTokenOffset()
				ktok, err := w.dec.Token()
				if err != nil {
					return jsonSyntaxError(w.data, err)
				}
				key, _ := ktok.(string)
				if seen[key] {
					line, col := lineCol(w.data, at)
					return &ValueError{
						Message: fmt.Sprintf("The key %s appears more than once in the same object (line %d, column %d).", quoteShort(key), line, col),
						Line:    line, Column: col,
					}
				}
				seen[key] = true
				if !first {
					w.out = append(w.out, ',')
				}
				w.out = appendJSONString(w.out, key)
				w.out = append(w.out, ':')
				if err := w.next(); err != nil {
					return err
				}
			}
			w.out = append(w.out, '}')
		} else {
			w.out = append(w.out, '[')
			for first := true; w.dec.More(); first = false {
				if !first {
					w.out = append(w.out, ',')
				}
				if err := w.next(); err != nil {
					return err
				}
			}
			w.out = append(w.out, ']')
		}
		if _, err := w.dec.Token(); err != nil { // the closing delimiter
			return jsonSyntaxError(w.data, err)
		}
	case string:
		w.out = appendJSONString(w.out, v)
	case json.Number:
		w.out = append(w.out, v...)
	case bool:
		w.out = strconv.AppendBool(w.out, v)
	case nil:
		w.out = append(w.out, "null"...)
	}
	return nil
}

// nextTokenOffset is the input offset where the next token starts.
func (w *jsonWriter) nextTokenOffset() int {
	return skipJSONSpace(w.data, w.base+int(w.dec.InputOffset()))
}

// appendJSONString appends s as a JSON string with minimal escaping: '"'
// and '\' are escaped, control characters below U+0020 use \b \f \n \r \t
// or \u00XX, everything else (including non-ASCII) is written as is.
// Invalid UTF-8 bytes become U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// jsonSyntaxError turns an encoding/json error into a *ValueError with the
// line and column of the problem.
func jsonSyntaxError(data []byte, err error) *ValueError {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &ValueError{Message: "The JSON text is not valid: " + err.Error() + "."}
	}
	off := int(se.Offset)
	if off <= 0 || off > len(data) || strings.Contains(se.Error(), "unexpected end") {
		line, col := lineCol(data, len(data))
		return &ValueError{Message: fmt.Sprintf("Unexpected end of the JSON text at line %d, column %d.", line, col), Line: line, Column: col}
	}
	at := off - 1
	line, col := lineCol(data, at)
	r, _ := utf8.DecodeRune(data[at:])
	what := "character " + describeRune(r)
	switch r {
	case '\n':
		what = "line break"
	case '\t':
		what = "tab"
	case '\r':
		what = "carriage return"
	}
	what = strings.Replace(what, "the character ", "", 1)
	return &ValueError{Message: fmt.Sprintf("Unexpected %s at line %d, column %d.", what, line, col), Line: line, Column: col}
}

// lineCounter gives the line of increasing offsets in data without
// rescanning from the start.
type lineCounter struct {
	data []byte
	off  int
	line int
}

func (c *lineCounter) lineAt(off int) int {
	if c.line == 0 || off < c.off {
		c.off, c.line = 0, 1
	}
	off = min(off, len(c.data))
	c.line += bytes.Count(c.data[c.off:off], []byte{'\n'})
	c.off = off
	return c.line
}

// lineCol converts a byte offset into a 1-based line and column; columns
// count characters.
func lineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	col = 1 + utf8.RuneCount(data[start:off])
	return line, col
}
