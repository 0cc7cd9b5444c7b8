package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// exportYAML writes a block mapping {key: value} with two-space
// indentation.
func exportYAML(items []Item) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, it := range items {
		v, err := yamlValue(it)
		if err != nil {
			return nil, fmt.Errorf("export %q: %w", it.Key, err)
		}
		root.Content = append(root.Content, yamlString(it.Key), v)
	}
	if len(items) == 0 {
		root.Style = yaml.FlowStyle
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return b.Bytes(), nil
}

func yamlString(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if needsDoubleQuotes(s) || yaml11Special[s] {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// yaml11Special lists plain words that YAML 1.1 readers take for booleans;
// yaml.v3 reads them as strings but other tools may not, so they are quoted.
var yaml11Special = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
}

// needsDoubleQuotes reports strings that the YAML encoder would otherwise
// write in a style that does not read back identically: text with control
// characters or unusual line breaks, and multi-line text (written as a
// literal block) with tabs or with white space at the start or end of a
// line.
func needsDoubleQuotes(s string) bool {
	multiline := strings.Contains(s, "\n")
	for i, r := range s {
		switch {
		case r == '\t' || r == ' ':
			if multiline && (r == '\t' || i == 0 || s[i-1] == '\n' || i+1 == len(s) || s[i+1] == '\n') {
				return true
			}
		case r == '\n':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == 0xfeff, r == 0x2028, r == 0x2029, r == 0xfffd:
			return true
		}
	}
	return false
}

func yamlValue(it Item) (*yaml.Node, error) {
	switch it.Type {
	case TypeString:
		return yamlString(it.Value), nil
	case TypeSecret:
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		if !it.Masked {
			v = yamlString(it.Value)
		}
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle, Content: []*yaml.Node{yamlString("$secret"), v}}, nil
	case TypeNumber:
		return yamlNumber(it.Value), nil
	case TypeBoolean:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: it.Value}, nil
	case TypeJSON:
		dec := json.NewDecoder(strings.NewReader(it.Value))
		dec.UseNumber()
		return jsonToYAML(dec)
	}
	return nil, fmt.Errorf("unknown type %q", string(it.Type))
}

// yamlNumber writes a JSON number literal as a YAML scalar that reads back
// as the same number (and, for json values, the same literal).
func yamlNumber(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
	if !strings.ContainsAny(s, ".eE") {
		n.Tag = "!!int"
	}
	return n
}

// jsonToYAML converts the next JSON value from dec into a YAML node.
func jsonToYAML(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if v == '[' {
			n = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				ks, _ := k.(string)
				n.Content = append(n.Content, yamlString(ks))
			}
			c, err := jsonToYAML(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n, nil
	case string:
		return yamlString(v), nil
	case json.Number:
		return yamlNumber(string(v)), nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// yamlProblem turns a parser error into a problem with its line.
func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Message: "The YAML is not valid: " + msg + "."}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		rest := strings.TrimSpace(strings.Replace(msg, m[0], "", 1))
		rest = strings.TrimPrefix(rest, ":")
		p.Message = fmt.Sprintf("The YAML is not valid at line %s: %s.", m[1], strings.TrimSpace(rest))
	}
	return p
}

