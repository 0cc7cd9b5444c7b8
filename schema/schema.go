// Package schema validates configuration values against JSON Schema
// documents (draft 2020-12 unless the document's "$schema" names another
// draft the library supports: 4, 6, 7, 2019-09).
//
// It wraps github.com/santhosh-tekuri/jsonschema/v6 with the rules Keel
// needs:
//
//   - A schema is self-contained. Compile never loads anything from the
//     network or the file system: a "$ref" or "$schema" naming any document
//     other than the schema itself (or the standard meta-schemas, which are
//     built in) is refused with a clear error.
//   - Format assertions are on. The formats checked are those the library
//     knows: date-time, date, time, duration, period, email, hostname, ipv4,
//     ipv6, uri, uri-reference, uri-template, iri, iri-reference, uuid,
//     json-pointer, relative-json-pointer, semver and regex. Any other
//     format name is an annotation only.
//   - Regular expressions ("pattern", "patternProperties", format "regex")
//     use Go's RE2 syntax, so matching time is linear.
//   - Validation results are a flat, sorted, de-duplicated list of
//     Violations, each with a JSON pointer into the value, the failing
//     keyword and an English sentence. Messages never repeat a string from
//     the value itself (it may be a secret); they may quote numbers,
//     lengths, property names and values from the schema.
//   - Work is bounded: numbers beyond float64 range are refused, and so is
//     a schema or value whose check would take more than a million steps
//     (nested anyOf/oneOf through references can be exponential).
//
// The package is pure: no Redis, no HTTP, no other Keel package. Values to
// validate are plain Go values as encoding/json decodes them into an any
// (map[string]any, []any, float64 or json.Number, string, bool, nil).
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxSchemaLen bounds the size of a schema document in bytes.
const MaxSchemaLen = 256 << 10

// The schema document is registered under location; relative references
// resolve against base. Messages strip both, so users only see their own
// references and pointers inside their document.
const (
	base     = "keel:///"
	location = base + "schema.json"
)

// Schema is a compiled JSON Schema. It is immutable and safe for
// concurrent use.
type Schema struct {
	source   []byte
	compiled *jsonschema.Schema
	anchors  anchors
}

// Error is a problem with a schema document. Error() is a sentence that can
// be shown to users as is.
type Error struct {
	// Message is the whole sentence, e.g. "The schema is not valid: at
	// /properties/port/minimum: the value must be a number, but it is a
	// string."
	Message string
	// Pointer locates the (first) problem inside the schema document when
	// known; "" for the document itself.
	Pointer string
	// Line and Column locate a JSON syntax error (1-based; 0 otherwise).
	Line, Column int
}

func (e *Error) Error() string { return e.Message }

func invalid(pointer, format string, args ...any) *Error {
	return &Error{Message: "The schema is not valid: " + fmt.Sprintf(format, args...), Pointer: pointer}
}

// errRemote is what the loader returns for every URL it is asked for.
var errRemote = errors.New("remote schemas are not loaded")

// refuseLoader refuses every URL: the document itself is registered with
// AddResource and the meta-schemas are built into the library, so the
// loader is only ever asked for something outside the document.
type refuseLoader struct{}

func (refuseLoader) Load(string) (any, error) { return nil, errRemote }

// Compile parses and compiles a schema document, which must be a JSON object
// or a boolean. Without "$schema" the document is read as draft 2020-12.
// Errors are *Error.
func Compile(doc []byte) (*Schema, error) {
	if len(doc) > MaxSchemaLen {
		return nil, &Error{Message: fmt.Sprintf("The schema is too large: %d bytes, at most %d are allowed.", len(doc), MaxSchemaLen)}
	}
	v, err := decode(doc)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case map[string]any, bool:
	default:
		return nil, &Error{Message: fmt.Sprintf("The schema is not valid: it must be a JSON object or a boolean, not %s.", article(jsonType(v)))}
	}
	if ptr, num, ok := outOfRange(v, ""); !ok {
		return nil, invalid(ptr, "at %s: the number %s is outside the range Keel supports (a 64-bit float, at most %d characters).", pointerText(ptr), shorten(num), maxNumberLen)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(location, v); err != nil {
		return nil, compileError(err, v)
	}
	compiled, err := c.Compile(location)
	if err != nil {
		return nil, compileError(err, v)
	}
	a := indexAnchors(compiled)
	if tooComplex(compiled, a, nil) {
		return nil, &Error{Message: fmt.Sprintf("The schema is too complex: checking even a single value could take more than %d steps; simplify nested anyOf, oneOf and allOf reached through references.", maxEvaluations)}
	}
	return &Schema{source: bytes.Clone(doc), compiled: compiled, anchors: a}, nil
}

