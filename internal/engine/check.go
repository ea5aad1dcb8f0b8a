package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

// StepReport is the outcome of checking one step.
type StepReport struct {
	Lab     string          `json:"lab"`
	Step    int             `json:"step"`
	Of      int             `json:"of"`
	Title   string          `json:"title"`
	Passed  bool            `json:"passed"`
	Results []verify.Result `json:"results"`
	// Explanation is the step's explanation (markdown), given once the
	// step passes: before, it would give the answer away.
	Explanation string `json:"explanation,omitempty"`
}

// StepCounts says how many of a step's checks passed, failed (the
// learner's to fix) and could not be checked (errors).
type StepCounts struct {
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	Errors int `json:"errors"`
}

// Counts tallies the results.
func (r StepReport) Counts() StepCounts {
	var c StepCounts
	for _, res := range r.Results {
		switch res.Status {
		case verify.Pass:
			c.Passed++
		case verify.Fail:
			c.Failed++
		default:
			c.Errors++
		}
	}
	return c
}

// MarshalJSON adds the counts, computed from the results so the two never
// disagree.
func (r StepReport) MarshalJSON() ([]byte, error) {
	type plain StepReport // without this method
	return json.Marshal(struct {
		plain
		Counts StepCounts `json:"counts"`
	}{plain(r), r.Counts()})
}

// CheckOptions tune Check.
type CheckOptions struct {
	// Step to check (1-based); 0 = the first step not yet passed.
	Step int
	// All checks every step up to the last one.
	All bool
	// Timeout, when set, overrides every check's own deadline (the
	// self-test uses a short one where it expects failure).
	Timeout time.Duration
}

// ErrInterrupted wraps the context's error when a check run was cut short
// (Ctrl-C); nothing of such a run is recorded.
var ErrInterrupted = errors.New("check interrupted before it finished; nothing was recorded")

