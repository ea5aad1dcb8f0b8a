package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/seclab/seclab/internal/verify"
	"github.com/seclab/seclab/labs"
)

// memCluster is an API server in memory, as far as the self-test uses one:
// server-side apply of whole objects by one field manager (so an apply
// replaces the object), dry-run, defaulting and validation hooks, and
// namespaces whose deletion takes their objects along.
type memCluster struct {
	mu   sync.Mutex
	objs map[string]*unstructured.Unstructured
	// applied is every object stored by an apply, in order.
	applied []*unstructured.Unstructured
	// defaults and validate play the API server's part; unreachable
	// fails the request as a broken connection would.
	defaults    func(*unstructured.Unstructured)
	validate    func(*unstructured.Unstructured) error
	unreachable func(*unstructured.Unstructured) bool
}

func newMemCluster() *memCluster {
	c := &memCluster{objs: map[string]*unstructured.Unstructured{}}
	def := &unstructured.Unstructured{}
	def.SetAPIVersion("v1")
	def.SetKind("Namespace")
	def.SetName("default")
	c.objs[memKey("namespaces", "", "default")] = def
	return c
}

func memKey(resource, ns, name string) string { return resource + "/" + ns + "/" + name }

// keys lists what the cluster holds, sorted.
func (c *memCluster) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.objs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *memCluster) get(resource, ns, name string) *unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.objs[memKey(resource, ns, name)]
}

func (c *memCluster) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return &memResource{c: c, gvr: gvr}
}

// memResource implements the calls the engine and the object checks make;
// any other call panics on the nil embedded interface.
type memResource struct {
	dynamic.NamespaceableResourceInterface
	c   *memCluster
	gvr schema.GroupVersionResource
	ns  string
}

func (r *memResource) Namespace(ns string) dynamic.ResourceInterface {
	return &memResource{c: r.c, gvr: r.gvr, ns: ns}
}

func (r *memResource) Get(_ context.Context, name string, _ metav1.GetOptions, _ ...string) (*unstructured.Unstructured, error) {
	if o := r.c.get(r.gvr.Resource, r.ns, name); o != nil {
		return o.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(r.gvr.GroupResource(), name)
}

func (r *memResource) Patch(_ context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, _ ...string) (*unstructured.Unstructured, error) {
	if pt != types.ApplyPatchType {
		return nil, fmt.Errorf("patch type %s not supported", pt)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(data, &u.Object); err != nil {
		return nil, err
	}
	if r.c.unreachable != nil && r.c.unreachable(u) {
		return nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	}
	if r.ns != "" {
		u.SetNamespace(r.ns)
		if r.c.get("namespaces", "", r.ns) == nil {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, r.ns)
		}
	}
	if r.c.validate != nil {
		if err := r.c.validate(u); err != nil {
			return nil, err
		}
	}
	if r.c.defaults != nil {
		r.c.defaults(u)
	}
	if len(opts.DryRun) == 0 {
		r.c.mu.Lock()
		r.c.objs[memKey(r.gvr.Resource, r.ns, name)] = u.DeepCopy()
		r.c.applied = append(r.c.applied, u.DeepCopy())
		r.c.mu.Unlock()
	}
	return u, nil
}

func (r *memResource) Delete(_ context.Context, name string, _ metav1.DeleteOptions, _ ...string) error {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	k := memKey(r.gvr.Resource, r.ns, name)
	if r.c.objs[k] == nil {
		return apierrors.NewNotFound(r.gvr.GroupResource(), name)
	}
	delete(r.c.objs, k)
	if r.gvr.Resource == "namespaces" {
		for k, o := range r.c.objs {
			if o.GetNamespace() == name {
				delete(r.c.objs, k)
			}
		}
	}
	return nil
}

func memMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, meta.RESTScopeNamespace)
	return m
}

