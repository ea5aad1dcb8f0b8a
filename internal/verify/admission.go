package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// admissionCheck submits an object with server-side dry-run: every
// admission stage runs (Pod Security, ValidatingAdmissionPolicy, webhooks)
// and nothing is stored, so it tests the learner's policy exactly as a real
// `kubectl apply` would meet it.
type admissionCheck struct {
	spec *AdmissionSpec
}

// object is what the check submits: the lab's manifest, or a pod made from
// a live object's pod template. Without an object, the result says why.
func (c *admissionCheck) object(ctx context.Context, env *Env) (*unstructured.Unstructured, *Result) {
	if c.spec.PodTemplate != nil {
		return c.templatePod(ctx, env)
	}
	return c.literal(), nil
}

func (c *admissionCheck) literal() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: runtime.DeepCopyJSON(normalize(c.spec.Object).(map[string]any))}
}

// templatePrefix names the pods made from templates: a name nobody
// creates, so a dry-run create never meets an existing pod.
const templatePrefix = "seclab-template-"

// templatePod is the pod a controller would create from the template at
// spec.PodTemplate: the template's labels, annotations (an AppArmor
// annotation is judged by Pod Security) and spec, in the owner's namespace.
func (c *admissionCheck) templatePod(ctx context.Context, env *Env) (*unstructured.Unstructured, *Result) {
	f := c.spec.PodTemplate
	owner, res := getObject(ctx, env, f.Ref)
	if res != nil {
		return nil, res
	}
	if owner == nil {
		// Final, as for an object check: the API is synchronous.
		r := final(failed(f.Ref.String()+" exists and its pod template is "+c.expected(), "not found"+namespaceHint(ctx, env, f.Ref.Namespace)))
		return nil, &r
	}
	steps, err := parseFieldPath(f.Field)
	if err != nil { // Validate rejects it first
		r := final(errorf("bad field %q in the lab: %v", f.Field, err))
		return nil, &r
	}
	v, _ := lookupField(owner.Object, steps)
	tmpl, _ := v.(map[string]any)
	spec, _ := tmpl["spec"].(map[string]any)
	if spec == nil {
		r := final(errorf("%s has no pod template at %s; the lab must point at one (a Deployment's spec.template)", f.Ref, f.Field))
		return nil, &r
	}
	md := map[string]any{"name": podName(templatePrefix + owner.GetName()), "namespace": owner.GetNamespace()}
	if tm, ok := tmpl["metadata"].(map[string]any); ok {
		for _, k := range []string{"labels", "annotations"} {
			if x, ok := tm[k]; ok {
				md[k] = x
			}
		}
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}
	return &unstructured.Unstructured{Object: runtime.DeepCopyJSON(pod)}, nil
}

// podName cuts name to the 253 characters a pod name may have.
func podName(name string) string {
	if len(name) > 253 {
		name = strings.TrimRight(name[:253], "-.")
	}
	return name
}

func (c *admissionCheck) ref() string {
	if f := c.spec.PodTemplate; f != nil {
		return "the pod template of " + f.Ref.String()
	}
	o := c.literal()
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func (c *admissionCheck) describe() string {
	switch c.spec.Expect {
	case ExpectDenied:
		return "admission denies " + c.ref()
	case ExpectWarned:
		return "admission warns about " + c.ref()
	}
	if c.spec.NoWarnings {
		return "admission admits " + c.ref() + " with no warnings"
	}
	return "admission admits " + c.ref()
}

// expected renders what the lab wants; messageContains only means something
// for a denial (its message) or a warning (its text).
func (c *admissionCheck) expected() string {
	contains := ""
	if c.spec.MessageContains != "" {
		contains = " containing " + quote(c.spec.MessageContains, maxValue)
	}
	switch c.spec.Expect {
	case ExpectDenied:
		if contains != "" {
			return "denied with a message" + contains
		}
		return "denied"
	case ExpectWarned:
		return "admitted with a warning" + contains
	}
	if c.spec.NoWarnings {
		return "admitted with no warnings"
	}
	return "admitted"
}

// Admission answers from caches that trail the API: a new or changed
// ValidatingAdmissionPolicy or binding is compiled at the API server's next
// policy refresh (once a second), and Pod Security reads namespace labels
// through an informer. An answer right after a change may still be the old
// configuration's, so a pass is asked again once that lag is over, and only
// the second answer counts. Without this the self-test, which applies a
// near-miss right after undoing the previous one, judged the earlier policy.
func (c *admissionCheck) attempt(ctx context.Context, env *Env) Result {
	r := c.ask(ctx, env)
	if r.Status != Pass {
		return r
	}
	t := time.NewTimer(env.admissionLag())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errorf("interrupted while confirming the admission answer (%s)", r.Found)
	case <-t.C:
	}
	return c.ask(ctx, env)
}

// admissionAttemptBudget covers the two dry runs of an attempt and the
// pause between them, whatever the check's timeout.
const admissionAttemptBudget = DefaultAdmissionLag + 10*time.Second

func (c *admissionCheck) minAttempt() time.Duration { return admissionAttemptBudget }