// Check verifies steps of the active lab against the cluster and records
// the outcome. A step passes when all its checks pass; a pass is recorded
// once and kept until reset. Passes are recorded only if the lab was not
// started or reset again while the checks ran, and not at all when ctx
// ends first (then the error wraps ErrInterrupted and ctx.Err()).
func (e *Engine) Check(ctx context.Context, opts CheckOptions) ([]StepReport, error) {
	act, err := e.Current()
	if err != nil {
		return nil, err
	}
	steps, err := stepsToCheck(act, opts)
	if err != nil {
		return nil, err
	}
	env, err := e.labEnv(ctx, act, false)
	if err != nil {
		return nil, err
	}
	var reports []StepReport
	for _, n := range steps {
		reports = append(reports, checkStep(ctx, env, act.Lab, n, stepSpecs(act.Lab, n, opts.All), act.Progress.Answers, opts.Timeout))
	}
	if ctx.Err() != nil {
		return reports, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	err = e.Store.Update(func(s *state.State) error {
		p := s.Lab(act.Lab.ID)
		if p == nil || p.Cluster != act.Progress.Cluster || p.Run != act.Progress.Run || p.SetupIncomplete || !p.Ended.IsZero() {
			// Started or reset meanwhile: what the checks saw may predate
			// it (the same cluster, wiped and set up again).
			e.Log.Warn("the lab was reset or restarted while checking; this check's results were not recorded", "lab", act.Lab.ID)
			return nil
		}
		// Passes are kept: labs build on earlier steps and later steps may
		// undo what an earlier check saw (step 2's deny-all blocks the
		// traffic step 1 checked), so a re-check must not rewind progress.
		for _, r := range reports {
			if r.Passed {
				p.MarkPassed(r.Step, e.now())
			}
		}
		p.MarkCompleted(act.Lab.NumSteps(), e.now())
		p.LastCheck = e.now()
		return nil
	})
	return reports, err
}

func stepsToCheck(act Active, opts CheckOptions) ([]int, error) {
	n := act.Lab.NumSteps()
	switch {
	case opts.All:
		steps := make([]int, n)
		for i := range steps {
			steps[i] = i + 1
		}
		return steps, nil
	case opts.Step != 0:
		if opts.Step < 1 || opts.Step > n {
			return nil, &StepRangeError{Step: opts.Step, Max: n, Lab: act.Lab.ID}
		}
		return []int{opts.Step}, nil
	}
	return []int{act.OnStep()}, nil
}

// StepRangeError is a step number outside the lab.
type StepRangeError struct {
	Step, Max int
	Lab       string
}

func (e *StepRangeError) Error() string {
	return fmt.Sprintf("lab %s has steps 1-%d, not %d", e.Lab, e.Max, e.Step)
}

// stepCheck is a check to run for a step, with the step it comes from: a
// kept answer check is judged by the answer given for its own step.
type stepCheck struct {
	step int
	spec verify.Spec
}

// stepSpecs is what checking step n runs. Alone, a step runs its own
// checks and then the kept checks of the steps before it, so a step fails
// when it undoes what an earlier one taught. In a whole-lab check (--all)
// each step before the last is judged by its kept checks only: its other
// checks describe a state later steps change on purpose (step 1's open
// traffic is what step 2 closes), and the last step's state is the lab's.
func stepSpecs(lab *catalog.Lab, n int, all bool) []stepCheck {
	var out []stepCheck
	add := func(k int, specs []verify.Spec) {
		for _, s := range specs {
			out = append(out, stepCheck{k, s})
		}
	}
	if all && n < lab.NumSteps() {
		add(n, kept(lab, n))
		return out
	}
	add(n, lab.Step(n).Checks)
	if all {
		return out
	}
	for k := 1; k < n; k++ {
		for _, s := range kept(lab, k) {
			if s.Name == "" {
				s.Name = verify.DefaultName(s)
			}
			s.Name = fmt.Sprintf("%s (kept from step %d)", s.Name, k)
			add(k, []verify.Spec{s})
		}
	}
	return out
}

// kept returns step n's checks marked keep.
func kept(lab *catalog.Lab, n int) []verify.Spec {
	var out []verify.Spec
	for _, s := range lab.Step(n).Checks {
		if s.Keep {
			out = append(out, s)
		}
	}
	return out
}

// checkStep runs checks concurrently, each seeing the answer recorded for
// the step it comes from, and reports the results in order.
func checkStep(ctx context.Context, env *verify.Env, lab *catalog.Lab, n int, checks []stepCheck, answers map[int]string, timeout time.Duration) StepReport {
	step := lab.Step(n)
	results := make([]verify.Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		env := *env
		env.Answer = answers[c.step]
		spec := withTimeout([]verify.Spec{c.spec}, timeout)[0]
		wg.Go(func() { results[i] = verify.Run(ctx, &env, spec) })
	}
	wg.Wait()
	r := StepReport{Lab: lab.ID, Step: n, Of: lab.NumSteps(), Title: step.Title, Results: results, Passed: true}
	for _, res := range results {
		if res.Status != verify.Pass {
			r.Passed = false
		}
	}
	if r.Passed && step.Explanation != "" {
		// Validate made sure the file is there.
		if data, err := lab.ReadFile(step.Explanation); err == nil {
			r.Explanation = strings.TrimSpace(string(data))
		}
	}
	return r
}

// withTimeout returns specs with every deadline set to timeout (0: as the
// lab wrote them).
func withTimeout(specs []verify.Spec, timeout time.Duration) []verify.Spec {
	if timeout <= 0 {
		return specs
	}
	out := make([]verify.Spec, len(specs))
	for i, s := range specs {
		s.Timeout = timeout.String()
		out[i] = s
	}
	return out
}

// Answer records the learner's answer for a step (default: the next one).
// An answer to a multiple-choice question that names no choice is not
// recorded: the error (a *verify.ChoiceError) lists the valid ids.
func (e *Engine) Answer(step int, answer string) (int, error) {
	act, err := e.Current()
	if err != nil {
		return 0, err
	}
	n := act.Lab.NumSteps()
	if step == 0 {
		step = act.OnStep()
	}
	if step < 1 || step > n {
		return 0, &StepRangeError{Step: step, Max: n, Lab: act.Lab.ID}
	}
	if q := act.Lab.Step(step).Question(); q != nil && strings.TrimSpace(answer) != "" {
		if _, err := q.ParseChoices(answer); err != nil {
			return 0, fmt.Errorf("step %d: %w", step, err)
		}
	}
	if err := runError(act, false); err != nil {
		return 0, err
	}
	err = e.Store.Update(func(s *state.State) error {
		if p := s.Lab(act.Lab.ID); p != nil {
			p.SetAnswer(step, answer)
		}
		return nil
	})
	return step, err
}
