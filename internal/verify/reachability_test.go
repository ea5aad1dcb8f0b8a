package verify

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// policy is one NetworkPolicy as the fake network enforces it: obj is what
// the check reads back (which pods it isolates, for which direction), lets
// says in Go whom it lets through. lets is asked only about traffic the
// policy applies to: into a pod it isolates for ingress, out of a pod it
// isolates for egress.
type policy struct {
	obj  *networkingv1.NetworkPolicy
	lets func(src, dst *corev1.Pod) bool
}

// ingressTo is an ingress policy in n287 isolating the pods with labels
// selects ({} or nil: all of them).
func ingressTo(name string, selects map[string]string, lets func(src, dst *corev1.Pod) bool) policy {
	return policy{obj: networkPolicy("n287", name, selects, networkingv1.PolicyTypeIngress), lets: lets}
}

func (p policy) isolates(pod *corev1.Pod, dir networkingv1.PolicyType) bool {
	if p.obj.Namespace != pod.Namespace {
		return false
	}
	typed := false
	for _, t := range p.obj.Spec.PolicyTypes {
		typed = typed || t == dir
	}
	sel, err := metav1.LabelSelectorAsSelector(&p.obj.Spec.PodSelector)
	return typed && err == nil && sel.Matches(labels.Set(pod.Labels))
}

// Who a policy lets in, in words a test reads as the policy's YAML.
var (
	nobody     = func(_, _ *corev1.Pod) bool { return false }
	fromNginx1 = func(src, _ *corev1.Pod) bool { return src.Namespace == "n287" && src.Labels["app"] == "nginx1" }
)

// network is the fake data plane behind a world of lab pods: it answers
// every probe from what the policies let through, connect timeouts for
// what they drop. Targets are addressed by Service ClusterIP or pod IP.
type network struct {
	cs       *fake.Clientset
	policies []policy
	byIP     map[string]*corev1.Pod
	// answer, when set, replaces the model's probe outcome for the cells
	// it returns non-"" for.
	answer func(src, dst *corev1.Pod) string

	mu    sync.Mutex
	calls []execCall
}

func (n *network) reaches(src, dst *corev1.Pod) bool {
	return n.passes(networkingv1.PolicyTypeIngress, dst, src, dst) && n.passes(networkingv1.PolicyTypeEgress, src, src, dst)
}

// passes: a pod no policy isolates in dir lets everything through; an
// isolated one what some isolating policy lets.
func (n *network) passes(dir networkingv1.PolicyType, subject, src, dst *corev1.Pod) bool {
	isolated := false
	for _, p := range n.policies {
		if p.isolates(subject, dir) {
			isolated = true
			if p.lets(src, dst) {
				return true
			}
		}
	}
	return !isolated
}

func (n *network) Exec(ctx context.Context, ns, pod, ctr string, cmd []string, _ io.Reader) (string, string, int, error) {
	n.mu.Lock()
	n.calls = append(n.calls, execCall{ns, pod, ctr, cmd})
	n.mu.Unlock()
	// Who sends: the pod as the API has it now (a probe's labels are
	// patched in after it is created).
	src, err := n.cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return "", "", 0, err
	}
	if len(cmd) != 7 || cmd[2] != probeScript {
		return "", "", 0, fmt.Errorf("not a probe: %q", cmd)
	}
	dst := n.byIP[cmd[4]]
	if dst == nil {
		return "SECLAB unreachable\n", "", 0, nil
	}
	if n.answer != nil {
		if a := n.answer(src, dst); a != "" {
			return "SECLAB " + a + "\n", "", 0, nil
		}
	}
	if n.reaches(src, dst) {
		return "SECLAB http 200\n", "", 0, nil
	}
	return "SECLAB timeout\n", "", 0, nil
}

func (n *network) Calls() []execCall {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]execCall(nil), n.calls...)
}