// toyDefaults: the server fills in data.level, so dropping it is provably
// equivalent. toyValidate: settings without data.required is invalid.
func toyDefaults(u *unstructured.Unstructured) {
	if u.GetKind() != "ConfigMap" || u.GetName() != "settings" {
		return
	}
	if _, ok, _ := unstructured.NestedString(u.Object, "data", "level"); !ok {
		_ = unstructured.SetNestedField(u.Object, "3", "data", "level")
	}
}

func toyValidate(u *unstructured.Unstructured) error {
	if u.GetKind() == "ConfigMap" && u.GetName() == "settings" {
		if _, ok, _ := unstructured.NestedString(u.Object, "data", "required"); !ok {
			return apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "settings", field.ErrorList{field.Required(field.NewPath("data", "required"), "settings need it")})
		}
	}
	return nil
}

// toyLab: step 1 writes settings (its check is kept for later steps),
// step 2 rewrites settings with one more key and adds flags. extra is
// appended to each step (equivalentMutants entries).
func toyLab(step1Extra, step2Extra string) fstest.MapFS {
	return fstest.MapFS{
		"toy/lab.yaml": {Data: []byte(`id: toy
title: Toy lab
domain: Testing
minutes: 1
profile: default
namespaces: [toy]
steps:
  - title: Configure strict mode
    text: step.md
    checks:
      - name: settings has mode strict
        keep: true
        object:
          ref: {apiVersion: v1, kind: ConfigMap, namespace: toy, name: settings}
          match: {data: {mode: strict}}
    solution:
      text: step.md
      apply: [solution/01.yaml]
    nearMisses:
      - name: mode lax
        apply: [nearmiss/01-lax.yaml]
` + step1Extra + `
  - title: Turn the feature on
    text: step.md
    checks:
      - name: flags has feature on
        object:
          ref: {apiVersion: v1, kind: ConfigMap, namespace: toy, name: flags}
          match: {data: {feature: "on"}}
    solution:
      text: step.md
      apply: [solution/02.yaml]
    nearMisses:
      - name: feature off
        apply: [nearmiss/02-off.yaml]
` + step2Extra)},
		"toy/step.md": {Data: []byte("Do it.\n")},
		"toy/solution/01.yaml": {Data: []byte(`apiVersion: v1
kind: Namespace
metadata: {name: toy}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: toy}
data: {mode: strict, level: "3", note: hi, required: "yes"}
`)},
		"toy/solution/02.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: toy}
data: {mode: strict, level: "3", note: hi, required: "yes", audit: "true"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: toy}
data: {feature: "on"}
`)},
		"toy/nearmiss/01-lax.yaml": {Data: []byte(`apiVersion: v1
kind: Namespace
metadata: {name: toy}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: toy}
data: {mode: lax, required: "yes"}
`)},
		"toy/nearmiss/02-off.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: toy}
data: {feature: "off"}
`)},
	}
}

// newSelfTestEngine runs labs from fsys on a memCluster.
func newSelfTestEngine(t *testing.T, fsys fstest.MapFS) (*Engine, *memCluster) {
	t.Helper()
	mem := newMemCluster()
	mem.defaults, mem.validate = toyDefaults, toyValidate
	client := fake.NewSimpleClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}})
	e := newCatalogEngine(t, fsys, &fakeClusters{running: map[string]bool{}},
		verify.Env{Client: client, Dynamic: mem, Mapper: memMapper(), Interval: 5 * time.Millisecond})
	return e, mem
}

var quick = SelfTestOptions{Mutants: MutantPlan{All: true}, FailTimeout: 100 * time.Millisecond}

func outcomes(r *SelfTestReport) map[string]Outcome {
	out := map[string]Outcome{}
	for _, s := range r.Steps {
		for _, m := range s.Mutants {
			out[m.ID] = m.Outcome
		}
	}
	return out
}

func trial(t *testing.T, r *SelfTestReport, id string) Trial {
	t.Helper()
	for _, s := range r.Steps {
		for _, m := range append(append([]Trial{}, s.Mutants...), s.NearMisses...) {
			if m.ID == id || m.ID == "" && m.Name == id {
				return m
			}
		}
	}
	t.Fatalf("no trial %s in the report", id)
	return Trial{}
}

