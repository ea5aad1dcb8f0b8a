package engine

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/seclab/seclab/internal/verify"
)

// objKey is an object's identity on the cluster.
type objKey struct {
	group, kind, namespace, name string
}

func (t *labTest) keyOf(obj *unstructured.Unstructured) (objKey, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := mappingFor(t.env, gvk)
	if err != nil {
		return objKey{}, err
	}
	k := objKey{group: gvk.Group, kind: gvk.Kind, name: obj.GetName()}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		k.namespace = obj.GetNamespace()
		if k.namespace == "" {
			k.namespace = "default" // where applyOne puts it
		}
	}
	return k, nil
}

// remember records objs as seclab applied them: undo restores this.
func (t *labTest) remember(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		k, err := t.keyOf(o)
		if err != nil {
			return err
		}
		t.baseline[k] = o.DeepCopy()
	}
	return nil
}

// appliedObj is an object a trial applied, and whether it was there before.
type appliedObj struct {
	obj     *unstructured.Unstructured
	key     objKey
	existed bool
}

// apply server-side-applies objs, namespaces first, noting what existed
// before. refused is the API server's reason when it rejected an object
// (objects before it stay applied, for undo); err means it could not tell.
func (t *labTest) apply(ctx context.Context, objs []*unstructured.Unstructured) (applied []appliedObj, refused string, err error) {
	objs = append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	seen := map[objKey]bool{}
	for _, obj := range objs {
		key, err := t.keyOf(obj)
		if err != nil {
			return applied, "", err
		}
		ri, err := resourceFor(t.env, obj.GroupVersionKind(), obj.GetNamespace())
		if err != nil {
			return applied, "", err
		}
		_, gerr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if gerr != nil && !apierrors.IsNotFound(gerr) {
			return applied, "", gerr
		}
		if err := applyOne(ctx, t.env, obj); err != nil {
			if msg, ok := refusal(err); ok {
				return applied, msg, nil
			}
			return applied, "", err
		}
		if !seen[key] {
			seen[key] = true
			applied = append(applied, appliedObj{obj: obj, key: key, existed: gerr == nil})
		}
	}
	return applied, "", nil
}

// undo deletes what a trial created (wherever it was put) and puts back
// seclab's earlier version of what it changed. Server-side apply as the
// same field manager removes the fields the trial added; an object seclab
// never applied before gets a bare apply, which releases all of them.
func (t *labTest) undo(ctx context.Context, applied []appliedObj) error {
	var created []*unstructured.Unstructured
	for i := len(applied) - 1; i >= 0; i-- {
		a := applied[i]
		if !a.existed {
			created = append(created, a.obj)
			continue
		}
		restore := t.baseline[a.key]
		if restore == nil {
			restore = refObject(verify.ObjectRef{APIVersion: a.obj.GetAPIVersion(), Kind: a.obj.GetKind(), Namespace: a.obj.GetNamespace(), Name: a.obj.GetName()})
		}
		if err := applyOne(ctx, t.env, restore); err != nil {
			return err
		}
	}
	return deleteObjects(ctx, t.env, created)
}

// refusal is the API server's message when err is it refusing an object
// (invalid, denied by admission, namespace missing), as opposed to seclab
// not reaching it.
func refusal(err error) (string, bool) {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return "", false
	}
	switch st.Status().Code {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		return st.Status().Message, true
	case http.StatusInternalServerError:
		// Server-side apply answers an object it cannot even merge (a
		// list item without its merge key, e.g. a container without a
		// name) with a 500, not a 422: the object is refused all the same.
		// The RBAC storage's escalation check resolves a binding's roleRef
		// before validation does, and answers an invalid one (no kind)
		// with a 500 too.
		if m := st.Status().Message; strings.Contains(m, "failed to create typed patch object") || strings.Contains(m, "unsupported role reference kind") {
			return m, true
		}
	}
	return "", false
}

// storedAsOriginal tells whether the server holds the mutated object just
// as it would hold the original: a dry-run apply of the original over the
// stored mutant gives the solution's stored form, defaults included.
func (t *labTest) storedAsOriginal(ctx context.Context, eq *equivalence) (bool, error) {
	mk, err := t.keyOf(eq.mutated)
	if err != nil {
		return false, err
	}
	if ok, err := t.keyOf(eq.original); err != nil || ok != mk {
		return false, err // moved elsewhere: never the same
	}
	ri, err := resourceFor(t.env, eq.original.GroupVersionKind(), eq.original.GetNamespace())
	if err != nil {
		return false, err
	}
	stored, err := ri.Get(ctx, eq.mutated.GetName(), metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	want, err := serverSideApply(ctx, ri, eq.original, true)
	if err != nil {
		if _, refused := refusal(err); refused {
			return false, nil
		}
		return false, err
	}
	return reflect.DeepEqual(content(stored), content(want)), nil
}

// content is what an object says, without what the server keeps about it
// (uid, versions, managed fields, status, annotations controllers write).
// Mutants never change annotations, so ignoring them hides no mutant.
func content(u *unstructured.Unstructured) map[string]any {
	c := u.DeepCopy().Object
	delete(c, "status")
	// The scheduler's binding, set between the two reads or not: it is
	// the cluster's doing, never the mutant's.
	if spec, ok := c["spec"].(map[string]any); ok && u.GetKind() == "Pod" {
		delete(spec, "nodeName")
	}
	c["metadata"] = map[string]any{"name": u.GetName(), "namespace": u.GetNamespace(), "labels": u.GetLabels()}
	return c
}

// settle waits until the workloads among objs are ready, for at most the
// longest deadline of step n's checks: with the short deadlines of the
// self-test, a check must fail for what the trial changed, not because its
// pods are still starting. A workload that never gets ready is the trial's
// doing; the checks then say what is wrong.
func (t *labTest) settle(ctx context.Context, n int, objs []*unstructured.Unstructured) {
	var bound time.Duration
	for _, c := range t.lab.Step(n).Checks {
		bound = max(bound, c.TimeoutOrDefault())
	}
	sctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	interval := t.env.Interval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	for _, o := range objs {
		if !isWorkload(o) {
			continue
		}
		ri, err := resourceFor(t.env, o.GroupVersionKind(), o.GetNamespace())
		if err != nil {
			continue
		}
		_ = wait.PollUntilContextCancel(sctx, interval, true, func(ctx context.Context) (bool, error) {
			cur, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
			return err == nil && workloadReady(cur), nil
		})
	}
}

func isWorkload(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	switch {
	case gvk.Group == "apps":
		return gvk.Kind == "Deployment" || gvk.Kind == "StatefulSet" || gvk.Kind == "ReplicaSet" || gvk.Kind == "DaemonSet"
	case gvk.Group == "":
		return gvk.Kind == "Pod"
	}
	return false
}

// workloadReady: the controller saw the latest spec and every wanted pod
// is ready and current (no old pods left over).
func workloadReady(u *unstructured.Unstructured) bool {
	num := func(fields ...string) int64 {
		v, _, _ := unstructured.NestedInt64(u.Object, fields...)
		return v
	}
	observed := num("status", "observedGeneration") >= u.GetGeneration()
	switch u.GetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
		want, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !found {
			want = 1
		}
		updated := u.GetKind() == "ReplicaSet" || num("status", "updatedReplicas") == want
		return observed && updated && num("status", "readyReplicas") == want && num("status", "replicas") == want
	case "DaemonSet":
		desired := num("status", "desiredNumberScheduled")
		return observed && num("status", "numberReady") == desired && num("status", "updatedNumberScheduled") == desired
	case "Pod":
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
				return m["status"] == "True"
			}
		}
		return false
	}
	return true
}
