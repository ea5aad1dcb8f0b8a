package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/verify"
)

// canaryCluster is a fake cluster that behaves like a real one for the
// canaries: objects applied through the dynamic client are kept (pods also
// appear, running, in the typed client), namespace deletion removes what is
// in it, and the CNI, Pod Security, the container runtime and the nodes
// answer according to the knobs below.
type canaryCluster struct {
	mu      sync.Mutex
	client  *fake.Clientset
	objects map[string]*unstructured.Unstructured // resource/namespace/name

	cniEnforces  bool // a NetworkPolicy blocks traffic while it exists
	cniSticky    bool // ... and keeps blocking after it is deleted
	psaEnforces  bool
	denyAllPods  error // a webhook that denies every pod
	admitErr     error // the API cannot be asked
	seccomp      bool  // the runtime applies a filter for RuntimeDefault
	userns       bool  // the kernel lets an unfiltered pod create a user namespace
	nodes        []verify.NodeOutput
	nodesErr     error
	onPolicy     func() // called when the NetworkPolicy is applied
	everBlocked  bool
	policyWasSet bool
}

func newCanaryCluster() *canaryCluster {
	return &canaryCluster{cniEnforces: true, psaEnforces: true, seccomp: true, userns: true,
		objects: map[string]*unstructured.Unstructured{}}
}

func key(resource, ns, name string) string { return resource + "/" + ns + "/" + name }

func (c *canaryCluster) left() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.objects {
		out = append(out, k)
	}
	pods, _ := c.client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	for _, p := range pods.Items {
		out = append(out, "typed pod "+p.Namespace+"/"+p.Name)
	}
	return out
}

func (c *canaryCluster) env(t *testing.T) *verify.Env {
	t.Helper()
	c.client = fake.NewSimpleClientset()
	c.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		runningReady(a.(k8stesting.CreateAction).GetObject().(*corev1.Pod), "10.244.1.9")
		return false, nil, nil
	})
	// The checks read NetworkPolicies through the typed client (to see
	// which policy isolates whom): serve the applied ones.
	c.client.PrependReactor("list", "networkpolicies", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ns := a.(k8stesting.ListAction).GetNamespace()
		c.mu.Lock()
		defer c.mu.Unlock()
		list := &networkingv1.NetworkPolicyList{}
		for k, o := range c.objects {
			if !strings.HasPrefix(k, "networkpolicies/"+ns+"/") {
				continue
			}
			var p networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &p); err != nil {
				return true, nil, err
			}
			list.Items = append(list.Items, p)
		}
		return true, list, nil
	})
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	dyn.PrependReactor("patch", "*", c.apply)
	dyn.PrependReactor("get", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ga := a.(k8stesting.GetAction)
		c.mu.Lock()
		defer c.mu.Unlock()
		if o := c.objects[key(ga.GetResource().Resource, ga.GetNamespace(), ga.GetName())]; o != nil {
			return true, o.DeepCopy(), nil
		}
		return true, nil, apierrors.NewNotFound(ga.GetResource().GroupResource(), ga.GetName())
	})
	dyn.PrependReactor("delete", "*", c.delete)
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, meta.RESTScopeNamespace)
	return &verify.Env{
		Client: c.client, Dynamic: dyn, Mapper: mapper,
		Exec: canaryExec{c}, Admit: canaryAdmit{c}, Nodes: canaryNodes{c},
		Interval: 10 * time.Millisecond, ProbeImage: ProbeImage,
	}
}

// apply is server-side apply, which the fake tracker cannot do.
func (c *canaryCluster) apply(a k8stesting.Action) (bool, runtime.Object, error) {
	pa := a.(k8stesting.PatchAction)
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(pa.GetPatch(), &u.Object); err != nil {
		return true, nil, err
	}
	res := pa.GetResource().Resource
	c.mu.Lock()
	c.objects[key(res, pa.GetNamespace(), pa.GetName())] = u
	onPolicy := c.onPolicy
	if res == "networkpolicies" {
		c.policyWasSet = true
	}
	c.mu.Unlock()
	switch res {
	case "pods":
		var pod corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod); err != nil {
			return true, nil, err
		}
		runningReady(&pod, "10.244.1.5")
		if _, err := c.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), &pod, metav1.CreateOptions{}); err != nil {
			return true, nil, err
		}
	case "networkpolicies":
		if onPolicy != nil {
			onPolicy()
		}
	}
	return true, u, nil
}

