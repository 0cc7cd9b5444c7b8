package schema

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Violation is one way a value breaks its schema.
type Violation struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending place in the
	// value: "" for the value itself, "/pool/size" for a member. For
	// "required" and "dependentRequired" it points at the missing property,
	// for "additionalProperties" and "propertyNames" at the property that is
	// not allowed.
	Pointer string
	// Rule is the keyword that failed: "type", "minimum", "required",
	// "pattern", "additionalProperties", "enum", "format", ... ("false" where
	// the schema is the boolean false, which allows nothing).
	Rule string
	// Message is an English sentence.
	Message string
}

// String renders the violation as "<pointer>: <rule>: <message>", or
// "<rule>: <message>" for the value itself.
func (v Violation) String() string {
	if v.Pointer == "" {
		return v.Rule + ": " + v.Message
	}
	return v.Pointer + ": " + v.Rule + ": " + v.Message
}

// flatten turns the library's error tree into sorted, unique violations.
func flatten(root *jsonschema.ValidationError) []Violation {
	var out []Violation
	collect(root, &out, false)
	sortViolations(out)
	return slices.Compact(out)
}

// sortViolations orders by pointer, then rule, then message.
func sortViolations(vs []Violation) {
	slices.SortFunc(vs, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Pointer, b.Pointer), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Message, b.Message))
	})
}

// collect appends the violations of e and its causes. brief leaves out the
// reasons of nested alternatives, which would otherwise grow exponentially.
func collect(e *jsonschema.ValidationError, out *[]Violation, brief bool) {
	ptr := pointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		// Containers: every cause must hold, so each is a violation.
		if len(e.Causes) == 0 {
			*out = append(*out, Violation{Pointer: ptr, Rule: rule(e.ErrorKind), Message: "The value does not match the schema."})
		}
		for _, c := range e.Causes {
			collect(c, out, brief)
		}
	case *kind.AnyOf:
		*out = append(*out, Violation{Pointer: ptr, Rule: "anyOf", Message: alternatives("at least one", ptr, e.Causes, brief)})
	case *kind.OneOf:
		if len(k.Subschemas) >= 2 {
			*out = append(*out, Violation{Pointer: ptr, Rule: "oneOf", Message: fmt.Sprintf("The value matches more than one alternative (%d and %d); it must match exactly one.", k.Subschemas[0]+1, k.Subschemas[1]+1)})
		} else {
			*out = append(*out, Violation{Pointer: ptr, Rule: "oneOf", Message: alternatives("exactly one", ptr, e.Causes, brief)})
		}
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, Violation{Pointer: child(ptr, name), Rule: "required", Message: fmt.Sprintf("The property %q is required.", name)})
		}
	case *kind.DependentRequired:
		for _, name := range k.Missing {
			*out = append(*out, Violation{Pointer: child(ptr, name), Rule: "dependentRequired", Message: fmt.Sprintf("The property %q is required when %q is present.", name, k.Prop)})
		}
	case *kind.Dependency:
		for _, name := range k.Missing {
			*out = append(*out, Violation{Pointer: child(ptr, name), Rule: "dependencies", Message: fmt.Sprintf("The property %q is required when %q is present.", name, k.Prop)})
		}
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			*out = append(*out, Violation{Pointer: child(ptr, name), Rule: "additionalProperties", Message: fmt.Sprintf("The property %q is not allowed.", name)})
		}
	case *kind.PropertyNames:
		// Property names are keys, not values: quoting them is safe.
		msg := fmt.Sprintf("The property name %q is not allowed.", k.Property)
		var reasons []Violation
		for _, c := range e.Causes {
			collect(c, &reasons, true)
		}
		if len(reasons) > 0 {
			sortViolations(reasons)
			msg = fmt.Sprintf("The property name %q is not allowed: %s", k.Property, lowerFirst(reasons[0].Message))
		}
		*out = append(*out, Violation{Pointer: child(ptr, k.Property), Rule: "propertyNames", Message: msg})
	default:
		*out = append(*out, Violation{Pointer: ptr, Rule: rule(e.ErrorKind), Message: message(e.ErrorKind)})
	}
}

// alternatives describes an anyOf/oneOf where nothing matched, with the
// first reason each alternative failed (unless brief).
func alternatives(how, ptr string, causes []*jsonschema.ValidationError, brief bool) string {
	msg := fmt.Sprintf("The value must match %s of the allowed alternatives, but it matches none", how)
	if brief {
		return msg + "."
	}
	const show = 4
	var reasons []string
	for i, c := range causes {
		if i == show {
			reasons = append(reasons, "…")
			break
		}
		var vs []Violation
		collect(c, &vs, true)
		if len(vs) == 0 {
			continue
		}
		sortViolations(vs)
		r := lowerFirst(strings.TrimSuffix(vs[0].Message, "."))
		if vs[0].Pointer != ptr {
			r = "at " + vs[0].Pointer + ": " + r
		}
		reasons = append(reasons, fmt.Sprintf("%d: %s", i+1, r))
	}
	if len(reasons) == 0 {
		return msg + "."
	}
	return msg + " (" + strings.Join(reasons, "; ") + ")."
}

// rule names the keyword of an error kind.
func rule(k jsonschema.ErrorKind) string {
	switch k.(type) {
	case *kind.FalseSchema:
		return "false"
	case *kind.Not:
		return "not"
	case *kind.InvalidJsonValue:
		return "type"
	case *kind.RefCycle:
		return "$ref"
	}
	if p := k.KeywordPath(); len(p) > 0 {
		return p[0]
	}
	return "schema"
}