// netWorld is the netpol lab's playground: n287 with nginx1 and nginx2,
// each behind its Service and EndpointSlice, and the default namespace.
// It returns the env, its clientset and the network enforcing policies.
func netWorld(t *testing.T, policies ...policy) (*Env, *fake.Clientset, *network) {
	t.Helper()
	nginx1, nginx2 := nginx1Pod(), nginx2Pod()
	port := []discoveryv1.EndpointPort{slicePort("", 80)}
	objs := []runtime.Object{
		ns("n287"), ns("default"),
		nginx1, nginx2,
		service("n287", "nginx1", nginx1SvcIP, 80, app("nginx1")),
		service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
		sliceOf("nginx1", port, nginx1Pod()),
		sliceOf("nginx2", port, nginx2Pod()),
	}
	for _, p := range policies {
		objs = append(objs, p.obj)
	}
	env, cs := testEnv(objs...)
	startsProbes(cs)
	net := &network{cs: cs, policies: policies, byIP: map[string]*corev1.Pod{
		nginx1SvcIP: nginx1, nginx1IP: nginx1,
		nginx2SvcIP: nginx2, nginx2IP: nginx2,
	}}
	env.Exec = net
	env.Interval = 10 * time.Millisecond
	return env, cs, net
}

// step3 is what the netpol lab's step 3 teaches: anyone reaches nginx1,
// only n287's app=nginx1 pods reach nginx2.
func step3() Spec {
	return Spec{Timeout: "100ms", Reachability: &ReachabilitySpec{
		Targets: []ReachTarget{
			{Name: "nginx1", Target: Target{Namespace: "n287", Service: "nginx1", Port: 80}},
			{Name: "nginx2", Target: Target{Namespace: "n287", Service: "nginx2", Port: 80}},
		},
		Allow: []ReachRule{
			{From: PeerMatch{}, To: []string{"nginx1"}},
			{From: PeerMatch{Namespace: "n287", Labels: app("nginx1")}, To: []string{"nginx2"}},
		},
	}}
}

// The rows step3 generates, in order: the lab's pods, the twins of the
// targets' pods, the unlabeled pods, the allowed labels with another value,
// the allowed labels elsewhere.
var step3Rows = []string{
	"n287/nginx1-a {app=nginx1}",
	"n287/nginx2-a {app=nginx2}",
	"n287/probe {app=nginx1}",
	"n287/probe {app=nginx2}",
	"n287/probe {}",
	"default/probe {}",
	"n287/probe {app=nginx1-other}",
	"default/probe {app=nginx1}",
}

// matrixLine is one line of the matrix as step3's rows and targets lay it
// out: the longest row name is 29 runes, the widest first target cell 9,
// each column then 2 spaces.
func matrixLine(row, nginx1, nginx2 string) string {
	return fmt.Sprintf("%-31s%-11s%s\n", row, nginx1, nginx2)
}

// wantRetried checks that one attempt of s is not final, so Run retries it
// until the deadline. (Counting Run's attempts would depend on how fast
// the first one, which starts the probe pods, is on this machine.)
func wantRetried(t *testing.T, env *Env, s Spec) {
	t.Helper()
	c := newCheck(s)
	defer c.(cleaner).cleanup(env)
	if r := c.attempt(context.Background(), env); r.final {
		t.Errorf("%s is final; want it retried: %s", r.Status, r.Found)
	}
}

// cellOf returns the marks of row in a matrix (one per target), or nil.
func cellOf(found, row string) []string {
	for _, line := range strings.Split(found, "\n") {
		if rest, ok := strings.CutPrefix(line, row+"  "); ok {
			var cells []string
			for _, c := range strings.Split(strings.TrimSpace(rest), "  ") {
				if c = strings.TrimSpace(c); c != "" {
					cells = append(cells, c)
				}
			}
			return cells
		}
	}
	return nil
}

// wantRows checks the marks of every step3 row: marks maps a row to its
// [nginx1, nginx2] marks; rows not listed must be as wanted.
func wantRows(t *testing.T, found string, marks map[string][2]string) {
	t.Helper()
	right := map[string][2]string{
		"n287/nginx1-a {app=nginx1}":    {"(self)", "✓"},
		"n287/nginx2-a {app=nginx2}":    {"✓", "(self)"},
		"n287/probe {app=nginx1}":       {"✓", "✓"},
		"n287/probe {app=nginx2}":       {"✓", "·"},
		"n287/probe {}":                 {"✓", "·"},
		"default/probe {}":              {"✓", "·"},
		"n287/probe {app=nginx1-other}": {"✓", "·"},
		"default/probe {app=nginx1}":    {"✓", "·"},
	}
	for _, row := range step3Rows {
		want, ok := marks[row]
		if !ok {
			want = right[row]
		}
		if got := cellOf(found, row); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("row %s = %q, want %q", row, got, want)
		}
	}
}

