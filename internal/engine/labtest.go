package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/verify"
)

// DefaultFailTimeout bounds checks the self-test expects to fail: long
// enough for a policy to be enforced, short enough to keep the run quick.
const DefaultFailTimeout = 6 * time.Second

// DefaultMutantSample is how many mutants a lab's self-test runs when not
// told otherwise: a fixed choice, so CI runs stay short and repeatable.
const DefaultMutantSample = 6

// MutantPlan says which generated mutants the self-test runs.
type MutantPlan struct {
	All bool
	// Sample, when not All, is how many mutants of the lab to run (a fixed
	// choice among those not listed as equivalent); 0 runs none.
	Sample int
}

// ParseMutantPlan reads "all", "none" or "sample=N".
func ParseMutantPlan(s string) (MutantPlan, error) {
	switch s {
	case "all":
		return MutantPlan{All: true}, nil
	case "none":
		return MutantPlan{}, nil
	}
	if v, ok := strings.CutPrefix(s, "sample="); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return MutantPlan{Sample: n}, nil
		}
	}
	return MutantPlan{}, fmt.Errorf("mutants: %q is not all, none or sample=N (N ≥ 1)", s)
}

func (p MutantPlan) String() string {
	switch {
	case p.All:
		return "all"
	case p.Sample > 0:
		return fmt.Sprintf("sample=%d", p.Sample)
	}
	return "none"
}

// SelfTestOptions tune SelfTest.
type SelfTestOptions struct {
	Mutants MutantPlan
	// FailTimeout overrides check deadlines where a failure is expected
	// (default DefaultFailTimeout).
	FailTimeout time.Duration
	Start       StartOptions
}

// Outcome is what became of a near-miss or a mutant.
type Outcome string

const (
	// Killed: a check failed, as it should.
	Killed Outcome = "killed"
	// Survived: every check passed a wrong answer. A lab defect.
	Survived Outcome = "survived"
	// Rejected: the API server refused the object; no learner can get
	// there, so it is no survivor.
	Rejected Outcome = "rejected"
	// Equivalent: the server stores the same object as the solution's, or
	// the lab lists the mutant as equivalent with a reason.
	Equivalent Outcome = "equivalent"
	// Inconclusive: no check passed it, but none failed either: only
	// errors (the step is not passed, but nothing says what is wrong).
	Inconclusive Outcome = "inconclusive"
)

// CheckVerdict is one check's result in a trial.
type CheckVerdict struct {
	// Step the check belongs to (a kept check of an earlier step, or the
	// step under test).
	Step     int           `json:"step"`
	Name     string        `json:"name"`
	Status   verify.Status `json:"status"`
	Expected string        `json:"expected,omitempty"`
	Found    string        `json:"found,omitempty"`
}

// Trial is one near-miss or mutant and what became of it.
type Trial struct {
	// ID is the mutant id (empty for a near-miss).
	ID string `json:"id,omitempty"`
	// Name is the near-miss name or the mutant's description.
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	// Reason says why a trial was rejected, equivalent or inconclusive.
	Reason string `json:"reason,omitempty"`
	// CaughtBy are the checks that did not pass.
	CaughtBy []CheckVerdict `json:"caughtBy,omitempty"`
}

// StepRun is a plain check of a step: on the fresh lab, or after its
// reference solution.
type StepRun struct {
	Passed    bool           `json:"passed"`
	NotPassed []CheckVerdict `json:"notPassed,omitempty"`
	// Error is set when the solution could not be applied.
	Error string `json:"error,omitempty"`
}

// StepSelfTest is the self-test of one step.
type StepSelfTest struct {
	Step       int     `json:"step"`
	Title      string  `json:"title"`
	Fresh      StepRun `json:"fresh"`
	NearMisses []Trial `json:"nearMisses"`
	// Equivalents are right answers in another form: each must pass.
	Equivalents []Trial `json:"equivalents"`
	Mutants     []Trial `json:"mutants"`
	// Solution is nil when an earlier step's solution could not be
	// applied, so this step was not reached.
	Solution *StepRun `json:"solution,omitempty"`
}

