package verify

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func netpol(namespace, name, app string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.k8s.io/v1",
		"kind":       "NetworkPolicy",
		"metadata":   map[string]any{"namespace": namespace, "name": name},
		"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"app": app, "tier": "web"}},
			"policyTypes": []any{"Ingress"},
			"ingress": []any{map[string]any{
				"ports": []any{map[string]any{"port": int64(80), "protocol": "TCP"}},
			}},
		},
	}}
}

func deployment(ready any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"namespace": "n287", "name": "nginx1"},
		"status":     map[string]any{"readyReplicas": ready},
	}}
}

var npRef = ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "n287", Name: "np"}

func TestObjectPartialMatchPasses(t *testing.T) {
	env, _ := testEnv(netpol("n287", "np", "nginx2"))
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef, Match: map[string]any{
		// yaml.v3 decodes 80 as int; the object has int64.
		"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"app": "nginx2"}},
			"ingress":     []any{map[string]any{"ports": []any{map[string]any{"port": 80}}}},
		},
	}}})
	wantStatus(t, r, Pass)
	if r.Attempts != 1 {
		t.Errorf("attempts = %d", r.Attempts)
	}
}

func TestObjectNumericNormalisation(t *testing.T) {
	for _, found := range []any{int64(1), float64(1)} {
		for _, want := range []any{1, int64(1), float64(1), uint8(1)} {
			env, _ := testEnv(deployment(found))
			r := quick(t, env, Spec{Object: &ObjectSpec{
				Ref:   ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "n287", Name: "nginx1"},
				Match: map[string]any{"status": map[string]any{"readyReplicas": want}},
			}})
			if r.Status != Pass {
				t.Errorf("want %T(1) vs found %T(1): %s: %s", want, found, r.Status, r.Found)
			}
		}
	}
	env, _ := testEnv(deployment(int64(0)))
	r := quick(t, env, Spec{Object: &ObjectSpec{
		Ref:   ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "n287", Name: "nginx1"},
		Match: map[string]any{"status": map[string]any{"readyReplicas": 1}},
	}})
	wantStatus(t, r, Fail)
	if r.Expected != "status.readyReplicas = 1" || r.Found != "status.readyReplicas = 0" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
}

func TestObjectMismatchNamesFieldPath(t *testing.T) {
	env, _ := testEnv(netpol("n287", "np", "nginx1"))
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef, Match: map[string]any{
		"spec": map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "nginx2"}}},
	}}})
	wantStatus(t, r, Fail)
	if r.Expected != `spec.podSelector.matchLabels.app = "nginx2"` {
		t.Errorf("expected = %q", r.Expected)
	}
	if r.Found != `spec.podSelector.matchLabels.app = "nginx1"` {
		t.Errorf("found = %q", r.Found)
	}
	if r.Name != "NetworkPolicy n287/np matches {spec.podSelector.matchLabels.app: nginx2}" {
		t.Errorf("name = %q", r.Name)
	}
}

func TestObjectMissingFieldAndSeveralDiffs(t *testing.T) {
	env, _ := testEnv(netpol("n287", "np", "nginx1"))
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef, Match: map[string]any{
		"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"app": "nginx2", "tier": "web"}},
			"egress":      []any{},
			"ingress":     []any{map[string]any{"ports": []any{map[string]any{"port": 8080, "protocol": "TCP"}}}},
		},
	}}})
	wantStatus(t, r, Fail)
	wantLines := []string{
		"spec.egress = <missing>",
		`spec.ingress[0].ports[0].port = 80`,
		`spec.podSelector.matchLabels.app = "nginx1"`,
	}
	if got := strings.Split(r.Found, "\n"); strings.Join(got, "|") != strings.Join(wantLines, "|") {
		t.Errorf("found lines %q\n want %q", got, wantLines)
	}
	wantContains(t, "expected", r.Expected, "spec.egress = []", "spec.ingress[0].ports[0].port = 8080")
}

func TestObjectListLengthAndTooManyDiffs(t *testing.T) {
	env, _ := testEnv(netpol("n287", "np", "nginx1"))
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef, Match: map[string]any{
		"spec": map[string]any{"policyTypes": []any{"Ingress", "Egress"}},
	}}})
	wantStatus(t, r, Fail)
	if r.Found != `spec.policyTypes = ["Ingress"] (1 item)` || r.Expected != `spec.policyTypes = ["Ingress", "Egress"] (2 items)` {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}

	labels := map[string]any{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		labels[k] = "x"
	}
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef, Match: map[string]any{
		"spec": map[string]any{"podSelector": map[string]any{"matchLabels": labels}},
	}}})
	wantStatus(t, r, Fail)
	got := strings.Split(r.Found, "\n")
	if len(got) != 6 || got[5] != "… and 2 more differences" {
		t.Errorf("found = %q; want 5 diffs and a count of the rest", got)
	}
}

