package verify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/rest"
)

func privPod() map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "priv", "namespace": "n1"},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "c", "image": "nginx:1.27",
			"securityContext": map[string]any{"privileged": true, "runAsUser": 0},
		}}},
	}
}

const psaDenial = `pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`

func admissionRun(t *testing.T, a *fakeAdmit, expect, contains string) Result {
	t.Helper()
	env, _ := testEnv()
	env.Admit = a
	return quick(t, env, Spec{Admission: &AdmissionSpec{Object: privPod(), Expect: expect, MessageContains: contains}})
}

func forbidden(msg string) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "priv", errors.New(msg))
}

func TestAdmissionDenied(t *testing.T) {
	a := &fakeAdmit{err: &apierrors.StatusError{ErrStatus: forbidden("x").(*apierrors.StatusError).ErrStatus}}
	a.err.(*apierrors.StatusError).ErrStatus.Message = psaDenial
	r := admissionRun(t, a, ExpectDenied, "privileged")
	wantStatus(t, r, Pass)
	if r.Found != "denied: "+psaDenial {
		t.Errorf("found = %q", r.Found)
	}
	// The object was sent with YAML ints made JSON-safe.
	if v, _, _ := unstructured.NestedFieldNoCopy(a.got.Object, "spec", "containers"); v == nil || a.got.GetNamespace() != "n1" {
		t.Errorf("submitted %v", a.got.Object)
	}

	r = admissionRun(t, a, ExpectDenied, "hostPath")
	wantStatus(t, r, Fail)
	if r.Expected != `denied with a message containing "hostPath"` || r.Found != "denied: "+psaDenial {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}

	r = admissionRun(t, a, ExpectAdmitted, "")
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "denied: pods \"priv\" is forbidden")
}

func TestAdmissionInvalidFromPolicyIsDenial(t *testing.T) {
	err := apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "priv", field.ErrorList{
		field.Forbidden(field.NewPath("spec"), "ValidatingAdmissionPolicy 'no-priv' denied request: no privileged pods"),
	})
	r := admissionRun(t, &fakeAdmit{err: err}, ExpectDenied, "no privileged pods")
	wantStatus(t, r, Pass)
}

func TestAdmissionAdmittedWhenDenialExpected(t *testing.T) {
	r := admissionRun(t, &fakeAdmit{}, ExpectDenied, "")
	wantStatus(t, r, Fail)
	if r.Expected != "denied" || r.Found != "admitted with no warnings" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
	r = admissionRun(t, &fakeAdmit{warnings: []string{"would violate PodSecurity \"restricted:latest\""}}, ExpectDenied, "")
	wantStatus(t, r, Fail)
	if r.Found != `admitted with 1 warning: would violate PodSecurity "restricted:latest"` {
		t.Errorf("found = %q", r.Found)
	}
}

func TestAdmissionAdmittedAndWarned(t *testing.T) {
	warn := &fakeAdmit{warnings: []string{"metadata.name: looks odd", `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`}}
	wantStatus(t, admissionRun(t, warn, ExpectAdmitted, ""), Pass) // warnings allowed
	wantStatus(t, admissionRun(t, warn, ExpectWarned, ""), Pass)
	wantStatus(t, admissionRun(t, warn, ExpectWarned, "allowPrivilegeEscalation"), Pass)

	r := admissionRun(t, warn, ExpectWarned, "seccomp")
	wantStatus(t, r, Fail)
	if r.Expected != `admitted with a warning containing "seccomp"` {
		t.Errorf("expected = %q", r.Expected)
	}
	wantContains(t, "found", r.Found, "admitted with 2 warnings: metadata.name: looks odd; would violate")

	r = admissionRun(t, &fakeAdmit{}, ExpectWarned, "")
	wantStatus(t, r, Fail)
	if r.Found != "admitted with no warnings" {
		t.Errorf("found = %q", r.Found)
	}
}