// SelfTestReport is the outcome of SelfTest.
type SelfTestReport struct {
	Lab     string         `json:"lab"`
	Cluster string         `json:"cluster"`
	Mutants string         `json:"mutants"`
	Steps   []StepSelfTest `json:"steps"`
	// Problems lists every way the lab broke its contract, one line each;
	// none means the self-test held.
	Problems []string `json:"problems"`
}

// Held is true when the lab kept its contract and no mutant survived.
func (r *SelfTestReport) Held() bool { return len(r.Problems) == 0 }

// MutantTally counts the mutants by outcome.
func (r *SelfTestReport) MutantTally() map[Outcome]int {
	t := map[Outcome]int{}
	for _, s := range r.Steps {
		for _, m := range s.Mutants {
			t[m.Outcome]++
		}
	}
	return t
}

func (r *SelfTestReport) problem(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

// SelfTest proves lab id on a real cluster. It starts the lab as `start`
// does (reusing a running cluster that serves its profile); on the fresh
// lab every step must fail; then step by step, each near-miss and each chosen mutant of the
// step's solution (on top of the earlier steps' solutions) must make the
// step fail, and the reference solution must pass it. It returns the
// report, and an error only when it could not run (the report then holds
// what was done so far).
func (e *Engine) SelfTest(ctx context.Context, id string, opts SelfTestOptions) (*SelfTestReport, error) {
	lab, err := e.Catalog.Get(id)
	if err != nil {
		return nil, err
	}
	if opts.FailTimeout <= 0 {
		opts.FailTimeout = DefaultFailTimeout
	}
	plan, err := planMutants(lab, opts.Mutants)
	if err != nil {
		return nil, err
	}
	res, err := e.Start(ctx, id, opts.Start)
	if err != nil {
		return nil, err
	}
	lab = res.Lab // as it runs on this kernel (see catalog.Lab.For), digests pinned
	if plan, err = planMutants(lab, opts.Mutants); err != nil {
		return nil, err // the same mutants, now with the cluster's digests
	}
	env, err := e.env(ctx, res.Cluster.Name)
	if err != nil {
		return nil, err
	}
	t := &labTest{e: e, lab: lab, env: env, opts: opts, baseline: map[objKey]*unstructured.Unstructured{}, answers: map[int]string{},
		report: &SelfTestReport{Lab: id, Cluster: res.Cluster.Name, Mutants: opts.Mutants.String(), Problems: []string{}}}
	for _, f := range lab.Setup {
		objs, err := lab.Manifests(f)
		if err != nil {
			return t.report, err
		}
		if err := t.remember(objs); err != nil {
			return t.report, err
		}
	}
	t.fresh(ctx)
	for n := 1; n <= lab.NumSteps(); n++ {
		ok, err := t.step(ctx, n, plan[n])
		if err != nil {
			return t.report, err
		}
		if !ok {
			break // later steps build on this one's solution
		}
	}
	return t.report, ctx.Err()
}

// plannedMutant is a mutant to report, with the lab's reason when it is
// listed as equivalent (then it is not run).
type plannedMutant struct {
	catalog.Mutant
	listed string
}

// planMutants chooses the mutants of each step. A sample is the mutants
// with the lowest hash of their id: fixed across runs, and adding a
// mutant changes the choice by at most one.
func planMutants(lab *catalog.Lab, plan MutantPlan) (map[int][]plannedMutant, error) {
	out := map[int][]plannedMutant{}
	if !plan.All && plan.Sample == 0 {
		return out, nil
	}
	type entry struct {
		step, order int
		m           plannedMutant
	}
	var pool []entry
	for n := 1; n <= lab.NumSteps(); n++ {
		muts, err := lab.Mutants(n)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", n, err)
		}
		listed := map[string]string{}
		for _, em := range lab.Step(n).EquivalentMutants {
			listed[em.ID] = em.Reason
		}
		for i, m := range muts {
			pool = append(pool, entry{n, i, plannedMutant{m, listed[m.ID]}})
		}
	}
	if !plan.All {
		var runnable []entry
		for _, en := range pool {
			if en.m.listed == "" {
				runnable = append(runnable, en)
			}
		}
		sort.SliceStable(runnable, func(i, j int) bool { return idHash(runnable[i].m.ID) < idHash(runnable[j].m.ID) })
		if len(runnable) > plan.Sample {
			runnable = runnable[:plan.Sample]
		}
		sort.SliceStable(runnable, func(i, j int) bool {
			if runnable[i].step != runnable[j].step {
				return runnable[i].step < runnable[j].step
			}
			return runnable[i].order < runnable[j].order
		})
		pool = runnable
	}
	for _, en := range pool {
		out[en.step] = append(out[en.step], en.m)
	}
	return out, nil
}

