// Package mutate derives mutants from a lab's solution objects: copies that
// each get one thing wrong the way a learner might (a dropped field, a
// wrong label, the wrong namespace, a selector that matches everything, an
// allow-all rule, ingress and egress swapped). The self-test applies each
// in place of the original; one that passes every check of its step shows
// a gap in the lab's checks. Pure functions: no cluster access.
package mutate

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Operator names one kind of mutation; it is part of the mutant id.
type Operator string

// The operators, in the order their mutants are generated for an object.
const (
	ChangeNamespace Operator = "change-namespace"
	WidenSelector   Operator = "widen-selector"
	AddAllowAll     Operator = "add-allow-all"
	SwapDirection   Operator = "swap-direction"
	ChangeLabel     Operator = "change-label"
	DropField       Operator = "drop-field"
)

// Mutant is one object of a solution file, mutated.
type Mutant struct {
	// ID is stable across runs and names file, object, operator and path:
	// 02-deny-all.yaml#NetworkPolicy/deny-all:widen-selector:spec.podSelector
	// (change-namespace adds "=<namespace>").
	ID          string   `json:"id"`
	Operator    Operator `json:"operator"`
	Path        string   `json:"path"`
	Description string   `json:"description"`
	// Index is the position of the mutated object among the file's objects.
	Index int `json:"-"`
	// Object replaces objs[Index] when the mutant is applied.
	Object *unstructured.Unstructured `json:"-"`
}

// Options carry what the objects cannot tell.
type Options struct {
	// Namespaces are the lab's own namespaces: besides "default", objects
	// are moved to each of them (the namespace a learner might confuse).
	Namespaces []string
}

// LabelSuffix is appended to a label value to change it: still a valid
// label value, and matching nothing the solution created.
const LabelSuffix = "-mutant"

// dropRoots are the top-level fields whose leaves drop-field removes: what
// the learner writes (spec, a Secret's or ConfigMap's data, an RBAC
// object's rules, subjects and roleRef, which sit at the top level).
// apiVersion, kind and metadata.name are never touched: without them there
// is no object to compare.
var dropRoots = []string{"spec", "data", "stringData", "rules", "subjects", "roleRef"}

// selectorKeys hold label selectors (Service spec.selector is a plain map).
var selectorKeys = map[string]bool{"podSelector": true, "namespaceSelector": true, "selector": true}

// candidate is one mutation before it is checked to change something.
type candidate struct {
	op     Operator
	path   path
	target string // change-namespace: the new namespace
	desc   string
	apply  func(obj map[string]any) bool
}

// Generate returns the mutants of objs, the objects of one file (file is
// the name used in ids). Order is deterministic: objects in file order,
// then operators in the order above, then paths in key order. A mutation
// that leaves the object unchanged, or repeats an earlier mutant of the
// same object, is not produced.
func Generate(file string, objs []*unstructured.Unstructured, opts Options) []Mutant {
	var out []Mutant
	for i, o := range objs {
		prefix := file + "#" + objectKey(objs, i)
		var seen []map[string]any
		for _, c := range candidates(o, opts) {
			m := o.DeepCopy()
			if !c.apply(m.Object) || reflect.DeepEqual(m.Object, o.Object) || containsObject(seen, m.Object) {
				continue
			}
			seen = append(seen, m.Object)
			id := fmt.Sprintf("%s:%s:%s", prefix, c.op, c.path)
			if c.target != "" {
				id += "=" + c.target
			}
			out = append(out, Mutant{ID: id, Operator: c.op, Path: c.path.String(), Description: c.desc, Index: i, Object: m})
		}
	}
	return out
}

// objectKey is Kind/name, with the namespace (and if need be the position)
// added when that alone is ambiguous within the file.
func objectKey(objs []*unstructured.Unstructured, i int) string {
	o := objs[i]
	key := func(u *unstructured.Unstructured) string { return u.GetKind() + "/" + u.GetName() }
	nsKey := func(u *unstructured.Unstructured) string {
		return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
	}
	same := func(k func(*unstructured.Unstructured) string) int {
		n := 0
		for _, x := range objs {
			if k(x) == k(o) {
				n++
			}
		}
		return n
	}
	switch {
	case same(key) == 1:
		return key(o)
	case same(nsKey) == 1:
		return nsKey(o)
	}
	return fmt.Sprintf("%s@%d", nsKey(o), i)
}

func containsObject(list []map[string]any, obj map[string]any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, obj) {
			return true
		}
	}
	return false
}