func caughtBy(tr Trial) []string {
	var out []string
	for _, v := range tr.CaughtBy {
		out = append(out, fmt.Sprintf("step %d %q %s", v.Step, v.Name, v.Status))
	}
	return out
}

func TestSelfTestOutcomes(t *testing.T) {
	e, mem := newSelfTestEngine(t, toyLab("", ""))
	r, err := e.SelfTest(context.Background(), "toy", quick)
	if err != nil {
		t.Fatal(err)
	}
	const s1, s2 = "01.yaml#ConfigMap/settings:", "02.yaml#ConfigMap/"
	want := map[string]Outcome{
		s1 + "change-namespace:metadata.namespace=default": Killed,
		s1 + "drop-field:data.level":                       Equivalent, // the server defaults it
		s1 + "drop-field:data.mode":                        Killed,
		s1 + "drop-field:data.note":                        Survived, // no check reads it
		s1 + "drop-field:data.required":                    Rejected,
		// Moving step 2's settings elsewhere leaves step 1's in place.
		s2 + "settings:change-namespace:metadata.namespace=default": Survived,
		s2 + "settings:drop-field:data.audit":                       Survived,
		s2 + "settings:drop-field:data.level":                       Equivalent,
		s2 + "settings:drop-field:data.mode":                        Killed, // by step 1's kept check
		s2 + "settings:drop-field:data.note":                        Survived,
		s2 + "settings:drop-field:data.required":                    Rejected,
		s2 + "flags:change-namespace:metadata.namespace=default":    Killed,
		s2 + "flags:drop-field:data.feature":                        Killed,
	}
	if got := outcomes(r); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes:\n got %v\nwant %v", got, want)
	}

	if got := caughtBy(trial(t, r, s1+"drop-field:data.mode")); !reflect.DeepEqual(got, []string{`step 1 "settings has mode strict" fail`}) {
		t.Errorf("step 1 drop mode caught by %v", got)
	}
	if got := caughtBy(trial(t, r, s2+"settings:drop-field:data.mode")); !reflect.DeepEqual(got, []string{`step 1 "settings has mode strict" fail`}) {
		t.Errorf("step 2 drop mode: want step 1's kept check to catch it, got %v", got)
	}
	if got := caughtBy(trial(t, r, s2+"flags:drop-field:data.feature")); !reflect.DeepEqual(got, []string{`step 2 "flags has feature on" fail`}) {
		t.Errorf("drop feature caught by %v (the kept check must pass: settings restored after each trial)", got)
	}
	if tr := trial(t, r, s1+"drop-field:data.required"); !strings.Contains(tr.Reason, "data.required: Required value") || tr.CaughtBy != nil {
		t.Errorf("rejected: %+v", tr)
	}
	if tr := trial(t, r, s1+"drop-field:data.level"); !strings.Contains(tr.Reason, "stores it exactly as the solution") {
		t.Errorf("equivalent: %+v", tr)
	}
	if tr := trial(t, r, "mode lax"); tr.Outcome != Killed || !reflect.DeepEqual(caughtBy(tr), []string{`step 1 "settings has mode strict" fail`}) {
		t.Errorf("near-miss mode lax: %+v", tr)
	}
	if tr := trial(t, r, "feature off"); tr.Outcome != Killed || tr.CaughtBy[0].Expected == "" || tr.CaughtBy[0].Found == "" {
		t.Errorf("near-miss feature off: %+v", tr)
	}
	for _, s := range r.Steps {
		if s.Fresh.Passed || len(s.Fresh.NotPassed) == 0 {
			t.Errorf("step %d fresh: %+v", s.Step, s.Fresh)
		}
		if s.Solution == nil || !s.Solution.Passed {
			t.Errorf("step %d solution: %+v", s.Step, s.Solution)
		}
	}

	// Every survivor, and nothing else, is a problem.
	if r.Held() || len(r.Problems) != 4 {
		t.Errorf("want 4 problems (the survivors), got:\n%s", strings.Join(r.Problems, "\n"))
	}
	for _, p := range r.Problems {
		if !strings.Contains(p, "SURVIVED") {
			t.Errorf("unexpected problem: %s", p)
		}
	}

	// Nothing a trial created is left, wherever it was put; what is left
	// is the last solution.
	wantKeys := []string{"configmaps/toy/flags", "configmaps/toy/settings", "namespaces//default", "namespaces//toy"}
	if got := mem.keys(); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("cluster after the self-test holds %v, want %v", got, wantKeys)
	}
	if v, _, _ := unstructured.NestedString(mem.get("configmaps", "toy", "settings").Object, "data", "audit"); v != "true" {
		t.Errorf("settings is not step 2's solution: %v", mem.get("configmaps", "toy", "settings").Object)
	}
	act, err := e.Current()
	if err != nil || act.Progress.NextStep(2) != 3 {
		t.Errorf("progress after the self-test: %+v %v", act.Progress, err)
	}
}