// maxNumberLen bounds the length of a number in a schema document.
const maxNumberLen = 64

// outOfRange finds the first number in a decoded document that is too long
// or outside float64 range (exact big-number arithmetic on, say, 1e999999
// takes seconds per comparison). It reports its pointer and text.
func outOfRange(v any, ptr string) (string, string, bool) {
	switch v := v.(type) {
	case json.Number:
		if !numberInRange(v) {
			return ptr, string(v), false
		}
	case []any:
		for i, e := range v {
			if p, n, ok := outOfRange(e, ptr+"/"+strconv.Itoa(i)); !ok {
				return p, n, false
			}
		}
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v)) // report the same problem every time
		for _, k := range keys {
			if p, n, ok := outOfRange(v[k], child(ptr, k)); !ok {
				return p, n, false
			}
		}
	}
	return "", "", true
}

// numberInRange reports whether n is short and a finite, non-underflowing
// float64.
func numberInRange(n json.Number) bool {
	if len(n) > maxNumberLen {
		return false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return false
	}
	if f == 0 {
		// Underflow parses as 0 without an error: only true zeros pass.
		mantissa, _, _ := strings.Cut(strings.ToLower(string(n)), "e")
		return strings.Trim(mantissa, "-+0.") == ""
	}
	return true
}

func shorten(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// Source returns the schema document as it was given to Compile.
func (s *Schema) Source() []byte { return bytes.Clone(s.source) }

// Validate checks v against the schema and returns its violations, sorted
// by pointer then rule, or nil when v is valid.
func (s *Schema) Validate(v any) []Violation {
	if ptr, _, ok := outOfRange(v, ""); !ok {
		return []Violation{{Pointer: ptr, Rule: "type", Message: fmt.Sprintf("The number is outside the range that can be checked (a 64-bit float, at most %d characters).", maxNumberLen)}}
	}
	if tooComplex(s.compiled, s.anchors, v) {
		return []Violation{{Rule: "complexity", Message: fmt.Sprintf("The value cannot be checked against this schema: it would take more than %d steps.", maxEvaluations)}}
	}
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []Violation{{Rule: "type", Message: "The value cannot be validated: " + strip(err.Error()) + "."}}
	}
	return flatten(verr)
}

// decode reads exactly one JSON value, keeping numbers exact.
func decode(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		end := dec.InputOffset()
		if _, terr := dec.Token(); terr != io.EOF {
			off := end + int64(len(doc[end:])-len(bytes.TrimLeft(doc[end:], " \t\r\n")))
			line, col := lineCol(doc, off)
			return nil, &Error{Message: fmt.Sprintf("The schema is not valid JSON: unexpected data after the document at line %d, column %d.", line, col), Line: line, Column: col}
		}
		return v, nil
	}
	if errors.Is(err, io.EOF) {
		return nil, &Error{Message: "The schema is empty: it must be a JSON object or a boolean."}
	}
	off := dec.InputOffset()
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		off = syn.Offset - 1 // Offset counts the offending byte
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		off = int64(len(doc))
	}
	line, col := lineCol(doc, off)
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "the document ends too early"
	} else {
		msg = strings.TrimPrefix(msg, "json: ")
	}
	return nil, &Error{Message: fmt.Sprintf("The schema is not valid JSON: %s at line %d, column %d.", msg, line, col), Line: line, Column: col}
}