func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// labTest is one SelfTest run.
type labTest struct {
	e      *Engine
	lab    *catalog.Lab
	env    *verify.Env
	opts   SelfTestOptions
	report *SelfTestReport
	// baseline is seclab's version of every object it applied before the
	// step under test (setup and earlier solutions): what undo restores.
	baseline map[objKey]*unstructured.Unstructured
	// answers are the steps' reference answers, once known (a live one is
	// read from the cluster).
	answers map[int]string
}

// answer is step n's reference answer (see solutionAnswer). A live one is
// read once: later trials must submit what the learner would have.
func (t *labTest) answer(ctx context.Context, n int) (string, error) {
	if a, ok := t.answers[n]; ok {
		return a, nil
	}
	a, err := solutionAnswer(ctx, t.env, t.lab, n)
	if err != nil {
		return "", err
	}
	t.answers[n] = a
	return a, nil
}

// fresh checks that no step passes on the lab as started.
func (t *labTest) fresh(ctx context.Context) {
	for n := 1; n <= t.lab.NumSteps(); n++ {
		step := t.lab.Step(n)
		env := *t.env
		env.Answer = ""
		results := verify.RunAll(ctx, &env, withTimeout(step.Checks, t.opts.FailTimeout))
		run := StepRun{Passed: true}
		for _, r := range results {
			if r.Status != verify.Pass {
				run.Passed = false
				run.NotPassed = append(run.NotPassed, verdict(n, r))
			}
		}
		if run.Passed {
			t.report.problem("step %d passes on a fresh lab: its checks accept the starting state", n)
		}
		t.report.Steps = append(t.report.Steps, StepSelfTest{Step: n, Title: step.Title, Fresh: run, NearMisses: []Trial{}, Equivalents: []Trial{}, Mutants: []Trial{}})
	}
}

// step runs step n's near-misses and mutants, then applies and checks its
// solution. ok is false when the solution could not be applied.
func (t *labTest) step(ctx context.Context, n int, mutants []plannedMutant) (ok bool, err error) {
	st := &t.report.Steps[n-1]
	step := t.lab.Step(n)
	log := t.e.Log.With("lab", t.lab.ID, "step", n)
	for _, nm := range step.NearMisses {
		tr, err := t.nearMiss(ctx, n, nm)
		if err != nil {
			return false, fmt.Errorf("step %d near-miss %q: %w", n, nm.Name, err)
		}
		log.Info("near-miss "+string(tr.Outcome), "name", nm.Name)
		st.NearMisses = append(st.NearMisses, tr)
	}
	for _, eq := range step.Equivalents {
		tr, err := t.equivalent(ctx, n, eq)
		if err != nil {
			return false, fmt.Errorf("step %d equivalent %q: %w", n, eq.Name, err)
		}
		log.Info("equivalent answer "+map[bool]string{true: "passes", false: "REJECTED"}[tr.Outcome == Survived], "name", eq.Name)
		st.Equivalents = append(st.Equivalents, tr)
	}
	for _, m := range mutants {
		tr, err := t.mutant(ctx, n, m)
		if err != nil {
			return false, fmt.Errorf("step %d mutant %s: %w", n, m.ID, err)
		}
		if tr.Outcome == Survived {
			log.Warn("mutant SURVIVED", "id", m.ID)
			t.report.problem("step %d: mutant %s SURVIVED (%s): every check passed; add a check that catches it, or list it under equivalentMutants with the reason it is harmless", n, m.ID, m.Description)
		} else {
			log.Info("mutant "+string(tr.Outcome), "id", m.ID)
		}
		st.Mutants = append(st.Mutants, tr)
	}

	run := &StepRun{}
	st.Solution = run
	if err := t.e.Solve(ctx, n); err != nil {
		if msg, refused := refusal(err); refused {
			run.Error = msg
			t.report.problem("step %d: the reference solution could not be applied: %s", n, msg)
			return false, nil
		}
		return false, err
	}
	if _, err := t.answer(ctx, n); err != nil {
		return false, err
	}
	reports, err := t.e.Check(ctx, CheckOptions{Step: n})
	if err != nil {
		return false, err
	}
	run.Passed = reports[0].Passed
	for _, r := range reports[0].Results {
		if r.Status != verify.Pass {
			run.NotPassed = append(run.NotPassed, verdict(n, r))
		}
	}
	if !run.Passed {
		t.report.problem("step %d: the reference solution does not pass: %s", n, names(run.NotPassed))
	}
	log.Info("solution applied", "passed", run.Passed)
	for _, f := range step.Solution.Apply {
		objs, err := t.lab.Manifests(f)
		if err != nil {
			return false, err
		}
		if err := t.remember(objs); err != nil {
			return false, err
		}
	}
	return true, nil
}