func (c *admissionCheck) ask(ctx context.Context, env *Env) Result {
	if r := need(env.Admit != nil, "a dry-run admission client"); r != nil {
		return *r
	}
	obj, res := c.object(ctx, env)
	if res != nil {
		return *res
	}
	warnings, err := env.Admit.DryRunCreate(ctx, obj)
	expected := c.expected()
	if err != nil {
		msg, denied := admissionDenial(err)
		if !denied {
			return admissionError(obj, expected, err)
		}
		found := "denied: " + clip(msg, 300)
		if c.spec.Expect == ExpectDenied && c.contains(msg) {
			return passed(expected, found)
		}
		return failed(expected, found)
	}
	found := "admitted with no warnings"
	if len(warnings) > 0 {
		// A long clip: one Pod Security warning lists every rule the pod
		// breaks (400 characters and more), and the learner needs them all.
		found = "admitted with " + plural(len(warnings), "warning") + ": " + clip(strings.Join(warnings, "; "), 1000)
	}
	switch c.spec.Expect {
	case ExpectAdmitted:
		if c.spec.NoWarnings && len(warnings) > 0 {
			return failed(expected, found)
		}
		return passed(expected, found)
	case ExpectWarned:
		for _, w := range warnings {
			if c.contains(w) {
				return passed(expected, found)
			}
		}
	}
	return failed(expected, found)
}

func (c *admissionCheck) contains(msg string) bool {
	return strings.Contains(msg, c.spec.MessageContains)
}

// admissionDenial tells an admission "no" (Forbidden from Pod Security or a
// webhook, Invalid from a ValidatingAdmissionPolicy, 400 from a webhook that
// set that code) from a failure to ask.
func admissionDenial(err error) (string, bool) {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return "", false
	}
	s := st.Status()
	switch s.Code {
	case http.StatusForbidden, http.StatusUnprocessableEntity:
		return s.Message, true
	case http.StatusBadRequest:
		if strings.Contains(s.Message, "admission webhook") || strings.Contains(s.Message, "denied") {
			return s.Message, true
		}
	}
	return "", false
}

// admissionError explains why the object could not be tried at all.
func admissionError(obj *unstructured.Unstructured, expected string, err error) Result {
	switch {
	case apierrors.IsNotFound(err):
		var st apierrors.APIStatus
		if errors.As(err, &st) && st.Status().Details != nil && st.Status().Details.Kind == "namespaces" {
			// Fail: the namespace carries the policy under test (Pod
			// Security labels, the policy's binding), so the lab's setup
			// or the learner makes it; without it the step is not done.
			return failed(expected, fmt.Sprintf("namespace %s does not exist, so nothing can be admitted there yet (create it first)", st.Status().Details.Name))
		}
		return errorf("could not submit %s %s: %v", obj.GetKind(), obj.GetName(), err)
	case apierrors.IsAlreadyExists(err):
		return final(errorf("%s %s already exists, so a dry-run create cannot test admission; the lab should use a name nobody creates", obj.GetKind(), obj.GetName()))
	case meta.IsNoMatchError(err):
		return errorf("the cluster does not serve kind %s in %s (is its CRD installed?)", obj.GetKind(), obj.GetAPIVersion())
	}
	return errorf("could not submit %s %s for a dry run: %v", obj.GetKind(), obj.GetName(), err)
}

// dryRunAdmitter is the real Admitter.
type dryRunAdmitter struct {
	cfg    *rest.Config
	mapper meta.RESTMapper
	err    error // from building the mapper; reported on use
}

// NewAdmitter returns an Admitter that creates objects with DryRun=All
// through a discovery-backed (cached, refreshed on a miss) REST mapper.
func NewAdmitter(cfg *rest.Config) Admitter {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return &dryRunAdmitter{err: err}
	}
	return newAdmitter(cfg, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)))
}

func newAdmitter(cfg *rest.Config, mapper meta.RESTMapper) Admitter {
	return &dryRunAdmitter{cfg: cfg, mapper: mapper}
}

// warningCollector keeps the warnings of one request. Each request gets its
// own client (and collector), so concurrent checks never see each other's.
type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningCollector) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		if m == text {
			return
		}
	}
	w.msgs = append(w.msgs, text)
}

func (w *warningCollector) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

func (a *dryRunAdmitter) DryRunCreate(ctx context.Context, obj *unstructured.Unstructured) ([]string, error) {
	if a.err != nil {
		return nil, a.err
	}
	gvk := obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(a.cfg)
	var w warningCollector
	cfg.WarningHandler = &w
	cfg.WarningHandlerWithContext = nil // it would take precedence
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a client: %w", err)
	}
	opts := metav1.CreateOptions{
		DryRun: []string{metav1.DryRunAll},
		// Strict: a typo in the lab's object is an error, not a warning
		// that would make an "expect: warned" check pass by accident.
		FieldValidation: metav1.FieldValidationStrict,
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := namespaceOr(obj.GetNamespace())
		_, err = client.Resource(m.Resource).Namespace(ns).Create(ctx, obj, opts)
	} else {
		_, err = client.Resource(m.Resource).Create(ctx, obj, opts)
	}
	return w.list(), err
}
