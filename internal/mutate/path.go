package mutate

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// path addresses a value inside an object: string keys and int indices.
type path []any

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// String is the dotted form used in mutant ids: spec.ingress[0].from, and
// metadata.labels["app.kubernetes.io/name"] for keys that need quoting.
func (p path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(s) + "]")
		case string:
			if !plainKey.MatchString(s) {
				b.WriteString("[" + strconv.Quote(s) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

func (p path) child(s any) path {
	return append(append(path(nil), p...), s)
}

func (p path) last() any {
	if len(p) == 0 {
		return nil
	}
	return p[len(p)-1]
}

// lookup returns the value at p.
func lookup(v any, p path) (any, bool) {
	for _, s := range p {
		switch s := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s]; !ok {
				return nil, false
			}
		case int:
			l, ok := v.([]any)
			if !ok || s < 0 || s >= len(l) {
				return nil, false
			}
			v = l[s]
		}
	}
	return v, true
}

// set replaces the value at p, whose parent must exist; a missing last key
// is added.
func set(obj map[string]any, p path, val any) bool {
	parent, ok := lookup(obj, p[:len(p)-1])
	if !ok {
		return false
	}
	switch s := p.last().(type) {
	case string:
		m, ok := parent.(map[string]any)
		if !ok {
			return false
		}
		m[s] = val
		return true
	case int:
		l, ok := parent.([]any)
		if !ok || s < 0 || s >= len(l) {
			return false
		}
		l[s] = val
		return true
	}
	return false
}

// remove deletes the key or list element at p.
func remove(obj map[string]any, p path) bool {
	parent, ok := lookup(obj, p[:len(p)-1])
	if !ok {
		return false
	}
	switch s := p.last().(type) {
	case string:
		m, ok := parent.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m[s]; !ok {
			return false
		}
		delete(m, s)
		return true
	case int:
		l, ok := parent.([]any)
		if !ok || s < 0 || s >= len(l) {
			return false
		}
		return set(obj, p[:len(p)-1], append(append([]any{}, l[:s]...), l[s+1:]...))
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// walk calls fn for every value under v (v itself included), maps in key
// order and lists in index order, so the result is deterministic.
func walk(v any, p path, fn func(p path, v any)) {
	fn(p, v)
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			walk(t[k], p.child(k), fn)
		}
	case []any:
		for i, e := range t {
			walk(e, p.child(i), fn)
		}
	}
}

// isLeaf: a scalar, or an empty map or list (removing it changes something
// the solution wrote; its parent is not a leaf).
func isLeaf(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return true
}
