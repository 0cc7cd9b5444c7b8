package schema

import (
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// maxEvaluations bounds the work of one Validate call: how many times a
// (sub)schema may be applied to a (part of the) value. Nested anyOf/oneOf
// reached through references can make validation exponential in the size
// of the schema or the depth of the value; beyond this bound Validate
// refuses the value with a "complexity" violation instead of spending
// seconds or more. Ordinary configuration needs a few hundred.
const maxEvaluations = 1_000_000

// anchors indexes the schemas a $dynamicRef or $recursiveRef may resolve
// to at run time (the library picks one by dynamic scope).
type anchors struct {
	dynamic   map[string][]*jsonschema.Schema
	recursive []*jsonschema.Schema
}

// indexAnchors walks every schema reachable from root.
func indexAnchors(root *jsonschema.Schema) anchors {
	a := anchors{dynamic: map[string][]*jsonschema.Schema{}}
	seen := map[*jsonschema.Schema]bool{}
	stack := []*jsonschema.Schema{root}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == nil || seen[s] {
			continue
		}
		seen[s] = true
		if s.DynamicAnchor != "" {
			a.dynamic[s.DynamicAnchor] = append(a.dynamic[s.DynamicAnchor], s)
		}
		if s.RecursiveAnchor {
			a.recursive = append(a.recursive, s)
		}
		stack = appendChildren(stack, s)
	}
	return a
}

// appendChildren appends every subschema s refers to.
func appendChildren(out []*jsonschema.Schema, s *jsonschema.Schema) []*jsonschema.Schema {
	out = append(out, s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else, s.PropertyNames,
		s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema)
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	out = append(out, s.PrefixItems...)
	for _, sub := range s.Properties {
		out = append(out, sub)
	}
	for _, sub := range s.PatternProperties {
		out = append(out, sub)
	}
	for _, sub := range s.DependentSchemas {
		out = append(out, sub)
	}
	for _, d := range s.Dependencies {
		if sub, ok := d.(*jsonschema.Schema); ok {
			out = append(out, sub)
		}
	}
	for _, x := range []any{s.AdditionalProperties, s.AdditionalItems, s.Items} {
		switch x := x.(type) {
		case *jsonschema.Schema:
			out = append(out, x)
		case []*jsonschema.Schema:
			out = append(out, x...)
		}
	}
	return out
}

// coster counts, without validating, an upper bound of the evaluations the
// library performs for one value. It memoizes per (schema, place in the
// value), so it runs in time proportional to the distinct pairs, and it
// gives up once those alone exceed the bound.
type coster struct {
	anchors anchors
	memo    map[costKey]int
	busy    map[costKey]bool
	nodes   map[nodeKey]int
	states  int
	over    bool
}

type costKey struct {
	s    *jsonschema.Schema
	node int
}

// nodeKey names a place in the value: a child of parent by token, or (name
// true) the property name token itself, validated by propertyNames.
type nodeKey struct {
	parent int
	tok    string
	name   bool
}

// tooComplex reports whether validating v against s may exceed
// maxEvaluations.
func tooComplex(s *jsonschema.Schema, a anchors, v any) bool {
	c := &coster{anchors: a, memo: map[costKey]int{}, busy: map[costKey]bool{}, nodes: map[nodeKey]int{}}
	return c.cost(s, v, 0) > maxEvaluations || c.over
}

func (c *coster) node(parent int, tok string, name bool) int {
	k := nodeKey{parent, tok, name}
	id, ok := c.nodes[k]
	if !ok {
		id = len(c.nodes) + 1
		c.nodes[k] = id
	}
	return id
}

// cost returns the evaluations of s on v (at node), saturated just above
// maxEvaluations.
func (c *coster) cost(s *jsonschema.Schema, v any, node int) int {
	if s == nil || c.over {
		return 0
	}
	k := costKey{s, node}
	if n, ok := c.memo[k]; ok {
		return n
	}
	if c.busy[k] {
		return 1 // a reference cycle in place: the library stops it at once
	}
	c.states++
	if c.states > maxEvaluations {
		c.over = true
		return 0
	}
	c.busy[k] = true
	n := 1
	add := func(m int) { n = min(n+m, maxEvaluations+1) }
	if s.Bool == nil {
		// In place: the same value.
		for _, sub := range []*jsonschema.Schema{s.Ref, s.Not, s.If, s.Then, s.Else} {
			add(c.cost(sub, v, node))
		}
		for _, list := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
			for _, sub := range list {
				add(c.cost(sub, v, node))
			}
		}
		if s.RecursiveRef != nil {
			add(c.maxCost(append([]*jsonschema.Schema{s.RecursiveRef}, c.anchors.recursive...), v, node))
		}
		if s.DynamicRef != nil {
			cands := []*jsonschema.Schema{s.DynamicRef.Ref}
			if s.DynamicRef.Anchor != "" {
				cands = append(cands, c.anchors.dynamic[s.DynamicRef.Anchor]...)
			}
			add(c.maxCost(cands, v, node))
		}
		switch v := v.(type) {
		case map[string]any:
			add(c.objectCost(s, v, node))
		case []any:
			add(c.arrayCost(s, v, node))
		}
	}
	delete(c.busy, k)
	c.memo[k] = n
	return n
}

func (c *coster) maxCost(cands []*jsonschema.Schema, v any, node int) int {
	m := 0
	for _, s := range cands {
		m = max(m, c.cost(s, v, node))
	}
	return m
}

func (c *coster) objectCost(s *jsonschema.Schema, obj map[string]any, node int) int {
	n := 0
	add := func(m int) { n = min(n+m, maxEvaluations+1) }
	for key, val := range obj {
		id := c.node(node, key, false)
		add(c.cost(s.Properties[key], val, id))
		for re, sub := range s.PatternProperties {
			if re.MatchString(key) {
				add(c.cost(sub, val, id))
			}
		}
		if sub, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
			add(c.cost(sub, val, id))
		}
		add(c.cost(s.UnevaluatedProperties, val, id))
		add(c.cost(s.PropertyNames, key, c.node(node, key, true)))
		// Dependent schemas apply to the object itself.
		add(c.cost(s.DependentSchemas[key], obj, node))
		if sub, ok := s.Dependencies[key].(*jsonschema.Schema); ok {
			add(c.cost(sub, obj, node))
		}
		if n > maxEvaluations || c.over {
			break
		}
	}
	return n
}

func (c *coster) arrayCost(s *jsonschema.Schema, arr []any, node int) int {
	n := 0
	add := func(m int) { n = min(n+m, maxEvaluations+1) }
	for i, item := range arr {
		id := c.node(node, strconv.Itoa(i), false)
		if i < len(s.PrefixItems) {
			add(c.cost(s.PrefixItems[i], item, id))
		} else {
			add(c.cost(s.Items2020, item, id))
		}
		switch items := s.Items.(type) {
		case *jsonschema.Schema:
			add(c.cost(items, item, id))
		case []*jsonschema.Schema:
			if i < len(items) {
				add(c.cost(items[i], item, id))
			} else if sub, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
				add(c.cost(sub, item, id))
			}
		}
		add(c.cost(s.Contains, item, id))
		add(c.cost(s.UnevaluatedItems, item, id))
		if n > maxEvaluations || c.over {
			break
		}
	}
	return n
}