func TestSelfTestListedEquivalents(t *testing.T) {
	step1 := `    equivalentMutants:
      - id: "01.yaml#ConfigMap/settings:drop-field:data.note"
        reason: nothing reads the note
`
	step2 := `    equivalentMutants:
      - id: "02.yaml#ConfigMap/settings:drop-field:data.note"
        reason: nothing reads the note
      - id: "02.yaml#ConfigMap/settings:drop-field:data.audit"
        reason: audit is for the next lab
      - id: "02.yaml#ConfigMap/settings:change-namespace:metadata.namespace=default"
        reason: step 1's settings stay where they are
`
	e, mem := newSelfTestEngine(t, toyLab(step1, step2))
	r, err := e.SelfTest(context.Background(), "toy", quick)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Held() {
		t.Errorf("every survivor is listed, yet:\n%s", strings.Join(r.Problems, "\n"))
	}
	tr := trial(t, r, "02.yaml#ConfigMap/settings:drop-field:data.audit")
	if tr.Outcome != Equivalent || tr.Reason != "listed in lab.yaml: audit is for the next lab" {
		t.Errorf("listed mutant: %+v", tr)
	}
	// A listed mutant is not applied.
	lab, _ := e.Catalog.Get("toy")
	muts, _ := lab.Mutants(1)
	for _, m := range muts {
		if m.ID != "01.yaml#ConfigMap/settings:drop-field:data.note" {
			continue
		}
		for _, o := range mem.applied {
			if reflect.DeepEqual(o.Object["data"], m.Object.Object["data"]) {
				t.Errorf("the listed mutant was applied: %v", o.Object)
			}
		}
	}
}

// A lab whose checks cannot tell: a step that passes on a fresh lab, a
// near-miss that passes, one the API refuses, a solution that fails.
func TestSelfTestReportsBrokenContract(t *testing.T) {
	fsys := toyLab(`      - name: the solution itself
        apply: [solution/01.yaml]
`, `      - name: missing required key
        apply: [nearmiss/02-bad.yaml]
`)
	// extra is applied, then settings is refused: undo must remove extra.
	fsys["toy/nearmiss/02-bad.yaml"] = &fstest.MapFile{Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: extra, namespace: toy}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: toy}
