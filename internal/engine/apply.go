package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/seclab/seclab/internal/verify"
)

const fieldManager = "seclab"

// mappingFor maps an object's kind to its API resource and scope.
func mappingFor(env *verify.Env, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	mapping, err := env.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			// The discovery cache may predate a CRD or API; refresh once.
			if r, ok := env.Mapper.(meta.ResettableRESTMapper); ok {
				r.Reset()
				mapping, err = env.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s is not served by this cluster: %w", gvk, err)
		}
	}
	return mapping, nil
}

// resourceFor maps an object's kind to its API resource.
func resourceFor(env *verify.Env, gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	mapping, err := mappingFor(env, gvk)
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if namespace == "" {
			namespace = "default"
		}
		return env.Dynamic.Resource(mapping.Resource).Namespace(namespace), nil
	}
	return env.Dynamic.Resource(mapping.Resource), nil
}

// applyObjects server-side-applies objects, namespaces first, retrying
// while a namespace they need is still being deleted (after a reset).
func applyObjects(ctx context.Context, env *verify.Env, objs []*unstructured.Unstructured) error {
	objs = append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	for _, obj := range objs {
		if err := applyOne(ctx, env, obj); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(ctx context.Context, env *verify.Env, obj *unstructured.Unstructured) error {
	ri, err := resourceFor(env, obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return err
	}
	what := describe(obj)
	return wait.PollUntilContextTimeout(ctx, time.Second, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := serverSideApply(ctx, ri, obj, false)
		switch {
		case err == nil:
			return true, nil
		case isTerminating(err):
			return false, nil // the namespace is going away; wait for it
		default:
			return false, fmt.Errorf("applying %s: %w", what, err)
		}
	})
}

// serverSideApply applies obj as seclab's field manager; with dryRun the
// API server returns what it would store (defaulted) and stores nothing.
func serverSideApply(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
}

func isTerminating(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "being terminated") ||
		apierrors.HasStatusCause(err, "NamespaceTerminating")
}

// deleteObjects deletes objects (missing ones are fine) and waits until they
// are gone, so what follows sees a clean slate.
func deleteObjects(ctx context.Context, env *verify.Env, objs []*unstructured.Unstructured) error {
	type pending struct {
		ri   dynamic.ResourceInterface
		name string
		what string
	}
	var waitFor []pending
	policy := metav1.DeletePropagationForeground
	for _, obj := range objs {
		ri, err := resourceFor(env, obj.GroupVersionKind(), obj.GetNamespace())
		if err != nil {
			return err
		}
		err = ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("deleting %s: %w", describe(obj), err)
		}
		waitFor = append(waitFor, pending{ri, obj.GetName(), describe(obj)})
	}
	for _, p := range waitFor {
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := p.ri.Get(ctx, p.name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			return fmt.Errorf("waiting for %s to be deleted: %w", p.what, err)
		}
	}
	return nil
}

// refObject turns a reference into a bare object for deleteObjects.
func refObject(r verify.ObjectRef) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(r.APIVersion)
	u.SetKind(r.Kind)
	u.SetNamespace(r.Namespace)
	u.SetName(r.Name)
	return u
}

func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
}