func candidates(o *unstructured.Unstructured, opts Options) []candidate {
	var cs []candidate
	cs = append(cs, namespaceCandidates(o, opts)...)
	cs = append(cs, widenCandidates(o)...)
	if isNetworkPolicy(o) {
		cs = append(cs, allowAllCandidates(o)...)
		cs = append(cs, swapCandidate())
	}
	cs = append(cs, labelCandidates(o)...)
	cs = append(cs, dropCandidates(o)...)
	return cs
}

func isNetworkPolicy(o *unstructured.Unstructured) bool {
	return o.GetKind() == "NetworkPolicy" && strings.HasPrefix(o.GetAPIVersion(), "networking.k8s.io/")
}

// namespaceCandidates move a namespaced object (one whose manifest names
// its namespace; without cluster access the scope of other kinds is
// unknown) to "default" and to the lab's other namespaces.
func namespaceCandidates(o *unstructured.Unstructured, opts Options) []candidate {
	ns := o.GetNamespace()
	if ns == "" {
		return nil
	}
	var cs []candidate
	done := map[string]bool{ns: true}
	for _, target := range append([]string{"default"}, opts.Namespaces...) {
		if done[target] {
			continue
		}
		done[target] = true
		cs = append(cs, candidate{
			op: ChangeNamespace, path: path{"metadata", "namespace"}, target: target,
			desc:  fmt.Sprintf("created in namespace %s instead of %s", target, ns),
			apply: func(obj map[string]any) bool { return set(obj, path{"metadata", "namespace"}, target) },
		})
	}
	return cs
}

// widenCandidates empty every label selector under spec: a selector key
// holding a map, or any map holding matchLabels/matchExpressions.
func widenCandidates(o *unstructured.Unstructured) []candidate {
	spec, ok := o.Object["spec"]
	if !ok {
		return nil
	}
	var cs []candidate
	walk(spec, path{"spec"}, func(p path, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			return
		}
		key, _ := p.last().(string)
		_, hasLabels := m["matchLabels"]
		_, hasExprs := m["matchExpressions"]
		if !selectorKeys[key] && !hasLabels && !hasExprs {
			return
		}
		desc := p.String() + " widened to {} (selects everything)"
		if o.GetKind() == "Service" && p.String() == "spec.selector" {
			desc = "spec.selector emptied: the Service selects no pods"
		}
		cs = append(cs, candidate{
			op: WidenSelector, path: p, desc: desc,
			apply: func(obj map[string]any) bool { return set(obj, p, map[string]any{}) },
		})
	})
	return cs
}

// direction is "Ingress" or "Egress"; its rules live under the lower-case
// key, and a rule names its peers under from (ingress) or to (egress).
var directions = []struct{ policyType, key, peers string }{
	{"Ingress", "ingress", "from"},
	{"Egress", "egress", "to"},
}

// allowAllCandidates append an empty rule, which allows all traffic, to
// each direction the policy governs (a rule in a direction missing from
// policyTypes would be ignored, so it would test nothing).
func allowAllCandidates(o *unstructured.Unstructured) []candidate {
	spec, ok := o.Object["spec"].(map[string]any)
	if !ok {
		return nil
	}
	var cs []candidate
	for _, d := range directions {
		if !governs(spec, d.policyType, d.key) {
			continue
		}
		rules, exists := spec[d.key]
		list, isList := rules.([]any)
		if exists && !isList {
			continue
		}
		if hasEmptyRule(list) {
			continue // already allows everything
		}
		p := path{"spec", d.key}
		cs = append(cs, candidate{
			op: AddAllowAll, path: p, desc: fmt.Sprintf("an allow-all rule {} added to %s", p),
			apply: func(obj map[string]any) bool {
				cur, _ := lookup(obj, p)
				l, _ := cur.([]any)
				return set(obj, p, append(append([]any{}, l...), map[string]any{}))
			},
		})
	}
	return cs
}

// governs tells whether the policy applies to a direction: as listed in
// policyTypes, or when that is unset, ingress always and egress when it
// has egress rules (the API's defaulting).
func governs(spec map[string]any, policyType, key string) bool {
	if types, ok := spec["policyTypes"].([]any); ok {
		for _, t := range types {
			if t == policyType {
				return true
			}
		}
		return false
	}
	if policyType == "Ingress" {
		return true
	}
	_, ok := spec[key]
	return ok
}

func hasEmptyRule(rules []any) bool {
	for _, r := range rules {
		if m, ok := r.(map[string]any); ok && len(m) == 0 {
			return true
		}
	}
	return false
}

