package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

// Reset puts the active lab back to its starting point on the same cluster
// (starting its stopped nodes first). With toStep > 1 it then applies the
// reference solutions of the steps before toStep, so the learner resumes at
// toStep. The run before the reset stays in the lab's history.
func (e *Engine) Reset(ctx context.Context, toStep int) (Active, error) {
	act, err := e.Current()
	if err != nil {
		return act, err
	}
	n := act.Lab.NumSteps()
	if toStep == 0 {
		toStep = 1
	}
	if toStep < 1 || toStep > n {
		return act, &StepRangeError{Step: toStep, Max: n, Lab: act.Lab.ID}
	}
	env, err := e.labEnv(ctx, act, true)
	if err != nil {
		return act, err
	}
	if err := e.markSetupIncomplete(act.Lab.ID, act.Progress.Cluster); err != nil {
		return act, err
	}
	if err := e.cleanLab(ctx, env, act.Lab); err != nil {
		return act, err
	}
	if err := e.applySetup(ctx, env, act.Lab); err != nil {
		return act, err
	}
	answers := map[int]string{}
	for i := 1; i < toStep; i++ {
		if err := applySolution(ctx, env, act.Lab, i); err != nil {
			return act, err
		}
		a, err := solutionAnswer(ctx, env, act.Lab, i)
		if err != nil {
			return act, err
		}
		if a != "" {
			answers[i] = a
		}
	}
	err = e.Store.Update(func(s *state.State) error {
		p := s.StartLab(act.Lab.ID, act.Progress.Cluster, act.Progress.Context, e.now())
		for i := 1; i < toStep; i++ {
			p.MarkPassed(i, e.now())
		}
		for i, a := range answers {
			p.SetAnswer(i, a)
		}
		act.Progress = p
		return nil
	})
	return act, err
}

// Solve applies step n's reference solution to the active lab's cluster
// (and records its answer, if the step takes one).
func (e *Engine) Solve(ctx context.Context, n int) error {
	act, err := e.Current()
	if err != nil {
		return err
	}
	if act.Lab.Step(n) == nil {
		return &StepRangeError{Step: n, Max: act.Lab.NumSteps(), Lab: act.Lab.ID}
	}
	env, err := e.labEnv(ctx, act, false)
	if err != nil {
		return err
	}
	if err := applySolution(ctx, env, act.Lab, n); err != nil {
		return err
	}
	a, err := solutionAnswer(ctx, env, act.Lab, n)
	if err == nil && a != "" {
		_, err = e.Answer(n, a)
	}
	return err
}

// liveAnswerTimeout bounds the wait for a live answer's field to be filled
// in (a pod the lab just created may not be scheduled yet).
const liveAnswerTimeout = 30 * time.Second

// solutionAnswer is what the reference solution of step n answers: the
// lab's text, or the value on the cluster when the answer check reads it
// from there (fromObject), which no lab file can know in advance.
func solutionAnswer(ctx context.Context, env *verify.Env, lab *catalog.Lab, n int) (string, error) {
	step := lab.Step(n)
	live := step.LiveAnswer()
	if live == nil {
		return step.Solution.Answer, nil
	}
	ctx, cancel := context.WithTimeout(ctx, liveAnswerTimeout)
	defer cancel()
	a, err := verify.ExpectedAnswer(ctx, env, live)
	if err != nil {
		return "", fmt.Errorf("step %d: reading the reference answer from the cluster: %w", n, err)
	}
	return a, nil
}

func applySolution(ctx context.Context, env *verify.Env, lab *catalog.Lab, n int) error {
	for _, f := range lab.Step(n).Solution.Apply {
		objs, err := lab.Manifests(f)
		if err != nil {
			return err
		}
		if err := applyObjects(ctx, env, objs); err != nil {
			return fmt.Errorf("step %d solution %s: %w", n, f, err)
		}
	}
	_, err := runNodeCommands(ctx, env, lab, fmt.Sprintf("step %d solution", n), lab.Step(n).Solution.Run)
	return err
}

// Down deletes the active lab's cluster, or with all every seclab cluster.
// Progress is kept: the runs that lived on a deleted cluster are marked
// ended, so status and list still show what the learner did.
func (e *Engine) Down(ctx context.Context, all bool) ([]string, error) {
	var names []string
	if all {
		infos, err := e.Clusters.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, i := range infos {
			names = append(names, i.Name)
		}
	} else {
		act, err := e.Current()
		if err != nil {
			return nil, err
		}
		if act.Progress.Ended.IsZero() {
			names = []string{act.Progress.Cluster}
		}
	}
	var deleted []string
	for _, name := range names {
		if err := e.Clusters.Delete(ctx, name); err != nil {
			return deleted, err
		}
		deleted = append(deleted, name)
		err := e.Store.Update(func(s *state.State) error {
			s.EndCluster(name, "deleted by seclab down", e.now())
			return nil
		})
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}
