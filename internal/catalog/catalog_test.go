package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/go-multierror"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/verify"
	"github.com/seclab/seclab/labs"
)

var opts = catalog.ValidateOptions{Profiles: cluster.MustBuiltin().Names(), Features: cluster.KnownFeatures}

// Every embedded lab must load and validate: a broken lab never ships.
func TestEmbeddedLabsValidate(t *testing.T) {
	cat, err := catalog.Load(labs.FS, opts)
	if err != nil {
		t.Fatalf("embedded labs invalid:\n%v", err)
	}
	ids := strings.Join(cat.IDs(), ",")
	for _, want := range []string{"netpol", "secrets", "workload-hardening"} {
		if !strings.Contains(ids, want) {
			t.Errorf("lab %s missing from catalog (%s)", want, ids)
		}
	}
	for _, l := range cat.Labs() {
		for i := 1; i <= l.NumSteps(); i++ {
			s := l.Step(i)
			if len(s.NearMisses) == 0 {
				t.Errorf("%s step %d has no near-misses: the self-test cannot prove it rejects wrong answers", l.ID, i)
			}
			for _, f := range s.Solution.Apply {
				if _, err := l.Manifests(f); err != nil {
					t.Errorf("%s step %d: %v", l.ID, i, err)
				}
			}
		}
	}
}

func TestUnknownLabListsValidIDs(t *testing.T) {
	cat, err := catalog.Load(labs.FS, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cat.Get("netpoll")
	var unknown *catalog.UnknownLabError
	if !errors.As(err, &unknown) {
		t.Fatalf("want UnknownLabError, got %v", err)
	}
	if !strings.Contains(err.Error(), "netpol") || !strings.Contains(err.Error(), "secrets") {
		t.Errorf("error does not list valid labs: %v", err)
	}
}

func loadBroken(t *testing.T, dir string) []string {
	t.Helper()
	_, err := catalog.LoadLab(os.DirFS("testdata/broken/"+dir), dir, opts)
	if err == nil {
		t.Fatalf("broken lab %s loaded without error", dir)
	}
	var me *multierror.Error
	if !errors.As(err, &me) {
		t.Fatalf("want a multierror with every problem, got %T: %v", err, err)
	}
	var lines []string
	for _, e := range me.Errors {
		lines = append(lines, e.Error())
	}
	return lines
}

func requireAll(t *testing.T, got []string, want ...string) {
	t.Helper()
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing error containing %q; got:\n%s", w, all)
		}
	}
}

// Unknown fields are all reported, each with its path, not just the first,
// and the rest of the lab is still validated in the same run.
func TestStrictDecodeReportsEveryUnknownField(t *testing.T) {
	errs := loadBroken(t, "typos")
	want := []string{
		"typos/lab.yaml: profil: unknown field",
		"typos/lab.yaml: steps[0].hint: unknown field",
		"typos/lab.yaml: steps[0].checks[0].conectivity: unknown field",
		"typos/lab.yaml: profile: required", // what the typo left unset
		`typos/lab.yaml: images[0]: "nginx" has no tag`,
		`typos/lab.yaml: images[1]: "busybox:latest" uses :latest`,
		`typos/lab.yaml: steps[0].text: file "missing.md": not found`,
		`typos/lab.yaml: steps[0].solution.text: file "missing-solution.md": not found`,
	}
	requireAll(t, errs, want...)
	if len(errs) != len(want) {
		t.Errorf("want exactly %d problems, got %d:\n%s", len(want), len(errs), strings.Join(errs, "\n"))
	}
}

// Values of the wrong type are all reported with their full path (the JSON
// decoder names only the first, without list indexes), validation still
// runs, and a field already reported is not reported again by validation.
func TestStrictDecodeReportsEveryWrongType(t *testing.T) {
	errs := loadBroken(t, "types")
	want := []string{
		`types/lab.yaml: minutes: wrong type (string "ten", want a whole number)`,
		`types/lab.yaml: images: wrong type (string "nginx:1.27", want a list)`,
		"types/lab.yaml: speling: unknown field",
		"types/lab.yaml: steps[0].checks: wrong type (a mapping, want a list)",
		`types/lab.yaml: steps[0].solution.apply: wrong type (string "solution.yaml", want a list)`,
		"types/lab.yaml: steps[1].title: wrong type (a list, want a string)",
		`types/lab.yaml: steps[1].checks[0].secret.onlyKeys: wrong type (string "yes", want true or false)`,
		"types/lab.yaml: steps[1].checks[0].secret.namespace: boolean false where text is wanted (YAML reads unquoted y, n, yes, no",
		`types/lab.yaml: steps[1].checks[0].timeout: "5" is not a positive duration`, // a number is taken as text
		`types/lab.yaml: steps[1].solution.text: file "nope.md": not found`,          // validation ran
	}
	requireAll(t, errs, want...)
	if len(errs) != len(want) {
		t.Errorf("want exactly %d problems, got %d:\n%s", len(want), len(errs), strings.Join(errs, "\n"))
	}
	for _, e := range errs {
		for _, dup := range []string{"minutes: must be > 0", "steps[0].checks: a step needs", "steps[1].title: required"} {
			if strings.Contains(e, dup) {
				t.Errorf("validation repeats a decode problem: %s", e)
			}
		}
	}
}