func TestReachabilityReferenceStep3Passes(t *testing.T) {
	env, cs, net := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), fromNginx1))
	r := quick(t, env, step3())
	wantStatus(t, r, Pass)
	if r.Found != "all 14 cells as expected (8 sources × 2 targets)" {
		t.Errorf("found = %q", r.Found)
	}
	if r.Expected != "nginx1:80 reachable from any pod\nnginx2:80 reachable only from n287 pods {app=nginx1}" {
		t.Errorf("expected = %q", r.Expected)
	}
	if r.Name != "who reaches whom: nginx1:80 from any pod; nginx2:80 only from n287 pods {app=nginx1}" {
		t.Errorf("name = %q", r.Name)
	}
	// A pod is never probed against the Service it backs.
	for _, c := range net.Calls() {
		if (c.Pod == "nginx1-a" && c.Cmd[4] == nginx1SvcIP) || (c.Pod == "nginx2-a" && c.Cmd[4] == nginx2SvcIP) {
			t.Errorf("%s probed its own service %s", c.Pod, c.Cmd[4])
		}
	}
	if left := leftProbes(t, cs); len(left) != 0 {
		t.Errorf("probe pods not deleted: %v", left)
	}
}

// The equivalent playground: nginx1 with an extra label, two replicas of
// nginx2. One row per label set; the second replica is covered by the
// twin probe.
func TestReachabilityTwoReplicasPasses(t *testing.T) {
	env, _, net := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), fromNginx1))
	b := nginx2Pod()
	b.Name, b.Status.PodIP = "nginx2-b", "10.244.0.10"
	net.byIP[b.Status.PodIP] = b
	nginx1 := nginx1Pod()
	nginx1.Labels["tier"] = "web"
	cs := net.cs
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("n287").Update(ctx, nginx1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("n287").Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("n287").Update(ctx, sliceOf("nginx2", []discoveryv1.EndpointPort{slicePort("", 80)}, nginx2Pod(), b), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	net.byIP[nginx1IP], net.byIP[nginx1SvcIP] = nginx1, nginx1
	r := quick(t, env, step3())
	wantStatus(t, r, Pass)
	// Rows: nginx1-a, nginx2-a (not nginx2-b: same labels), and the probes:
	// twins {app=nginx1,tier=web} and {app=nginx2}, the rule's {app=nginx1}
	// as a fresh pod, unlabeled ×2, {app=nginx1-other}, elsewhere.
	if r.Found != "all 16 cells as expected (9 sources × 2 targets)" {
		t.Errorf("found = %q", r.Found)
	}
	for _, c := range net.Calls() {
		if c.Pod == "nginx2-b" {
			t.Errorf("probed from a second pod with the same labels")
		}
	}
}

// Near-miss: allow-nginx1 with `from: [{podSelector: {}}]`.
func TestReachabilityAllowFromEveryPodFails(t *testing.T) {
	env, _, _ := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), func(src, _ *corev1.Pod) bool { return src.Namespace == "n287" }))
	r := quick(t, env, step3())
	wantStatus(t, r, Fail)
	want := "3 cells wrong:\n" +
		matrixLine(`from \ to`, "nginx1:80", "nginx2:80") +
		matrixLine("n287/nginx1-a {app=nginx1}", "(self)", "✓") +
		matrixLine("n287/nginx2-a {app=nginx2}", "✓", "(self)") +
		matrixLine("n287/probe {app=nginx1}", "✓", "✓") +
		matrixLine("n287/probe {app=nginx2}", "✓", "✗ reached, want blocked") +
		matrixLine("n287/probe {}", "✓", "✗ reached, want blocked") +
		matrixLine("default/probe {}", "✓", "·") +
		matrixLine("n287/probe {app=nginx1-other}", "✓", "✗ reached, want blocked") +
		matrixLine("default/probe {app=nginx1}", "✓", "·") +
		"(✓ reached, · blocked, ✗ wrong, ? no evidence)"
	if r.Found != want {
		t.Errorf("found =\n%s\nwant\n%s", r.Found, want)
	}
	// A wrong matrix may be a policy still being programmed: Run retries.
	wantRetried(t, env, step3())
}