// nearMiss applies a near-miss on top of the earlier steps' solutions and
// expects a check to fail, saying what it expected and found.
func (t *labTest) nearMiss(ctx context.Context, n int, nm catalog.NearMiss) (Trial, error) {
	var objs []*unstructured.Unstructured
	for _, f := range nm.Apply {
		o, err := t.lab.Manifests(f)
		if err != nil {
			return Trial{}, err
		}
		objs = append(objs, o...)
	}
	tr, err := t.try(ctx, n, objs, nm.Run, nil, nm.Answer)
	tr.Name = nm.Name
	if err != nil {
		return tr, err
	}
	switch tr.Outcome {
	case Killed:
		for _, v := range tr.CaughtBy {
			if v.Status == verify.Fail && (v.Expected == "" || v.Found == "") {
				t.report.problem("step %d: near-miss %q: check %q failed without saying what it expected and found", n, nm.Name, v.Name)
			}
		}
	case Survived:
		t.report.problem("step %d: near-miss %q passed every check", n, nm.Name)
	case Inconclusive:
		t.report.problem("step %d: near-miss %q: no check failed, only errors (%s); a near-miss needs a check that points at the difference", n, nm.Name, names(tr.CaughtBy))
	case Rejected:
		t.report.problem("step %d: near-miss %q could not be applied: %s", n, nm.Name, tr.Reason)
	}
	return tr, nil
}

// equivalent applies a right answer written differently from the
// solution, in the solution's place, and expects every check to pass
// (for a trial, "survived").
func (t *labTest) equivalent(ctx context.Context, n int, eq catalog.NearMiss) (Trial, error) {
	var objs []*unstructured.Unstructured
	for _, f := range eq.Apply {
		o, err := t.lab.Manifests(f)
		if err != nil {
			return Trial{}, err
		}
		objs = append(objs, o...)
	}
	answer := eq.Answer
	if answer == "" {
		var err error
		if answer, err = t.answer(ctx, n); err != nil {
			return Trial{Name: eq.Name}, err
		}
	}
	tr, err := t.try(ctx, n, objs, eq.Run, nil, answer)
	tr.Name = eq.Name
	if err != nil {
		return tr, err
	}
	if tr.Outcome != Survived {
		t.report.problem("step %d: equivalent answer %q is not accepted (%s): %s", n, eq.Name, tr.Outcome, names(tr.CaughtBy))
	}
	return tr, nil
}

