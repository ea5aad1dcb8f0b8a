package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// check is one check kind. attempt makes a single try against the cluster
// and must honour ctx; it fills Status, Expected and Found only. Run owns
// naming, polling and timing, so every kind behaves the same way.
type check interface {
	attempt(ctx context.Context, env *Env) Result
	// describe is the one-line name used when the lab gives none.
	describe() string
}

// connectivityAttemptBudget: a "blocked" needs blockedTries connect
// timeouts after a baseline probe, and maybe a probe pod start.
const connectivityAttemptBudget = 20 * time.Second

func (c *connectivityCheck) minAttempt() time.Duration { return connectivityAttemptBudget }

// cleaner is a check that holds something across attempts (a probe pod);
// Run calls cleanup exactly once when it is done, whatever the outcome.
type cleaner interface {
	cleanup(env *Env)
}

func newCheck(s Spec) check {
	switch {
	case s.Object != nil:
		return newObjectCheck(s.Object)
	case s.Absent != nil:
		return &absentCheck{spec: s.Absent}
	case s.Selects != nil:
		return &selectsCheck{spec: s.Selects}
	case s.Secret != nil:
		return &secretCheck{spec: s.Secret}
	case s.Connectivity != nil:
		return &connectivityCheck{spec: s.Connectivity, from: podSource{ref: s.Connectivity.From}}
	case s.Exec != nil:
		return &execCheck{spec: s.Exec, in: podSource{ref: s.Exec.In}}
	case s.Admission != nil:
		return &admissionCheck{spec: s.Admission}
	case s.Access != nil:
		return &accessCheck{spec: s.Access}
	case s.Request != nil:
		return &requestCheck{spec: s.Request}
	case s.Answer != nil:
		return &answerCheck{spec: s.Answer}
	case s.Node != nil:
		return &nodeCheck{spec: s.Node}
	case s.Reachability != nil:
		return &reachabilityCheck{spec: s.Reachability}
	}
	return nil
}

// Run runs one check, retrying every env.Interval until it passes or its
// timeout elapses, and returns the last attempt's result. Retrying is what
// lets a check see state that settles after the learner's command returns
// (a Deployment becoming ready, a NetworkPolicy being programmed).
func Run(ctx context.Context, env *Env, s Spec) Result {
	start := time.Now()
	c := newCheck(s)
	name := s.Name
	if name == "" {
		name = DefaultName(s)
	}
	done := func(r Result, attempts int) Result {
		r.Name, r.Kind = name, s.Kind()
		r.Elapsed, r.Attempts = time.Since(start), attempts
		r.final = false
		return r
	}
	if errs := s.Validate(); len(errs) > 0 {
		return done(Result{Status: Error, Expected: "a valid check", Found: "invalid check: " + strings.Join(errs, "; ")}, 0)
	}
	if env == nil {
		return done(errorf("no cluster environment configured"), 0)
	}
	if cl, ok := c.(cleaner); ok {
		defer cl.cleanup(env)
	}

	// A deadline bounds polling, not the one attempt a verdict needs: a
	// short timeout (the self-test's for expected failures) must not turn a
	// slow but sure "blocked" into "no result".
	timeout := s.TimeoutOrDefault()
	budget := timeout
	if m, ok := c.(interface{ minAttempt() time.Duration }); ok && budget < m.minAttempt() {
		budget = m.minAttempt()
	}
	// No new attempt starts after retryUntil; a running one may use the
	// whole budget.
	retryUntil := start.Add(timeout)
	tctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	interrupted := func(last *Result, n int) Result {
		r := errorf("interrupted before the check could finish")
		if last != nil {
			r.Expected = last.Expected
			r.Found = "interrupted; last attempt found: " + last.Found
		}
		return done(r, n)
	}

	// last is the latest attempt; lastFail the latest real observation
	// that the step is not done. At the deadline an Error (seclab could not
	// look this time, e.g. the client's rate limiter refusing to wait past
	// the deadline) must not hide a failure seen just before.
	// Likewise an Error about the deadline itself must not hide an earlier
	// Error about the cluster (why a pod is not running): lastSeen is the
	// latest attempt that is not about the deadline.
	var last, lastFail, lastSeen *Result
	settle := func(r Result, n int) Result {
		switch {
		case r.Status != Error:
		case lastFail != nil:
			r = *lastFail
		case aboutDeadline(r) && lastSeen != nil:
			r = *lastSeen
		}
		return done(r, n)
	}
	for n := 1; ; n++ {
		r := safeAttempt(tctx, env, c)
		if r.Status == Fail {
			lastFail = &r
		}
		if ctx.Err() != nil {
			// Interrupted during the attempt: not even a Pass counts, as
			// it may describe the cancellation (a probe cut off looks
			// like blocked traffic). A Fail is still worth showing.
			return interrupted(lastFail, n)
		}
		if r.Status == Pass {
			return done(r, n)
		}
		if tctx.Err() != nil {
			// Out of time during the attempt. A Fail is a real observation;
			// an Error most likely describes the cancellation rather than
			// the cluster, so an earlier attempt says more.
			if lastFail != nil {
				return done(*lastFail, n)
			}
			if last != nil {
				return settle(*last, n)
			}
			r.Status = Error
			r.Found = fmt.Sprintf("no result within the check's timeout of %s: %s", budget, r.Found)
			return done(r, n)
		}
		if !aboutDeadline(r) {
			lastSeen = &r
		}
		if r.final {
			return done(r, n)
		}
		last = &r
		wait := env.interval()
		if left := time.Until(retryUntil); left <= 0 {
			return settle(r, n)
		} else if left < wait {
			wait = left
		}
		t := time.NewTimer(wait)
		select {
		case <-tctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return interrupted(lastFail, n)
			}
			return settle(*last, n)
		case <-t.C:
		}
	}
}

// aboutDeadline reports whether an Error says only that the check ran out
// of time (the context's deadline, or client-go's rate limiter refusing to
// wait past it), nothing about the cluster.
func aboutDeadline(r Result) bool {
	return r.Status == Error && strings.Contains(r.Found, "context deadline")
}

// DefaultName is the one-line name a check gets when the lab gives none.
func DefaultName(s Spec) string {
	if c := newCheck(s); c != nil && len(s.kinds()) == 1 {
		return c.describe()
	}
	return "(invalid check)"
}

// safeAttempt turns a panic in a check into an Error result: one buggy
// check must not take down the whole `seclab check` run.
func safeAttempt(ctx context.Context, env *Env, c check) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = final(errorf("internal error in seclab (please report it): %v", p))
		}
	}()
	return c.attempt(ctx, env)
}

// RunAll runs the checks of one step concurrently (so a step costs its
// slowest check, not the sum) and returns the results in spec order.
func RunAll(ctx context.Context, env *Env, specs []Spec) []Result {
	results := make([]Result, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { results[i] = Run(ctx, env, s) })
	}
	wg.Wait()
	return results
}

// Result constructors for attempts.

func passed(expected, found string) Result {
	return Result{Status: Pass, Expected: expected, Found: found}
}

func failed(expected, found string) Result {
	return Result{Status: Fail, Expected: expected, Found: found}
}

// errorf is an Error: seclab could not tell whether the step is done.
func errorf(format string, a ...any) Result {
	return Result{Status: Error, Found: fmt.Sprintf(format, a...)}
}

// final marks r as not worth retrying.
func final(r Result) Result {
	r.final = true
	return r
}

// need returns a final Error when env lacks something a check kind uses.
func need(ok bool, what string) *Result {
	if ok {
		return nil
	}
	r := final(errorf("seclab is not configured for this check: %s is missing", what))
	return &r
}
