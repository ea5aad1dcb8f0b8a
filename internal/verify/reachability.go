package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// reachabilityCheck proves who may reach whom with a matrix of real
// traffic, modelled on the upstream NetworkPolicy e2e suite. The lab says
// which sources each target allows; the check itself picks sources that
// cover the near-miss space (the lab's pods, an unlabeled pod, the allowed
// labels with another value, the allowed labels in another namespace, a
// fresh pod with exactly the allowed labels, a twin of each target pod), so
// a policy that is right for the lab's pods but wrong for a pod nobody
// listed still fails.
type reachabilityCheck struct {
	spec *ReachabilitySpec
	// probes are kept across attempts (starting pods is the slow part).
	mu     sync.Mutex
	probes map[string]*podSource
}

// otherValueSuffix makes "the same label key with another value".
const otherValueSuffix = "-other"

// reachAttemptBudget is the least time one attempt needs: probe pods start,
// then blocked cells take blockedTries connect timeouts.
const reachAttemptBudget = 45 * time.Second

func (c *reachabilityCheck) minAttempt() time.Duration { return reachAttemptBudget }

func (c *reachabilityCheck) describe() string {
	var parts []string
	for _, t := range c.spec.Targets {
		parts = append(parts, t.label()+" "+c.allowedText(t.Name))
	}
	return "who reaches whom: " + strings.Join(parts, "; ")
}

// allowedText says in words who may reach target.
func (c *reachabilityCheck) allowedText(target string) string {
	var froms []string
	for _, r := range c.spec.Allow {
		if r.allows(target) {
			froms = append(froms, r.From.String())
		}
	}
	switch {
	case len(froms) == 0:
		return "from no pod"
	case len(froms) == 1 && froms[0] == "any pod":
		return "from any pod"
	}
	return "only from " + strings.Join(froms, " or ")
}

func (c *reachabilityCheck) cleanup(env *Env) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range c.probes {
		wg.Go(func() { p.cleanup(env) })
	}
	wg.Wait()
	c.probes = nil
}

// row is one source of traffic.
type row struct {
	name   string // as shown in the matrix
	ns     string
	labels map[string]string // what policies see (probe marker excluded)
	pod    *corev1.Pod       // a lab pod, or the started probe
	ctr    string
}

// cell is one source → target pair.
type cell struct {
	want, skip bool // want: should be reachable; skip: the source is the target
	obs        observation
	wrong      bool
	note       string // why the cell is wrong or unknown
}

func (c *reachabilityCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return *r
	}
	if r := need(env.Exec != nil, "a pod exec client"); r != nil {
		return *r
	}
	targets := make([]*endpoint, len(c.spec.Targets))
	for i, t := range c.spec.Targets {
		ep, res := resolveEndpoint(ctx, env, t.Target)
		if res != nil {
			return *res
		}
		if res := baseline(ctx, env, ep); res != nil {
			return *res
		}
		targets[i] = ep
	}
	rows, res := c.rows(ctx, env, targets)
	if res != nil {
		return *res
	}

	iso := newIsolation(env)
	var isoMu sync.Mutex
	cells := make([][]cell, len(rows))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8) // enough parallelism; bounded for a 2-core laptop
	for i, r := range rows {
		cells[i] = make([]cell, len(targets))
		for j, ep := range targets {
			cl := &cells[i][j]
			cl.want = c.wants(r, c.spec.Targets[j].Name)
			if ep.isBackend(r.pod) {
				cl.skip = true // a pod reaching itself is always allowed
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				cl.obs = observe(ctx, env, r.pod, r.ctr, ep)
				switch {
				case cl.obs.state == reachUnknown:
					cl.note = cl.obs.why
				case (cl.obs.state == reachAllowed) != cl.want:
					cl.wrong = true
				case cl.obs.state == reachBlocked:
					// Blocked as wanted: only a pass if the policy under
					// test can have caused it.
					isoMu.Lock()
					v := attributeBlock(ctx, env, iso, r.pod, ep, c.spec.direction(), cl.obs.seen)
					isoMu.Unlock()
					switch v.Status {
					case Fail:
						cl.wrong, cl.note = true, v.Found
					case Error:
						cl.obs.state, cl.note = reachUnknown, v.Found
					}
				}
			})
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return errorf("interrupted while probing")
	}
	return c.verdict(rows, targets, cells)
}

// wants reports whether the lab allows r to reach target.
func (c *reachabilityCheck) wants(r *row, target string) bool {
	for _, rule := range c.spec.Allow {
		if rule.allows(target) && rule.From.matches(r.ns, r.labels) {
			return true
		}
	}
	return false
}

