package verify

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
)

// selectsCheck judges a selector by what it selects, not how it is written:
// matchLabels {app: nginx2} and matchExpressions [app In (nginx2)] pass
// alike, {} fails because it also selects nginx1. The selector is compared
// with the expected one on every live pod of the namespace and on label sets
// that probe the near misses (another value, a label removed, an extra
// label, no labels), so the verdict does not depend on which pods happen to
// run.
type selectsCheck struct {
	spec *SelectsSpec
}

func (c *selectsCheck) describe() string {
	s := c.spec.Ref.String() + " " + c.spec.Field + " selects exactly " + c.wantText()
	if c.spec.Namespace != "" && c.spec.Namespace != c.spec.Ref.Namespace {
		s += " in namespace " + c.spec.Namespace
	}
	return s
}

func (c *selectsCheck) wantText() string {
	if c.spec.Pods == nil || *c.spec.Pods == "" {
		return "every pod"
	}
	return *c.spec.Pods
}

// namespace is where the live pods are listed: a NetworkPolicy's or a
// Service's selector applies in its own namespace.
func (c *selectsCheck) namespace() string {
	if c.spec.Namespace != "" {
		return c.spec.Namespace
	}
	return namespaceOr(c.spec.Ref.Namespace)
}

func (c *selectsCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return *r
	}
	ref := c.spec.Ref
	obj, res := getObject(ctx, env, ref)
	if res != nil {
		return *res
	}
	if obj == nil {
		// Final, as in objectCheck: the API is synchronous.
		return final(failed(ref.String()+" exists", "not found"+namespaceHint(ctx, env, ref.Namespace)))
	}
	expected := c.describe()
	where := ref.String() + " " + c.spec.Field
	steps, err := parseFieldPath(c.spec.Field)
	if err != nil { // Validate rejects it first
		return final(errorf("bad field %q in the lab: %v", c.spec.Field, err))
	}
	v, ok := lookupField(obj.Object, steps)
	if !ok || v == nil {
		return final(failed(expected, where+" = "+missing))
	}
	have, err := selectorOf(v)
	if err != nil {
		return final(failed(expected, fmt.Sprintf("%s = %s: not a label selector (%v)", where, render(v), err)))
	}
	want, err := labels.Parse(c.wantPods())
	if err != nil { // Validate rejects it first
		return final(errorf("bad pods selector %q in the lab: %v", c.wantPods(), err))
	}

	ns := c.namespace()
	list, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return errorf("could not list pods in %s: %v", ns, err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })

	var livePro, synthPro []string
	var selected []string
	seen := map[string]bool{} // label sets already reported through a live pod
	nLive, liveWrong := 0, 0
	for _, p := range pods {
		if _, probe := p.Labels[ProbeLabel]; probe {
			continue // seclab's own probe pods, possibly from a check running alongside
		}
		nLive++
		set := labels.Set(p.Labels)
		w, h := want.Matches(set), have.Matches(set)
		if h {
			selected = append(selected, p.Name)
		}
		if w == h {
			continue
		}
		liveWrong++
		seen[set.String()] = true
		if len(livePro) < 3 {
			livePro = append(livePro, fmt.Sprintf("%s pod %s/%s (%s)", verdict(h), ns, p.Name, labelText(set)))
		}
	}
	if liveWrong > len(livePro) {
		livePro = append(livePro, fmt.Sprintf("… and %d more pods", liveWrong-len(livePro)))
	}
	synthWrong := 0
	for _, set := range probeLabelSets(want, have) {
		w, h := want.Matches(set), have.Matches(set)
		if w == h || seen[set.String()] {
			continue
		}
		synthWrong++
		if len(synthPro) < 3 {
			s := verdict(h) + " pods labeled " + labelText(set)
			if len(set) == 0 {
				s = verdict(h) + " pods labeled {} (an unlabeled pod)"
			}
			synthPro = append(synthPro, s)
		}
	}
	if synthWrong > len(synthPro) {
		synthPro = append(synthPro, fmt.Sprintf("… and %d more label sets", synthWrong-len(synthPro)))
	}

	found := where + " = " + render(v)
	if len(livePro)+len(synthPro) > 0 {
		// Final: what a selector selects cannot change by waiting.
		return final(failed(expected, strings.Join(append(append([]string{found}, livePro...), synthPro...), "\n")))
	}
	return passed(expected, found+": selects "+selectedText(selected, nLive, ns))
}

func (c *selectsCheck) wantPods() string {
	if c.spec.Pods == nil {
		return ""
	}
	return *c.spec.Pods
}

func verdict(selected bool) string {
	if selected {
		return "also selects"
	}
	return "does not select"
}

func labelText(set labels.Set) string {
	if len(set) == 0 {
		return "no labels"
	}
	return set.String()
}

func selectedText(names []string, total int, ns string) string {
	of := fmt.Sprintf("of the %s in %s", plural(total, "pod"), ns)
	switch {
	case len(names) == 0:
		return "none " + of
	case len(names) > 3:
		return fmt.Sprintf("%s and %d more (%d %s)", strings.Join(names[:3], ", "), len(names)-3, len(names), of)
	}
	return fmt.Sprintf("%s (%d %s)", strings.Join(names, ", "), len(names), of)
}

