package verify

import (
	"errors"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
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
	outs  []NodeOutput
	any   *NodeOutput // RunOnNode's answer on nodes not in outs
	err   error
	role  string
	cmd   []string
	calls []string // nodes RunOnNode ran on
}

func (f *fakeNodes) RunOnNodes(_ context.Context, role string, cmd []string) ([]NodeOutput, error) {
	f.role, f.cmd = role, cmd
	return f.outs, f.err
}

func (f *fakeNodes) RunOnNode(_ context.Context, node string, cmd []string) (NodeOutput, error) {
	f.cmd = cmd
	f.calls = append(f.calls, node)
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
		Client:   cs,
		Dynamic:  dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), dyn...),
		Mapper:   testMapper(),
		Nodes:    answering(),
		Interval: time.Millisecond,
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

func service(namespace, name string, port int32, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Port: port}},
		},
	}
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