// message is the sentence for a leaf error. It never quotes a string from
// the value.
func message(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		return fmt.Sprintf("The value must be %s, but it is %s.", strings.Join(want, " or "), article(k.Got))
	case *kind.Enum:
		return fmt.Sprintf("The value must be %s.", oneOf(k.Want))
	case *kind.Const:
		return fmt.Sprintf("The value must be %s.", display(k.Want))
	case *kind.Format:
		return formatMessage(k)
	case *kind.Minimum:
		return fmt.Sprintf("The value must be at least %s, but it is %s.", rat(k.Want), rat(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("The value must be at most %s, but it is %s.", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("The value must be greater than %s, but it is %s.", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("The value must be less than %s, but it is %s.", rat(k.Want), rat(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("The value must be a multiple of %s, but it is %s.", rat(k.Want), rat(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("The text must be at least %s long, but it has %d.", plural(k.Want, "character"), k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("The text must be at most %s long, but it has %d.", plural(k.Want, "character"), k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("The text must match the pattern %s.", k.Want)
	case *kind.MinProperties:
		return fmt.Sprintf("The object must have at least %s, but it has %d.", plural(k.Want, "property"), k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("The object must have at most %s, but it has %d.", plural(k.Want, "property"), k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("The list must have at least %s, but it has %d.", plural(k.Want, "item"), k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("The list must have at most %s, but it has %d.", plural(k.Want, "item"), k.Got)
	case *kind.AdditionalItems:
		return fmt.Sprintf("The list has %s more than allowed.", plural(k.Count, "item"))
	case *kind.UniqueItems:
		return fmt.Sprintf("The items must be unique, but items %d and %d are equal.", k.Duplicates[0], k.Duplicates[1])
	case *kind.Contains:
		return "The list must contain an item that matches the \"contains\" schema."
	case *kind.MinContains:
		return fmt.Sprintf("The list must contain at least %s matching the \"contains\" schema, but it has %d.", plural(k.Want, "item"), len(k.Got))
	case *kind.MaxContains:
		return fmt.Sprintf("The list must contain at most %s matching the \"contains\" schema, but it has %d.", plural(k.Want, "item"), len(k.Got))
	case *kind.Not:
		return "The value must not match the schema under \"not\"."
	case *kind.FalseSchema:
		return "No value is allowed here."
	case *kind.ContentEncoding:
		return fmt.Sprintf("The text must be encoded as %s.", k.Want)
	case *kind.ContentMediaType:
		return fmt.Sprintf("The text must be of media type %s.", k.Want)
	case *kind.ContentSchema:
		return "The decoded content does not match its schema."
	case *kind.InvalidJsonValue:
		return fmt.Sprintf("The value is not a JSON value (Go type %T).", k.Value)
	case *kind.RefCycle:
		return "The schema's references form a cycle."
	}
	return "The value does not match the schema."
}

// formatNames are the nouns used for well-known formats.
var formatNames = map[string]string{
	"date-time":             "date and time (RFC 3339, e.g. 2025-01-31T12:00:00Z)",
	"date":                  "date (e.g. 2025-01-31)",
	"time":                  "time (e.g. 12:00:00Z)",
	"duration":              "duration (ISO 8601, e.g. PT30S)",
	"period":                "period (ISO 8601)",
	"email":                 "email address",
	"hostname":              "host name",
	"ipv4":                  "IPv4 address",
	"ipv6":                  "IPv6 address",
	"uri":                   "absolute URI",
	"uri-reference":         "URI reference",
	"iri":                   "absolute IRI",
	"iri-reference":         "IRI reference",
	"uri-template":          "URI template",
	"uuid":                  "UUID",
	"json-pointer":          "JSON pointer",
	"relative-json-pointer": "relative JSON pointer",
	"semver":                "semantic version",
	"regex":                 "regular expression",
}

func formatMessage(k *kind.Format) string {
	name, ok := formatNames[k.Want]
	if !ok {
		name = strconv.Quote(k.Want) + " value"
	}
	msg := "The value is not a valid " + name
	if k.Err != nil {
		reason := strip(k.Err.Error())
		// The reason is shown only when it does not repeat the value.
		if s, isStr := k.Got.(string); !isStr || s == "" || !strings.Contains(reason, s) {
			msg += ": " + reason
		}
	}
	return msg + "."
}

// pointer builds an RFC 6901 pointer from reference tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

func child(ptr, name string) string { return ptr + "/" + escape(name) }

func escape(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return "number"
	}
}

// article puts "a" or "an" before a JSON type name.
func article(t string) string {
	switch t {
	case "null":
		return "null"
	case "array", "object", "integer":
		return "an " + t
	}
	return "a " + t
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return strconv.Itoa(n) + " " + strings.TrimSuffix(noun, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// rat prints a number the way JSON writes it: integers in full up to 64
// bits, anything else as the shortest float64 text ("0.5", "1e+300").
func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() && r.Num().BitLen() <= 64 {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// oneOf lists allowed values: "5", "5 or 6", "one of 5, 6, 7".
func oneOf(vals []any) string {
	const show = 10
	parts := make([]string, 0, min(len(vals), show+1))
	for i, v := range vals {
		if i == show {
			parts = append(parts, fmt.Sprintf("… (%d in all)", len(vals)))
			break
		}
		parts = append(parts, display(v))
	}
	switch len(parts) {
	case 0:
		return "one of an empty list (nothing is allowed)"
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " or " + parts[1]
	}
	return "one of " + strings.Join(parts, ", ")
}

// display renders a schema value (never an instance value) as short JSON.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const maxRunes = 80
	if r := []rune(string(b)); len(r) > maxRunes {
		return string(r[:maxRunes]) + "…"
	}
	return string(b)
}