data: {mode: strict}
`)}
	// Step 2's solution cannot pass.
	lab := strings.Replace(string(fsys["toy/lab.yaml"].Data), `      - name: flags has feature on
        object:`, `      - name: flags has feature on
        timeout: 100ms
        object:`, 1)
	fsys["toy/lab.yaml"] = &fstest.MapFile{Data: []byte(lab)}
	fsys["toy/solution/02.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: toy}\ndata: {feature: \"off\"}\n")}

	e, mem := newSelfTestEngine(t, fsys)
	r, err := e.SelfTest(context.Background(), "toy", SelfTestOptions{FailTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(r.Problems, "\n")
	for _, want := range []string{
		`step 1: near-miss "the solution itself" passed every check`,
		`step 2: near-miss "missing required key" could not be applied: ConfigMap "settings" is invalid: data.required: Required value`,
		`step 2: the reference solution does not pass: "flags has feature on" (fail)`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if len(r.Problems) != 3 {
		t.Errorf("want 3 problems, got:\n%s", all)
	}
	if mem.get("configmaps", "toy", "extra") != nil {
		t.Errorf("a refused near-miss left what it applied before the refusal")
	}
	if len(r.Steps[0].Mutants) != 0 {
		t.Errorf("mutants none ran %d mutants", len(r.Steps[0].Mutants))
	}

	// A step whose every check passes on the fresh lab.
	fsys2 := toyLab("", "")
	lab2 := strings.Replace(string(fsys2["toy/lab.yaml"].Data), `      - name: flags has feature on
        object:
          ref: {apiVersion: v1, kind: ConfigMap, namespace: toy, name: flags}
          match: {data: {feature: "on"}}`, `      - name: no legacy config
        absent:
          ref: {apiVersion: v1, kind: ConfigMap, namespace: toy, name: legacy}`, 1)
	fsys2["toy/lab.yaml"] = &fstest.MapFile{Data: []byte(lab2)}
	e2, _ := newSelfTestEngine(t, fsys2)
	r2, err := e2.SelfTest(context.Background(), "toy", SelfTestOptions{FailTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r2.Problems, "\n"), "step 2 passes on a fresh lab") {
		t.Errorf("a step that passes on a fresh lab is not flagged:\n%s", strings.Join(r2.Problems, "\n"))
	}
}

// Not reaching the API is "could not run", never an outcome.
func TestSelfTestUnreachableIsAnError(t *testing.T) {
	e, mem := newSelfTestEngine(t, toyLab("", ""))
	mem.unreachable = func(u *unstructured.Unstructured) bool { return u.GetName() == "flags" }
	r, err := e.SelfTest(context.Background(), "toy", quick)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), `step 2 near-miss "feature off"`) {
		t.Fatalf("want the connection error of step 2's near-miss, got %v", err)
	}
	if r == nil || len(r.Steps) != 2 || r.Steps[0].Solution == nil || !r.Steps[0].Solution.Passed {
		t.Errorf("the partial report should hold step 1: %+v", r)
	}
}

func TestUndoRestoresWhatATrialChanged(t *testing.T) {
	e, mem := newSelfTestEngine(t, toyLab("", ""))
	ctx := context.Background()
	env, err := e.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	lab, _ := e.Catalog.Get("toy")
	lt := &labTest{e: e, lab: lab, env: env, baseline: map[objKey]*unstructured.Unstructured{}}
	step1, _ := lab.Manifests("solution/01.yaml")
	if err := applyObjects(ctx, env, step1); err != nil {
		t.Fatal(err)
	}
	if err := lt.remember(step1); err != nil {
		t.Fatal(err)
	}
	// A ConfigMap seclab did not apply, which a trial then changes.
	foreign := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "kube-root-ca.crt", "namespace": "toy"}, "data": map[string]any{"ca": "x", "required": "yes"}}}
	if err := applyObjects(ctx, env, []*unstructured.Unstructured{foreign}); err != nil {
		t.Fatal(err)
	}
	before := mem.get("configmaps", "toy", "settings").DeepCopy()

	step2, _ := lab.Manifests("solution/02.yaml")
	changed := foreign.DeepCopy()
	_ = unstructured.SetNestedField(changed.Object, "y", "data", "ca")
	elsewhere := step2[1].DeepCopy()
	elsewhere.SetNamespace("default")
	applied, refused, err := lt.apply(ctx, append(step2, changed, elsewhere))
	if err != nil || refused != "" {
		t.Fatalf("apply: %v %s", err, refused)
	}
	if mem.get("configmaps", "default", "flags") == nil || mem.get("configmaps", "toy", "flags") == nil {
		t.Fatal("trial objects not applied")
	}
	if err := lt.undo(ctx, applied); err != nil {
		t.Fatal(err)
	}
	if got := mem.get("configmaps", "toy", "settings"); !reflect.DeepEqual(got.Object, before.Object) {
		t.Errorf("settings not restored:\n got %v\nwant %v", got.Object, before.Object)
	}
	if mem.get("configmaps", "toy", "flags") != nil || mem.get("configmaps", "default", "flags") != nil {
		t.Errorf("created objects left: %v", mem.keys())
	}
	// seclab had no version of the foreign object: a bare apply gives
	// back what it set (here, in a fake that replaces: everything).
	if got := mem.get("configmaps", "toy", "kube-root-ca.crt"); got == nil || got.Object["data"] != nil {
		t.Errorf("foreign object: %v", got)
	}
}

func TestParseMutantPlan(t *testing.T) {
	for in, want := range map[string]MutantPlan{"all": {All: true}, "none": {}, "sample=6": {Sample: 6}} {
		got, err := ParseMutantPlan(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "some", "sample=0", "sample=-1", "sample=x", "sample="} {
		if _, err := ParseMutantPlan(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMutantSample(t *testing.T) {
	lab, _ := testCatalog(t, labs.FS).Get("netpol")
	all, _ := planMutants(lab, MutantPlan{All: true})
	runnable := 0
	for n := 1; n <= lab.NumSteps(); n++ {
		muts, _ := lab.Mutants(n)
		if len(all[n]) != len(muts) {
			t.Errorf("all: step %d plans %d of %d mutants", n, len(all[n]), len(muts))
		}
		runnable += len(muts) - len(lab.Step(n).EquivalentMutants)
	}
	flat := func(p map[int][]plannedMutant) []string {
		var ids []string
		for n := 1; n <= lab.NumSteps(); n++ {
			for _, m := range p[n] {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	a, _ := planMutants(lab, MutantPlan{Sample: 6})
	b, _ := planMutants(lab, MutantPlan{Sample: 6})
	if len(flat(a)) != 6 || !reflect.DeepEqual(flat(a), flat(b)) {
		t.Errorf("sample=6: %v then %v", flat(a), flat(b))
	}
	// In lab order: a subsequence of all.
	i := 0
	for _, id := range flat(all) {
		if i < len(flat(a)) && flat(a)[i] == id {
			i++
		}
	}
	if i != 6 {
		t.Errorf("sample is not in lab order: %v", flat(a))
	}
	if big, _ := planMutants(lab, MutantPlan{Sample: runnable + 5}); len(flat(big)) != runnable {
		t.Errorf("a sample larger than the lab: %d, want every mutant not listed as equivalent (%d)", len(flat(big)), runnable)
	}
	if none, _ := planMutants(lab, MutantPlan{}); len(flat(none)) != 0 {
		t.Errorf("none plans %v", flat(none))
	}
	t.Logf("netpol sample=6: %s", strings.Join(flat(a), "\n"))
}

// A sample never spends a run on a mutant the lab lists as equivalent;
// all reports them without running them.
func TestMutantSampleSkipsListed(t *testing.T) {
	listed := `    equivalentMutants:
      - id: "01.yaml#ConfigMap/settings:drop-field:data.note"
        reason: nothing reads it
