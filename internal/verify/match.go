package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
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
}

// matchObject compares want (from lab YAML) with got (from the API server,
// unstructured JSON) as a partial match: maps match key by key and extra
// keys in got are fine; lists match element-wise and must have the same
// length; scalars must be equal, with numbers compared by value whatever
// their Go type (YAML gives int, JSON float64 or int64).
func matchObject(want map[string]any, got map[string]any) []difference {
	var d []difference
	compare("", normalize(want), got, true, &d)
	return d
}

func compare(path string, want, got any, present bool, out *[]difference) {
	add := func(w, g string) { *out = append(*out, difference{path, w, g}) }
	if !present {
		if want != nil { // `field: null` in the lab means "must not be set"
			add(render(want), missing)
		}
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			add(render(want), render(got))
			return
		}
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			compare(fieldPath(path, k), w[k], gv, ok, out)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			add(render(want), render(got))
			return
		}
		if len(g) != len(w) {
			// Element diffs would be misleading when an item is missing or
			// extra: show both lists with their lengths instead.
			add(render(w)+" ("+plural(len(w), "item")+")", render(g)+" ("+plural(len(g), "item")+")")
			return
		}
		for i := range w {
			compare(indexPath(path, i), w[i], g[i], true, out)
		}
	default:
		if !scalarEqual(want, got) {
			add(render(want), render(got))
		}
	}
}

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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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

// flatten lists the leaves of want as "path: value" for a check's default
// name, e.g. {status.readyReplicas: 1}.
func flatten(want map[string]any) string {
	var parts []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch t := v.(type) {
		case map[string]any:
			if len(t) == 0 {
				parts = append(parts, path+": {}")
			}
			for _, k := range sortedKeys(t) {
				walk(fieldPath(path, k), t[k])
			}
		case []any:
			if len(t) == 0 {
				parts = append(parts, path+": []")
			}
			for i, e := range t {
				walk(indexPath(path, i), e)
			}
		case string:
			if plainKey(t) {
				parts = append(parts, path+": "+t)
			} else {
				parts = append(parts, path+": "+render(t))
			}
		default:
			parts = append(parts, path+": "+render(t))
		}
	}
	walk("", normalize(want))
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return "{" + clip(s, 80) + "}"
}
