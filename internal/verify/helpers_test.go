package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apitypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// execCall is one command the fake Execer was asked to run.
type execCall struct {
	Namespace, Pod, Container string
	Cmd                       []string
}

// fakeExec answers exec calls with fn and records them.
type fakeExec struct {
	mu    sync.Mutex
	calls []execCall
	fn    func(ctx context.Context, call execCall, n int) (stdout, stderr string, code int, err error)
}

func (f *fakeExec) Exec(ctx context.Context, ns, pod, ctr string, cmd []string, _ io.Reader) (string, string, int, error) {
	f.mu.Lock()
	c := execCall{ns, pod, ctr, cmd}
	f.calls = append(f.calls, c)
	n := len(f.calls)
	f.mu.Unlock()
	return f.fn(ctx, c, n)
}

func (f *fakeExec) Calls() []execCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]execCall(nil), f.calls...)
}

// replies returns a fakeExec that always answers stdout with exit code 0.
func replies(stdout string) *fakeExec {
	return &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) {
		return stdout, "", 0, nil
	}}
}

type fakeAdmit struct {
	warnings []string
	err      error
	got      *unstructured.Unstructured
}

func (f *fakeAdmit) DryRunCreate(_ context.Context, obj *unstructured.Unstructured) ([]string, error) {
	f.got = obj
	return f.warnings, f.err
}

type fakeNodes struct {
	outs []NodeOutput
	any  *NodeOutput // RunOnNode's answer on nodes not in outs
	err  error

	mu    sync.Mutex
	role  string
	cmd   []string   // the last command run
	calls []string   // nodes RunOnNode ran on, in order
	cmds  [][]string // the commands RunOnNode ran, in order
}

func (f *fakeNodes) RunOnNodes(_ context.Context, role string, cmd []string) ([]NodeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.role, f.cmd = role, cmd
	return f.outs, f.err
}

func (f *fakeNodes) RunOnNode(_ context.Context, node string, cmd []string) (NodeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmd = cmd
	f.calls = append(f.calls, node)
	f.cmds = append(f.cmds, cmd)
	if f.err != nil {
		return NodeOutput{}, f.err
	}
	for _, o := range f.outs {
		if o.Node == node {
			return o, nil
		}
	}
	if f.any != nil {
		o := *f.any
		o.Node = node
		return o, nil
	}
	return NodeOutput{}, errors.New("no such node " + node)
}

// answering is a node runner whose baseline probes always get HTTP 200.
func answering() *fakeNodes {
	return &fakeNodes{any: &NodeOutput{Stdout: "SECLAB http 200\n"}}
}

// testMapper knows the kinds the tests use.
func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Service"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot)
	return m
}

// testEnv builds an Env over fake clients: typed objects go to the
// clientset, unstructured ones to the dynamic client.
func testEnv(objs ...runtime.Object) (*Env, *fake.Clientset) {
	var typed, dyn []runtime.Object
	for _, o := range objs {
		if _, ok := o.(*unstructured.Unstructured); ok {
			dyn = append(dyn, o)
		} else {
			typed = append(typed, o)
		}
	}
	cs := fake.NewClientset(typed...)
	return &Env{
		Client:       cs,
		Dynamic:      dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), dyn...),
		Mapper:       testMapper(),
		Nodes:        answering(),
		Interval:     time.Millisecond,
		AdmissionLag: time.Millisecond,
	}, cs
}

// quick runs s with a short timeout, enough for a few attempts.
func quick(t *testing.T, env *Env, s Spec) Result {
	t.Helper()
	if s.Timeout == "" {
		s.Timeout = "100ms"
	}
	return Run(context.Background(), env, s)
}

func wantStatus(t *testing.T, r Result, st Status) {
	t.Helper()
	if r.Status != st {
		t.Fatalf("status = %s, want %s\nname:     %s\nexpected: %s\nfound:    %s", r.Status, st, r.Name, r.Expected, r.Found)
	}
}

func wantContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Errorf("%s = %q\n  want it to contain %q", what, got, s)
		}
	}
}

func wantNotContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(got, s) {
			t.Errorf("%s = %q\n  must not contain %q", what, got, s)
		}
	}
}