// swapCandidate turns ingress into egress and back: policyTypes values,
// the rule lists, and inside each rule from/to (an egress rule with a
// from would not be a valid object, so it would test nothing).
func swapCandidate() candidate {
	return candidate{
		op: SwapDirection, path: path{"spec"},
		desc: "Ingress and Egress swapped (policyTypes, rules, from/to)",
		apply: func(obj map[string]any) bool {
			spec, ok := obj["spec"].(map[string]any)
			if !ok {
				return false
			}
			if types, ok := spec["policyTypes"].([]any); ok {
				swapped := make([]any, len(types))
				for i, t := range types {
					switch t {
					case "Ingress":
						swapped[i] = "Egress"
					case "Egress":
						swapped[i] = "Ingress"
					default:
						swapped[i] = t
					}
				}
				spec["policyTypes"] = swapped
			}
			in, hasIn := spec["ingress"]
			eg, hasEg := spec["egress"]
			delete(spec, "ingress")
			delete(spec, "egress")
			if hasIn {
				spec["egress"] = renamePeers(in, "from", "to")
			}
			if hasEg {
				spec["ingress"] = renamePeers(eg, "to", "from")
			}
			return true
		},
	}
}

func renamePeers(rules any, from, to string) any {
	list, ok := rules.([]any)
	if !ok {
		return rules
	}
	out := make([]any, len(list))
	for i, r := range list {
		m, ok := r.(map[string]any)
		if !ok {
			out[i] = r
			continue
		}
		n := map[string]any{}
		for k, v := range m {
			if k == from {
				k = to
			}
			n[k] = v
		}
		out[i] = n
	}
	return out
}

// labelCandidates change one label value: the object's own labels, pod
// template labels, every matchLabels entry, and a Service's selector.
func labelCandidates(o *unstructured.Unstructured) []candidate {
	var maps []path
	if _, ok := labelsOf(o); ok {
		maps = append(maps, path{"metadata", "labels"})
	}
	if spec, ok := o.Object["spec"]; ok {
		walk(spec, path{"spec"}, func(p path, v any) {
			if _, ok := v.(map[string]any); !ok {
				return
			}
			key, _ := p.last().(string)
			isTemplateLabels := key == "labels" && len(p) >= 2 && p[len(p)-2] == "metadata"
			isServiceSelector := o.GetKind() == "Service" && p.String() == "spec.selector"
			if key == "matchLabels" || isTemplateLabels || isServiceSelector {
				maps = append(maps, p)
			}
		})
	}
	var cs []candidate
	for _, mp := range maps {
		m, _ := lookup(o.Object, mp)
		labels := m.(map[string]any)
		for _, k := range sortedKeys(labels) {
			v, ok := labels[k].(string)
			if !ok {
				continue
			}
			nv := changedLabel(v)
			p := mp.child(k)
			cs = append(cs, candidate{
				op: ChangeLabel, path: p,
				desc:  fmt.Sprintf("label %s at %s changed from %q to %q", k, mp, v, nv),
				apply: func(obj map[string]any) bool { return set(obj, p, nv) },
			})
		}
	}
	return cs
}

// changedLabel is v with LabelSuffix, cut to the 63 characters a label
// value may have.
func changedLabel(v string) string {
	if v == "" {
		return strings.TrimPrefix(LabelSuffix, "-")
	}
	if len(v)+len(LabelSuffix) > 63 {
		v = strings.TrimRight(v[:63-len(LabelSuffix)], "-_.")
	}
	return v + LabelSuffix
}

// dropCandidates remove one leaf under spec/data/stringData, or one entry
// of the object's labels.
func dropCandidates(o *unstructured.Unstructured) []candidate {
	var leaves []path
	if labels, ok := labelsOf(o); ok {
		for _, k := range sortedKeys(labels) {
			leaves = append(leaves, path{"metadata", "labels", k})
		}
	}
	for _, root := range dropRoots {
		v, ok := o.Object[root]
		if !ok || isLeaf(v) {
			continue // a root that is a leaf would be the whole field, not one value in it
		}
		walk(v, path{root}, func(p path, v any) {
			if len(p) > 1 && isLeaf(v) {
				leaves = append(leaves, p)
			}
		})
	}
	var cs []candidate
	for _, p := range leaves {
		cs = append(cs, candidate{
			op: DropField, path: p, desc: p.String() + " removed",
			apply: func(obj map[string]any) bool { return remove(obj, p) },
		})
	}
	return cs
}

func labelsOf(o *unstructured.Unstructured) (map[string]any, bool) {
	v, _ := lookup(o.Object, path{"metadata", "labels"})
	m, ok := v.(map[string]any)
	return m, ok
}