// selectorOf reads a selector the way the API server does: a LabelSelector
// ({matchLabels, matchExpressions}, as in NetworkPolicy and Deployment), a
// plain label map (Service spec.selector), or selector text (a scale
// subresource's status.selector). {} selects everything in both map forms.
func selectorOf(v any) (labels.Selector, error) {
	switch t := v.(type) {
	case string:
		return labels.Parse(t)
	case map[string]any:
		if isLabelSelector(t) {
			var ls metav1.LabelSelector
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(t, &ls); err != nil {
				return nil, err
			}
			return metav1.LabelSelectorAsSelector(&ls)
		}
		set := labels.Set{}
		for k, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("label %s has a %s value, want a string", k, jsonType(e))
			}
			set[k] = s
		}
		return labels.ValidatedSelectorFromSet(set)
	}
	return nil, fmt.Errorf("want a map or selector text, found a %s", jsonType(v))
}

func isLabelSelector(m map[string]any) bool {
	for k := range m {
		if k != "matchLabels" && k != "matchExpressions" {
			return false
		}
	}
	return len(m) > 0
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "map"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	if _, ok := number(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// probeLabelSets are the label sets on which want and have must agree
// beyond the live pods: the labels want requires, those plus an unrelated
// label, each key either selector mentions set to each value either
// mentions, to another value and removed, and no labels at all. Whether
// each should be selected is always decided by want, never assumed.
func probeLabelSets(want, have labels.Selector) []labels.Set {
	wreqs, _ := want.Requirements()
	hreqs, _ := have.Requirements()
	all := append(append(labels.Requirements{}, wreqs...), hreqs...)

	base := labels.Set{}
	for _, r := range wreqs {
		if v, ok := satisfying(r); ok {
			base[r.Key()] = v
		}
	}
	values := map[string][]string{} // key -> values to try, in order
	var keys []string
	for _, r := range all {
		k := r.Key()
		if _, ok := values[k]; !ok {
			keys = append(keys, k)
			values[k] = nil
		}
		vs := r.Values().List()
		if op := r.Operator(); op == selection.GreaterThan || op == selection.LessThan {
			if n, err := strconv.ParseInt(vs[0], 10, 64); err == nil {
				vs = []string{strconv.FormatInt(n-1, 10), vs[0], strconv.FormatInt(n+1, 10)}
			}
		}
		values[k] = append(values[k], vs...)
	}
	sort.Strings(keys)

	var out []labels.Set
	seen := map[string]bool{}
	add := func(s labels.Set) {
		if k := s.String(); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	with := func(k, v string) labels.Set {
		s := labels.Set{}
		for bk, bv := range base {
			s[bk] = bv
		}
		s[k] = v
		return s
	}
	add(base)
	add(with(fresh("unrelated", func(s string) bool { _, used := values[s]; return used }), "x"))
	for _, k := range keys {
		used := map[string]bool{}
		for _, v := range values[k] {
			used[v] = true
			add(with(k, v))
		}
		add(with(k, fresh("other", func(s string) bool { return used[s] })))
		without := with(k, "")
		delete(without, k)
		add(without)
	}
	add(labels.Set{})
	return out
}

// satisfying is a value for r's key that r accepts, when r needs the key set.
func satisfying(r labels.Requirement) (string, bool) {
	vs := r.Values().List()
	switch r.Operator() {
	case selection.Equals, selection.DoubleEquals, selection.In:
		return vs[0], true
	case selection.Exists:
		return "x", true
	case selection.GreaterThan, selection.LessThan:
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if err != nil {
			return "", false
		}
		if r.Operator() == selection.GreaterThan {
			return strconv.FormatInt(n+1, 10), true
		}
		return strconv.FormatInt(n-1, 10), true
	}
	return "", false // NotIn, !=, DoesNotExist hold when the key is absent
}

// fresh returns name, or name2, name3, ... the first that is not taken.
func fresh(name string, taken func(string) bool) string {
	s := name
	for i := 2; taken(s); i++ {
		s = name + strconv.Itoa(i)
	}
	return s
}

// pathStep is one step of a field path: a map key or a list index.
type pathStep struct {
	key   string
	index int // when key is ""
}

// parseFieldPath reads "spec.podSelector" or "spec.ingress[0].from[0].podSelector".
func parseFieldPath(s string) ([]pathStep, error) {
	var steps []pathStep
	for _, seg := range strings.Split(s, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name == "" {
			return nil, fmt.Errorf("empty field name in %q", s)
		}
		steps = append(steps, pathStep{key: name})
		if rest == "" && !strings.Contains(seg, "[") {
			continue
		}
		for _, idx := range strings.Split("["+rest, "[")[1:] {
			n, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if !strings.HasSuffix(idx, "]") || err != nil || n < 0 {
				return nil, fmt.Errorf("bad list index [%s in %q; want e.g. spec.ingress[0].from[0].podSelector", idx, s)
			}
			steps = append(steps, pathStep{index: n})
		}
	}
	return steps, nil
}

// lookupField follows steps in an unstructured object.
func lookupField(obj map[string]any, steps []pathStep) (any, bool) {
	var cur any = obj
	for _, st := range steps {
		if st.key != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[st.key]; !ok {
				return nil, false
			}
			continue
		}
		l, ok := cur.([]any)
		if !ok || st.index >= len(l) {
			return nil, false
		}
		cur = l[st.index]
	}
	return cur, true
}
