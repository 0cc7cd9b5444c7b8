package config

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Format is an import/export document format.
type Format string

// The document formats.
const (
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
	FormatEnv  Format = "env"
)

// Formats lists every format.
var Formats = []Format{FormatJSON, FormatYAML, FormatEnv}

// MaxDocumentSize is the largest document Import accepts.
const MaxDocumentSize = 10 << 20

// ParseFormat returns the Format named by s: "json", "yaml" (or "yml"),
// "env" (or "dotenv", ".env"); case-insensitive.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "json":
		return FormatJSON, nil
	case "yaml", "yml":
		return FormatYAML, nil
	case "env", "dotenv", ".env":
		return FormatEnv, nil
	}
	return "", fmt.Errorf("Unknown format %q. Choose one of json, yaml or env.", s)
}

// Extension is the usual file name extension of the format, with its dot.
func (f Format) Extension() string {
	switch f {
	case FormatJSON:
		return ".json"
	case FormatYAML:
		return ".yaml"
	case FormatEnv:
		return ".env"
	}
	return ""
}

// ContentType is the media type of the format.
func (f Format) ContentType() string {
	switch f {
	case FormatJSON:
		return "application/json"
	case FormatYAML:
		return "application/yaml"
	case FormatEnv:
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// Item is one key of an import or export.
type Item struct {
	Key    string
	Type   Type
	Value  string // canonical; for a masked secret: ""
	Masked bool   // a secret exported without its value (import keeps the current value)
}

// Problem is one reason an import was refused. Key is "" for a problem
// with the whole document; Line is 0 when the format does not tell.
type Problem struct {
	Key     string
	Message string
	Line    int
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		fmt.Fprintf(&b, "%s: ", p.Key)
	}
	b.WriteString(p.Message)
	return b.String()
}

// ImportError lists every problem found in a document; Import returns
// either items or an *ImportError, never a part of the items.
type ImportError struct {
	Problems []Problem
}

func (e *ImportError) Error() string {
	switch len(e.Problems) {
	case 0:
		return "The document could not be imported."
	case 1:
		return e.Problems[0].String()
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("%d problems: %s", len(e.Problems), strings.Join(parts, "; "))
}

// Export writes items sorted by key in the format (see the package doc for
// the layout of each format). It refuses invalid keys, duplicate keys,
// unknown types and values that are not canonical for their type.
func Export(f Format, items []Item) ([]byte, error) {
	sorted := make([]Item, len(items))
	copy(sorted, items)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	for i, it := range sorted {
		if err := ValidKey(it.Key); err != nil {
			return nil, fmt.Errorf("export %q: %w", it.Key, err)
		}
		if i > 0 && sorted[i-1].Key == it.Key {
			return nil, fmt.Errorf("export: the key %q appears twice", it.Key)
		}
		if it.Masked {
			if it.Type != TypeSecret {
				return nil, fmt.Errorf("export %q: only a secret can be masked", it.Key)
			}
			continue
		}
		canon, err := Normalize(it.Type, it.Value)
		if err != nil {
			return nil, fmt.Errorf("export %q: %w", it.Key, err)
		}
		if canon != it.Value {
			return nil, fmt.Errorf("export %q: the value is not in canonical form", it.Key)
		}
	}
	switch f {
	case FormatJSON:
		return exportJSON(sorted), nil
	case FormatYAML:
		return exportYAML(sorted)
	case FormatEnv:
		return exportEnv(sorted), nil
	}
	return nil, fmt.Errorf("Unknown format %q.", string(f))
}

// Import parses a document into items sorted by key. types gives the
// current type of existing keys: the document's value is converted to that
// type (a string "5432" or a number 5432 both import as a number for a
// number key) and a value that does not fit is a problem. New keys get the
// document's own type (see the package doc). Every problem is reported in
// one *ImportError; nothing is imported partially. An empty document (or
// only white space and comments) gives no items.
func Import(f Format, data []byte, types map[string]Type) ([]Item, error) {
	switch f {
	case FormatJSON, FormatYAML, FormatEnv:
	default:
		return nil, fmt.Errorf("Unknown format %q.", string(f))
	}
	if len(data) > MaxDocumentSize {
		return nil, &ImportError{Problems: []Problem{{Message: fmt.Sprintf("The document is %s; the limit is %s.", byteSize(len(data)), byteSize(MaxDocumentSize))}}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if !utf8.Valid(data) {
		line, _ := lineCol(data, firstInvalidUTF8(data))
		return nil, &ImportError{Problems: []Problem{{Message: "The document is not valid UTF-8 text.", Line: line}}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var (
		items    []Item
		problems []Problem
	)
	switch f {
	case FormatJSON:
		items, problems = importJSON(data, types)
	case FormatYAML:
		items, problems = importYAML(data, types)
	case FormatEnv:
		items, problems = importEnv(data, types)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool {
			if problems[i].Line != problems[j].Line {
				return problems[i].Line < problems[j].Line
			}
			return problems[i].Key < problems[j].Key
		})
		return nil, &ImportError{Problems: problems}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Key < items[j].Key })
	return items, nil
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// docKind is the shape of a value as a JSON or YAML document wrote it.
type docKind int

const (
	docString docKind = iota
	docNumber
	docBool
	docNull
	docJSON   // an object or array; text is canonical JSON
	docSecret // {"$secret": "value"}
	docMasked // {"$secret": null}
)

// docValue is one value read from a JSON or YAML document.
type docValue struct {
	kind docKind
	// text: the string; the number or boolean as written; the canonical
	// JSON; the secret's value.
	text string
	// number: for docNumber, the number's value as number text when it
	// differs from text (YAML's 0x1f or 0o17); "" to use text.
	number string
	// asJSON: for docSecret and docMasked, the object as a JSON document,
	// used when the key is an existing json key.
	asJSON string
}

// resolveValue converts a document value to an item, given the key's
// current type (known reports whether the key exists).
func resolveValue(key string, v docValue, current Type, known bool) (Item, string) {
	item := Item{Key: key}
	if !known {
		switch v.kind {
		case docString:
			item.Type = TypeString
		case docNumber:
			item.Type = TypeNumber
		case docBool:
			item.Type = TypeBoolean
		case docJSON:
			item.Type = TypeJSON
		case docSecret:
			item.Type = TypeSecret
		case docMasked:
			return item, "The secret is masked in the document ($secret: null) and the key does not exist here, so there is no value to keep. Give the secret a value or leave the key out."
		case docNull:
			return item, "The value is null. Give the key a value or leave it out."
		}
		current = item.Type
	}
	item.Type = current
	var text string
	switch v.kind {
	case docNull:
		return item, "The value is null. Give the key a value or leave it out."
	case docString:
		text = v.text
	case docNumber:
		switch current {
		case TypeNumber:
			text = v.number
			if text == "" {
				text = v.text
			}
		case TypeString, TypeSecret:
			text = v.text
		default:
			return item, fmt.Sprintf("Expected %s for this %s key, got the number %s.", typeNoun(current), current, quoteShort(v.text))
		}
	case docBool:
		switch current {
		case TypeBoolean, TypeString, TypeSecret:
			text = v.text
		default:
			return item, fmt.Sprintf("Expected %s for this %s key, got the boolean %s.", typeNoun(current), current, v.text)
		}
	case docJSON:
		if current != TypeJSON {
			return item, fmt.Sprintf("Expected %s for this %s key, got %s.", typeNoun(current), current, jsonKind(v.text[0]))
		}
		text = v.text
	case docSecret, docMasked:
		switch current {
		case TypeSecret:
			if v.kind == docMasked {
				item.Masked = true
				return item, ""
			}
			text = v.text
		case TypeJSON:
			text = v.asJSON
		default:
			return item, fmt.Sprintf("The document marks this value as a secret but the key is a %s here. Change the key's type to secret first, so a secret is never stored as plain text.", current)
		}
	}
	canon, err := Normalize(current, text)
	if err != nil {
		return item, err.Error()
	}
	item.Value = canon
	return item, ""
}