func TestAdmissionErrors(t *testing.T) {
	// The namespace holds the policy under test: missing, the step is not
	// done (a Fail), whatever the check expects.
	for _, expect := range []string{ExpectDenied, ExpectAdmitted} {
		r := admissionRun(t, &fakeAdmit{err: apiNotFound("namespaces", "n1")}, expect, "")
		wantStatus(t, r, Fail)
		wantContains(t, "found", r.Found, "namespace n1 does not exist")
		if r.Expected != map[string]string{ExpectDenied: "denied", ExpectAdmitted: "admitted"}[expect] {
			t.Errorf("expected = %q", r.Expected)
		}
	}

	r := admissionRun(t, &fakeAdmit{err: apiNotFound("pods", "priv")}, ExpectDenied, "")
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "could not submit Pod priv")

	r = admissionRun(t, &fakeAdmit{err: errors.New("connection refused")}, ExpectDenied, "")
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "could not submit Pod priv for a dry run: connection refused")

	r = admissionRun(t, &fakeAdmit{err: apierrors.NewAlreadyExists(schema.GroupResource{Resource: "pods"}, "priv")}, ExpectDenied, "")
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "already exists")

	env, _ := testEnv()
	r = quick(t, env, Spec{Admission: &AdmissionSpec{Object: privPod(), Expect: ExpectDenied}})
	wantStatus(t, r, Error)
	if r.Attempts != 1 {
		t.Errorf("a missing admitter is not retried: %d attempts", r.Attempts)
	}
}