`
	lab, _ := testCatalog(t, toyLab(listed, "")).Get("toy")
	p, _ := planMutants(lab, MutantPlan{Sample: 100})
	for _, m := range append(p[1], p[2]...) {
		if m.listed != "" {
			t.Errorf("sampled a listed mutant: %s", m.ID)
		}
	}
	all, _ := planMutants(lab, MutantPlan{All: true})
	if len(all[1]) != len(p[1])+1 {
		t.Errorf("all plans %d step 1 mutants, want the %d sampled and the listed one", len(all[1]), len(p[1]))
	}
	for _, m := range all[1] {
		if m.ID == "01.yaml#ConfigMap/settings:drop-field:data.note" && m.listed != "nothing reads it" {
			t.Errorf("listed mutant planned without its reason: %+v", m)
		}
	}
}

// What counts as the API refusing an object (a mutant "rejected") and what
// is seclab failing to run (an error that stops the self-test).
func TestRefusal(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	for _, tc := range []struct {
		err     error
		refused bool
	}{
		{apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "p", nil), true},
		{apierrors.NewBadRequest("bad"), true},
		{apierrors.NewConflict(gr, "p", errors.New("x")), true},
		{apierrors.NewInternalError(errors.New("failed to create typed patch object (/v1, Kind=Pod): .spec.containers: element 0: associative list with keys has an element that omits key field \"name\"")), true},
		{apierrors.NewInternalError(errors.New("unsupported role reference kind: \"\"")), true},
		{apierrors.NewInternalError(errors.New("etcdserver: request timed out")), false},
		{apierrors.NewServiceUnavailable("down"), false},
		{errors.New("dial tcp: connection refused"), false},
	} {
		if _, got := refusal(tc.err); got != tc.refused {
			t.Errorf("refusal(%v) = %v, want %v", tc.err, got, tc.refused)
		}
	}
}

// quizLab asks for a value that only the cluster knows (setup puts it
// there), then builds on it: the reference answer is read live.
func quizLab() fstest.MapFS {
	return fstest.MapFS{
		"quiz/lab.yaml": {Data: []byte(`id: quiz
