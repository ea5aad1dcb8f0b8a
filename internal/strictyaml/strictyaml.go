// Package strictyaml decodes YAML into Go types and reports every unknown
// field and wrong type with its path, not only the first: lab and profile
// authors fix all their typos in one run. ProblemList renders such a run's
// problems, for labs and profiles alike.
package strictyaml

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
	"sigs.k8s.io/yaml"
)

// Problem is one decode error at a field path ("" for the whole file).
type Problem struct {
	Path, Msg string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// ProblemList formats a multierror as one "  - " line per error under
// heading, which is given the count ("invalid lab data, 2 problems"): lab
// and profile authors read every problem of a run in one list.
func ProblemList(heading func(n int) string) multierror.ErrorFormatFunc {
	return func(errs []error) string {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = "  - " + e.Error()
		}
		return heading(len(errs)) + ":\n" + strings.Join(lines, "\n")
	}
}

// Decode decodes YAML into out as far as it can and reports every
// field that out's type does not know and every value of the wrong type,
// each with its path (e.g. "steps[1].checks[0].conectivity"). The JSON
// decoder's own strict mode stops at the first unknown field, and its type
// errors name only the first and no index: useless for a lab author with
// several typos. decoded is false when the YAML could not be parsed at all,
// so out holds nothing worth validating.
func Decode(data []byte, out any) (problems []Problem, decoded bool) {
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return []Problem{{Msg: fmt.Sprintf("not valid YAML: %v", err)}}, false
	}
	walk("", generic, reflect.TypeOf(out).Elem(), &problems)
	// Fields of the wrong type are left zero; the rest is decoded. Its
	// error repeats the walk's first type problem, so it is only reported
	// when the walk found none (a case it does not model).
	if err := yaml.Unmarshal(data, out); err != nil && !hasTypeProblem(problems) {
		problems = append(problems, Problem{Msg: cleanJSONError(err)})
	}
	return problems, true
}

const wrongType = "wrong type"

func hasTypeProblem(ps []Problem) bool {
	for _, p := range ps {
		if strings.HasPrefix(p.Msg, wrongType) {
			return true
		}
	}
	return false
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walk checks v (decoded YAML, i.e. JSON values) against the Go type t.
func walk(path string, v any, t reflect.Type, ps *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || reflect.PointerTo(t).Implements(unmarshalerType) {
		return // null leaves the zero value; custom decoders judge themselves
	}
	bad := func(want string) {
		*ps = append(*ps, Problem{path, fmt.Sprintf("%s (%s, want %s)", wrongType, yamlKind(v), want)})
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			bad("a mapping")
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, known := fields[k]
			p := join(path, k)
			if !known {
				*ps = append(*ps, Problem{p, fmt.Sprintf("unknown field (known: %s)", strings.Join(sortedKeys(fields), ", "))})
				continue
			}
			walk(p, m[k], ft, ps)
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			bad("a list")
			return
		}
		for i, e := range list {
			walk(fmt.Sprintf("%s[%d]", path, i), e, t.Elem(), ps)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			bad("a mapping")
			return
		}
		for k, e := range m {
			walk(join(path, k), e, t.Elem(), ps)
		}
	case reflect.String:
		switch v.(type) {
		case string, float64:
			// A number is taken as its text (equals: 1000).
		case bool:
			// The decoder would store "true"/"false" without a word: YAML
			// reads unquoted y, n, yes, no, on, off as booleans.
			*ps = append(*ps, Problem{path, fmt.Sprintf("%s where text is wanted (YAML reads unquoted y, n, yes, no, on, off, true and false as booleans); quote the value", yamlKind(v))})
		default:
			bad("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			bad("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			bad("a whole number")
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(float64); !ok {
			bad("a number")
		}
	}
}

// yamlKind names what a YAML value is, for type errors.
func yamlKind(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", clip(x, 40))
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case float64:
		return fmt.Sprintf("number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			// encoding/json promotes an untagged embedded struct's fields.
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// cleanJSONError turns encoding/json's type error into "field: problem".
func cleanJSONError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error unmarshaling JSON: while decoding JSON: ")
	s = strings.TrimPrefix(s, "error unmarshaling JSON: ")
	// "json: cannot unmarshal string into Go struct field Lab.steps.minutes of type int"
	if i := strings.Index(s, "Go struct field "); i >= 0 {
		rest := s[i+len("Go struct field "):]
		field, typ, _ := strings.Cut(rest, " of type ")
		if dot := strings.Index(field, "."); dot >= 0 {
			field = field[dot+1:]
		}
		what := strings.TrimPrefix(s[:i], "json: ")
		what = strings.TrimSuffix(strings.TrimSpace(what), " into")
		return fmt.Sprintf("%s: wrong type (%s, want %s)", field, what, typ)
	}
	return s
}
