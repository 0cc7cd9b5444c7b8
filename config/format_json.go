package config

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// exportJSON writes {"key": value, ...} with two-space indentation.
func exportJSON(items []Item) []byte {
	var b []byte
	b = append(b, '{')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, it.Key)
		b = append(b, ':')
		b = append(b, docJSONValue(it)...)
	}
	b = append(b, '}')
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		// Unreachable: every piece above is valid JSON.
		panic("config: export produced invalid JSON: " + err.Error())
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// docJSONValue is the item's value in a JSON document.
func docJSONValue(it Item) []byte {
	switch it.Type {
	case TypeSecret:
		if it.Masked {
			return []byte(`{"$secret":null}`)
		}
		b := []byte(`{"$secret":`)
		b = appendJSONString(b, it.Value)
		return append(b, '}')
	case TypeString:
		return appendJSONString(nil, it.Value)
	}
	return []byte(JSONValue(it.Type, it.Value))
}

func importJSON(data []byte, types map[string]Type) ([]Item, []Problem) {
	var probe json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		e := jsonSyntaxError(data, err)
		return nil, []Problem{{Message: e.Message, Line: e.Line}}
	}
	start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	if data[start] != '{' {
		line, _ := lineCol(data, start)
		return nil, []Problem{{Message: `The document must be a JSON object of keys and values, like {"db.host": "localhost"}.`, Line: line}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the opening brace
		e := jsonSyntaxError(data, err)
		return nil, []Problem{{Message: e.Message, Line: e.Line}}
	}
	var (
		items    []Item
		problems []Problem
		seen     = make(map[string]int)
		lines    = lineCounter{data: data}
	)
	for dec.More() {
		keyAt := skipJSONSpace(data, int(dec.InputOffset()))
		line := lines.lineAt(keyAt)
		tok, err := dec.Token()
		if err != nil {
			e := jsonSyntaxError(data, err)
			return nil, []Problem{{Message: e.Message, Line: e.Line}}
		}
		key, _ := tok.(string)
		valueAt := skipJSONSpace(data, int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			e := jsonSyntaxError(data, err)
			return nil, []Problem{{Message: e.Message, Line: e.Line}}
		}
		if first, dup := seen[key]; dup {
			problems = append(problems, Problem{Key: key, Line: line, Message: fmt.Sprintf("The key appears more than once (first on line %d).", first)})
			continue
		}
		seen[key] = line
		if err := ValidKey(key); err != nil {
			problems = append(problems, Problem{Key: key, Line: line, Message: err.Error()})
			continue
		}
		v, err := jsonDocValue(data, valueAt, raw)
		if err != nil {
			problems = append(problems, Problem{Key: key, Line: line, Message: err.Error()})
			continue
		}
		current, known := types[key]
		item, msg := resolveValue(key, v, current, known)
		if msg != "" {
			problems = append(problems, Problem{Key: key, Line: line, Message: msg})
			continue
		}
		items = append(items, item)
	}
	return items, problems
}

// skipJSONSpace returns the offset of the next token at or after at.
func skipJSONSpace(data []byte, at int) int {
	for at < len(data) {
		switch data[at] {
		case ' ', '\t', '\r', '\n', ',', ':':
			at++
			continue
		}
		break
	}
	return at
}

// jsonDocValue classifies one value of a JSON document; at is its offset
// in data, for error positions.
func jsonDocValue(data []byte, at int, raw json.RawMessage) (docValue, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return docValue{}, jsonSyntaxError(raw, err)
		}
		return docValue{kind: docString, text: s}, nil
	case 't', 'f':
		return docValue{kind: docBool, text: string(raw)}, nil
	case 'n':
		return docValue{kind: docNull}, nil
	case '{', '[':
		canon, err := canonicalJSONAt(data, at, len(raw))
		if err != nil {
			return docValue{}, err
		}
		if v, ok := secretObject(canon); ok {
			return v, nil
		}
		return docValue{kind: docJSON, text: canon}, nil
	}
	return docValue{kind: docNumber, text: string(raw)}, nil
}

// secretObject recognizes the canonical JSON {"$secret":"value"} and
// {"$secret":null}.
func secretObject(canon string) (docValue, bool) {
	const prefix = `{"$secret":`
	if len(canon) < len(prefix)+2 || canon[:len(prefix)] != prefix || canon[len(canon)-1] != '}' {
		return docValue{}, false
	}
	inner := canon[len(prefix) : len(canon)-1]
	if inner == "null" {
		return docValue{kind: docMasked, asJSON: canon}, true
	}
	if inner[0] != '"' {
		return docValue{}, false
	}
	var s string
	if err := json.Unmarshal([]byte(inner), &s); err != nil {
		return docValue{}, false
	}
	return docValue{kind: docSecret, text: s, asJSON: canon}, true
}