func TestObjectNotFoundIsFail(t *testing.T) {
	env, _ := testEnv(ns("n287"))
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef}})
	wantStatus(t, r, Fail)
	if r.Found != "not found" || r.Expected != "NetworkPolicy n287/np exists" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
	if r.Attempts != 1 {
		t.Errorf("a missing object is reported at once, got %d attempts", r.Attempts)
	}

	env, _ = testEnv() // no namespace either
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef}})
	wantStatus(t, r, Fail)
	if r.Found != "not found (namespace n287 does not exist)" {
		t.Errorf("found = %q", r.Found)
	}
}

func TestObjectUnknownKindIsError(t *testing.T) {
	env, _ := testEnv()
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: ObjectRef{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy", Namespace: "n", Name: "x"}}})
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "does not serve kind CiliumNetworkPolicy in cilium.io/v2", "CRD")
}

func TestObjectClusterScoped(t *testing.T) {
	cr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": "reader"},
		"rules":    []any{map[string]any{"verbs": []any{"get", "list"}, "resources": []any{"pods"}}},
	}}
	env, _ := testEnv(cr)
	r := quick(t, env, Spec{Object: &ObjectSpec{
		Ref:   ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "reader"},
		Match: map[string]any{"rules": []any{map[string]any{"verbs": []any{"get", "list"}}}},
	}})
	wantStatus(t, r, Pass)
}

func TestMatchObject(t *testing.T) {
	got := map[string]any{
		"a":      int64(1),
		"f":      1.5,
		"s":      "x",
		"labels": map[string]any{"app.kubernetes.io/name": "web"},
		"null":   nil,
	}
	for _, tc := range []struct {
		name string
		want map[string]any
		diff string // "" = match
	}{
		{"int equals int64", map[string]any{"a": 1}, ""},
		{"float", map[string]any{"f": 1.5}, ""},
		{"float differs", map[string]any{"f": 2}, "f: 2 vs 1.5"},
		{"string is not a number", map[string]any{"a": "1"}, `a: "1" vs 1`},
		{"null means unset", map[string]any{"nope": nil, "null": nil}, ""},
		{"null vs set", map[string]any{"s": nil}, `s: null vs "x"`},
		{"map vs scalar", map[string]any{"s": map[string]any{"k": "v"}}, `s: {k: "v"} vs "x"`},
		{"bracketed label key", map[string]any{"labels": map[string]any{"app.kubernetes.io/name": "db"}},
			`labels["app.kubernetes.io/name"]: "db" vs "web"`},
		{"yaml.v2 map", map[string]any{"labels": map[any]any{"app.kubernetes.io/name": "web"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := matchObject(tc.want, got)
			var s []string
			for _, x := range d {
				s = append(s, x.path+": "+x.want+" vs "+x.got)
			}
			if strings.Join(s, "; ") != tc.diff {
				t.Errorf("diff = %q, want %q", strings.Join(s, "; "), tc.diff)
			}
		})
	}
}

func TestAbsent(t *testing.T) {
	env, _ := testEnv()
	r := quick(t, env, Spec{Absent: &AbsentSpec{Ref: npRef}})
	wantStatus(t, r, Pass)

	np := netpol("n287", "np", "x")
	np.SetCreationTimestamp(metav1.NewTime(time.Now().Add(-15 * time.Minute)))
	env, _ = testEnv(np)
	r = quick(t, env, Spec{Absent: &AbsentSpec{Ref: npRef}})
	wantStatus(t, r, Fail)
	if r.Found != "exists (created 15m ago)" || r.Expected != "NetworkPolicy n287/np does not exist" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}

	env, _ = testEnv()
	r = quick(t, env, Spec{Absent: &AbsentSpec{Ref: ObjectRef{APIVersion: "example.com/v1", Kind: "Widget", Name: "w"}}})
	wantStatus(t, r, Error) // an unknown kind is not proof of absence
}

// unstructuredPod is p as the dynamic client returns it.
func unstructuredPod(t *testing.T, p *corev1.Pod) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind("Pod")
	return u
}

var runningReady = map[string]any{"status": map[string]any{
	"phase":      "Running",
	"conditions": map[string]any{"$contains": []any{map[string]any{"type": "Ready", "status": "True"}}},
}}

var hardenedRef = ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "k01-hardened", Name: "hardened"}

// A pod the kubelet refuses to start: the check says why, at once.
func TestObjectPodStatusSaysWhy(t *testing.T) {
	p := pullFailingPod("k01-hardened", "hardened", nil, "busybox:1.36", "CreateContainerConfigError")
	p.Status.ContainerStatuses[0].State.Waiting.Message = `container has runAsNonRoot and image will run as root (pod: "hardened_k01-hardened(1c2d)", container: nginx)`
	env, _ := testEnv(unstructuredPod(t, p))
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: hardenedRef, Match: runningReady}})
	wantStatus(t, r, Fail)
	wantContains(t, "expected", r.Expected, `status.phase = "Running"`)
	wantContains(t, "found", r.Found, `status.phase = "Pending"`,
		"\nPod k01-hardened/hardened: container nginx is waiting: CreateContainerConfigError: container has runAsNonRoot and image will run as root")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d: the kubelet will not start it by waiting", r.Attempts)
	}

	// Still starting: the reason is given, and the check keeps trying.
	p = pullFailingPod("k01-hardened", "hardened", nil, "busybox:1.36", "ContainerCreating")
	env, _ = testEnv(unstructuredPod(t, p))
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: hardenedRef, Match: runningReady}})
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "Pod k01-hardened/hardened: it is still starting (Pending)")
	if r.Attempts < 2 {
		t.Errorf("attempts = %d: a starting pod is worth waiting for", r.Attempts)
	}
}

