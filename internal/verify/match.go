package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// missing is what Found shows for a field the object does not have.
const missing = "<missing>"

// maxDiffs bounds how many differing fields one result lists; past that the
// learner has more than a typo to fix and the list would only scroll away.
const maxDiffs = 5

// difference is one field where the object does not match the lab.
type difference struct {
	path      string
	want, got string // rendered
	// rel is how the field must relate to want ("=" when empty, ">=",
	// "contains", ...), so Expected reads "status.readyReplicas >= 1".
	rel string
	// alts, for $or, are the differences of each alternative; none
	// matched, so expected and found list them all.
	alts [][]difference
}

func (d difference) expected() string {
	if d.alts != nil {
		// Nested alternatives can ask the same of a field twice (the pod's
		// setting or the container's): each is said once.
		var parts []string
		seen := map[string]bool{}
		for _, part := range d.alternatives() {
			if !seen[part] {
				seen[part] = true
				parts = append(parts, part)
			}
		}
		if len(parts) == 1 {
			return strings.TrimSuffix(strings.TrimPrefix(parts[0], "("), ")")
		}
		return strings.Join(parts, " or ")
	}
	rel := d.rel
	if rel == "" {
		rel = "="
	}
	return d.path + " " + rel + " " + d.want
}

func (d difference) found() string {
	if d.alts != nil {
		// Alternatives often look at the same field: say it once.
		var parts []string
		seen := map[string]bool{}
		for _, f := range d.leafFounds() {
			if !seen[f] {
				seen[f] = true
				parts = append(parts, f)
			}
		}
		return strings.Join(parts, "; ")
	}
	return d.path + " = " + d.got
}

// alternatives renders each way d could have matched; an alternative that
// is itself only alternatives is spliced in (a or (b or c) is a, b, c).
func (d difference) alternatives() []string {
	var out []string
	for _, alt := range d.alts {
		if len(alt) == 1 && alt[0].alts != nil {
			out = append(out, alt[0].alternatives()...)
			continue
		}
		each := make([]string, len(alt))
		for j, a := range alt {
			each[j] = a.expected()
		}
		part := strings.Join(each, " and ")
		if len(alt) > 1 {
			part = "(" + part + ")"
		}
		out = append(out, part)
	}
	return out
}

// leafFounds lists what was found at each field the alternatives (and
// theirs, nested) looked at.
func (d difference) leafFounds() []string {
	if d.alts == nil {
		return []string{d.path + " = " + d.got}
	}
	var out []string
	for _, alt := range d.alts {
		for _, a := range alt {
			out = append(out, a.leafFounds()...)
		}
	}
	return out
}

// A `match` tree from a lab file is compiled once into patterns, so a typo in
// an operator is a load-time error rather than a check that can never pass.
//
// Plain values keep their literal meaning: maps match key by key (extra keys
// in the object are fine), lists element-wise in order with the same length,
// scalars by value (numbers whatever their Go type: YAML gives int or
// float64, JSON int64 or float64), and `field: null` means "not set". A map
// whose keys all start with '$' is a set of operators (see matchops.go) that
// must all hold for the field.
type pattern interface {
	matcher
	// String is the pattern as a lab author writes it: {port: 80}, {$gte: 1}.
	String() string
}

type matcher interface {
	// match appends how got differs; present is false for a missing field.
	match(path string, got any, present bool, out *[]difference)
	// expect says what match wants, as rel and want of a difference.
	expect() (rel, want string)
}

// compiled is the pattern of a check's match plus what is wrong with it.
type compiled struct {
	root pattern
	errs []string // "object.match.spec.x.$gte: want a number, ..."
}

// compileMatch compiles want; vpath prefixes error paths (e.g. "object.match").
// It always returns a usable pattern, so an invalid check can still be named.
func compileMatch(vpath string, want map[string]any) compiled {
	var c compiled
	n := normalize(want)
	if m, _ := n.(map[string]any); len(m) > 0 && isOperatorMap(m) {
		c.errs = append(c.errs, vpath+": operators apply to a field; put them under one (e.g. status: {readyReplicas: {$gte: 1}})")
	}
	c.root = compile(vpath, n, &c.errs)
	return c
}