// The other way round: the lab allows app=nginx1 from every namespace, the
// policy (no namespaceSelector) only from its own. The allowed labels in
// another namespace show it.
func TestReachabilityAnyNamespaceRuleNeedsNamespaceSelector(t *testing.T) {
	env, _, _ := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), fromNginx1))
	s := step3()
	s.Reachability.Allow[1].From.Namespace = ""
	r := quick(t, env, s)
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "1 cell wrong:\n")
	wantRows(t, r.Found, map[string][2]string{"default/probe {app=nginx1}": {"✓", "✗ blocked, want reached"}})
}

// Near-miss: `namespaceSelector: {}` next to the podSelector.
func TestReachabilityAllowFromAnyNamespaceFails(t *testing.T) {
	env, _, _ := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), func(src, _ *corev1.Pod) bool { return src.Labels["app"] == "nginx1" }))
	r := quick(t, env, step3())
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "1 cell wrong:\n")
	wantRows(t, r.Found, map[string][2]string{"default/probe {app=nginx1}": {"✓", "✗ reached, want blocked"}})
}

// Near-miss: `from: [{ipBlock: {cidr: <nginx1's pod IP>/32}}]` is right
// for today's nginx1 pod and wrong for its next one.
func TestReachabilityIPBlockOfTodaysPodFails(t *testing.T) {
	env, _, _ := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), func(src, _ *corev1.Pod) bool { return src.Status.PodIP == nginx1IP }))
	r := quick(t, env, step3())
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "1 cell wrong:\n")
	wantRows(t, r.Found, map[string][2]string{"n287/probe {app=nginx1}": {"✓", "✗ blocked, want reached"}})
}

// Near-miss: deny-all with `podSelector: {}` isolates nginx1 as well.
func TestReachabilityDenyAllSelectingEveryPodFails(t *testing.T) {
	env, _, _ := netWorld(t,
		ingressTo("deny-all", nil, nobody),
		ingressTo("allow-nginx1", app("nginx2"), fromNginx1))
	r := quick(t, env, step3())
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "7 cells wrong:\n")
	miss := "✗ blocked, want reached"
	wantRows(t, r.Found, map[string][2]string{
		"n287/nginx2-a {app=nginx2}":    {miss, "(self)"},
		"n287/probe {app=nginx1}":       {miss, "✓"},
		"n287/probe {app=nginx2}":       {miss, "·"},
		"n287/probe {}":                 {miss, "·"},
		"default/probe {}":              {miss, "·"},
		"n287/probe {app=nginx1-other}": {miss, "·"},
		"default/probe {app=nginx1}":    {miss, "·"},
	})
}

// Near-miss: `app in (nginx1, nginx2)`: only the twin of nginx2 (a second
// nginx2 replica) shows it; nginx2's own pod cannot probe itself.
func TestReachabilityAllowNginx1OrNginx2Fails(t *testing.T) {
	env, _, _ := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), func(src, _ *corev1.Pod) bool {
			return src.Namespace == "n287" && (src.Labels["app"] == "nginx1" || src.Labels["app"] == "nginx2")
		}))
	r := quick(t, env, step3())
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "1 cell wrong:\n")
	wantRows(t, r.Found, map[string][2]string{"n287/probe {app=nginx2}": {"✓", "✗ reached, want blocked"}})
}

// Blocked as wanted, but not by an ingress policy on the target: a block
// the lesson did not cause is wrong too.
func TestReachabilityBlockWithoutIsolationFails(t *testing.T) {
	env, _, net := netWorld(t)
	// Something outside NetworkPolicy (a CNI rule, a host firewall) drops
	// everything to nginx2 but nginx1's traffic.
	net.answer = func(src, dst *corev1.Pod) string {
		if dst.Name == "nginx2-a" && !fromNginx1(src, dst) {
			return "timeout"
		}
		return ""
	}
	r := quick(t, env, step3())
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "5 cells wrong:\n",
		"n287/probe {} → nginx2:80: connect timed out 3 times in a row, but no NetworkPolicy selects pod n287/nginx2-a for ingress")
	wantRows(t, r.Found, map[string][2]string{
		"n287/probe {app=nginx2}":       {"✓", "✗ blocked, not by the policy"},
		"n287/probe {}":                 {"✓", "✗ blocked, not by the policy"},
		"default/probe {}":              {"✓", "✗ blocked, not by the policy"},
		"n287/probe {app=nginx1-other}": {"✓", "✗ blocked, not by the policy"},
		"default/probe {app=nginx1}":    {"✓", "✗ blocked, not by the policy"},
	})
}