// lineCol converts a byte offset into 1-based line and column (in runes).
func lineCol(doc []byte, off int64) (line, col int) {
	if off > int64(len(doc)) {
		off = int64(len(doc))
	}
	if off < 0 {
		off = 0
	}
	before := doc[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	col = len([]rune(string(before[lineStart:]))) + 1
	return line, col
}

// compileError turns a library error into an *Error with a sentence. doc
// is the decoded document.
func compileError(err error, doc any) *Error {
	var (
		sverr   *jsonschema.SchemaValidationError
		loadErr *jsonschema.LoadURLError
		reErr   *jsonschema.InvalidRegexError
		ptrErr  *jsonschema.JSONPointerNotFoundError
		ancErr  *jsonschema.AnchorNotFoundError
		draft   *jsonschema.UnsupportedDraftError
		metaErr *jsonschema.InvalidMetaSchemaURLError
		vocab   *jsonschema.UnsupportedVocabularyError
	)
	switch {
	case errors.As(err, &sverr):
		var verr *jsonschema.ValidationError
		if errors.As(sverr.Err, &verr) {
			vs := flatten(verr)
			if len(vs) > 0 {
				return metaViolations(fragment(sverr.URL), vs)
			}
		}
		return invalid(fragment(sverr.URL), "%s.", strip(sverr.Err.Error()))
	case errors.As(err, &loadErr):
		if errors.Is(loadErr.Err, errRemote) && isMetaSchema(doc, loadErr.URL) {
			return invalid("/$schema", "its \"$schema\" names %q, which is not a draft Keel supports; use \"https://json-schema.org/draft/2020-12/schema\" (or 2019-09, draft-07, draft-06, draft-04) or leave it out.", loadErr.URL)
		}
		if errors.Is(loadErr.Err, errRemote) {
			return &Error{Message: fmt.Sprintf("The schema refers to %q, but Keel does not load schemas from other places: keep every definition in this document (under \"$defs\") and refer to it locally, e.g. \"#/$defs/name\".", strip(loadErr.URL))}
		}
		return invalid("", "cannot load %q: %s.", strip(loadErr.URL), strip(loadErr.Err.Error()))
	case errors.As(err, &reErr):
		return invalid(fragment(reErr.URL), "at %s: %q is not a valid regular expression (Go RE2 syntax): %s.", pointerText(fragment(reErr.URL)), reErr.Regex, reErr.Err)
	case errors.As(err, &ptrErr):
		return invalid("", "the reference %q points to nothing in the document.", unescape(strip(ptrErr.URL)))
	case errors.As(err, &ancErr):
		return invalid("", "the reference %q names an anchor the document does not define.", strip(ancErr.Reference))
	case errors.As(err, &draft):
		return invalid("", "its \"$schema\" names an unsupported draft; use \"https://json-schema.org/draft/2020-12/schema\" or leave it out.")
	case errors.As(err, &metaErr):
		return invalid("", "its \"$schema\" is not a valid URL; use \"https://json-schema.org/draft/2020-12/schema\" or leave it out.")
	case errors.As(err, &vocab):
		return invalid("", "it requires the vocabulary %q, which is not supported.", vocab.Vocabulary)
	default:
		return invalid("", "%s.", strip(err.Error()))
	}
}

// metaViolations renders the meta-schema violations of the (sub)document
// at pointer at.
func metaViolations(at string, vs []Violation) *Error {
	const show = 3
	parts := make([]string, 0, show)
	for i, v := range vs {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more problem(s)", len(vs)-show))
			break
		}
		parts = append(parts, fmt.Sprintf("at %s: %s", pointerText(at+v.Pointer), lowerFirst(strings.TrimSuffix(v.Message, "."))))
	}
	return invalid(at+vs[0].Pointer, "%s.", strings.Join(parts, "; "))
}

// isMetaSchema reports whether url is the document's own "$schema".
func isMetaSchema(doc any, url string) bool {
	obj, _ := doc.(map[string]any)
	meta, _ := obj["$schema"].(string)
	meta, _, _ = strings.Cut(meta, "#")
	return meta != "" && meta == url
}

// pointerText names a pointer inside the schema document.
func pointerText(p string) string {
	if p == "" {
		return "the top level"
	}
	return p
}

// unescape decodes the percent-escapes of a reference, as it was written.
func unescape(ref string) string {
	if u, err := url.PathUnescape(ref); err == nil {
		return u
	}
	return ref
}

// fragment returns the JSON pointer part of a library schema URL.
func fragment(u string) string {
	if i := strings.IndexByte(u, '#'); i >= 0 {
		return u[i+1:]
	}
	return ""
}

// strip removes the internal document URL from library messages.
func strip(s string) string {
	s = strings.ReplaceAll(s, location+"#", "#")
	s = strings.ReplaceAll(s, location, "the schema")
	return strings.ReplaceAll(s, base, "")
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