// matches reports whether got satisfies p.
func matches(p matcher, got any) bool {
	var d []difference
	p.match("", got, true, &d)
	return len(d) == 0
}

// matchObject compares want (from lab YAML) with got (from the API server,
// unstructured JSON) as a partial match.
func matchObject(want map[string]any, got map[string]any) []difference {
	var d []difference
	compileMatch("match", want).root.match("", got, true, &d)
	return d
}

// compile turns a normalized value into a pattern, reporting problems at
// vpath (the path in the lab file).
func compile(vpath string, v any, errs *[]string) pattern {
	switch t := v.(type) {
	case map[string]any:
		if isOperatorMap(t) {
			return compileOperators(vpath, t, errs)
		}
		p := &mapPattern{src: t, fields: map[string]pattern{}}
		for _, k := range sortedKeys(t) {
			if strings.HasPrefix(k, "$") {
				*errs = append(*errs, vpath+"."+k+": operators cannot be mixed with fields in one map")
			}
			p.keys = append(p.keys, k)
			p.fields[k] = compile(fieldPath(vpath, k), t[k], errs)
		}
		return p
	case []any:
		p := &listPattern{src: t}
		for i, e := range t {
			p.elems = append(p.elems, compile(indexPath(vpath, i), e, errs))
		}
		return p
	}
	return valuePattern{v}
}

// isOperatorMap: a map whose keys all start with '$' is operators; compile
// reports a map that mixes them with fields.
func isOperatorMap(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

// mapPattern matches a map key by key; extra keys in the object are fine.
type mapPattern struct {
	src    map[string]any
	keys   []string
	fields map[string]pattern
}

func (p *mapPattern) match(path string, got any, present bool, out *[]difference) {
	if !present || got == nil {
		// A missing map passes when every field accepts being missing, so
		// {securityContext: {privileged: {$ne: true}}} holds for a container
		// without a securityContext; otherwise the map is what is missing.
		if len(p.keys) > 0 {
			var d []difference
			for _, k := range p.keys {
				p.fields[k].match(fieldPath(path, k), nil, false, &d)
			}
			if len(d) == 0 {
				return
			}
		}
		*out = append(*out, difference{path: path, want: p.String(), got: renderPresent(got, present)})
		return
	}
	g, ok := got.(map[string]any)
	if !ok {
		*out = append(*out, difference{path: path, want: p.String(), got: render(got)})
		return
	}
	for _, k := range p.keys {
		gv, ok := g[k]
		p.fields[k].match(fieldPath(path, k), gv, ok, out)
	}
}

func (p *mapPattern) expect() (string, string) { return "=", p.String() }

func (p *mapPattern) String() string { return render(p.src) }

// listPattern matches a list element-wise, in order, with the same length.
type listPattern struct {
	src   []any
	elems []pattern
}

func (p *listPattern) match(path string, got any, present bool, out *[]difference) {
	if !present {
		*out = append(*out, difference{path: path, want: p.String(), got: missing})
		return
	}
	g, ok := got.([]any)
	if !ok {
		*out = append(*out, difference{path: path, want: p.String(), got: render(got)})
		return
	}
	if len(g) != len(p.elems) {
		// Element diffs would be misleading when an item is missing or
		// extra: show both lists with their lengths instead.
		*out = append(*out, difference{path: path,
			want: p.String() + " (" + plural(len(p.elems), "item") + ")",
			got:  render(g) + " (" + plural(len(g), "item") + ")"})
		return
	}
	for i, e := range p.elems {
		e.match(indexPath(path, i), g[i], true, out)
	}
}

func (p *listPattern) expect() (string, string) { return "=", p.String() }

func (p *listPattern) String() string { return render(p.src) }

// valuePattern is a scalar; null means "not set".
type valuePattern struct {
	v any
}

func (p valuePattern) match(path string, got any, present bool, out *[]difference) {
	switch {
	case !present:
		if p.v != nil {
			*out = append(*out, difference{path: path, want: render(p.v), got: missing})
		}
	case !scalarEqual(p.v, got):
		*out = append(*out, difference{path: path, want: render(p.v), got: render(got)})
	}
}

func (p valuePattern) expect() (string, string) { return "=", render(p.v) }

func (p valuePattern) String() string { return render(p.v) }

// normalize turns whatever a YAML decoder produced (map[any]any from
// yaml.v2, int from yaml.v3, typed slices from Go code) into the JSON types
// unstructured objects use: map[string]any, []any, int64, float64.
func normalize(v any) any {
	switch t := v.(type) {
	case nil, string, bool, json.Number, int64, float64:
		return v
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = normalize(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = normalize(e)
		}
		return l
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[fmt.Sprint(it.Key().Interface())] = normalize(it.Value().Interface())
		}
		return m
	case reflect.Slice, reflect.Array:
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = normalize(rv.Index(i).Interface())
		}
		return l
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u)
		}
		return float64(rv.Uint())
	case reflect.Float32:
		return rv.Float()
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	}
	// Anything else (a time.Time from a YAML timestamp, a struct from Go
	// code) becomes what it would be in JSON, which is what the API server
	// holds and what unstructured objects may contain.
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprint(v)
	}
	return normalize(out)
}

