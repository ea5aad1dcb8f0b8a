package verify

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Match operators. A map whose keys all start with '$' stands in place of a
// value and says what the value must satisfy rather than what it must be:
//
//	status: {readyReplicas: {$gte: 1}}
//	spec: {ports: {$contains: [{port: 80}]}, policyTypes: {$setEquals: [Ingress]}}
//
// Several operators in one map must all hold ({$gte: 1, $lte: 3}). Patterns
// given to $contains, $setEquals and $not are match trees themselves, so
// operators nest.

// operator compiles the operand of one operator; vpath is its path in the
// lab file for error messages.
type operator func(vpath string, arg any, errs *[]string) matcher

var operators map[string]operator

func init() {
	// Filled in init because $not and $contains compile operands that may
	// use any operator, which Go cannot express in the initializer.
	operators = map[string]operator{
		"$gt":        compareOp(">"),
		"$gte":       compareOp(">="),
		"$lt":        compareOp("<"),
		"$lte":       compareOp("<="),
		"$ne":        compileNe,
		"$in":        compileIn,
		"$contains":  compileContains,
		"$setEquals": compileSetEquals,
		"$len":       compileLen,
		"$regex":     compileRegex,
		"$prefix":    compilePrefix,
		"$absent":    compileAbsent,
		"$not":       compileNot,
		"$every":     compileEvery,
		"$or":        compileOr,
	}
}