// A source whose own egress is restricted proves nothing about the
// target's ingress: those cells are unknown, not passes.
func TestReachabilitySourceEgressRestrictedIsUnknown(t *testing.T) {
	egress := policy{
		obj:  networkPolicy("default", "only-to-nginx1", nil, networkingv1.PolicyTypeEgress),
		lets: func(_, dst *corev1.Pod) bool { return dst.Labels["app"] == "nginx1" },
	}
	env, _, _ := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), fromNginx1),
		egress)
	r := quick(t, env, step3())
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "2 cells without evidence either way:\n",
		"default/probe {} → nginx2:80: connect timed out 3 times in a row, but pod default/seclab-probe-",
		"is also restricted by egress policy default/only-to-nginx1, so the block proves nothing about pod n287/nginx2-a's ingress")
	wantRows(t, r.Found, map[string][2]string{
		"default/probe {}":           {"✓", "? unknown"},
		"default/probe {app=nginx1}": {"✓", "? unknown"},
	})
}

func TestReachabilityUnknownCellsAreErrors(t *testing.T) {
	refusing := func(src, _ *corev1.Pod) string {
		if src.Namespace == "default" {
			return "refused"
		}
		return ""
	}
	env, _, net := netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), fromNginx1))
	net.answer = refusing
	r := quick(t, env, step3())
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "4 cells without evidence either way:\n",
		"default/probe {} → nginx1:80: pod default/seclab-probe-",
		"got connection refused from service n287/nginx1:80: a refusal is not a policy block",
		"default/probe {app=nginx1} → nginx2:80: pod default/seclab-probe-")
	wantRows(t, r.Found, map[string][2]string{
		"default/probe {}":           {"? unknown", "? unknown"},
		"default/probe {app=nginx1}": {"? unknown", "? unknown"},
	})
	wantRetried(t, env, step3()) // a refusal may settle

	// Wrong cells outweigh unknown ones: the learner has work to do.
	env, _, net = netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), func(src, _ *corev1.Pod) bool { return src.Namespace == "n287" }))
	net.answer = refusing
	r = quick(t, env, step3())
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "3 cells wrong:\n", "? unknown")

	// A tool that cannot tell will not learn by waiting.
	env, _, net = netWorld(t,
		ingressTo("deny-all", app("nginx2"), nobody),
		ingressTo("allow-nginx1", app("nginx2"), fromNginx1))
	net.answer = func(src, dst *corev1.Pod) string {
		if src.Name == "nginx2-a" {
			return "ambiguous"
		}
		return ""
	}
	r = quick(t, env, step3())
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "1 cell without evidence either way:\n",
		"n287/nginx2-a {app=nginx2} → nginx1:80: pod n287/nginx2-a timed out reaching service n287/nginx1:80, and its only HTTP tool (wget) cannot tell")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d; want 1", r.Attempts)
	}
}

// The target must answer before any cell counts.
func TestReachabilityTargetProblems(t *testing.T) {
	env, _, net := netWorld(t)
	env.Nodes = &fakeNodes{any: &NodeOutput{Stdout: "SECLAB refused\n"}}
	r := quick(t, env, step3())
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "pod n287/nginx1-a refused connections on port 80")
	if r.Attempts != 1 || len(net.Calls()) != 0 {
		t.Errorf("attempts = %d, probes = %d; want a final verdict before any probe", r.Attempts, len(net.Calls()))
	}

	env, cs, net := netWorld(t)
	if err := cs.CoreV1().Services("n287").Delete(context.Background(), "nginx2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r = quick(t, env, step3())
	wantStatus(t, r, Fail)
	if r.Found != "service n287/nginx2 not found" || len(net.Calls()) != 0 {
		t.Errorf("found %q after %d probes", r.Found, len(net.Calls()))
	}
}