title: Quiz lab
domain: Testing
minutes: 1
profile: default
namespaces: [toy]
setup: [setup.yaml]
steps:
  - title: Name the node
    text: step.md
    checks:
      - name: the answer is the node
        keep: true
        answer:
          fromObject:
            ref: {apiVersion: v1, kind: ConfigMap, namespace: toy, name: quiz}
            field: data.node
    solution:
      text: step.md
    nearMisses:
      - name: the pod's name
        answer: root-user
  - title: Turn the feature on
    text: step.md
    checks:
      - name: flags has feature on
        object:
          ref: {apiVersion: v1, kind: ConfigMap, namespace: toy, name: flags}
          match: {data: {feature: "on"}}
    solution:
      text: step.md
      apply: [solution/02.yaml]
    nearMisses:
      - name: feature off
        apply: [nearmiss/02-off.yaml]
`)},
		"quiz/step.md": {Data: []byte("Do it.\n")},
		"quiz/setup.yaml": {Data: []byte(`apiVersion: v1
kind: Namespace
metadata: {name: toy}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: quiz, namespace: toy}
data: {node: seclab-default-worker}
`)},
		"quiz/solution/02.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: toy}
data: {feature: "on"}
`)},
		"quiz/nearmiss/02-off.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: toy}
data: {feature: "off"}
`)},
	}
}

func TestSelfTestLiveAnswer(t *testing.T) {
	e, _ := newSelfTestEngine(t, quizLab())
	r, err := e.SelfTest(context.Background(), "quiz", quick)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Held() {
		t.Errorf("problems:\n%s", strings.Join(r.Problems, "\n"))
	}
	// Step 2's solution passes only when check judges step 1's kept answer
	// check by step 1's answer, not by step 2's (none).
	for _, s := range r.Steps {
		if s.Fresh.Passed || s.Solution == nil || !s.Solution.Passed {
			t.Errorf("step %d: fresh %+v, solution %+v", s.Step, s.Fresh, s.Solution)
		}
	}
	if tr := trial(t, r, "the pod's name"); tr.Outcome != Killed || !reflect.DeepEqual(caughtBy(tr), []string{`step 1 "the answer is the node" fail`}) {
		t.Errorf("near-miss answer: %+v", tr)
	}
	// Step 2's trials run step 1's kept answer check with the live answer,
	// so only step 2's own check catches them.
	for _, tr := range append(append([]Trial{}, r.Steps[1].NearMisses...), r.Steps[1].Mutants...) {
		for _, v := range tr.CaughtBy {
			if v.Step == 1 {
				t.Errorf("%s %s caught by step 1's kept check: %+v", tr.ID, tr.Name, v)
			}
		}
	}
	if len(r.Steps[1].Mutants) == 0 {
		t.Error("no mutants of step 2 ran")
	}
	act, err := e.Current()
	if err != nil || act.Progress.Answers[1] != "seclab-default-worker" {
		t.Errorf("recorded answer for step 1: %q (%v)", act.Progress.Answers[1], err)
	}

	// reset --step 2 records it as well.
	if _, err := e.Reset(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if act, err := e.Current(); err != nil || act.Progress.Answers[1] != "seclab-default-worker" || act.Progress.NextStep(2) != 2 {
		t.Errorf("after reset --step 2: answers %v, next %d (%v)", act.Progress.Answers, act.Progress.NextStep(2), err)
	}
}

// choiceLab asks a multiple-choice question, then a select-all one.
func choiceLab() fstest.MapFS {
	return fstest.MapFS{
		"choice/lab.yaml": {Data: []byte(`id: choice