func operatorNames() string {
	names := make([]string, 0, len(operators))
	for n := range operators {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func compileOperators(vpath string, m map[string]any, errs *[]string) pattern {
	var all allPattern
	for _, k := range sortedKeys(m) {
		op, ok := operators[k]
		if !ok {
			*errs = append(*errs, vpath+"."+k+": unknown operator (known: "+operatorNames()+")")
			all = append(all, unknownPattern{k, m[k]})
			continue
		}
		all = append(all, op(vpath+"."+k, m[k], errs))
	}
	if len(all) == 1 {
		return srcPattern{all[0], m}
	}
	return srcPattern{all, m}
}

// srcPattern is operators on one field, rendered as the lab wrote them.
type srcPattern struct {
	matcher
	src map[string]any
}

func (p srcPattern) String() string { return render(p.src) }

// parts lists the operators separately (for a check's name).
func (p srcPattern) parts() []matcher {
	if all, ok := p.matcher.(allPattern); ok {
		return all
	}
	return []matcher{p.matcher}
}

// allPattern is several operators on one field; each reports its own
// difference.
type allPattern []matcher

func (p allPattern) match(path string, got any, present bool, out *[]difference) {
	for _, q := range p {
		q.match(path, got, present, out)
	}
}

func (p allPattern) expect() (string, string) {
	parts := make([]string, len(p))
	for i, q := range p {
		parts[i] = expectation(q)
	}
	return "", strings.Join(parts, " and ")
}

// expectation is p's expect as one phrase: ">= 1", "contains {port: 80}";
// a plain value is just the value.
func expectation(p matcher) string {
	rel, want := p.expect()
	if rel == "" || rel == "=" {
		return want
	}
	return rel + " " + want
}

// unknownPattern stands for an operator Validate rejected; it never matches.
type unknownPattern struct {
	op  string
	arg any
}

func (p unknownPattern) match(path string, got any, present bool, out *[]difference) {
	*out = append(*out, difference{path: path, rel: p.op, want: render(p.arg), got: renderPresent(got, present)})
}
func (p unknownPattern) expect() (string, string) { return p.op, render(p.arg) }

func renderPresent(got any, present bool) string {
	if !present {
		return missing
	}
	return render(got)
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// compareOp: $gt $gte $lt $lte. Operands are numbers or resource quantities
// ("500m", "1Gi"), so resources.limits.memory: {$lte: 1Gi} accepts "512Mi".
func compareOp(rel string) operator {
	return func(vpath string, arg any, errs *[]string) matcher {
		if _, ok := number(arg); !ok {
			if _, ok := quantity(arg); !ok {
				*errs = append(*errs, vpath+": want a number or a quantity like 500m, got "+render(arg))
			}
		}
		return comparePattern{rel: rel, arg: arg}
	}
}

type comparePattern struct {
	rel string
	arg any
}

func (p comparePattern) match(path string, got any, present bool, out *[]difference) {
	if present {
		if c, ok := compareValues(got, p.arg); ok {
			switch {
			case p.rel == ">" && c > 0, p.rel == ">=" && c >= 0, p.rel == "<" && c < 0, p.rel == "<=" && c <= 0:
				return
			}
		}
	}
	*out = append(*out, difference{path: path, rel: p.rel, want: render(p.arg), got: renderPresent(got, present)})
}

func (p comparePattern) expect() (string, string) { return p.rel, render(p.arg) }

// compareValues orders a against b: as numbers when both are, else as
// resource quantities when both parse as one; ok is false otherwise.
func compareValues(a, b any) (int, bool) {
	an, aok := number(a)
	bn, bok := number(b)
	if aok && bok {
		return compareNumbers(an, bn), true
	}
	aq, aok := quantity(a)
	bq, bok := quantity(b)
	if aok && bok {
		return aq.Cmp(bq), true
	}
	return 0, false
}

func compareNumbers(a, b numeric) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	af, bf := a.float(), b.float()
	switch {
	case af < bf:
		return -1
	case af > bf:
		return 1
	}
	return 0
}

func (n numeric) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}

// quantity parses a resource quantity from a string or a number.
func quantity(v any) (resource.Quantity, bool) {
	var s string
	if str, ok := v.(string); ok {
		s = strings.TrimSpace(str)
	} else if n, ok := number(v); ok {
		if !n.isInt && (math.IsNaN(n.f) || math.IsInf(n.f, 0)) {
			return resource.Quantity{}, false
		}
		s = strconv.FormatFloat(n.float(), 'f', -1, 64)
		if n.isInt {
			s = strconv.FormatInt(n.i, 10)
		}
	} else {
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

// $ne: any scalar. A missing field is not equal to anything, so
// {privileged: {$ne: true}} passes when privileged is not set; {$ne: null}
// asks for the field to be set.
func compileNe(vpath string, arg any, errs *[]string) matcher {
	if !isScalar(arg) {
		*errs = append(*errs, vpath+": want a single value (string, number, true/false or null), got "+render(arg))
	}
	return nePattern{arg}
}

type nePattern struct{ arg any }

func (p nePattern) match(path string, got any, present bool, out *[]difference) {
	set := present && got != nil
	if p.arg == nil && !set || p.arg != nil && set && scalarEqual(p.arg, got) {
		*out = append(*out, difference{path: path, rel: "!=", want: render(p.arg), got: renderPresent(got, present)})
	}
}

func (p nePattern) expect() (string, string) { return "!=", render(p.arg) }

// $in: the field equals one of a list of scalars.
func compileIn(vpath string, arg any, errs *[]string) matcher {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 {
		*errs = append(*errs, vpath+": want a non-empty list of values, got "+render(arg))
	}
	for i, v := range list {
		if !isScalar(v) {
			*errs = append(*errs, indexPath(vpath, i)+": want a single value, got "+render(v))
		}
	}
	return inPattern{list}
}

type inPattern struct{ vals []any }

func (p inPattern) match(path string, got any, present bool, out *[]difference) {
	for _, v := range p.vals {
		// null in the list accepts a missing field: where the API's
		// default means the same (a Pod Security version label left
		// out is "latest").
		if (present && scalarEqual(v, got)) || (!present && v == nil) {
			return
		}
	}
	*out = append(*out, difference{path: path, rel: "in", want: render(p.vals), got: renderPresent(got, present)})
}

func (p inPattern) expect() (string, string) { return "in", render(p.vals) }

// patternList compiles the operand of $contains and $setEquals: a list of
// match trees.
func patternList(vpath string, arg any, errs *[]string) []pattern {
	list, ok := arg.([]any)
	if !ok {
		*errs = append(*errs, vpath+": want a list of patterns, got "+render(arg))
		return nil
	}
	ps := make([]pattern, len(list))
	for i, e := range list {
		ps[i] = compile(indexPath(vpath, i), e, errs)
	}
	return ps
}

// asList reads got as a list for the list operators. A missing or null field
// counts as empty: the API server omits empty lists, so "no ports" and
// "ports: []" are the same object.
func asList(got any, present bool) ([]any, bool) {
	if !present || got == nil {
		return nil, true
	}
	l, ok := got.([]any)
	return l, ok
}

// $contains: each pattern matches some element, in any order; other
// elements are fine.
func compileContains(vpath string, arg any, errs *[]string) matcher {
	ps := patternList(vpath, arg, errs)
	if l, ok := arg.([]any); ok && len(l) == 0 {
		*errs = append(*errs, vpath+": an empty list is contained in any list; list at least one pattern")
	}
	return containsPattern{ps}
}

type containsPattern struct{ elems []pattern }

func (p containsPattern) match(path string, got any, present bool, out *[]difference) {
	list, ok := asList(got, present)
	if !ok {
		*out = append(*out, difference{path: path, rel: "contains", want: joinPatterns(p.elems), got: render(got)})
		return
	}
	var unmatched []pattern
	for _, e := range p.elems {
		if !anyMatches(e, list) {
			unmatched = append(unmatched, e)
		}
	}
	if len(unmatched) > 0 {
		*out = append(*out, difference{path: path, rel: "contains", want: joinPatterns(unmatched), got: renderPresent(got, present)})
	}
}

func (p containsPattern) expect() (string, string) { return "contains", joinPatterns(p.elems) }

func anyMatches(p matcher, list []any) bool {
	for _, e := range list {
		if matches(p, e) {
			return true
		}
	}
	return false
}

func joinPatterns(ps []pattern) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return clip(strings.Join(parts, ", "), maxValue)
}

// $setEquals: the same set in any order: every element matches some
// pattern and every pattern matches some element.
func compileSetEquals(vpath string, arg any, errs *[]string) matcher {
	return setPattern{patternList(vpath, arg, errs)}
}

type setPattern struct{ elems []pattern }

func (p setPattern) match(path string, got any, present bool, out *[]difference) {
	_, want := p.expect()
	list, ok := asList(got, present)
	if !ok {
		*out = append(*out, difference{path: path, want: want, got: render(got)})
		return
	}
	var notes []string
	var extra []string
	for _, g := range list {
		if !anyPatternMatches(p.elems, g) {
			extra = append(extra, render(g))
		}
	}
	if len(extra) > 0 {
		notes = append(notes, "not expected: "+strings.Join(extra, ", "))
	}
	var absent []pattern
	for _, e := range p.elems {
		if !anyMatches(e, list) {
			absent = append(absent, e)
		}
	}
	if len(absent) > 0 {
		notes = append(notes, "nothing matches "+joinPatterns(absent))
	}
	if len(notes) > 0 {
		*out = append(*out, difference{path: path, want: want, got: renderPresent(got, present) + " (" + strings.Join(notes, "; ") + ")"})
	}
}

func anyPatternMatches(ps []pattern, v any) bool {
	for _, p := range ps {
		if matches(p, v) {
			return true
		}
	}
	return false
}

func (p setPattern) expect() (string, string) {
	parts := make([]string, len(p.elems))
	for i, e := range p.elems {
		parts[i] = e.String()
	}
	return "=", clip("["+strings.Join(parts, ", ")+"]", maxValue) + " in any order"
}

// $len: the number of list elements or map keys, given as a number or as
// numeric operators ({$gte: 1}). A missing field has length 0.
func compileLen(vpath string, arg any, errs *[]string) matcher {
	switch t := arg.(type) {
	case map[string]any:
		if isOperatorMap(t) {
			for _, k := range sortedKeys(t) {
				switch k {
				case "$gt", "$gte", "$lt", "$lte", "$ne", "$in":
				default:
					if _, known := operators[k]; known {
						*errs = append(*errs, vpath+"."+k+": not a numeric operator; $len takes a number or $gt, $gte, $lt, $lte, $ne, $in")
					}
				}
			}
			return lenPattern{compileOperators(vpath, t, errs)}
		}
	default:
		if n, ok := number(arg); ok && n.isInt && n.i >= 0 {
			return lenPattern{valuePattern{n.i}}
		}
	}
	*errs = append(*errs, vpath+": want a count (0, 1, ...) or numeric operators like {$gte: 1}, got "+render(arg))
	return lenPattern{valuePattern{arg}}
}

type lenPattern struct{ n matcher }

func (p lenPattern) match(path string, got any, present bool, out *[]difference) {
	var n int
	var unit string
	switch t := got.(type) {
	case []any:
		n, unit = len(t), "item"
	case map[string]any:
		n, unit = len(t), "key"
	case nil: // missing or null: empty
	default:
		*out = append(*out, difference{path: path, rel: "has length", want: expectation(p.n), got: render(got)})
		return
	}
	if matches(p.n, int64(n)) {
		return
	}
	g := renderPresent(got, present)
	if unit != "" {
		g += " (" + plural(n, unit) + ")"
	}
	*out = append(*out, difference{path: path, rel: "has length", want: expectation(p.n), got: g})
}

func (p lenPattern) expect() (string, string) { return "has length", expectation(p.n) }

// $regex: a Go (RE2) regular expression the string must match somewhere;
// anchor it with ^...$ to match the whole value.
func compileRegex(vpath string, arg any, errs *[]string) matcher {
	s, ok := arg.(string)
	if !ok {
		*errs = append(*errs, vpath+": want a regular expression as a string, got "+render(arg))
		return regexPattern{}
	}
	re, err := regexp.Compile(s)
	if err != nil {
		*errs = append(*errs, vpath+": "+render(s)+" is not a valid regular expression: "+strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return regexPattern{}
	}
	return regexPattern{re}
}

type regexPattern struct{ re *regexp.Regexp }

func (p regexPattern) match(path string, got any, present bool, out *[]difference) {
	if s, ok := got.(string); ok && present && p.re != nil && p.re.MatchString(s) {
		return
	}
	rel, want := p.expect()
	*out = append(*out, difference{path: path, rel: rel, want: want, got: renderPresent(got, present)})
}

func (p regexPattern) expect() (string, string) {
	if p.re == nil {
		return "matches", "(invalid regular expression)"
	}
	return "matches", "/" + p.re.String() + "/"
}

// $prefix: the string starts with the operand.
func compilePrefix(vpath string, arg any, errs *[]string) matcher {
	s, ok := arg.(string)
	if !ok {
		*errs = append(*errs, vpath+": want a string, got "+render(arg))
	}
	return prefixPattern{s}
}

type prefixPattern struct{ prefix string }

func (p prefixPattern) match(path string, got any, present bool, out *[]difference) {
	if s, ok := got.(string); ok && present && strings.HasPrefix(s, p.prefix) {
		return
	}
	*out = append(*out, difference{path: path, rel: "starts with", want: render(p.prefix), got: renderPresent(got, present)})
}

func (p prefixPattern) expect() (string, string) { return "starts with", render(p.prefix) }

// $absent: true passes when the field is not set (like `field: null`);
// false when it is set to anything but null.
func compileAbsent(vpath string, arg any, errs *[]string) matcher {
	b, ok := arg.(bool)
	if !ok {
		*errs = append(*errs, vpath+": want true or false, got "+render(arg))
	}
	return absentPattern{b}
}

type absentPattern struct{ absent bool }

func (p absentPattern) match(path string, got any, present bool, out *[]difference) {
	if set := present && got != nil; set == p.absent {
		_, want := p.expect()
		*out = append(*out, difference{path: path, rel: "is", want: want, got: renderPresent(got, present)})
	}
}

func (p absentPattern) expect() (string, string) {
	if p.absent {
		return "is", "absent"
	}
	return "is", "set"
}

// $not: the field does not satisfy the pattern (a missing field satisfies
// no pattern but null and {$absent: true}).
func compileNot(vpath string, arg any, errs *[]string) matcher {
	return notPattern{compile(vpath, arg, errs)}
}

type notPattern struct{ p pattern }

func (p notPattern) match(path string, got any, present bool, out *[]difference) {
	var d []difference
	p.p.match(path, got, present, &d)
	if len(d) == 0 {
		_, want := p.expect()
		*out = append(*out, difference{path: path, rel: "not", want: want, got: renderPresent(got, present)})
	}
}

func (p notPattern) expect() (string, string) {
	rel, want := p.p.expect()
	if rel == "" {
		return "not", "(" + want + ")"
	}
	return "not", "(" + rel + " " + want + ")"
}

// $every: the field is a list whose every element matches the pattern (a
// missing list has none, so it holds). Each element that does not is
// reported at its own index, so
// containers: {$every: {securityContext: {privileged: {$ne: true}}}}
// fails with spec.containers[1].securityContext.privileged = true.
func compileEvery(vpath string, arg any, errs *[]string) matcher {
	return everyPattern{compile(vpath, arg, errs)}
}

type everyPattern struct{ p pattern }

func (p everyPattern) match(path string, got any, present bool, out *[]difference) {
	list, ok := asList(got, present)
	if !ok {
		rel, want := p.expect()
		*out = append(*out, difference{path: path, rel: rel, want: want, got: render(got)})
		return
	}
	for i, e := range list {
		p.p.match(indexPath(path, i), e, true, out)
	}
}

func (p everyPattern) expect() (string, string) { return "has every item matching", p.p.String() }

// $or: the field matches at least one of the patterns. It says the same
// thing written in different places (runAsNonRoot for the pod, or for
// every container), so a failure lists what each alternative missed.
func compileOr(vpath string, arg any, errs *[]string) matcher {
	ps := patternList(vpath, arg, errs)
	if l, ok := arg.([]any); ok && len(l) < 2 {
		*errs = append(*errs, vpath+": list at least two patterns (with one, write the pattern itself)")
	}
	return orPattern{ps}
}

type orPattern struct{ alts []pattern }

func (p orPattern) match(path string, got any, present bool, out *[]difference) {
	alts := make([][]difference, 0, len(p.alts))
	for _, a := range p.alts {
		var d []difference
		a.match(path, got, present, &d)
		if len(d) == 0 {
			return
		}
		alts = append(alts, d)
	}
	*out = append(*out, difference{path: path, alts: alts})
}

func (p orPattern) expect() (string, string) {
	parts := make([]string, len(p.alts))
	for i, a := range p.alts {
		parts[i] = a.String()
	}
	return "matches one of", clip(strings.Join(parts, " or "), maxValue)
}