// The generated sources, exactly: for each rule its labels, each value
// changed, each key removed (several keys), the labels in another
// namespace; unlabeled pods; the twins of the targets' pods; the lab's
// extra probes.
func TestReachabilityGeneratedProbes(t *testing.T) {
	env, cs, _ := netWorld(t)
	s := Spec{Timeout: "100ms", Reachability: &ReachabilitySpec{
		Targets: []ReachTarget{
			{Name: "nginx1", Target: Target{Namespace: "n287", Service: "nginx1", Port: 80}},
			{Name: "nginx2", Target: Target{Namespace: "n287", Service: "nginx2", Port: 80}},
		},
		Allow: []ReachRule{
			{From: PeerMatch{Namespace: "n287", Labels: map[string]string{"app": "nginx1", "tier": "web"}}, To: []string{"nginx2"}},
			{From: PeerMatch{Labels: map[string]string{"role": "monitor"}}, To: []string{"nginx1"}},
		},
		Sources: ReachSources{
			Elsewhere: "other",
			Probes:    []ProbeSource{{Namespace: "extra", Labels: map[string]string{"x": "y"}}},
		},
	}}
	r := quick(t, env, s)
	// No policy: far more reaches than the rules allow. The matrix lists
	// the rows in a stable order: lab pods, twins, unlabeled, then per
	// rule (keys sorted), then the lab's probes.
	wantStatus(t, r, Fail)
	var rows []string
	for _, line := range strings.Split(r.Found, "\n")[2:] {
		if name, _, ok := strings.Cut(line, "}"); ok {
			rows = append(rows, name+"}")
		}
	}
	wantRows := []string{
		"n287/nginx1-a {app=nginx1}", "n287/nginx2-a {app=nginx2}",
		"n287/probe {app=nginx1}", "n287/probe {app=nginx2}", "n287/probe {}", "other/probe {}",
		"n287/probe {app=nginx1,tier=web}", "n287/probe {app=nginx1-other,tier=web}", "n287/probe {tier=web}",
		"n287/probe {app=nginx1,tier=web-other}", "other/probe {app=nginx1,tier=web}",
		"n287/probe {role=monitor}", "n287/probe {role=monitor-other}", "other/probe {role=monitor}",
		"extra/probe {x=y}",
	}
	if strings.Join(rows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("matrix rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(wantRows, "\n"))
	}

	patches := probePatches(t, cs)
	created := map[string]bool{}
	var got []string
	for _, a := range cs.Actions() {
		if a.GetVerb() != "create" || a.GetResource().Resource != "pods" {
			continue
		}
		p := a.(interface{ GetObject() runtime.Object }).GetObject().(*corev1.Pod)
		if created[p.Name] {
			continue
		}
		created[p.Name] = true
		got = append(got, p.Namespace+" "+labelSet(patches[p.Name].Metadata.Labels))
	}
	sort.Strings(got)
	want := []string{
		"extra {x=y}",                      // the lab's own
		"n287 {app=nginx1,tier=web-other}", // rule 1, each value changed
		"n287 {app=nginx1,tier=web}",       // rule 1 exactly
		"n287 {app=nginx1-other,tier=web}",
		"n287 {app=nginx1}",           // twin of nginx1-a; also rule 1 without tier
		"n287 {app=nginx2}",           // twin of nginx2-a
		"n287 {role=monitor-other}",   // rule 2, other value
		"n287 {role=monitor}",         // rule 2 exactly
		"n287 {tier=web}",             // rule 1 without app
		"n287 {}",                     // unlabeled, in each target namespace
		"other {app=nginx1,tier=web}", // rule 1 elsewhere: must be blocked
		"other {role=monitor}",        // rule 2 elsewhere: must reach
		"other {}",                    // unlabeled elsewhere
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("probe pods created:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every one first with only the marker, then labeled.
	for _, a := range cs.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			p := a.(interface{ GetObject() runtime.Object }).GetObject().(*corev1.Pod)
			if _, ok := patches[p.Name]; !ok {
				t.Errorf("probe %s/%s never labeled", p.Namespace, p.Name)
			}
		}
	}
	if left := leftProbes(t, cs); len(left) != 0 {
		t.Errorf("probe pods not deleted: %v", left)
	}
}

// Probe pods are started once and reused by every attempt.
func TestReachabilityReusesProbes(t *testing.T) {
	env, cs, _ := netWorld(t, ingressTo("deny-all", app("nginx2"), nobody))
	c := newCheck(step3()).(*reachabilityCheck)
	for i := 0; i < 3; i++ {
		// nginx1 cannot reach nginx2: a Fail that Run would retry.
		if r := c.attempt(context.Background(), env); r.Status != Fail || r.final {
			t.Fatalf("attempt %d: %s (final %v): %s", i+1, r.Status, r.final, r.Found)
		}
	}
	creates := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			creates++
		}
	}
	if creates != len(step3Rows)-2 {
		t.Errorf("created %d probe pods in 3 attempts; want the %d of step 3 once", creates, len(step3Rows)-2)
	}
	c.cleanup(env)
	if left := leftProbes(t, cs); len(left) != 0 {
		t.Errorf("probe pods not deleted: %v", left)
	}
}