// TestDryRunAdmitter drives the real Admitter against a stand-in API
// server: the request must be a dry run, strict, in the object's namespace,
// and warnings must come back.
func TestDryRunAdmitter(t *testing.T) {
	var mu sync.Mutex
	var paths, queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(body), `"privileged":true`) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"` + strings.ReplaceAll(psaDenial, `"`, `\"`) + `","reason":"Forbidden","code":403}`))
			return
		}
		w.Header().Add("Warning", `299 - "would violate PodSecurity \"restricted:latest\": runAsNonRoot != true"`)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	}))
	defer srv.Close()

	a := newAdmitter(&rest.Config{Host: srv.URL}, testMapper())
	obj := &unstructured.Unstructured{Object: normalize(privPod()).(map[string]any)}
	_, err := a.DryRunCreate(context.Background(), obj)
	if msg, denied := admissionDenial(err); !denied || msg != psaDenial {
		t.Fatalf("err = %v; want a denial", err)
	}

	unstructured.RemoveNestedField(obj.Object, "spec")
	obj.SetNamespace("")
	warnings, err := a.DryRunCreate(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "runAsNonRoot != true") {
		t.Errorf("warnings = %q", warnings)
	}
	if paths[0] != "POST /api/v1/namespaces/n1/pods" || paths[1] != "POST /api/v1/namespaces/default/pods" {
		t.Errorf("paths = %q", paths)
	}
	for _, q := range queries {
		if !strings.Contains(q, "dryRun=All") || !strings.Contains(q, "fieldValidation=Strict") {
			t.Errorf("query %q is not a strict dry run", q)
		}
	}
}

func webDeployment() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "team-a", "labels": map[string]any{"owner": "me"}},
		"spec": map[string]any{
			"replicas": int64(2),
			"template": map[string]any{
				"metadata": map[string]any{
					"labels":      map[string]any{"app": "web"},
					"annotations": map[string]any{"note": "x"},
				},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "busybox:1.36"}}},
			},
		},
	}}
}

func templateSpec(expect string, noWarnings bool) Spec {
	return Spec{Admission: &AdmissionSpec{
		PodTemplate: &ObjectField{Ref: ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-a", Name: "web"}, Field: "spec.template"},
		Expect:      expect, NoWarnings: noWarnings,
	}}
}

// TestAdmissionPodTemplate: the pod submitted is the one the Deployment's
// controller would create, in the Deployment's namespace.
func TestAdmissionPodTemplate(t *testing.T) {
	env, _ := testEnv(webDeployment())
	a := &fakeAdmit{}
	env.Admit = a
	r := quick(t, env, templateSpec(ExpectAdmitted, true))
	wantStatus(t, r, Pass)
	if r.Name != "admission admits the pod template of Deployment team-a/web with no warnings" {
		t.Errorf("name = %q", r.Name)
	}
	got := a.got
	if got.GetKind() != "Pod" || got.GetAPIVersion() != "v1" || got.GetNamespace() != "team-a" || got.GetName() != "seclab-template-web" {
		t.Errorf("submitted %s %s %s/%s", got.GetAPIVersion(), got.GetKind(), got.GetNamespace(), got.GetName())
	}
	if got.GetLabels()["app"] != "web" || got.GetLabels()["owner"] != "" || got.GetAnnotations()["note"] != "x" {
		t.Errorf("labels %v annotations %v: want the template's, not the Deployment's", got.GetLabels(), got.GetAnnotations())
	}
	if img, _, _ := unstructured.NestedSlice(got.Object, "spec", "containers"); len(img) != 1 {
		t.Errorf("spec = %v", got.Object["spec"])
	}
}

// TestAdmissionNoWarnings: a warning (a Pod Security warn level the pod
// falls short of) fails noWarnings and is shown in full.
func TestAdmissionNoWarnings(t *testing.T) {
	long := `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`
	env, _ := testEnv(webDeployment())
	env.Admit = &fakeAdmit{warnings: []string{long}}
	r := quick(t, env, templateSpec(ExpectAdmitted, true))
	wantStatus(t, r, Fail)
	if r.Expected != "admitted with no warnings" || r.Found != "admitted with 1 warning: "+long {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
	// Without noWarnings a warning is no failure.
	wantStatus(t, quick(t, env, templateSpec(ExpectAdmitted, false)), Pass)

	// A literal object is held to noWarnings too.
	env.Admit = &fakeAdmit{warnings: []string{"w"}}
	wantStatus(t, quick(t, env, Spec{Admission: &AdmissionSpec{Object: privPod(), Expect: ExpectAdmitted, NoWarnings: true}}), Fail)
}

func TestAdmissionPodTemplateMissing(t *testing.T) {
	env, _ := testEnv()
	a := &fakeAdmit{}
	env.Admit = a
	r := quick(t, env, templateSpec(ExpectAdmitted, true))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "not found")
	wantContains(t, "expected", r.Expected, "Deployment team-a/web exists")
	if a.got != nil || r.Attempts != 1 {
		t.Errorf("submitted %v after %d attempts; a missing Deployment is final and submits nothing", a.got, r.Attempts)
	}

	// A field that holds no pod template is the lab's mistake.
	env, _ = testEnv(webDeployment())
	env.Admit = a
	s := templateSpec(ExpectAdmitted, true)
	s.Admission.PodTemplate.Field = "spec.selector"
	r = quick(t, env, s)
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "has no pod template at spec.selector")
}

func TestValidateAdmissionPodTemplate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec *AdmissionSpec
		want string
	}{
		{"both", &AdmissionSpec{Object: privPod(), PodTemplate: &ObjectField{Ref: ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, Field: "spec.template"}, Expect: ExpectAdmitted}, "admission: set exactly one of object, podTemplate"},
		{"no field", &AdmissionSpec{PodTemplate: &ObjectField{Ref: ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}, Expect: ExpectAdmitted}, "admission.podTemplate.field: required"},
		{"bad ref", &AdmissionSpec{PodTemplate: &ObjectField{Field: "spec.template"}, Expect: ExpectAdmitted}, "admission.podTemplate.ref.kind: required"},
		{"noWarnings with denied", &AdmissionSpec{Object: privPod(), Expect: ExpectDenied, NoWarnings: true}, "admission.noWarnings: only with expect: admitted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(Spec{Admission: tc.spec}.Validate(), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
	if errs := (Spec{Admission: templateSpec(ExpectAdmitted, true).Admission}).Validate(); len(errs) != 0 {
		t.Errorf("a valid podTemplate check: %q", errs)
	}
}

// seqAdmit answers with each of answers in turn, then with the last one.
type seqAdmit struct {
	mu      sync.Mutex
	answers []error
	calls   int
}

func (s *seqAdmit) DryRunCreate(context.Context, *unstructured.Unstructured) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls, len(s.answers)-1)
	s.calls++
	return nil, s.answers[i]
}

// An answer given by the configuration before the last change (the API
// server compiles policies a moment later) does not pass a check: a pass
// is asked again after the lag, and the second answer decides.
func TestAdmissionPassIsConfirmed(t *testing.T) {
	denied := forbidden("ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no")
	stale := &seqAdmit{answers: []error{nil, denied}}
	env, _ := testEnv()
	env.Admit = stale
	r := quick(t, env, Spec{Admission: &AdmissionSpec{Object: privPod(), Expect: ExpectAdmitted}})
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "denied")

	settled := &seqAdmit{answers: []error{denied, nil}}
	env.Admit = settled
	r = quick(t, env, Spec{Admission: &AdmissionSpec{Object: privPod(), Expect: ExpectAdmitted}})
	wantStatus(t, r, Pass)
	if settled.calls != 3 {
		t.Errorf("%d dry runs, want 3: a denial, then an admission asked twice", settled.calls)
	}
}