func (c *canaryCluster) delete(a k8stesting.Action) (bool, runtime.Object, error) {
	da := a.(k8stesting.DeleteAction)
	res, ns, name := da.GetResource().Resource, da.GetNamespace(), da.GetName()
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key(res, ns, name)
	if c.objects[k] == nil {
		return true, nil, apierrors.NewNotFound(da.GetResource().GroupResource(), name)
	}
	delete(c.objects, k)
	if res == "namespaces" {
		for k, o := range c.objects {
			if o.GetNamespace() == name {
				delete(c.objects, k)
			}
		}
		pods, _ := c.client.CoreV1().Pods(name).List(context.Background(), metav1.ListOptions{})
		for _, p := range pods.Items {
			_ = c.client.CoreV1().Pods(name).Delete(context.Background(), p.Name, metav1.DeleteOptions{})
		}
	}
	return true, nil, nil
}

func runningReady(pod *corev1.Pod, ip string) {
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
}

// canaryExec answers commands the way the pod's kernel, runtime and CNI
// would, reading the pod spec the canary applied.
type canaryExec struct{ c *canaryCluster }

func (x canaryExec) Exec(ctx context.Context, ns, name, _ string, cmd []string, _ io.Reader) (string, string, int, error) {
	c := x.c
	if err := ctx.Err(); err != nil {
		return "", "", 0, err
	}
	line := strings.Join(cmd, " ")
	if strings.Contains(line, "SECLAB") { // the connectivity probe
		c.mu.Lock()
		defer c.mu.Unlock()
		blocked := c.cniEnforces && c.objects[key("networkpolicies", ns, "canary-deny")] != nil
		if blocked {
			c.everBlocked = true
		}
		if blocked || c.cniSticky && c.everBlocked {
			return "SECLAB timeout\n", "", 0, nil
		}
		return "SECLAB http 200\n", "", 0, nil
	}
	pod, err := c.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", "", 0, err
	}
	filtered := c.seccomp && pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.SeccompProfile != nil &&
		pod.Spec.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	switch {
	case strings.Contains(line, "/proc/1/status"):
		if filtered {
			return "2\n", "", 0, nil
		}
		return "0\n", "", 0, nil
	case strings.Contains(line, "unshare -U"):
		if filtered || !c.userns {
			msg := "unshare: unshare(0x10000000): Operation not permitted\n"
			if strings.Contains(line, "2>&1") {
				return msg, "", 1, nil
			}
			return "", msg, 1, nil
		}
		return "", "", 0, nil
	}
	return "", "", 0, errors.New("canaryExec: unexpected command " + line)
}

// canaryAdmit is a dry-run API server with Pod Security admission.
type canaryAdmit struct{ c *canaryCluster }

func (a canaryAdmit) DryRunCreate(_ context.Context, obj *unstructured.Unstructured) ([]string, error) {
	c := a.c
	if c.admitErr != nil {
		return nil, c.admitErr
	}
	pods := schema.GroupResource{Resource: "pods"}
	c.mu.Lock()
	ns := c.objects[key("namespaces", "", obj.GetNamespace())]
	c.mu.Unlock()
	if ns == nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, obj.GetNamespace())
	}
	var pod corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &pod); err != nil {
		return nil, err
	}
	sc := pod.Spec.Containers[0].SecurityContext
	privileged := sc != nil && sc.Privileged != nil && *sc.Privileged
	if c.psaEnforces && ns.GetLabels()["pod-security.kubernetes.io/enforce"] == "baseline" && privileged {
		return nil, apierrors.NewForbidden(pods, obj.GetName(), errors.New(`violates PodSecurity "baseline:latest": privileged (container "canary" must not set securityContext.privileged=true)`))
	}
	if c.denyAllPods != nil {
		return nil, apierrors.NewForbidden(pods, obj.GetName(), c.denyAllPods)
	}
	return nil, nil
}

type canaryNodes struct{ c *canaryCluster }

func (n canaryNodes) RunOnNodes(_ context.Context, _ string, cmd []string) ([]verify.NodeOutput, error) {
	if n.c.nodesErr != nil {
		return nil, n.c.nodesErr
	}
	if len(cmd) != 3 || cmd[0] != "sh" || !strings.HasPrefix(cmd[2], "cat /sys/module/apparmor/parameters/enabled") {
		return nil, errors.New("canaryNodes: unexpected command")
	}
	return n.c.nodes, nil
}