func ns(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// readyPodObj is a Running, Ready pod with one container.
func readyPodObj(namespace, name string, labels map[string]string, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "seclab-worker", Containers: []corev1.Container{{Name: "main", Image: "nginx:1.27"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			PodIP: ip,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
			},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "main", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			}},
		},
	}
}

// pullFailingPod is what `kubectl run nginx1 --image=nginx` gives here.
func pullFailingPod(namespace, name string, labels map[string]string, image, reason string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: image}}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "nginx", Image: image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "Back-off pulling image"}},
			}},
		},
	}
}

// service is a ClusterIP Service (clusterIP "None": headless) with one
// unnamed TCP port whose targetPort is the port itself.
func service(namespace, name, clusterIP string, port int32, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP,
			Selector:  selector,
			Ports:     []corev1.ServicePort{{Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}},
		},
	}
}

// sliceOf is the EndpointSlice the controller writes for svc: the given
// pods as ready endpoints (their IPs, targetRefs to them), and ports.
func sliceOf(svc string, ports []discoveryv1.EndpointPort, pods ...*corev1.Pod) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:   svc + "-xyz",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
	for _, p := range pods {
		s.Namespace = p.Namespace
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name},
		})
	}
	return s
}

// slicePort is one port of an EndpointSlice.
func slicePort(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}
}

// slice is an EndpointSlice for svc with endpoints of the given readiness.
func slice(namespace, svc string, ready ...bool) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: svc + "-abc",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, r := range ready {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{"10.244.0.9"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(r)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: namespace, Name: svc + "-a"},
		})
	}
	return s
}

func intp(i int) *int { return &i }

func apiNotFound(resource, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
}

func app(v string) map[string]string { return map[string]string{"app": v} }

// networkPolicy is a NetworkPolicy in namespace selecting pods with the labels
// selects ({} or nil: every pod) for the given policy types. Its rules are
// left out: the checks read only which pods a policy isolates, and the
// tests model what traffic it lets through separately.
func networkPolicy(namespace, name string, selects map[string]string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selects},
			PolicyTypes: types,
		},
	}
}

// probeKubelet plays the kubelet for the probe pods a check creates: each
// gets a UID and its own IP and runs with its container ready, but is never
// Ready (nothing sets its readiness gate). It records every pod as seclab
// sent it.
type probeKubelet struct {
	mu      sync.Mutex
	created []*corev1.Pod
}

func startsProbes(cs *fake.Clientset) *probeKubelet {
	k := &probeKubelet{}
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.created = append(k.created, p.DeepCopy())
		n := len(k.created)
		p.UID = apitypes.UID(fmt.Sprintf("uid-%d", n))
		p.Status = probeRunning(fmt.Sprintf("10.244.1.%d", n))
		return false, nil, nil // the tracker stores the pod
	})
	return k
}

func (k *probeKubelet) pods() []*corev1.Pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*corev1.Pod(nil), k.created...)
}

// probeRunning is a running probe pod's status: containers ready, the pod
// not Ready because of its readiness gate.
func probeRunning(ip string) corev1.PodStatus {
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		PodIP: ip,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ReadinessGatesNotReady"},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "probe", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}},
	}
}

// leftProbes lists the probe pods still in the cluster, in all namespaces.
func leftProbes(t *testing.T, cs *fake.Clientset) []string {
	t.Helper()
	list, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: ProbeLabel})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	return names
}

// probePatch is the merge patch seclab sent to one probe pod.
type probePatch struct {
	Metadata struct {
		Labels          map[string]string       `json:"labels"`
		OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
	} `json:"metadata"`
}

// probePatches returns the patches sent to pods, by pod name.
func probePatches(t *testing.T, cs *fake.Clientset) map[string]probePatch {
	t.Helper()
	out := map[string]probePatch{}
	for _, a := range cs.Actions() {
		pa, ok := a.(k8stesting.PatchAction)
		if !ok || a.GetVerb() != "patch" || a.GetResource().Resource != "pods" {
			continue
		}
		if pa.GetPatchType() != apitypes.MergePatchType {
			t.Errorf("probe pod %s patched with %s; want a merge patch", pa.GetName(), pa.GetPatchType())
		}
		var p probePatch
		if err := json.Unmarshal(pa.GetPatch(), &p); err != nil {
			t.Fatalf("patch of %s: %v", pa.GetName(), err)
		}
		out[pa.GetName()] = p
	}
	return out
}