func importYAML(data []byte, types map[string]Type) (items []Item, problems []Problem) {
	defer func() {
		// The parser panics on some malformed input; report it as a
		// problem with the document rather than crash.
		if r := recover(); r != nil {
			items, problems = nil, []Problem{{Message: fmt.Sprintf("The YAML could not be read: %v.", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, []Problem{yamlProblem(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, []Problem{yamlProblem(err)}
		}
		return nil, []Problem{{Message: "The document holds more than one YAML document; import one at a time.", Line: extra.Line}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	for root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, []Problem{{Message: "The document must be a YAML mapping of keys to values, like \"db.host: localhost\".", Line: root.Line}}
	}
	seen := make(map[string]int)
	budget := &yamlBudget{left: maxYAMLNodes}
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := root.Content[i], root.Content[i+1]
		for kn.Kind == yaml.AliasNode && kn.Alias != nil {
			kn = kn.Alias
		}
		line := kn.Line
		if kn.Kind != yaml.ScalarNode {
			problems = append(problems, Problem{Line: line, Message: "A key must be plain text, not a mapping or a list."})
			continue
		}
		if kn.ShortTag() == "!!merge" {
			problems = append(problems, Problem{Line: line, Message: "YAML merge keys (<<) are not supported; write the keys out."})
			continue
		}
		key := kn.Value
		if first, dup := seen[key]; dup {
			problems = append(problems, Problem{Key: key, Line: line, Message: fmt.Sprintf("The key appears more than once (first on line %d).", first)})
			continue
		}
		seen[key] = line
		if err := ValidKey(key); err != nil {
			problems = append(problems, Problem{Key: key, Line: line, Message: err.Error()})
			continue
		}
		v, err := yamlDocValue(vn, budget)
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

// maxYAMLNodes bounds the nodes visited while converting one document,
// aliases included, so that nested aliases cannot expand without limit.
const maxYAMLNodes = 1 << 20

type yamlBudget struct{ left int }

func (b *yamlBudget) take() error {
	b.left--
	if b.left < 0 {
		return &ValueError{Message: "The YAML expands to too many values (through aliases)."}
	}
	return nil
}

// yamlDocValue classifies one value of a YAML document.
func yamlDocValue(n *yaml.Node, budget *yamlBudget) (docValue, error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		if err := budget.take(); err != nil {
			return docValue{}, err
		}
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return docValue{kind: docNull}, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return docValue{}, &ValueError{Message: fmt.Sprintf("%s is not a boolean.", quoteShort(n.Value))}
			}
			return docValue{kind: docBool, text: n.Value}, nil
		case "!!int", "!!float":
			num, err := yamlNumberText(n)
			if err != nil {
				return docValue{}, err
			}
			return docValue{kind: docNumber, text: n.Value, number: num}, nil
		case "!!str", "!!timestamp":
			return docValue{kind: docString, text: n.Value}, nil
		default:
			return docValue{}, &ValueError{Message: fmt.Sprintf("The YAML tag %s is not supported; use plain strings, numbers, booleans, mappings and lists.", tag)}
		}
	case yaml.MappingNode:
		if len(n.Content) == 2 {
			k, v := n.Content[0], n.Content[1]
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			if k.Kind == yaml.ScalarNode && k.Value == "$secret" && k.ShortTag() == "!!str" && v.Kind == yaml.ScalarNode {
				switch v.ShortTag() {
				case "!!null":
					return docValue{kind: docMasked, asJSON: `{"$secret":null}`}, nil
				case "!!str":
					return docValue{kind: docSecret, text: v.Value, asJSON: `{"$secret":` + string(appendJSONString(nil, v.Value)) + `}`}, nil
				}
			}
		}
		fallthrough
	case yaml.SequenceNode:
		var out []byte
		out, err := yamlToJSON(out, n, budget)
		if err != nil {
			return docValue{}, err
		}
		return docValue{kind: docJSON, text: string(out)}, nil
	}
	return docValue{}, &ValueError{Message: "The value could not be read."}
}

// yamlNumberText returns the canonical number text of an !!int or !!float
// scalar.
func yamlNumberText(n *yaml.Node) (string, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		if numberSyntax(n.Value) {
			return normalizeNumber(n.Value)
		}
		return "", &ValueError{Message: fmt.Sprintf("%s is not a number.", quoteShort(n.Value))}
	}
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float64:
		f = x
	default:
		if numberSyntax(n.Value) {
			return normalizeNumber(n.Value)
		}
		return "", &ValueError{Message: fmt.Sprintf("%s is not a number.", quoteShort(n.Value))}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", &ValueError{Message: fmt.Sprintf("%s is not a finite number.", quoteShort(n.Value))}
	}
	return FormatNumber(f), nil
}

// yamlToJSON appends the canonical JSON of a YAML node.
func yamlToJSON(out []byte, n *yaml.Node, budget *yamlBudget) ([]byte, error) {
	if err := budget.take(); err != nil {
		return nil, err
	}
	if len(out) > MaxValueLen {
		return nil, &ValueError{Message: fmt.Sprintf("The value is larger than %s.", byteSize(MaxValueLen))}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, &ValueError{Message: "An alias refers to nothing."}
		}
		return yamlToJSON(out, n.Alias, budget)
	case yaml.MappingNode:
		out = append(out, '{')
		seen := make(map[string]bool)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			for k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, &ValueError{Message: fmt.Sprintf("Line %d: a key must be plain text, not a mapping or a list.", k.Line), Line: k.Line}
			}
			if k.ShortTag() == "!!merge" {
				return nil, &ValueError{Message: fmt.Sprintf("Line %d: YAML merge keys (<<) are not supported; write the keys out.", k.Line), Line: k.Line}
			}
			if seen[k.Value] {
				return nil, &ValueError{Message: fmt.Sprintf("The key %s appears more than once in the same mapping (line %d).", quoteShort(k.Value), k.Line), Line: k.Line}
			}
			seen[k.Value] = true
			if i > 0 {
				out = append(out, ',')
			}
			out = appendJSONString(out, k.Value)
			out = append(out, ':')
			var err error
			if out, err = yamlToJSON(out, n.Content[i+1], budget); err != nil {
				return nil, err
			}
		}
		return append(out, '}'), nil
	case yaml.SequenceNode:
		out = append(out, '[')
		for i, c := range n.Content {
			if i > 0 {
				out = append(out, ',')
			}
			var err error
			if out, err = yamlToJSON(out, c, budget); err != nil {
				return nil, err
			}
		}
		return append(out, ']'), nil
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return append(out, "null"...), nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, &ValueError{Message: fmt.Sprintf("Line %d: %s is not a boolean.", n.Line, quoteShort(n.Value)), Line: n.Line}
			}
			return strconv.AppendBool(out, b), nil
		case "!!int", "!!float":
			if json.Valid([]byte(n.Value)) && numberSyntax(n.Value) {
				return append(out, n.Value...), nil
			}
			var v any
			if err := n.Decode(&v); err == nil {
				switch x := v.(type) {
				case int:
					return strconv.AppendInt(out, int64(x), 10), nil
				case int64:
					return strconv.AppendInt(out, x, 10), nil
				case uint64:
					return strconv.AppendUint(out, x, 10), nil
				case float64:
					if !math.IsNaN(x) && !math.IsInf(x, 0) {
						return append(out, FormatNumber(x)...), nil
					}
				}
			}
			return nil, &ValueError{Message: fmt.Sprintf("Line %d: %s is not a number JSON can hold.", n.Line, quoteShort(n.Value)), Line: n.Line}
		case "!!str", "!!timestamp":
			return appendJSONString(out, n.Value), nil
		default:
			return nil, &ValueError{Message: fmt.Sprintf("Line %d: the YAML tag %s is not supported.", n.Line, tag), Line: n.Line}
		}
	}
	return nil, &ValueError{Message: "The value could not be read."}
}
