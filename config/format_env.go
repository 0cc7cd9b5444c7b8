package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/joho/godotenv"
)

// directivePrefix starts the comment line that carries what plain .env
// cannot: the real key, the type, a masked secret, base64 text.
const directivePrefix = "# keel:"

// envNameByte reports the characters godotenv accepts in a variable name
// that Keel keys also use: ASCII letters, digits, '_' and '.'.
func envNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.'
}

func plainEnvName(key string) bool {
	for i := 0; i < len(key); i++ {
		if !envNameByte(key[i]) {
			return false
		}
	}
	return true
}

// envNames assigns each key its variable name: the key itself when
// godotenv accepts it, else the key with '-' and '/' replaced by '_' and,
// if that is taken, '_' appended until it is free.
func envNames(items []Item) []string {
	names := make([]string, len(items))
	used := make(map[string]bool, len(items))
	for i, it := range items {
		if plainEnvName(it.Key) {
			names[i] = it.Key
			used[it.Key] = true
		}
	}
	for i, it := range items {
		if names[i] != "" {
			continue
		}
		name := strings.NewReplacer("-", "_", "/", "_").Replace(it.Key)
		for used[name] {
			name += "_"
		}
		names[i] = name
		used[name] = true
	}
	return names
}

// exportEnv writes one NAME=value line per item, preceded by a "# keel:"
// comment line when the key, its type or its value need one.
func exportEnv(items []Item) []byte {
	var b bytes.Buffer
	names := envNames(items)
	for i, it := range items {
		var words []string
		if names[i] != it.Key {
			words = append(words, "key="+it.Key)
		}
		if it.Type != TypeString {
			words = append(words, "type="+string(it.Type))
		}
		value := ""
		switch {
		case it.Masked:
			words = append(words, "masked")
		default:
			var ok bool
			if value, ok = envQuote(it.Value); !ok {
				words = append(words, "base64")
				value = base64.StdEncoding.EncodeToString([]byte(it.Value))
			}
		}
		if len(words) > 0 {
			b.WriteString(directivePrefix + " " + strings.Join(words, " ") + "\n")
		}
		b.WriteString(names[i] + "=" + value + "\n")
	}
	return b.Bytes()
}

