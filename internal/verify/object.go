package verify

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// objectCheck passes when the object exists and partially matches the lab.
type objectCheck struct {
	spec *ObjectSpec
	want pattern // spec.Match compiled
}

func newObjectCheck(s *ObjectSpec) *objectCheck {
	return &objectCheck{spec: s, want: compileMatch("object.match", s.Match).root}
}

func (c *objectCheck) describe() string {
	if len(c.spec.Match) == 0 {
		return c.spec.Ref.String() + " exists"
	}
	return c.spec.Ref.String() + " matches " + flatten(c.spec.Match)
}

func (c *objectCheck) attempt(ctx context.Context, env *Env) Result {
	ref := c.spec.Ref
	obj, res := getObject(ctx, env, ref)
	if res != nil {
		return *res
	}
	if obj == nil {
		// Final: the API is synchronous, so an object the learner created
		// is there at once; waiting would only delay the answer.
		expected := ref.String() + " exists"
		return final(failed(expected, "not found"+namespaceHint(ctx, env, ref.Namespace)))
	}
	var diffs []difference
	c.want.match("", obj.Object, true, &diffs)
	if len(diffs) == 0 {
		return passed(c.describe(), "it does")
	}
	var want, got []string
	for i, d := range diffs {
		if i == maxDiffs {
			more := "differences"
			if len(diffs)-maxDiffs == 1 {
				more = "difference"
			}
			got = append(got, fmt.Sprintf("… and %d more %s", len(diffs)-maxDiffs, more))
			break
		}
		want = append(want, d.expected())
		got = append(got, d.found())
	}
	r := failed(strings.Join(want, "\n"), strings.Join(got, "\n"))
	if p := podBehindStatus(ref, obj, diffs); p != nil {
		// A pod's status says what the check wants but not why it is not
		// there yet; the kubelet's reasons do (a container it refuses to
		// start as root, an image it cannot pull).
		r.Found += "\n" + ref.String() + ": " + podProblem(p)
		if stuck(p) {
			r = final(r) // waiting will not start it
		}
	} else if why, stuckAll := workloadBehindStatus(ctx, env, ref, obj, diffs); why != "" {
		// The same for a workload: its controller's or its pods' reasons.
		r.Found += "\n" + ref.String() + ": " + why
		if stuckAll {
			r = final(r)
		}
	}
	return r
}

// inStatus reports whether a difference is in the object's status.
func inStatus(diffs []difference) bool {
	for _, d := range diffs {
		if d.path == "status" || strings.HasPrefix(d.path, "status.") {
			return true
		}
	}
	return false
}

// workloadBehindStatus explains why a workload (Deployment, ReplicaSet,
// StatefulSet, DaemonSet) whose status differs lacks ready pods: pods its
// controller could not create (ReplicaFailure: Pod Security or a quota
// refused them), and why each of its pods that exists is not Running and
// Ready. stuckAll is true when waiting will not help: the controller is
// refused and no pod is still starting, or every pod waits on something
// time will not fix. "" when it has nothing to say.
func workloadBehindStatus(ctx context.Context, env *Env, ref ObjectRef, obj *unstructured.Unstructured, diffs []difference) (why string, stuckAll bool) {
	if !strings.HasPrefix(ref.APIVersion, "apps/") || !inStatus(diffs) {
		return "", false
	}
	var parts []string
	refused := false
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "ReplicaFailure" && m["status"] == "True" {
			msg, _ := m["message"].(string)
			parts = append(parts, "its pods cannot be created: "+clip(msg, maxOutput))
			refused = true
		}
	}
	var bad []corev1.Pod
	sel, found, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	if found && env.Client != nil {
		var ls metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls); err == nil {
			if s, err := metav1.LabelSelectorAsSelector(&ls); err == nil && !s.Empty() {
				list, err := env.Client.CoreV1().Pods(obj.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: s.String()})
				if err == nil {
					for i := range list.Items {
						if !podUsable(&list.Items[i]) {
							bad = append(bad, list.Items[i])
						}
					}
					if len(bad) > 0 {
						parts = append(parts, podsProblems(bad))
					}
				}
			}
		}
	}
	stuckAll = (refused && len(bad) == 0) || allStuck(bad)
	return strings.Join(parts, "; "), stuckAll
}

// podBehindStatus returns the pod when ref is a pod that is not Running
// and Ready and a difference is in its status; nil otherwise.
func podBehindStatus(ref ObjectRef, obj *unstructured.Unstructured, diffs []difference) *corev1.Pod {
	if ref.APIVersion != "v1" || ref.Kind != "Pod" {
		return nil
	}
	if !inStatus(diffs) {
		return nil
	}
	var p corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &p); err != nil || podUsable(&p) {
		return nil
	}
	return &p
}

// getObject fetches ref through the dynamic client. It returns (nil, nil)
// when the object does not exist: that is the learner's to fix, not an
// error. Any other problem comes back as an Error result.
func getObject(ctx context.Context, env *Env, ref ObjectRef) (*unstructured.Unstructured, *Result) {
	if r := need(env.Dynamic != nil && env.Mapper != nil, "a dynamic client and REST mapper"); r != nil {
		return nil, r
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		r := final(errorf("bad apiVersion %q in the lab: %v", ref.APIVersion, err))
		return nil, &r
	}
	m, err := env.Mapper.RESTMapping(gv.WithKind(ref.Kind).GroupKind(), gv.Version)
	if err != nil {
		// Not final: a CRD the lab installs in this step may not be
		// served yet.
		r := errorf("the cluster does not serve kind %s in %s (%v)", ref.Kind, ref.APIVersion, err)
		if meta.IsNoMatchError(err) {
			r = errorf("the cluster does not serve kind %s in %s (is its CRD installed?)", ref.Kind, ref.APIVersion)
		}
		return nil, &r
	}
	ri := env.Dynamic.Resource(m.Resource)
	var obj *unstructured.Unstructured
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		obj, err = ri.Namespace(namespaceOr(ref.Namespace)).Get(ctx, ref.Name, metav1.GetOptions{})
	} else {
		obj, err = ri.Get(ctx, ref.Name, metav1.GetOptions{})
	}
	switch {
	case err == nil:
		return obj, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	default:
		r := errorf("could not read %s: %v", ref, err)
		return nil, &r
	}
}

// namespaceOr defaults an empty namespace like kubectl does.
func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// namespaceHint explains a "not found" whose real cause is a missing
// namespace, a common slip when the lab's namespace is created in step 1.
func namespaceHint(ctx context.Context, env *Env, ns string) string {
	if ns == "" || env.Client == nil {
		return ""
	}
	if _, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Sprintf(" (namespace %s does not exist)", ns)
	}
	return ""
}