func TestBrokenYAMLIsOneProblem(t *testing.T) {
	lab := fstest.MapFS{"lab.yaml": {Data: []byte("id: x\nsteps: [\n")}}
	_, err := catalog.LoadLab(lab, "x", opts)
	if err == nil || !strings.Contains(err.Error(), "x/lab.yaml: not valid YAML") || strings.Contains(err.Error(), "required") {
		t.Errorf("got %v", err)
	}
}

// A labs directory without a single lab is the caller's mistake, not an
// empty catalog to run with.
func TestLabsDirWithoutLabs(t *testing.T) {
	var dirErr *catalog.LabsDirError
	empty := t.TempDir()
	if err := os.Mkdir(empty+"/notes", 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Load(os.DirFS(empty), opts); !errors.Is(err, catalog.ErrNoLabs) {
		t.Errorf("Load of a dir without labs: %v", err)
	}
	if _, err := catalog.LoadDir(empty, opts); !errors.As(err, &dirErr) || !strings.Contains(err.Error(), "no labs found") {
		t.Errorf("LoadDir of a dir without labs: %v", err)
	}
	if _, err := catalog.LoadDir("../../labs/secrets", opts); !errors.As(err, &dirErr) || !strings.Contains(err.Error(), "point --labs-dir at its parent") {
		t.Errorf("LoadDir of a lab itself: %v", err)
	}
	if _, err := catalog.LoadDir(empty+"/missing", opts); !errors.As(err, &dirErr) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("LoadDir of a missing dir: %v", err)
	}
	if _, err := catalog.LoadDir("catalog_test.go", opts); !errors.As(err, &dirErr) || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("LoadDir of a file: %v", err)
	}
	if c, err := catalog.LoadDir("../../labs", opts); err != nil || len(c.Labs()) == 0 {
		t.Errorf("LoadDir of the real labs: %v", err)
	}
}

// Validation collects every problem of a decodable lab, with field paths.
func TestValidateCollectsAllErrors(t *testing.T) {
	errs := loadBroken(t, "badchecks")
	requireAll(t, errs,
		`id: "wrong-dir-name" must equal its directory name "badchecks"`,
		"title: required",
		"minutes: must be > 0",
		`profile: "no-such-profile" is not a known cluster profile`,
		`namespaces[0]: "default" cannot be owned by a lab`,
		`preflight[0]: "magic" is not a known preflight`,
		"steps[0].checks[0].(check): more than one check kind set (object, secret)",
		"steps[0].checks[0].object.ref.apiVersion: required",
		"steps[0].checks[1].connectivity.from: set exactly one of selector, pod, probe",
		"steps[0].checks[1].connectivity.to: set exactly one of service, selector",
		"steps[0].checks[1].connectivity.to.port: must be 1-65535, got 70000",
		`steps[0].checks[1].connectivity.expect: "maybe" is not one of allowed, blocked`,
		"steps[0].solution.answer: required: the step has an answer check",
		`steps[0].checks[3].timeout: "soon" is not a positive duration`,
		"steps[0].checks[4].object.match.spec.ports.$contians: unknown operator (known: $absent, $contains,",
		`steps[0].checks[4].object.match.spec.clusterIP.$regex: "10.(" is not a valid regular expression`,
		`steps[0].checks[5].selects.pods: "app in (a" is not a label selector`,
		"imagePullPolicy Always cannot work offline",
		"steps[0].nearMisses[0].name: required",
		"steps[0].nearMisses[0]: set apply, run or answer",
		"nodeRestore[0]: set command or script, not both",
		"nodeRestore[1]: set command or script",
		"nodeRestore[2].args: only with script",
		`nodeRestore[2].role: "master": want control-plane, worker, or nothing for every node`,
		`nodeRestore[3].script: file "missing.sh": not found in lab directory`,
		`steps[0].explanation: file "explain/missing.md": not found in lab directory`,
	)
	for _, e := range errs {
		if !strings.HasPrefix(e, "badchecks/lab.yaml: ") {
			t.Errorf("error without lab file prefix: %q", e)
		}
	}
}