// rows lists the sources: the lab's own pods (one per label set), then the
// generated probe pods, started (or reused) and ready.
func (c *reachabilityCheck) rows(ctx context.Context, env *Env, targets []*endpoint) ([]*row, *Result) {
	namespaces := c.spec.Sources.Namespaces
	if len(namespaces) == 0 {
		seen := map[string]bool{}
		for _, t := range c.spec.Targets {
			if !seen[t.Namespace] {
				seen[t.Namespace] = true
				namespaces = append(namespaces, t.Namespace)
			}
		}
	}
	elsewhere := c.spec.Sources.elsewhere()

	var rows []*row
	var specs []ProbeSource
	addProbe := func(ns string, l map[string]string) {
		for _, s := range specs {
			if s.Namespace == ns && labels.Equals(s.Labels, l) {
				return
			}
		}
		specs = append(specs, ProbeSource{Namespace: ns, Labels: l})
	}
	for _, ns := range namespaces {
		list, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			r := errorf("could not list pods in %s: %v", ns, err)
			return nil, &r
		}
		pods := list.Items
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		seen := map[string]bool{}
		for i := range pods {
			p := &pods[i]
			key := labels.Set(p.Labels).String()
			if p.Labels[ProbeLabel] != "" || p.Spec.HostNetwork || !podUsable(p) || seen[key] {
				continue
			}
			seen[key] = true
			ctr, res := container(p, "")
			if res != nil {
				return nil, res
			}
			rows = append(rows, &row{name: p.Namespace + "/" + p.Name + " " + labelSet(p.Labels), ns: ns, labels: p.Labels, pod: p, ctr: ctr})
			for _, ep := range targets {
				if ep.isBackend(p) {
					// Its twin (same labels, same namespace) covers what a
					// pod cannot test on itself: a second replica.
					addProbe(ns, p.Labels)
				}
			}
		}
		addProbe(ns, nil)
	}
	addProbe(elsewhere, nil)
	for _, rule := range c.spec.Allow {
		if len(rule.From.Labels) == 0 {
			continue
		}
		in := namespaces
		if rule.From.Namespace != "" {
			in = []string{rule.From.Namespace}
		}
		// Sorted keys: the same rows in the same order on every run.
		keys := make([]string, 0, len(rule.From.Labels))
		for k := range rule.From.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, ns := range in {
			addProbe(ns, rule.From.Labels)
			for _, k := range keys {
				addProbe(ns, withLabel(rule.From.Labels, k, otherValue(rule.From.Labels[k])))
				if len(rule.From.Labels) > 1 {
					addProbe(ns, withoutLabel(rule.From.Labels, k))
				}
			}
		}
		// In another namespace the labels must be blocked when the rule
		// names a namespace, and reach when it allows any namespace (a
		// policy without a namespaceSelector would block them).
		if rule.From.Namespace != elsewhere {
			addProbe(elsewhere, rule.From.Labels)
		}
	}
	specs = append(specs, c.spec.Sources.Probes...)

	probeRows, res := c.startProbes(ctx, env, specs)
	if res != nil {
		return nil, res
	}
	return append(rows, probeRows...), nil
}