// RunOnNode answers the connectivity checks' baseline probe: from its own
// node a pod is always reachable (no NetworkPolicy filters that path).
func (n canaryNodes) RunOnNode(_ context.Context, node string, cmd []string) (verify.NodeOutput, error) {
	if n.c.nodesErr != nil {
		return verify.NodeOutput{}, n.c.nodesErr
	}
	if len(cmd) < 3 || cmd[0] != "sh" || !strings.Contains(cmd[2], "SECLAB") {
		return verify.NodeOutput{}, errors.New("canaryNodes: unexpected command")
	}
	return verify.NodeOutput{Node: node, Stdout: "SECLAB http 200\n"}, nil
}

func runCanaryOn(t *testing.T, c *canaryCluster, name string) CanaryResult {
	t.Helper()
	e := canaryEngine(t)
	r := e.runCanary(context.Background(), c.env(t), name)
	if r.Name != name || r.Title == "" || r.Title == name {
		t.Errorf("result not labeled: %+v", r)
	}
	if left := c.left(); len(left) > 0 {
		t.Errorf("the %s canary left objects behind: %v", name, left)
	}
	return r
}

// canaryEngine is the test engine with canary deadlines short enough for
// the paths that wait them out.
func canaryEngine(t *testing.T) *Engine {
	e, _, _ := newTestEngine(t)
	e.canaryTimeoutCap = 300 * time.Millisecond
	return e
}

func wantVerdict(t *testing.T, r CanaryResult, v Verdict, evidence ...string) {
	t.Helper()
	t.Logf("%s: %s — %s\nerr: %v", r.Name, r.Enforced, r.Evidence, r.Err)
	if r.Enforced != v {
		t.Fatalf("%s: enforced = %s, want %s (evidence %q, err %v)", r.Name, r.Enforced, v, r.Evidence, r.Err)
	}
	for _, want := range evidence {
		if !strings.Contains(r.Evidence, want) {
			t.Errorf("%s: evidence lacks %q: %s", r.Name, want, r.Evidence)
		}
	}
	if strings.Contains(r.Evidence, "\n") {
		t.Errorf("%s: evidence is not one line: %q", r.Name, r.Evidence)
	}
	var ne *NotEnforcedError
	var cnt *CouldNotTellError
	switch v {
	case Enforced:
		if r.Err != nil {
			t.Errorf("%s: yes with an error: %v", r.Name, r.Err)
		}
	case NotEnforced:
		if !errors.As(r.Err, &ne) {
			t.Errorf("%s: want a NotEnforcedError, got %T %v", r.Name, r.Err, r.Err)
		}
	case Unknown:
		if !errors.As(r.Err, &cnt) || !strings.HasPrefix(r.Err.Error(), "could not tell whether ") {
			t.Errorf("%s: want a CouldNotTellError, got %T %v", r.Name, r.Err, r.Err)
		}
	}
}

func TestCanaryDefinitionsMatchTheCatalog(t *testing.T) {
	files, err := fs.Glob(canaryFS, "canary/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(f, "canary/"), ".yaml"))
	}
	if strings.Join(names, ",") != strings.Join(sortedCopy(catalog.Preflights), ",") {
		t.Errorf("canary files %v, catalog preflights %v", names, catalog.Preflights)
	}
	for _, n := range catalog.Preflights {
		if _, err := loadCanary(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestCanaryValidationKeepsEverythingInItsNamespace(t *testing.T) {
	c := canaryDef{
		Title: "t", Question: "q", NotEnforced: "n",
		Objects: []map[string]any{
			{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "seclab-canary-x"}},
			{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "default"}},
		},
		Effect: []verify.Spec{{Answer: &verify.AnswerSpec{Equals: "x"}}},
		After:  []verify.Spec{{Name: "a", Answer: &verify.AnswerSpec{Equals: "x"}}},
	}
	got := strings.Join(c.validate(), "\n")
	for _, want := range []string{"Pod default/p: must be in namespace seclab-canary-x", "effect[0].name: required", "after: needs a cause"} {
		if !strings.Contains(got, want) {
			t.Errorf("validate lacks %q:\n%s", want, got)
		}
	}
}

func TestNetpolCanaryProvesThePolicyIsTheCause(t *testing.T) {
	c := newCanaryCluster()
	r := runCanaryOn(t, c, "networkpolicy")
	wantVerdict(t, r, Enforced,
		"before any policy: HTTP 200", "with a deny-all policy: connect timed out", "after deleting it: HTTP 200")
	if !c.policyWasSet {
		t.Error("the canary never applied its deny policy")
	}
}

func TestNetpolCanaryStopsWhenPolicyIsIgnored(t *testing.T) {
	c := newCanaryCluster()
	c.cniEnforces = false
	r := runCanaryOn(t, c, "networkpolicy")
	wantVerdict(t, r, NotEnforced, "with a deny-all policy: HTTP 200")
	for _, want := range []string{"does not enforce NetworkPolicy", "before any policy: HTTP 200", "nfqueue"} {
		if !strings.Contains(r.Err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, r.Err)
		}
	}
}