func TestLoadReportsAllLabsProblemsTogether(t *testing.T) {
	_, err := catalog.Load(os.DirFS("testdata/broken"), opts)
	if err == nil {
		t.Fatal("broken catalog loaded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "typos/lab.yaml") || !strings.Contains(msg, "badchecks/lab.yaml") {
		t.Errorf("errors of both labs expected in one report:\n%s", msg)
	}
	if head := fmt.Sprintf("invalid lab data, %d problems:\n  - ", strings.Count(msg, "\n  - ")); !strings.HasPrefix(msg, head) {
		t.Errorf("report should start with %q: %q", head, msg[:40])
	}
}

func TestImagesMustBePinned(t *testing.T) {
	lab := &catalog.Lab{ID: "x", Title: "x", Domain: "d", Minutes: 1, Profile: "default", Images: []string{"nginx", "busybox:latest", "nginx:1.27", "reg.example/app@sha256:abc"}}
	got := lab.Validate(opts)
	requireAll(t, got, `images[0]: "nginx" has no tag`, `images[1]: "busybox:latest" uses :latest`)
	for _, e := range got {
		if strings.HasPrefix(e, "images[2]") || strings.HasPrefix(e, "images[3]") {
			t.Errorf("pinned image rejected: %s", e)
		}
	}
}

func TestParseManifests(t *testing.T) {
	objs, err := catalog.ParseManifests([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"))
	if err != nil || len(objs) != 2 || objs[1].GetName() != "b" {
		t.Fatalf("got %d objects, err %v", len(objs), err)
	}
	if _, err := catalog.ParseManifests([]byte("apiVersion: v1\nkind: Pod\nmetadata: {}\n")); err == nil || !strings.Contains(err.Error(), "metadata.name is required") {
		t.Errorf("nameless object: %v", err)
	}
	if _, err := catalog.ParseManifests([]byte("kind: Pod\nmetadata: {name: x}\n")); err == nil || !strings.Contains(err.Error(), "apiVersion is required") {
		t.Errorf("apiVersion-less object: %v", err)
	}
}

func toyLab(equivalent string) fstest.MapFS {
	return fstest.MapFS{
		"lab.yaml": {Data: []byte(`id: toy
title: Toy
domain: Testing
minutes: 1
profile: default
namespaces: [toy]
steps:
  - title: Configure
    text: step.md
    checks:
      - object:
          ref: {apiVersion: v1, kind: ConfigMap, namespace: toy, name: settings}
          match: {data: {mode: strict}}
    solution:
      text: step.md
      apply: [solution/settings.yaml]
` + equivalent)},
		"step.md": {Data: []byte("Do it.\n")},
		"solution/settings.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: toy, labels: {team: a}}
data: {mode: strict, note: hello}
`)},
	}
}

func TestMutantsOfAStep(t *testing.T) {
	lab, err := catalog.LoadLab(toyLab(""), "toy", opts)
	if err != nil {
		t.Fatal(err)
	}
	muts, err := lab.Mutants(1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range muts {
		got = append(got, m.ID)
		if m.File != "solution/settings.yaml" {
			t.Errorf("%s: file %q", m.ID, m.File)
		}
	}
	want := []string{
		"settings.yaml#ConfigMap/settings:change-namespace:metadata.namespace=default",
		"settings.yaml#ConfigMap/settings:change-label:metadata.labels.team",
		"settings.yaml#ConfigMap/settings:drop-field:metadata.labels.team",
		"settings.yaml#ConfigMap/settings:drop-field:data.mode",
		"settings.yaml#ConfigMap/settings:drop-field:data.note",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mutants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEquivalentMutantsMustExist(t *testing.T) {
	ok := `    equivalentMutants:
      - id: "settings.yaml#ConfigMap/settings:drop-field:data.note"
        reason: nothing reads the note
`
	if _, err := catalog.LoadLab(toyLab(ok), "toy", opts); err != nil {
		t.Fatalf("a real mutant id rejected: %v", err)
	}
	bad := `    equivalentMutants:
      - id: "old-name.yaml#ConfigMap/settings:drop-field:data.note"
        reason: nothing reads the note
      - id: "settings.yaml#ConfigMap/settings:drop-field:data.color"
        reason: gone
      - id: "settings.yaml#ConfigMap/settings:drop-field:metadata.labels.team"
      - id: "settings.yaml#ConfigMap/settings:drop-field:metadata.labels.team"
        reason: twice
      - reason: no id
`
	_, err := catalog.LoadLab(toyLab(bad), "toy", opts)
	if err == nil {
		t.Fatal("stale equivalentMutants accepted")
	}
	requireAll(t, strings.Split(err.Error(), "\n"),
		`steps[0].equivalentMutants[0].id: "old-name.yaml#ConfigMap/settings:drop-field:data.note" is not a mutant of this step's solution (did you mean "settings.yaml#ConfigMap/settings:drop-field:data.note"?)`,
		`steps[0].equivalentMutants[1].id: "settings.yaml#ConfigMap/settings:drop-field:data.color" is not a mutant of this step's solution (stale?`,
		"steps[0].equivalentMutants[2].reason: required",
		`steps[0].equivalentMutants[3].id: "settings.yaml#ConfigMap/settings:drop-field:metadata.labels.team" is listed twice`,
		"steps[0].equivalentMutants[4].id: required",
	)
}

// An answer read from the cluster has no written solution answer: it would
// be right on one cluster only.
func TestLiveAnswerHasNoWrittenSolution(t *testing.T) {
	live := &verify.AnswerSpec{FromObject: &verify.ObjectField{
		Ref:   verify.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "k01", Name: "root-user"},
		Field: "spec.nodeName",
	}}
	step := func(answer string, spec *verify.AnswerSpec) catalog.Step {
		return catalog.Step{Title: "t", Checks: []verify.Spec{{Answer: spec}}, Solution: catalog.Solution{Answer: answer}}
	}
	lab := &catalog.Lab{ID: "x", Title: "x", Domain: "d", Minutes: 1, Profile: "default", Steps: []catalog.Step{
		step("seclab-default-worker", live),
		step("", live),
		step("", &verify.AnswerSpec{Equals: "42"}),
	}}
	got := lab.Validate(opts)
	requireAll(t, got,
		"steps[0].solution.answer: leave it out: the answer check reads its value from the cluster (fromObject)",
		"steps[2].solution.answer: required: the step has an answer check")
	for _, e := range got {
		if strings.HasPrefix(e, "steps[1].solution.answer") {
			t.Errorf("a live answer needs no written one: %s", e)
		}
	}
	if lab.Step(2).LiveAnswer() != live || lab.Step(3).LiveAnswer() != nil {
		t.Errorf("LiveAnswer: step 2 %v, step 3 %v", lab.Step(2).LiveAnswer(), lab.Step(3).LiveAnswer())
	}
}

// A multiple-choice step's written answers must name its choices, and the
// solution must be the right one.
func TestChoiceStepAnswersNameChoices(t *testing.T) {
	q := func() *verify.AnswerSpec {
		return &verify.AnswerSpec{Equals: "a,c", Multiple: true, Choices: []verify.Choice{{ID: "a", Text: "x"}, {ID: "b", Text: "y"}, {ID: "c", Text: "z"}}}
	}
	step := func(answer string, nearMiss string, checks ...verify.Spec) catalog.Step {
		s := catalog.Step{Title: "t", Checks: checks, Solution: catalog.Solution{Answer: answer}}
		if nearMiss != "" {
			s.NearMisses = []catalog.NearMiss{{Name: "n", Answer: nearMiss}}
		}
		return s
	}
	lab := &catalog.Lab{ID: "x", Title: "x", Domain: "d", Minutes: 1, Profile: "default", Steps: []catalog.Step{
		step(" C, a", "b", verify.Spec{Keep: true, Answer: q()}),                                                    // fine: order, case, spaces
		step("a", "a,c,d", verify.Spec{Keep: true, Answer: q()}),                                                    // wrong solution, near-miss no choice
		step("kubelet", "", verify.Spec{Keep: true, Answer: q()}),                                                   // solution no choice
		step("a,c", "", verify.Spec{Keep: true, Answer: q()}, verify.Spec{Answer: &verify.AnswerSpec{Equals: "a"}}), // two answer checks
	}}
	got := lab.Validate(opts)
	requireAll(t, got,
		`steps[1].solution.answer: "a" is not the answer check's equals "a,c"`,
		`steps[1].nearMisses[0].answer: "d" is not a choice of this question`,
		`steps[2].solution.answer: "kubelet" is not a choice of this question`,
		"steps[3].checks: a step with a multiple-choice answer check can have no other answer check",
	)
	for _, e := range got {
		if strings.HasPrefix(e, "steps[0].solution.answer") || strings.HasPrefix(e, "steps[0].nearMisses") {
			t.Errorf("a right answer in another form is fine: %s", e)
		}
	}
	if lab.Step(1).Question() == nil || lab.Step(1).Question().Equals != "a,c" {
		t.Errorf("Question() = %+v", lab.Step(1).Question())
	}
	if (&catalog.Step{Checks: []verify.Spec{{Answer: &verify.AnswerSpec{Equals: "42"}}}}).Question() != nil {
		t.Error("a free-text answer is no multiple-choice question")
	}
}