// startProbes starts (or reuses) one probe pod per spec, in parallel.
func (c *reachabilityCheck) startProbes(ctx context.Context, env *Env, specs []ProbeSource) ([]*row, *Result) {
	c.mu.Lock()
	if c.probes == nil {
		c.probes = map[string]*podSource{}
	}
	sources := make([]*podSource, len(specs))
	for i, s := range specs {
		key := s.Namespace + "|" + labels.Set(s.Labels).String()
		if c.probes[key] == nil {
			c.probes[key] = &podSource{ref: PodRef{Namespace: s.Namespace, Probe: &ProbePod{Labels: s.Labels}}}
		}
		sources[i] = c.probes[key]
	}
	c.mu.Unlock()

	rows := make([]*row, len(specs))
	results := make([]*Result, len(specs))
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Go(func() {
			pod, ctr, res := src.resolve(ctx, env)
			if res != nil {
				results[i] = res
				return
			}
			s := specs[i]
			rows[i] = &row{name: s.Namespace + "/probe " + labelSet(s.Labels), ns: s.Namespace, labels: s.Labels, pod: pod, ctr: ctr}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r != nil {
			return nil, r
		}
	}
	return rows, nil
}

// verdict passes when every cell is as the lab wants, and prints the
// matrix with the wrong cells marked when not.
func (c *reachabilityCheck) verdict(rows []*row, targets []*endpoint, cells [][]cell) Result {
	wrong, unknown := 0, 0
	anyFinal := false
	for i := range cells {
		for j := range cells[i] {
			cl := cells[i][j]
			switch {
			case cl.skip:
			case cl.wrong:
				wrong++
			case cl.obs.state == reachUnknown:
				unknown++
				anyFinal = anyFinal || cl.obs.final
			}
		}
	}
	expected := c.expectedText()
	if wrong == 0 && unknown == 0 {
		return passed(expected, fmt.Sprintf("all %d cells as expected (%d sources × %d targets)", countCells(cells), len(rows), len(targets)))
	}
	table := c.matrix(rows, targets, cells)
	if wrong > 0 {
		return failed(expected, fmt.Sprintf("%s wrong:\n%s", plural(wrong, "cell"), table))
	}
	r := errorf("%s without evidence either way:\n%s", plural(unknown, "cell"), table)
	if anyFinal {
		r = final(r)
	}
	return r
}

func countCells(cells [][]cell) int {
	n := 0
	for i := range cells {
		for j := range cells[i] {
			if !cells[i][j].skip {
				n++
			}
		}
	}
	return n
}

func (c *reachabilityCheck) expectedText() string {
	var lines []string
	for _, t := range c.spec.Targets {
		lines = append(lines, t.label()+" reachable "+c.allowedText(t.Name))
	}
	return strings.Join(lines, "\n")
}

// matrix renders rows × targets: ✓ reached, · blocked, ✗ wrong (with what
// was wanted), ? no evidence; notes for wrong and unknown cells follow.
func (c *reachabilityCheck) matrix(rows []*row, targets []*endpoint, cells [][]cell) string {
	head := []string{"from \\ to"}
	for _, t := range c.spec.Targets {
		head = append(head, t.label())
	}
	grid := [][]string{head}
	var notes []string
	for i, r := range rows {
		line := []string{r.name}
		for j := range targets {
			cl := cells[i][j]
			var s string
			switch {
			case cl.skip:
				s = "(self)"
			case cl.obs.state == reachUnknown:
				s = "? unknown"
			case cl.wrong && cl.obs.state == reachAllowed:
				s = "✗ reached, want blocked"
			case cl.wrong && cl.note != "":
				s = "✗ blocked, not by the policy"
			case cl.wrong:
				s = "✗ blocked, want reached"
			case cl.obs.state == reachAllowed:
				s = "✓"
			default:
				s = "·"
			}
			line = append(line, s)
			if cl.note != "" {
				notes = append(notes, fmt.Sprintf("%s → %s: %s", r.name, c.spec.Targets[j].label(), cl.note))
			}
		}
		grid = append(grid, line)
	}
	var b strings.Builder
	widths := make([]int, len(head))
	for _, l := range grid {
		for k, s := range l {
			widths[k] = max(widths[k], len([]rune(s)))
		}
	}
	for _, l := range grid {
		for k, s := range l {
			if k == len(l)-1 {
				b.WriteString(s)
				break
			}
			b.WriteString(s + strings.Repeat(" ", widths[k]-len([]rune(s))+2))
		}
		b.WriteString("\n")
	}
	b.WriteString("(✓ reached, · blocked, ✗ wrong, ? no evidence)")
	for _, n := range notes {
		b.WriteString("\n" + n)
	}
	return b.String()
}

// labelSet shows a label set as {k=v,...}; {} is an unlabeled pod.
func labelSet(l map[string]string) string {
	return "{" + labels.Set(l).String() + "}"
}

func withLabel(l map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(l))
	for a, b := range l {
		out[a] = b
	}
	out[k] = v
	return out
}

func withoutLabel(l map[string]string, k string) map[string]string {
	out := make(map[string]string, len(l))
	for a, b := range l {
		if a != k {
			out[a] = b
		}
	}
	return out
}

// otherValue is v changed but still a valid label value (≤ 63 chars,
// alphanumeric at both ends).
func otherValue(v string) string {
	if v == "" {
		return otherValueSuffix[1:]
	}
	if len(v)+len(otherValueSuffix) > 63 {
		v = v[:63-len(otherValueSuffix)]
	}
	return v + otherValueSuffix
}

// ingressOrEgress maps a spec direction to the policy type it tests.
func ingressOrEgress(d string) networkingv1.PolicyType {
	if d == "egress" {
		return networkingv1.PolicyTypeEgress
	}
	return networkingv1.PolicyTypeIngress
}