// scalarEqual compares two leaf values; numbers by value, so 1 == 1.0 ==
// int64(1), but "1" (a string) is not 1.
func scalarEqual(a, b any) bool {
	an, aok := number(a)
	bn, bok := number(b)
	if aok || bok {
		return aok && bok && an == bn
	}
	return reflect.DeepEqual(a, b)
}

// numeric is a number as an exact integer when it is one, else a float.
type numeric struct {
	isInt bool
	i     int64
	f     float64
}

func number(v any) (numeric, bool) {
	var f float64
	switch n := v.(type) {
	case int:
		return numeric{isInt: true, i: int64(n)}, true
	case int8:
		return numeric{isInt: true, i: int64(n)}, true
	case int16:
		return numeric{isInt: true, i: int64(n)}, true
	case int32:
		return numeric{isInt: true, i: int64(n)}, true
	case int64:
		return numeric{isInt: true, i: n}, true
	case uint:
		return fromUint(uint64(n)), true
	case uint8:
		return fromUint(uint64(n)), true
	case uint16:
		return fromUint(uint64(n)), true
	case uint32:
		return fromUint(uint64(n)), true
	case uint64:
		return fromUint(n), true
	case float32:
		f = float64(n)
	case float64:
		f = n
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return numeric{isInt: true, i: i}, true
		}
		var err error
		if f, err = strconv.ParseFloat(string(n), 64); err != nil {
			return numeric{}, false
		}
	default:
		return numeric{}, false
	}
	// Integral floats become ints so that 1.0 == 1 compares exactly.
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return numeric{isInt: true, i: int64(f)}, true
	}
	return numeric{f: f}, true
}

func fromUint(u uint64) numeric {
	if u <= math.MaxInt64 {
		return numeric{isInt: true, i: int64(u)}
	}
	return numeric{f: float64(u)}
}

// flatten lists the leaves of want for a check's default name, e.g.
// {status.readyReplicas: 1} or {status.readyReplicas >= 1}.
func flatten(want map[string]any) string {
	var parts []string
	var walk func(path string, p pattern)
	walk = func(path string, p pattern) {
		switch t := p.(type) {
		case *mapPattern:
			if len(t.keys) == 0 {
				parts = append(parts, path+": {}")
			}
			for _, k := range t.keys {
				walk(fieldPath(path, k), t.fields[k])
			}
		case *listPattern:
			if len(t.elems) == 0 {
				parts = append(parts, path+": []")
			}
			for i, e := range t.elems {
				walk(indexPath(path, i), e)
			}
		case valuePattern:
			if s, ok := t.v.(string); ok && plainKey(s) {
				parts = append(parts, path+": "+s)
			} else {
				parts = append(parts, path+": "+render(t.v))
			}
		case srcPattern:
			for _, q := range t.parts() {
				rel, w := q.expect()
				parts = append(parts, path+" "+rel+" "+w)
			}
		}
	}
	var errs []string
	walk("", compile("", normalize(want), &errs))
	return "{" + clip(strings.Join(parts, ", "), 80) + "}"
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
