package catalog

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// decodeStrict decodes YAML into out and reports every field that out's type
// does not know, each with its path (e.g. "steps[1].checks[0].conectivity").
// The JSON decoder's own strict mode stops at the first unknown field and
// names no path, which is useless for a lab author with several typos.
func decodeStrict(data []byte, out any) []string {
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return []string{fmt.Sprintf("not valid YAML: %v", err)}
	}
	var errs []string
	unknownFields("", generic, reflect.TypeOf(out).Elem(), &errs)
	if err := yaml.Unmarshal(data, out); err != nil {
		errs = append(errs, cleanJSONError(err))
	}
	return errs
}

// unknownFields walks v (decoded YAML) alongside the Go type t.
func unknownFields(path string, v any, t reflect.Type, errs *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return // type errors are reported by the real decode
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
				*errs = append(*errs, fmt.Sprintf("%s: unknown field (known: %s)", p, strings.Join(sortedKeys(fields), ", ")))
				continue
			}
			unknownFields(p, m[k], ft, errs)
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range list {
			unknownFields(fmt.Sprintf("%s[%d]", path, i), e, t.Elem(), errs)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, e := range m {
			unknownFields(join(path, k), e, t.Elem(), errs)
		}
	}
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
