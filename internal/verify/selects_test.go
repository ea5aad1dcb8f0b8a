package verify

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// object decodes a manifest into an unstructured object for the dynamic fake.
func object(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatalf("bad test manifest: %v", err)
	}
	return &unstructured.Unstructured{Object: m}
}

// denyAll is NetworkPolicy n287/deny-all with the given podSelector (YAML).
func denyAll(t *testing.T, podSelector string) *unstructured.Unstructured {
	return object(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: n287, name: deny-all}
spec:
  podSelector: `+podSelector+`
  policyTypes: [Ingress]
`)
}

var denyAllRef = ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "n287", Name: "deny-all"}

// n287Pods is the netpol lab's namespace after step 1, plus a probe pod a
// connectivity check running alongside may have created.
func n287Pods() []runtime.Object {
	return []runtime.Object{
		ns("n287"),
		readyPodObj("n287", "nginx1-7d9f", map[string]string{"app": "nginx1"}, "10.244.0.5"),
		readyPodObj("n287", "nginx2-5c4b", map[string]string{"app": "nginx2"}, "10.244.0.6"),
		readyPodObj("n287", "seclab-probe-x1", map[string]string{ProbeLabel: "1"}, "10.244.0.7"),
		readyPodObj("default", "web", map[string]string{"app": "nginx1"}, "10.244.0.8"), // another namespace: ignored
	}
}

func selects(ref ObjectRef, field, pods string) Spec {
	return Spec{Selects: &SelectsSpec{Ref: ref, Field: field, Pods: ptr.To(pods)}}
}

func selectsEnv(objs ...runtime.Object) *Env {
	env, _ := testEnv(append(n287Pods(), objs...)...)
	return env
}

func TestSelectsEquivalentForms(t *testing.T) {
	for _, sel := range []string{
		`{matchLabels: {app: nginx2}}`,
		`{matchExpressions: [{key: app, operator: In, values: [nginx2]}]}`,
		`{matchLabels: {app: nginx2}, matchExpressions: [{key: app, operator: Exists}]}`,
	} {
		t.Run(sel, func(t *testing.T) {
			r := quick(t, selectsEnv(denyAll(t, sel)), selects(denyAllRef, "spec.podSelector", "app=nginx2"))
			wantStatus(t, r, Pass)
			if r.Name != "NetworkPolicy n287/deny-all spec.podSelector selects exactly app=nginx2" {
				t.Errorf("name = %q", r.Name)
			}
			wantContains(t, "found", r.Found, "NetworkPolicy n287/deny-all spec.podSelector = {match",
				": selects nginx2-5c4b (1 of the 2 pods in n287)")
		})
	}
}

func TestSelectsEmptySelectorNamesWhatElseItSelects(t *testing.T) {
	r := quick(t, selectsEnv(denyAll(t, `{}`)), selects(denyAllRef, "spec.podSelector", "app=nginx2"))
	wantStatus(t, r, Fail)
	if r.Expected != "NetworkPolicy n287/deny-all spec.podSelector selects exactly app=nginx2" {
		t.Errorf("expected = %q", r.Expected)
	}
	want := []string{
		"NetworkPolicy n287/deny-all spec.podSelector = {}",
		"also selects pod n287/nginx1-7d9f (app=nginx1)",
		"also selects pods labeled app=other",
		"also selects pods labeled {} (an unlabeled pod)",
	}
	if got := strings.Split(r.Found, "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("found lines\n  %q\n want %q", got, want)
	}
	if r.Attempts != 1 {
		t.Errorf("a wrong selector is settled, got %d attempts", r.Attempts)
	}
}

func TestSelectsWrongSelectors(t *testing.T) {
	for _, tc := range []struct {
		name, sel, pods string
		found           []string // each must appear
		notFound        []string
	}{
		{"wider In", `{matchExpressions: [{key: app, operator: In, values: [nginx1, nginx2]}]}`, "app=nginx2",
			[]string{"also selects pod n287/nginx1-7d9f (app=nginx1)"},
			// the live pod already says it; the same label set is not repeated
			[]string{"pods labeled app=nginx1", "unlabeled"}},
		{"NotIn selects the unlabeled", `{matchExpressions: [{key: app, operator: NotIn, values: [nginx1]}]}`, "app=nginx2",
			[]string{"also selects pods labeled app=other", "also selects pods labeled {} (an unlabeled pod)"},
			[]string{"nginx1-7d9f", "nginx2-5c4b"}},
		{"narrower", `{matchLabels: {app: nginx2, tier: web}}`, "app=nginx2",
			[]string{"does not select pod n287/nginx2-5c4b (app=nginx2)", "does not select pods labeled app=nginx2,unrelated=x"},
			nil},
		{"other app", `{matchLabels: {app: nginx1}}`, "app=nginx2",
			[]string{"also selects pod n287/nginx1-7d9f (app=nginx1)", "does not select pod n287/nginx2-5c4b (app=nginx2)", "does not select pods labeled app=nginx2,unrelated=x"},
			nil},
		{"DoesNotExist is not enough", `{matchLabels: {app: nginx2}}`, "app=nginx2,!debug",
			[]string{"also selects pods labeled app=nginx2,debug=other"}, nil},
		{"Exists is too wide", `{matchExpressions: [{key: app, operator: Exists}]}`, "app=nginx2",
			[]string{"also selects pod n287/nginx1-7d9f (app=nginx1)", "also selects pods labeled app=other"}, nil},
		{"every pod wanted", `{matchLabels: {app: nginx2}}`, "",
			[]string{"does not select pod n287/nginx1-7d9f (app=nginx1)", "does not select pods labeled {} (an unlabeled pod)"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := quick(t, selectsEnv(denyAll(t, tc.sel)), selects(denyAllRef, "spec.podSelector", tc.pods))
			wantStatus(t, r, Fail)
			wantContains(t, "found", r.Found, tc.found...)
			wantNotContains(t, "found", r.Found, tc.notFound...)
		})
	}
}

func TestSelectsOtherExpectedForms(t *testing.T) {
	for _, tc := range []struct{ sel, pods string }{
		{`{matchExpressions: [{key: app, operator: NotIn, values: [nginx1]}]}`, "app notin (nginx1)"},
		{`{matchExpressions: [{key: debug, operator: DoesNotExist}]}`, "!debug"},
		{`{matchLabels: {app: nginx2}, matchExpressions: [{key: debug, operator: DoesNotExist}]}`, "app=nginx2,!debug"},
		{`{matchExpressions: [{key: app, operator: In, values: [nginx2, nginx1]}]}`, "app in (nginx1,nginx2)"},
		{`{}`, ""},
		// No live pod is labeled app=web: the label sets decide, without error.
		{`{matchLabels: {app: web}}`, "app=web"},
	} {
		t.Run(tc.pods, func(t *testing.T) {
			r := quick(t, selectsEnv(denyAll(t, tc.sel)), selects(denyAllRef, "spec.podSelector", tc.pods))
			wantStatus(t, r, Pass)
		})
	}
	r := quick(t, selectsEnv(denyAll(t, `{matchLabels: {app: web}}`)), selects(denyAllRef, "spec.podSelector", "app=web"))
	wantContains(t, "found", r.Found, "selects none of the 2 pods in n287")
}

func TestSelectsServiceSelectorAndListPath(t *testing.T) {
	svc := func(selector string) *unstructured.Unstructured {
		return object(t, `
apiVersion: v1
kind: Service
metadata: {namespace: n287, name: nginx2}
spec:
  selector: `+selector+`
  ports: [{port: 80}]
`)
	}
	ref := ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: "n287", Name: "nginx2"}
	r := quick(t, selectsEnv(svc(`{app: nginx2}`)), selects(ref, "spec.selector", "app=nginx2"))
	wantStatus(t, r, Pass)

	r = quick(t, selectsEnv(svc(`{app: nginx1}`)), selects(ref, "spec.selector", "app=nginx2"))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, `Service n287/nginx2 spec.selector = {app: "nginx1"}`,
		"also selects pod n287/nginx1-7d9f (app=nginx1)", "does not select pod n287/nginx2-5c4b (app=nginx2)")

	r = quick(t, selectsEnv(svc(`{app: 2}`)), selects(ref, "spec.selector", "app=nginx2"))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "Service n287/nginx2 spec.selector = {app: 2}: not a label selector (label app has a number value, want a string)")

	allow := object(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: n287, name: allow-nginx1}
spec:
  podSelector: {matchLabels: {app: nginx2}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: nginx1}}
`)
	allowRef := ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "n287", Name: "allow-nginx1"}
	r = quick(t, selectsEnv(allow), selects(allowRef, "spec.ingress[0].from[0].podSelector", "app=nginx1"))
	wantStatus(t, r, Pass)
	r = quick(t, selectsEnv(allow), selects(allowRef, "spec.ingress[0].from[1].podSelector", "app=nginx1"))
	wantStatus(t, r, Fail)
	if r.Found != "NetworkPolicy n287/allow-nginx1 spec.ingress[0].from[1].podSelector = <missing>" {
		t.Errorf("found = %q", r.Found)
	}
}