// mutant applies step n's solution with one object mutated.
func (t *labTest) mutant(ctx context.Context, n int, m plannedMutant) (Trial, error) {
	if m.listed != "" {
		return Trial{ID: m.ID, Name: m.Description, Outcome: Equivalent, Reason: "listed in lab.yaml: " + m.listed}, nil
	}
	var objs []*unstructured.Unstructured
	var original *unstructured.Unstructured
	for _, f := range t.lab.Step(n).Solution.Apply {
		o, err := t.lab.Manifests(f)
		if err != nil {
			return Trial{}, err
		}
		if f == m.File {
			original = o[m.Index]
			o[m.Index] = m.Object
		}
		objs = append(objs, o...)
	}
	answer, err := t.answer(ctx, n)
	if err != nil {
		return Trial{ID: m.ID, Name: m.Description}, err
	}
	tr, err := t.try(ctx, n, objs, t.lab.Step(n).Solution.Run, &equivalence{mutated: m.Object, original: original}, answer)
	tr.ID, tr.Name = m.ID, m.Description
	return tr, err
}

// equivalence is what a mutant trial compares before running checks.
type equivalence struct {
	mutated, original *unstructured.Unstructured
}

// try applies objs, runs the node commands run, runs step n's checks and
// the kept checks of earlier steps, and removes what it applied. With eq,
// a mutant the server stores exactly as it stores the original is
// equivalent and not checked.
func (t *labTest) try(ctx context.Context, n int, objs []*unstructured.Unstructured, run []catalog.NodeCommand, eq *equivalence, answer string) (tr Trial, err error) {
	applied, refused, err := t.apply(ctx, objs)
	defer func() {
		// A fresh context: whatever happened, the next trial starts clean.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if uerr := t.undo(uctx, applied); uerr != nil && err == nil {
			err = fmt.Errorf("cleaning up: %w", uerr)
		}
	}()
	if err != nil {
		return tr, err
	}
	if refused != "" {
		return Trial{Outcome: Rejected, Reason: refused}, nil
	}
	if _, err := runNodeCommands(ctx, t.env, t.lab, fmt.Sprintf("step %d trial", n), run); err != nil {
		return tr, err
	}
	if eq != nil {
		same, err := t.storedAsOriginal(ctx, eq)
		if err != nil {
			return tr, err
		}
		if same {
			return Trial{Outcome: Equivalent, Reason: "the API server stores it exactly as the solution's object: its defaults fill in the change"}, nil
		}
	}
	t.settle(ctx, n, objs)
	results := t.checks(ctx, n, answer)
	tr.Outcome = Survived
	for _, v := range results {
		if v.Status == verify.Pass {
			continue
		}
		tr.CaughtBy = append(tr.CaughtBy, v)
		switch {
		case v.Status == verify.Fail:
			tr.Outcome = Killed
		case tr.Outcome == Survived:
			tr.Outcome = Inconclusive
		}
	}
	if tr.Outcome == Inconclusive {
		tr.Reason = "no check failed; errors: " + names(tr.CaughtBy)
	}
	return tr, nil
}

// checks runs step n's checks (answer is what its answer checks see) with
// the kept checks of earlier steps, each group with its own step's
// solution answer, all at once and with the short deadline.
func (t *labTest) checks(ctx context.Context, n int, answer string) []CheckVerdict {
	type group struct {
		step    int
		specs   []verify.Spec
		answer  string
		results []verify.Result
	}
	groups := []*group{{step: n, specs: t.lab.Step(n).Checks, answer: answer}}
	for k := 1; k < n; k++ {
		var kept []verify.Spec
		for _, c := range t.lab.Step(k).Checks {
			if c.Keep {
				kept = append(kept, c)
			}
		}
		if len(kept) > 0 {
			// Known: step k's solution was applied and its answer read.
			groups = append(groups, &group{step: k, specs: kept, answer: t.answers[k]})
		}
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		env := *t.env
		env.Answer = g.answer
		wg.Go(func() { g.results = verify.RunAll(ctx, &env, withTimeout(g.specs, t.opts.FailTimeout)) })
	}
	wg.Wait()
	var out []CheckVerdict
	for _, g := range groups {
		for _, r := range g.results {
			out = append(out, verdict(g.step, r))
		}
	}
	return out
}

func verdict(step int, r verify.Result) CheckVerdict {
	return CheckVerdict{Step: step, Name: r.Name, Status: r.Status, Expected: r.Expected, Found: r.Found}
}

// names lists checks as "name" (status), for one-line messages.
func names(vs []CheckVerdict) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%q (%s)", v.Name, v.Status)
	}
	return strings.Join(parts, ", ")
}