title: Choice lab
domain: Testing
minutes: 1
profile: default
steps:
  - title: Pick one
    text: step.md
    explanation: why.md
    checks:
      - name: the right choice
        keep: true
        answer:
          equals: b
          choices: [{id: a, text: one}, {id: b, text: two}, {id: c, text: three}]
    solution: {text: step.md, answer: b}
    nearMisses:
      - {name: a wrong choice, answer: c}
    equivalents:
      - {name: upper case with spaces, answer: " B "}
  - title: Pick all that apply
    text: step.md
    checks:
      - answer:
          equals: a,c
          multiple: true
          choices: [{id: a, text: one}, {id: b, text: two}, {id: c, text: three}]
    solution: {text: step.md, answer: "a,c"}
    nearMisses:
      - {name: one missing, answer: a}
      - {name: one too many, answer: "a,b,c"}
    equivalents:
      - {name: another order, answer: "C, a"}
`)},
		"choice/step.md": {Data: []byte("Choose.\n")},
		"choice/why.md":  {Data: []byte("Because two.\n\n")},
	}
}

func TestChoiceLab(t *testing.T) {
	e, _ := newSelfTestEngine(t, choiceLab())
	ctx := context.Background()
	r, err := e.SelfTest(ctx, "choice", quick)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Held() {
		t.Errorf("problems:\n%s", strings.Join(r.Problems, "\n"))
	}
	for _, name := range []string{"a wrong choice", "one missing", "one too many"} {
		if tr := trial(t, r, name); tr.Outcome != Killed {
			t.Errorf("near-miss %q: %+v", name, tr)
		}
	}

	// An answer that names no choice is refused, and not recorded.
	_, err = e.Answer(1, "kubelet")
	var ce *verify.ChoiceError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "answer with the id of one choice: a, b, c") {
		t.Errorf("answer kubelet: %v", err)
	}
	if act, _ := e.Current(); act.Progress.Answers[1] != "b" {
		t.Errorf("recorded answer after a refused one: %q", act.Progress.Answers[1])
	}

	// A wrong choice fails, and the explanation is held back.
	if _, err := e.Answer(1, "c"); err != nil {
		t.Fatal(err)
	}
	reports, err := e.Check(ctx, CheckOptions{Step: 1})
	if err != nil || reports[0].Passed || reports[0].Explanation != "" {
		t.Errorf("wrong choice: %+v (%v)", reports, err)
	}
	// The right one in another form passes and brings the explanation.
	if _, err := e.Answer(1, " B "); err != nil {
		t.Fatal(err)
	}
	reports, err = e.Check(ctx, CheckOptions{Step: 1})
	if err != nil || !reports[0].Passed || reports[0].Explanation != "Because two." {
		t.Errorf("right choice: %+v (%v)", reports, err)
	}
	// A step without an explanation has none.
	reports, err = e.Check(ctx, CheckOptions{Step: 2})
	if err != nil || !reports[0].Passed || reports[0].Explanation != "" {
		t.Errorf("step 2: %+v (%v)", reports, err)
	}
}