func TestOtherValue(t *testing.T) {
	long := strings.Repeat("a", 63)
	for in, want := range map[string]string{
		"nginx1": "nginx1-other",
		"":       "other",
		long:     strings.Repeat("a", 57) + "-other",
	} {
		got := otherValue(in)
		if got != want {
			t.Errorf("otherValue(%q) = %q, want %q", in, got, want)
		}
		if err := validLabels(map[string]string{"k": got}); err != "" {
			t.Errorf("otherValue(%q) = %q is not a label value: %s", in, got, err)
		}
	}
}

func TestReachabilityValidate(t *testing.T) {
	target := func(name string) ReachTarget {
		return ReachTarget{Name: name, Target: Target{Namespace: "n287", Service: name, Port: 80}}
	}
	for _, tc := range []struct {
		name string
		spec ReachabilitySpec
		want []string
	}{
		{"valid", ReachabilitySpec{Targets: []ReachTarget{target("nginx2")},
			Allow: []ReachRule{{From: PeerMatch{Namespace: "n287", Labels: app("nginx1")}, To: []string{"nginx2"}}}}, nil},
		{"no targets", ReachabilitySpec{}, []string{"reachability.targets: required"}},
		{"unknown target", ReachabilitySpec{Targets: []ReachTarget{target("nginx2")},
			Allow: []ReachRule{{To: []string{"nginx2", "ngnix2"}}}},
			[]string{`reachability.allow[0].to[1]: "ngnix2" is not a target name`}},
		{"duplicate names", ReachabilitySpec{Targets: []ReachTarget{target("nginx2"), target("nginx2")}},
			[]string{`reachability.targets[1].name: "nginx2" is used twice`}},
		{"nameless target", ReachabilitySpec{Targets: []ReachTarget{{Target: Target{Namespace: "n287", Service: "s", Port: 80}}}},
			[]string{"reachability.targets[0].name: required"}},
		{"bad target", ReachabilitySpec{Targets: []ReachTarget{{Name: "t", Target: Target{Namespace: "n287", Port: 0}}}},
			[]string{"reachability.targets[0]: set exactly one of service, selector", "reachability.targets[0].port: must be 1-65535, got 0"}},
		{"bad labels", ReachabilitySpec{Targets: []ReachTarget{target("nginx2")},
			Allow: []ReachRule{{From: PeerMatch{Labels: map[string]string{"app": "nginx 1"}}}}},
			[]string{"reachability.allow[0].from.labels: "}},
		{"bad probe", ReachabilitySpec{Targets: []ReachTarget{target("nginx2")},
			Sources: ReachSources{Probes: []ProbeSource{{Labels: map[string]string{"-x": "y"}}}}},
			[]string{"reachability.sources.probes[0].namespace: required", "reachability.sources.probes[0].labels: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			got := Spec{Reachability: &spec}.Validate()
			if len(got) != len(tc.want) {
				t.Errorf("got %d problems %q, want %d", len(got), got, len(tc.want))
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems %q\n  missing %q", got, w)
				}
			}
		})
	}
	// An invalid spec never runs.
	env, _, net := netWorld(t)
	r := quick(t, env, Spec{Reachability: &ReachabilitySpec{Targets: []ReachTarget{target("nginx2"), target("nginx2")}}})
	wantStatus(t, r, Error)
	if r.Attempts != 0 || len(net.Calls()) != 0 {
		t.Errorf("attempts = %d, probes = %d", r.Attempts, len(net.Calls()))
	}
}