// The pod's reasons are only added where the status is what differs.
func TestObjectPodSpecDifferenceHasNoStatusNote(t *testing.T) {
	p := readyPodObj("k01-hardened", "hardened", nil, "10.0.0.9")
	env, _ := testEnv(unstructuredPod(t, p))
	wantStatus(t, quick(t, env, Spec{Object: &ObjectSpec{Ref: hardenedRef, Match: runningReady}}), Pass)

	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: hardenedRef, Match: map[string]any{"spec": map[string]any{"hostPID": true}}}})
	wantStatus(t, r, Fail)
	if r.Found != "spec.hostPID = <missing>" {
		t.Errorf("found = %q", r.Found)
	}

	p = pullFailingPod("k01-hardened", "hardened", nil, "busybox:1.36", "CreateContainerConfigError")
	env, _ = testEnv(unstructuredPod(t, p))
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: hardenedRef, Match: map[string]any{"spec": map[string]any{"hostPID": true}}}})
	wantStatus(t, r, Fail)
	if r.Found != "spec.hostPID = <missing>" {
		t.Errorf("found = %q", r.Found)
	}
}

var webRef = ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-a", Name: "web"}

var hasReadyPod = map[string]any{"status": map[string]any{"readyReplicas": map[string]any{"$gte": 1}}}

// webWithStatus is Deployment team-a/web selecting app=web, with status.
func webWithStatus(status map[string]any) *unstructured.Unstructured {
	d := webDeployment()
	_ = unstructured.SetNestedField(d.Object, map[string]any{"matchLabels": map[string]any{"app": "web"}}, "spec", "selector")
	d.Object["status"] = status
	return d
}

// A Deployment without ready pods: the check says why from its pods, at
// once when none will start by waiting.
func TestObjectWorkloadStatusSaysWhy(t *testing.T) {
	p := pullFailingPod("team-a", "web-7d4f-abcde", app("web"), "busybox:1.36", "CreateContainerConfigError")
	p.Status.ContainerStatuses[0].State.Waiting.Message = "container has runAsNonRoot and image will run as root"
	other := pullFailingPod("team-a", "other", app("other"), "busybox:1.36", "ErrImagePull")
	env, _ := testEnv(webWithStatus(map[string]any{"replicas": int64(1)}), p, other)
	r := quick(t, env, Spec{Object: &ObjectSpec{Ref: webRef, Match: hasReadyPod}})
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "status.readyReplicas = <missing>",
		"\nDeployment team-a/web: pod web-7d4f-abcde: container nginx is waiting: CreateContainerConfigError: container has runAsNonRoot and image will run as root")
	wantNotContains(t, "found", r.Found, "other") // not selected by the Deployment
	if r.Attempts != 1 {
		t.Errorf("attempts = %d: the kubelet will not start it by waiting", r.Attempts)
	}

	// Pods the controller could not create: the Deployment's own condition.
	env, _ = testEnv(webWithStatus(map[string]any{"conditions": []any{map[string]any{
		"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
		"message": `pods "web-7d4f-x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)`,
	}}}))
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: webRef, Match: hasReadyPod}})
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, `Deployment team-a/web: its pods cannot be created: pods "web-7d4f-x" is forbidden: violates PodSecurity "baseline:latest": privileged`)
	if r.Attempts != 1 {
		t.Errorf("attempts = %d: the controller is refused, and no pod is starting", r.Attempts)
	}
	// A pod still starting beside the refusal is worth waiting for.
	starting := pullFailingPod("team-a", "web-7d4f-y", app("web"), "busybox:1.36", "ContainerCreating")
	env, _ = testEnv(webWithStatus(map[string]any{"conditions": []any{map[string]any{"type": "ReplicaFailure", "status": "True", "message": "exceeded quota"}}}), starting)
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: webRef, Match: hasReadyPod}})
	wantContains(t, "found", r.Found, "its pods cannot be created: exceeded quota; pod web-7d4f-y: it is still starting (Pending)")
	if r.Attempts < 2 {
		t.Errorf("attempts = %d: a starting pod is worth waiting for", r.Attempts)
	}

	// A difference outside status, or no pods and no failure: nothing added.
	env, _ = testEnv(webWithStatus(map[string]any{}))
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: webRef, Match: hasReadyPod}})
	if r.Found != "status.readyReplicas = <missing>" {
		t.Errorf("found = %q", r.Found)
	}
	env, _ = testEnv(webWithStatus(map[string]any{}), p)
	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: webRef, Match: map[string]any{"spec": map[string]any{"replicas": 3}}}})
	if r.Found != "spec.replicas = 2" {
		t.Errorf("found = %q", r.Found)
	}
}
