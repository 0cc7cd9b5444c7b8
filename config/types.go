package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Type is the type of a configuration value.
type Type string

// The value types. Every value is stored as canonical text (see Normalize).
const (
	TypeString  Type = "string"
	TypeNumber  Type = "number"
	TypeBoolean Type = "boolean"
	TypeJSON    Type = "json"   // JSON object or array
	TypeSecret  Type = "secret" // a string, stored encrypted
)

// Types lists every type in the order the UI offers them.
var Types = []Type{TypeString, TypeNumber, TypeBoolean, TypeJSON, TypeSecret}

// Limits on keys and values.
const (
	MaxKeyLen   = 200
	MaxValueLen = 256 << 10
	MaxTagLen   = 40
)

// ParseType returns the Type named by s (case-insensitive, surrounding
// spaces ignored).
func ParseType(s string) (Type, error) {
	t := Type(strings.ToLower(strings.TrimSpace(s)))
	if t.Valid() {
		return t, nil
	}
	return "", fmt.Errorf("Unknown type %q. Choose one of string, number, boolean, json or secret.", s)
}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	switch t {
	case TypeString, TypeNumber, TypeBoolean, TypeJSON, TypeSecret:
		return true
	}
	return false
}

// String returns the type's name.
func (t Type) String() string { return string(t) }

const keyRuleText = "Use letters, digits and . _ - / (at most 200 characters)."

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/'
}

// ValidKey checks a configuration key: 1 to MaxKeyLen ASCII letters,
// digits, '.', '_', '-' and '/'. The error text is a user-facing sentence.
func ValidKey(key string) error {
	if key == "" {
		return &ValueError{Message: "Enter a key. " + keyRuleText}
	}
	if err := checkChars(key, keyChar, "key", keyRuleText); err != nil {
		return err
	}
	if len(key) > MaxKeyLen {
		return &ValueError{Message: fmt.Sprintf("The key is %d characters long. %s", len(key), keyRuleText)}
	}
	return nil
}

// checkChars reports the first character of s that ok rejects, by its
// position (1-based, in characters).
func checkChars(s string, ok func(byte) bool, what, rule string) error {
	pos := 0
	for i := 0; i < len(s); {
		pos++
		c := s[i]
		if c < utf8.RuneSelf && ok(c) {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return &ValueError{Message: fmt.Sprintf("The %s is not valid UTF-8 text (byte %d). %s", what, i+1, rule)}
		}
		return &ValueError{Message: fmt.Sprintf("The %s contains %s (character %d), which is not allowed. %s", what, describeRune(r), pos, rule)}
	}
	return nil
}

// describeRune names a character for an error message: 'x' when it is
// visible, otherwise its name or code point.
func describeRune(r rune) string {
	switch r {
	case ' ':
		return "a space"
	case '\t':
		return "a tab"
	case '\n':
		return "a line break"
	case '\r':
		return "a carriage return"
	}
	if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || !unicode.IsGraphic(r) {
		return fmt.Sprintf("the character U+%04X", r)
	}
	return "'" + string(r) + "'"
}

func tagChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

const tagRuleText = "Use lowercase letters, digits and . _ - starting with a letter or digit (at most 40 characters)."

// ValidTag checks a tag: [a-z0-9][a-z0-9._-]{0,39}.
func ValidTag(tag string) error {
	if tag == "" {
		return &ValueError{Message: "Enter a tag. " + tagRuleText}
	}
	if err := checkChars(tag, tagChar, "tag", tagRuleText); err != nil {
		return err
	}
	if c := tag[0]; c == '.' || c == '_' || c == '-' {
		return &ValueError{Message: fmt.Sprintf("The tag starts with '%c'. %s", c, tagRuleText)}
	}
	if len(tag) > MaxTagLen {
		return &ValueError{Message: fmt.Sprintf("The tag is %d characters long. %s", len(tag), tagRuleText)}
	}
	return nil
}

// ValueError locates a bad value; Line/Column are 1-based (0 when not
// applicable). Message is a user-facing sentence that already mentions the
// line and column when they are set.
type ValueError struct {
	Message      string
	Line, Column int
}

func (e *ValueError) Error() string { return e.Message }
