package config

import (
	"fmt"
	"strings"
)

const patternRuleText = "Use a key, or a key with * standing for any run of characters (for example db.*), at most 200 characters."

// ValidPattern checks a schema pattern: a key, or a key in which '*'
// stands for any run of characters (including '.' and '/', and the empty
// run). "db.*" matches "db.host" and "db.pool.size"; "*" matches every key.
func ValidPattern(p string) error {
	if p == "" {
		return &ValueError{Message: "Enter a key or a pattern. " + patternRuleText}
	}
	if err := checkChars(p, func(c byte) bool { return keyChar(c) || c == '*' }, "pattern", patternRuleText); err != nil {
		return err
	}
	if len(p) > MaxKeyLen {
		return &ValueError{Message: fmt.Sprintf("The pattern is %d characters long. %s", len(p), patternRuleText)}
	}
	return nil
}

// MatchPattern reports whether key matches pattern (see ValidPattern). A
// pattern without '*' matches only the identical key.
func MatchPattern(pattern, key string) bool {
	// Classic wildcard matching with a single backtrack point: linear in
	// practice, O(len(pattern)*len(key)) in the worst case.
	p, k := 0, 0
	star, mark := -1, 0
	for k < len(key) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, k
			p++
		case p < len(pattern) && pattern[p] == key[k]:
			p++
			k++
		case star >= 0:
			p = star + 1
			mark++
			k = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Specificity orders patterns that match the same key, higher first: an
// exact key beats any glob; among globs a longer literal prefix (the text
// before the first '*') wins, then more literal characters overall. Equal
// specificity is left to the caller (for example, order by pattern text).
func Specificity(pattern string) int {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return 1<<20 + len(pattern)
	}
	literal := len(pattern) - strings.Count(pattern, "*")
	return star*(MaxKeyLen+1) + literal
}
