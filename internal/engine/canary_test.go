package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/seclab/seclab/internal/verify"
)

// policyExec answers the probe like a CNI would: traffic flows until the
// policy is applied, then it times out — unless enforce is false.
type policyExec struct {
	policyApplied *atomic.Bool
	enforce       bool
}

func (p policyExec) Exec(context.Context, string, string, string, []string, io.Reader) (string, string, int, error) {
	if p.policyApplied.Load() && p.enforce {
		return "SECLAB timeout 2\n", "", 0, nil
	}
	return "SECLAB http 200\n", "", 0, nil
}

func runningReady(pod *corev1.Pod, ip string) {
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
}

func canaryEnv(t *testing.T, enforce bool) (*verify.Env, *atomic.Bool) {
	t.Helper()
	client := fake.NewSimpleClientset()
	// The server pod the canary applies is "scheduled" straight away, and
	// so is the probe pod the connectivity check creates.
	server := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "server", Namespace: "seclab-canary", Labels: map[string]string{"app": "canary-server"}}}
	runningReady(server, "10.244.1.5")
	if _, err := client.CoreV1().Pods("seclab-canary").Create(context.Background(), server, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		runningReady(a.(k8stesting.CreateAction).GetObject().(*corev1.Pod), "10.244.1.9")
		return false, nil, nil
	})

	applied := &atomic.Bool{}
	scheme := runtime.NewScheme()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "namespaces"}:                                  "NamespaceList",
		{Version: "v1", Resource: "pods"}:                                        "PodList",
		{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}: "NetworkPolicyList",
	})
	// Server-side apply: the fake tracker cannot create through apply, and
	// the test only needs to know when the policy went in.
	dyn.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetResource().Resource == "networkpolicies" {
			applied.Store(true)
		}
		u := &unstructured.Unstructured{}
		return true, u, json.Unmarshal(pa.GetPatch(), &u.Object)
	})
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, meta.RESTScopeNamespace)
	return &verify.Env{
		Client: client, Dynamic: dyn, Mapper: mapper,
		Exec:     policyExec{policyApplied: applied, enforce: enforce},
		Interval: 10 * time.Millisecond, ProbeImage: ProbeImage,
	}, applied
}

func TestNetpolCanaryPassesWhenPolicyIsEnforced(t *testing.T) {
	e, _, _ := newTestEngine(t)
	env, applied := canaryEnv(t, true)
	if err := e.netpolCanary(context.Background(), env); err != nil {
		t.Fatalf("canary on an enforcing CNI: %v", err)
	}
	if !applied.Load() {
		t.Error("the canary never applied its deny policy")
	}
}

func TestNetpolCanaryStopsWhenPolicyIsIgnored(t *testing.T) {
	e, _, _ := newTestEngine(t)
	env, _ := canaryEnv(t, false)
	err := e.netpolCanary(context.Background(), env)
	var notEnforced *ErrPolicyNotEnforced
	if !errors.As(err, &notEnforced) {
		t.Fatalf("want ErrPolicyNotEnforced, got %v", err)
	}
	for _, want := range []string{"does not enforce NetworkPolicy", "HTTP 200", "nfqueue"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
}