func TestNetpolCanaryCannotTellWhenTheBlockOutlivesThePolicy(t *testing.T) {
	c := newCanaryCluster()
	c.cniSticky = true
	r := runCanaryOn(t, c, "networkpolicy")
	wantVerdict(t, r, Unknown, "stayed after its cause was deleted", "after deleting it: connect timed out")
}

func TestNetpolCanaryCannotTellWhenTrafficNeverFlows(t *testing.T) {
	c := newCanaryCluster()
	c.cniEnforces, c.cniSticky, c.everBlocked = false, true, true
	r := runCanaryOn(t, c, "networkpolicy")
	wantVerdict(t, r, Unknown, "control check failed", "before any policy: connect timed out")
	if c.policyWasSet {
		t.Error("the policy was applied although the control failed")
	}
}

func TestNetpolCanaryCleansUpWhenInterrupted(t *testing.T) {
	c := newCanaryCluster()
	env := c.env(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.onPolicy = cancel // Ctrl-C right after the policy goes in
	e := canaryEngine(t)
	r := e.runCanary(ctx, env, "networkpolicy")
	if r.Enforced != Unknown || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("interrupted canary: %s, %v", r.Enforced, r.Err)
	}
	if left := c.left(); len(left) > 0 {
		t.Errorf("an interrupted canary left objects behind: %v", left)
	}
	if _, err := e.preflights(ctx, env, []string{"networkpolicy"}); !errors.Is(err, context.Canceled) {
		t.Errorf("preflights after Ctrl-C: %v", err)
	}
}

func TestPodSecurityCanary(t *testing.T) {
	t.Run("enforced", func(t *testing.T) {
		r := runCanaryOn(t, newCanaryCluster(), "podsecurity")
		wantVerdict(t, r, Enforced, "the pod without privileged: admitted", `the privileged pod: denied: pods "canary" is forbidden: violates PodSecurity`)
	})
	t.Run("not enforced", func(t *testing.T) {
		c := newCanaryCluster()
		c.psaEnforces = false
		r := runCanaryOn(t, c, "podsecurity")
		wantVerdict(t, r, NotEnforced, "the privileged pod: admitted")
		if !strings.Contains(r.Err.Error(), "Pod Security admission is not enforced") {
			t.Errorf("message: %v", r.Err)
		}
	})
	t.Run("something else denies every pod", func(t *testing.T) {
		c := newCanaryCluster()
		c.denyAllPods = errors.New("admission webhook \"deny.example\" denied the request")
		r := runCanaryOn(t, c, "podsecurity")
		wantVerdict(t, r, Unknown, "control check failed", "the pod without privileged: denied")
	})
	t.Run("API unreachable", func(t *testing.T) {
		c := newCanaryCluster()
		c.admitErr = errors.New("connection refused")
		r := runCanaryOn(t, c, "podsecurity")
		wantVerdict(t, r, Unknown, "connection refused")
	})
}

func TestSeccompCanary(t *testing.T) {
	t.Run("enforced", func(t *testing.T) {
		r := runCanaryOn(t, newCanaryCluster(), "seccomp")
		wantVerdict(t, r, Enforced,
			"Unconfined pod, unshare -U: exit code 0",
			`RuntimeDefault pod, Seccomp in /proc/1/status: exit code 0, stdout = "2"`,
			`RuntimeDefault pod, unshare -U: exit code 1, stdout contains "Operation not permitted"`)
	})
	t.Run("runtime without seccomp", func(t *testing.T) {
		c := newCanaryCluster()
		c.seccomp = false
		r := runCanaryOn(t, c, "seccomp")
		wantVerdict(t, r, NotEnforced, `RuntimeDefault pod, Seccomp in /proc/1/status: stdout = "0"`)
		if !strings.Contains(r.Err.Error(), "does not enforce seccompProfile RuntimeDefault") {
			t.Errorf("message: %v", r.Err)
		}
	})
	t.Run("kernel without user namespaces", func(t *testing.T) {
		c := newCanaryCluster()
		c.userns = false
		r := runCanaryOn(t, c, "seccomp")
		wantVerdict(t, r, Unknown, "control check failed", "Unconfined pod, unshare -U: exit code 1", "Operation not permitted")
	})
}