func TestSelectsMissingOrBroken(t *testing.T) {
	// Missing object: the learner's job, reported at once.
	r := quick(t, selectsEnv(), selects(denyAllRef, "spec.podSelector", "app=nginx2"))
	wantStatus(t, r, Fail)
	if r.Expected != "NetworkPolicy n287/deny-all exists" || r.Found != "not found" || r.Attempts != 1 {
		t.Errorf("expected %q found %q after %d attempts", r.Expected, r.Found, r.Attempts)
	}

	// Missing field.
	np := object(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: n287, name: deny-all}
spec: {policyTypes: [Ingress]}
`)
	r = quick(t, selectsEnv(np), selects(denyAllRef, "spec.podSelector", "app=nginx2"))
	wantStatus(t, r, Fail)
	if r.Found != "NetworkPolicy n287/deny-all spec.podSelector = <missing>" || r.Attempts != 1 {
		t.Errorf("found %q after %d attempts", r.Found, r.Attempts)
	}

	// A selector the API would not accept (a CRD need not validate it).
	r = quick(t, selectsEnv(denyAll(t, `{matchExpressions: [{key: app, operator: Equals, values: [nginx2]}]}`)),
		selects(denyAllRef, "spec.podSelector", "app=nginx2"))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "NetworkPolicy n287/deny-all spec.podSelector = {matchExpressions:", "not a label selector (", `"Equals" is not a valid label selector operator`)

	r = quick(t, selectsEnv(denyAll(t, `[app]`)), selects(denyAllRef, "spec.podSelector", "app=nginx2"))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "not a label selector (want a map or selector text, found a list)")

	// Selector text, as in a scale subresource's status.selector.
	r = quick(t, selectsEnv(denyAll(t, `"app in (nginx2)"`)), selects(denyAllRef, "spec.podSelector", "app=nginx2"))
	wantStatus(t, r, Pass)
}

func TestSelectsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec SelectsSpec
		want []string
	}{
		{"valid", SelectsSpec{Ref: denyAllRef, Field: "spec.ingress[0].from[0].podSelector", Pods: ptr.To("app=a")}, nil},
		{"every pod", SelectsSpec{Ref: denyAllRef, Field: "spec.podSelector", Pods: ptr.To("")}, nil},
		{"required", SelectsSpec{Ref: ObjectRef{APIVersion: "v1", Kind: "Service"}},
			[]string{"selects.ref.name: required", "selects.field: required", "selects.pods: required"}},
		{"bad pods", SelectsSpec{Ref: denyAllRef, Field: "spec.podSelector", Pods: ptr.To("app in (a")},
			[]string{`selects.pods: "app in (a" is not a label selector`}},
		{"bad index", SelectsSpec{Ref: denyAllRef, Field: "spec.ingress[x].from", Pods: ptr.To("a=b")},
			[]string{`selects.field: bad list index [x] in "spec.ingress[x].from"`}},
		{"empty segment", SelectsSpec{Ref: denyAllRef, Field: "spec..podSelector", Pods: ptr.To("a=b")},
			[]string{`selects.field: empty field name in "spec..podSelector"`}},
		{"unclosed index", SelectsSpec{Ref: denyAllRef, Field: "spec.ingress[0", Pods: ptr.To("a=b")},
			[]string{`selects.field: bad list index [0 in`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Selects: &tc.spec}
			got := s.Validate()
			if len(got) != len(tc.want) {
				t.Errorf("got %d problems %q, want %d", len(got), got, len(tc.want))
			}
			for _, w := range tc.want {
				wantContains(t, "problems", strings.Join(got, "\n"), w)
			}
			if s.Kind() != "selects" {
				t.Errorf("kind = %q", s.Kind())
			}
		})
	}
	named := Spec{Selects: &SelectsSpec{Ref: denyAllRef, Field: "spec.podSelector", Pods: ptr.To(""), Namespace: "other"}}
	if got := newCheck(named).describe(); got != "NetworkPolicy n287/deny-all spec.podSelector selects exactly every pod in namespace other" {
		t.Errorf("describe = %q", got)
	}
}

func TestParseFieldPath(t *testing.T) {
	steps, err := parseFieldPath("spec.ingress[0].from[12].podSelector")
	if err != nil {
		t.Fatal(err)
	}
	want := []pathStep{{key: "spec"}, {key: "ingress"}, {index: 0}, {key: "from"}, {index: 12}, {key: "podSelector"}}
	if len(steps) != len(want) {
		t.Fatalf("steps = %+v", steps)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, steps[i], want[i])
		}
	}
}