// envSpace is godotenv's notion of white space inside a line.
func envSpace(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

// envQuote writes v so that godotenv reads back exactly v, choosing the
// plainest form: bare, 'single quoted', or "double quoted" with \\ \" \n
// \r \$ escapes. It reports false when no form can hold v (a value ending
// in '"' or '\' that also rules out the other forms); the caller then
// writes base64.
func envQuote(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	if bareSafe(v) && !strings.ContainsAny(v, " \t'\"\\`=#") && !strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsGraphic(r) }) {
		return v, true
	}
	if !strings.ContainsAny(v, "'\r\n") && !strings.HasSuffix(v, `\`) {
		return "'" + v + "'", true
	}
	if !strings.HasSuffix(v, `"`) && !strings.HasSuffix(v, `\`) {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "$", `\$`).Replace(v) + `"`, true
	}
	if bareSafe(v) {
		return v, true
	}
	return "", false
}

// bareSafe reports whether godotenv reads v written without quotes back as
// v: one line, no quote at the start, no white space at the ends, no
// " #" comment, no $ expansion.
func bareSafe(v string) bool {
	if v == "" || v[0] == '\'' || v[0] == '"' || strings.ContainsAny(v, "\n\r$") {
		return false
	}
	first, _ := utf8.DecodeRuneInString(v)
	last, _ := utf8.DecodeLastRuneInString(v)
	if envSpace(first) || envSpace(last) {
		return false
	}
	prevSpace := false
	for _, r := range v {
		if r == '#' && prevSpace {
			return false
		}
		prevSpace = envSpace(r)
	}
	return true
}

// envStatement is one NAME=value statement of a .env document, located by
// the same rules godotenv parses with.
type envStatement struct {
	name      string
	line      int
	directive string // the words after "# keel:" on the line above, if any
}

// scanEnv splits a document into statements and "# keel:" directives,
// following godotenv's parser step by step, so that each statement can be
// given its line and directive. Values themselves come from godotenv.
func scanEnv(src []byte) ([]envStatement, []Problem) {
	src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	var (
		stmts    []envStatement
		problems []Problem
		pending  string // directive waiting for its statement
		pendLine int
	)
	lines := lineCounter{data: src}
	lineAt := lines.lineAt
	pos := 0
	for {
		// Skip white space and comment lines (godotenv's getStatementStart).
		for {
			i := bytes.IndexFunc(src[pos:], func(r rune) bool { return !unicode.IsSpace(r) })
			if i < 0 {
				pos = len(src)
				break
			}
			pos += i
			if src[pos] != '#' {
				break
			}
			end := bytes.IndexByte(src[pos:], '\n')
			comment := src[pos:]
			if end >= 0 {
				comment = src[pos : pos+end]
			}
			if words, ok := strings.CutPrefix(strings.TrimRightFunc(string(comment), unicode.IsSpace), directivePrefix); ok {
				if pending != "" {
					problems = append(problems, orphanDirective(pendLine))
				}
				pending, pendLine = strings.TrimSpace(words), lineAt(pos)
			}
			if end < 0 {
				pos = len(src)
				break
			}
			pos += end
		}
		if pos >= len(src) {
			break
		}
		start := pos
		line := lineAt(start)
		stmt := envStatement{line: line}
		if pending != "" {
			if pendLine == line-1 {
				stmt.directive = pending
			} else {
				problems = append(problems, orphanDirective(pendLine))
			}
			pending = ""
		}
		// The name (godotenv's locateKeyName).
		rest := bytes.TrimLeftFunc(src[pos:], envSpace)
		if bytes.HasPrefix(rest, []byte("export")) {
			trimmed := rest[len("export"):]
			if bytes.IndexFunc(trimmed, envSpace) == 0 {
				rest = bytes.TrimLeftFunc(trimmed, envSpace)
			}
		}
		offset := 0
		found := false
		for i, c := range rest {
			r := rune(c)
			if envSpace(r) {
				continue
			}
			if c == '=' || c == ':' {
				stmt.name = string(rest[:i])
				offset = i + 1
				found = true
				break
			}
			if c == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || c == '.' {
				continue
			}
			if c == '\n' {
				return nil, []Problem{{Line: line, Message: "The line has no = after its name. Write one NAME=value per line."}}
			}
			return nil, []Problem{{Line: lineAt(len(src) - len(rest) + i), Message: fmt.Sprintf("The name contains %s, which a .env name cannot hold. Write one NAME=value per line.", describeRune(firstBadNameRune(rest[:i+1])))}}
		}
		stmt.name = strings.TrimRightFunc(stmt.name, unicode.IsSpace)
		if !found || stmt.name == "" {
			problems = append(problems, Problem{Line: line, Message: "The line has no name before its value. Write NAME=value."})
		}
		rest = bytes.TrimLeftFunc(rest[offset:], envSpace)
		// The value (godotenv's extractVarValue): only its extent matters.
		if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
			q := rest[0]
			end := -1
			for i := 1; i < len(rest); i++ {
				if rest[i] == q && rest[i-1] != '\\' {
					end = i
					break
				}
			}
			if end < 0 {
				return nil, append(problems, Problem{Line: line, Message: fmt.Sprintf("The quoted value starting on line %d has no closing %c.", line, q)})
			}
			rest = rest[end+1:]
		} else if eol := bytes.IndexAny(rest, "\n\r"); eol >= 0 {
			rest = rest[eol:]
		} else {
			rest = rest[len(rest):]
		}
		pos = len(src) - len(rest)
		stmts = append(stmts, stmt)
	}
	if pending != "" {
		problems = append(problems, orphanDirective(pendLine))
	}
	return stmts, problems
}

// firstBadNameRune is the first character of name that a variable name
// cannot hold (godotenv checks bytes, so the byte it stopped at may be in
// the middle of a character).
func firstBadNameRune(name []byte) rune {
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRune(name[i:])
		if r >= utf8.RuneSelf || !envNameByte(byte(r)) && !envSpace(r) {
			return r
		}
		i += size
	}
	return utf8.RuneError
}

func orphanDirective(line int) Problem {
	return Problem{Line: line, Message: "A \"# keel:\" comment must be directly above the NAME=value line it describes."}
}

// envDirective is a parsed "# keel:" comment.
type envDirective struct {
	key    string
	typ    Type
	masked bool
	base64 bool
}

func parseDirective(words string) (envDirective, error) {
	var d envDirective
	for _, w := range strings.Fields(words) {
		switch {
		case strings.HasPrefix(w, "key="):
			d.key = w[len("key="):]
		case strings.HasPrefix(w, "type="):
			t, err := ParseType(w[len("type="):])
			if err != nil {
				return d, err
			}
			d.typ = t
		case w == "masked":
			d.masked = true
		case w == "base64":
			d.base64 = true
		default:
			return d, fmt.Errorf("Unknown word %s in the \"# keel:\" comment; use key=KEY, type=TYPE, masked or base64.", quoteShort(w))
		}
	}
	if d.masked && d.typ != "" && d.typ != TypeSecret {
		return d, fmt.Errorf("Only a secret can be masked (the comment says type=%s).", d.typ)
	}
	if d.masked {
		d.typ = TypeSecret
	}
	return d, nil
}

func importEnv(data []byte, types map[string]Type) ([]Item, []Problem) {
	stmts, problems := scanEnv(data)
	values, err := godotenv.UnmarshalBytes(data)
	if len(problems) > 0 {
		return nil, problems
	}
	if err != nil {
		return nil, []Problem{{Message: "The .env text is not valid: " + err.Error() + "."}}
	}
	if !sameNames(stmts, values) {
		return nil, []Problem{{Message: "The .env text could not be read line by line; write one NAME=value per line."}}
	}
	var items []Item
	seenName := make(map[string]int)
	seenKey := make(map[string]int)
	for _, st := range stmts {
		if first, dup := seenName[st.name]; dup {
			problems = append(problems, Problem{Key: st.name, Line: st.line, Message: fmt.Sprintf("The name is set more than once (first on line %d).", first)})
			continue
		}
		seenName[st.name] = st.line
		d, err := parseDirective(st.directive)
		if err != nil {
			problems = append(problems, Problem{Key: st.name, Line: st.line - 1, Message: err.Error()})
			continue
		}
		key := st.name
		if d.key != "" {
			key = d.key
		}
		if err := ValidKey(key); err != nil {
			problems = append(problems, Problem{Key: key, Line: st.line, Message: err.Error()})
			continue
		}
		if first, dup := seenKey[key]; dup {
			problems = append(problems, Problem{Key: key, Line: st.line, Message: fmt.Sprintf("The key appears more than once (first on line %d).", first)})
			continue
		}
		seenKey[key] = st.line
		value := values[st.name]
		if d.base64 {
			raw, err := base64.StdEncoding.Strict().DecodeString(value)
			if err != nil {
				problems = append(problems, Problem{Key: key, Line: st.line, Message: "The value is marked base64 but is not valid base64 text."})
				continue
			}
			value = string(raw)
		}
		item, msg := resolveEnv(key, value, d, types)
		if msg != "" {
			problems = append(problems, Problem{Key: key, Line: st.line, Message: msg})
			continue
		}
		items = append(items, item)
	}
	return items, problems
}

// sameNames checks that scanEnv found exactly the names godotenv parsed.
func sameNames(stmts []envStatement, values map[string]string) bool {
	names := make(map[string]bool, len(stmts))
	for _, st := range stmts {
		names[st.name] = true
	}
	if len(names) != len(values) {
		return false
	}
	for name := range values {
		if !names[name] {
			return false
		}
	}
	return true
}

// resolveEnv converts one .env value: an existing key keeps its type; a
// new key takes the directive's type, or string.
func resolveEnv(key, value string, d envDirective, types map[string]Type) (Item, string) {
	item := Item{Key: key}
	current, known := types[key]
	switch {
	case !known && d.typ == "":
		item.Type = TypeString
	case !known:
		item.Type = d.typ
	default:
		item.Type = current
		if d.typ == TypeSecret && current != TypeSecret {
			return item, fmt.Sprintf("The document marks this value as a secret but the key is a %s here. Change the key's type to secret first, so a secret is never stored as plain text.", current)
		}
	}
	if d.masked && value == "" {
		if !known {
			return item, "The secret is masked in the document and the key does not exist here, so there is no value to keep. Give the secret a value or leave the key out."
		}
		item.Masked = true
		return item, ""
	}
	canon, err := Normalize(item.Type, value)
	if err != nil {
		return item, err.Error()
	}
	item.Value = canon
	return item, ""
}