func TestAppArmorDetection(t *testing.T) {
	enabled := func(node, v string) verify.NodeOutput { return verify.NodeOutput{Node: node, Stdout: v + "\n"} }
	missing := func(node string) verify.NodeOutput {
		return verify.NodeOutput{Node: node, Stdout: "no /sys/module/apparmor: the kernel has no AppArmor\n"}
	}
	cases := []struct {
		name     string
		nodes    []verify.NodeOutput
		err      error
		want     Verdict
		evidence []string
		absent   string
	}{
		{"Y everywhere", []verify.NodeOutput{enabled("cp", "Y"), enabled("w1", "Y")}, nil, Enforced, []string{"passed on 2 nodes"}, ""},
		{"N", []verify.NodeOutput{enabled("cp", "N")}, nil, NotEnforced, []string{"node cp", `stdout: "N\n"`}, ""},
		{"missing file", []verify.NodeOutput{missing("cp")}, nil, NotEnforced, []string{"node cp:", "the kernel has no AppArmor"}, ""},
		{"mixed nodes", []verify.NodeOutput{enabled("cp", "Y"), missing("w1"), enabled("w2", "Y")}, nil, NotEnforced, []string{"node w1:"}, "node cp"},
		{"no docker", nil, errors.New("docker exec: connection refused"), Unknown, []string{"could not run `sh -c \"cat /sys/module/apparmor/parameters/enabled", "connection refused"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCanaryCluster()
			c.nodes, c.nodesErr = tc.nodes, tc.err
			r := runCanaryOn(t, c, "apparmor")
			wantVerdict(t, r, tc.want, tc.evidence...)
			if tc.absent != "" && strings.Contains(r.Evidence, tc.absent) {
				t.Errorf("evidence blames %s: %s", tc.absent, r.Evidence)
			}
			if !r.Detect {
				t.Error("AppArmor is a detection")
			}
			if tc.want == NotEnforced && !strings.Contains(r.Err.Error(), "AppArmor is not enabled in the nodes' kernel") {
				t.Errorf("message: %v", r.Err)
			}
		})
	}
}

func TestPreflightsStopOnlyForMechanismsThatAreNotEnforced(t *testing.T) {
	e := canaryEngine(t)
	c := newCanaryCluster()
	c.nodes = []verify.NodeOutput{{Node: "cp", Stdout: "N\n"}}
	env := c.env(t)
	rs, err := e.preflights(context.Background(), env, []string{"apparmor", "podsecurity"})
	if err != nil || len(rs) != 2 || rs[0].Enforced != NotEnforced || rs[1].Enforced != Enforced {
		t.Fatalf("a detection stopped the lab or was lost: %+v, %v", rs, err)
	}
	c.psaEnforces = false
	rs, err = e.preflights(context.Background(), env, []string{"podsecurity", "apparmor"})
	var ne *NotEnforcedError
	if !errors.As(err, &ne) || len(rs) != 1 {
		t.Fatalf("Pod Security not enforced: %+v, %v", rs, err)
	}
}

func TestEnforcementRunsEveryCanaryInOrder(t *testing.T) {
	e, _, fc := newTestEngine(t)
	c := newCanaryCluster()
	c.nodes = []verify.NodeOutput{{Node: "cp", Stdout: "Y\n"}}
	env := c.env(t)
	fc.running["seclab-x"] = true
	// env() builds clients from the REST config; hand it the fake ones.
	e.NewEnv = func(*rest.Config) (*verify.Env, error) { return env, nil }
	fc.nodes = env.Nodes
	rs, err := e.Enforcement(context.Background(), "seclab-x")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Name+"="+string(r.Enforced))
	}
	if strings.Join(got, " ") != "networkpolicy=yes podsecurity=yes seccomp=yes apparmor=yes" {
		t.Errorf("enforcement: %v", got)
	}
	if left := c.left(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, err := e.Enforcement(context.Background(), "seclab-gone"); err == nil {
		t.Error("no error for a cluster that is not running")
	}
}
