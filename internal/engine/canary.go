package engine

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/verify"
)

// canaryFS holds one experiment per preflight name: canary/<name>.yaml.
//
//go:embed canary/*.yaml
var canaryFS embed.FS

// canaryDef is an experiment that shows a security mechanism acting on this
// cluster, and that it is the cause: the control checks pass without the
// mechanism's trigger, the effect checks pass with it, and (when there is a
// cause to remove) the after checks pass again once it is gone.
type canaryDef struct {
	// Title names the mechanism in the doctor table.
	Title string `json:"title"`
	// Question is what the canary answers, for messages.
	Question string `json:"question"`
	// NotEnforced is the sentence that says what is missing when the
	// effect does not show; Fix (optional) what to do about it.
	NotEnforced string `json:"notEnforced"`
	Fix         string `json:"fix,omitempty"`
	// Detect marks a detection: "no" is a fact for the lab to act on, not
	// a reason to stop.
	Detect bool `json:"detect,omitempty"`
	// Objects are applied first. The first is the canary's throwaway
	// Namespace and the rest live in it, so deleting it removes everything.
	Objects []map[string]any `json:"objects,omitempty"`
	// Control checks must pass before the cause is applied: they show the
	// experiment itself works, so a missing effect is the mechanism's fault.
	Control []verify.Spec `json:"control,omitempty"`
	// Cause objects are applied after the control checks.
	Cause []map[string]any `json:"cause,omitempty"`
	// Effect checks pass only when the mechanism is enforced.
	Effect []verify.Spec `json:"effect"`
	// After checks run once the cause is deleted: the effect must go with it.
	After []verify.Spec `json:"after,omitempty"`
}

// Verdict is a canary's answer.
type Verdict string

const (
	Enforced    Verdict = "yes"
	NotEnforced Verdict = "no"
	Unknown     Verdict = "unknown" // the canary could not tell
)

// CanaryResult is what one canary found.
type CanaryResult struct {
	Name     string  `json:"name"` // the preflight name
	Title    string  `json:"title"`
	Enforced Verdict `json:"enforced"`
	// Evidence is one line: what each check observed, or why the canary
	// could not tell.
	Evidence string `json:"evidence"`
	// Detect: a "no" is for the caller to act on (see canaryDef.Detect).
	Detect bool `json:"-"`
	// Err says why Enforced is not yes: a *NotEnforcedError or a
	// *CouldNotTellError.
	Err error `json:"-"`
}

// NotEnforcedError means the experiment worked and the mechanism did not act.
type NotEnforcedError struct {
	Canary   string
	What     string // what is missing
	Evidence string
	Fix      string
}

func (e *NotEnforcedError) Error() string {
	s := e.What + " (" + e.Evidence + ")"
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// CouldNotTellError means the experiment did not get far enough to decide:
// its setup or control failed, the API failed, or it was interrupted.
type CouldNotTellError struct {
	Canary   string
	Question string
	Reason   string
	Err      error // the underlying error, if any (context.Canceled on Ctrl-C)
}

func (e *CouldNotTellError) Error() string {
	return "could not tell whether " + e.Question + ": " + e.Reason
}

func (e *CouldNotTellError) Unwrap() error { return e.Err }

// maxEvidence bounds one check's part of the evidence line.
const maxEvidence = 200

func loadCanary(name string) (*canaryDef, error) {
	data, err := canaryFS.ReadFile("canary/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown canary %q (known: %s)", name, strings.Join(catalog.Preflights, ", "))
	}
	var c canaryDef
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("canary %s: %w", name, err)
	}
	if errs := c.validate(); len(errs) > 0 {
		return nil, fmt.Errorf("canary %s: %s", name, strings.Join(errs, "; "))
	}
	return &c, nil
}

// validate returns every problem of the definition.
func (c *canaryDef) validate() []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	for f, v := range map[string]string{"title": c.Title, "question": c.Question, "notEnforced": c.NotEnforced} {
		if v == "" {
			bad("%s: required", f)
		}
	}
	if len(c.Effect) == 0 {
		bad("effect: at least one check is required")
	}
	if len(c.After) > 0 && len(c.Cause) == 0 {
		bad("after: needs a cause to delete")
	}
	phases := map[string][]verify.Spec{"control": c.Control, "effect": c.Effect, "after": c.After}
	for phase, specs := range phases {
		for i, s := range specs {
			if s.Name == "" {
				bad("%s[%d].name: required (it labels the evidence)", phase, i)
			}
			for _, e := range s.Validate() {
				bad("%s[%d].%s", phase, i, e)
			}
		}
	}
	objs := append(objects(c.Objects), objects(c.Cause)...)
	if len(objs) == 0 {
		return errs
	}
	if len(c.Objects) == 0 || objs[0].GetKind() != "Namespace" {
		bad("objects[0]: must be the canary's Namespace")
		return errs
	}
	ns := objs[0].GetName()
	for _, o := range objs[1:] {
		if o.GetNamespace() != ns {
			bad("%s: must be in namespace %s, which cleanup deletes", describe(o), ns)
		}
	}
	return errs
}

func objects(list []map[string]any) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range list {
		out = append(out, &unstructured.Unstructured{Object: o})
	}
	return out
}

// preflights runs a lab's canaries in order. A mechanism that is not
// enforced stops the lab (its checks could not be trusted); a detection is
// only reported.
func (e *Engine) preflights(ctx context.Context, env *verify.Env, names []string) ([]CanaryResult, error) {
	var out []CanaryResult
	for _, name := range names {
		r := e.runCanary(ctx, env, name)
		out = append(out, r)
		if r.Err != nil && (!r.Detect || ctx.Err() != nil) {
			return out, r.Err
		}
	}
	return out, nil
}

// Enforcement runs every canary on a running cluster and reports what it
// enforces. They run concurrently: each has its own namespace.
func (e *Engine) Enforcement(ctx context.Context, clusterName string) ([]CanaryResult, error) {
	env, err := e.env(ctx, clusterName)
	if err != nil {
		return nil, err
	}
	out := make([]CanaryResult, len(catalog.Preflights))
	var wg sync.WaitGroup
	for i, name := range catalog.Preflights {
		wg.Go(func() { out[i] = e.runCanary(ctx, env, name) })
	}
	wg.Wait()
	return out, ctx.Err()
}

// runCanary runs the experiment called name and logs its outcome.
func (e *Engine) runCanary(ctx context.Context, env *verify.Env, name string) CanaryResult {
	res := CanaryResult{Name: name, Title: name}
	c, err := loadCanary(name)
	if err != nil {
		res.Enforced, res.Evidence, res.Err = Unknown, err.Error(), err
		return res
	}
	res.Title, res.Detect = c.Title, c.Detect
	e.Log.Info("checking whether " + c.Question)
	start := time.Now()
	x := &experiment{env: env, def: c, log: e.Log, maxTimeout: e.canaryTimeoutCap}
	res.Enforced, res.Err = x.run(ctx, name)
	res.Evidence = strings.Join(x.evidence, "; ")
	switch {
	case res.Enforced == Enforced:
		e.Log.Info(fmt.Sprintf("%s: yes (%s)", c.Title, res.Evidence), "took", time.Since(start).Round(100*time.Millisecond))
	default:
		var cnt *CouldNotTellError
		if errors.As(res.Err, &cnt) {
			res.Evidence = cnt.Reason
		}
		// A lab that asked for a detection goes on: say what was found.
		if c.Detect && ctx.Err() == nil {
			e.Log.Warn(fmt.Sprintf("%s: %s (%s)", c.Title, res.Enforced, res.Err))
		}
	}
	return res
}

// experiment is one run of a canary; evidence collects what each check saw.
type experiment struct {
	env      *verify.Env
	def      *canaryDef
	log      *slog.Logger
	evidence []string
	// maxTimeout, when set, caps every check's timeout.
	maxTimeout time.Duration
}

func (x *experiment) run(ctx context.Context, name string) (Verdict, error) {
	c := x.def
	unknown := func(err error, format string, a ...any) (Verdict, error) {
		if err == nil {
			err = ctx.Err()
		}
		return Unknown, &CouldNotTellError{Canary: name, Question: c.Question, Reason: fmt.Sprintf(format, a...), Err: err}
	}
	if len(c.Objects) > 0 {
		ns := objects(c.Objects[:1])
		// Whatever happens, leave nothing behind: a fresh context, since
		// ctx may be cancelled already (Ctrl-C).
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := deleteObjects(cctx, x.env, ns); err != nil {
				x.log.Warn("could not delete the canary namespace", "namespace", ns[0].GetName(), "err", err)
			}
		}()
		// A run killed before its cleanup leaves the namespace behind.
		if err := deleteObjects(ctx, x.env, ns); err != nil {
			return unknown(err, "removing a leftover canary: %v", err)
		}
		if err := applyObjects(ctx, x.env, objects(c.Objects)); err != nil {
			return unknown(err, "setting the canary up: %v", err)
		}
	}
	if r := x.check(ctx, c.Control); r != nil {
		return unknown(nil, "the control check failed — %s: %s", r.Name, oneLine(r.Found, maxEvidence))
	}
	if len(c.Cause) > 0 {
		if err := applyObjects(ctx, x.env, objects(c.Cause)); err != nil {
			return unknown(err, "applying the canary's cause: %v", err)
		}
	}
	if r := x.check(ctx, c.Effect); r != nil {
		if r.Status == verify.Fail && ctx.Err() == nil {
			return NotEnforced, &NotEnforcedError{Canary: name, What: c.NotEnforced, Evidence: strings.Join(x.evidence, "; "), Fix: c.Fix}
		}
		return unknown(nil, "%s: %s", r.Name, oneLine(r.Found, maxEvidence))
	}
	if len(c.After) > 0 {
		if err := deleteObjects(ctx, x.env, objects(c.Cause)); err != nil {
			return unknown(err, "deleting the canary's cause: %v", err)
		}
		if r := x.check(ctx, c.After); r != nil {
			if r.Status == verify.Fail {
				return unknown(nil, "the effect stayed after its cause was deleted, so something else produces it — %s: %s", r.Name, oneLine(r.Found, maxEvidence))
			}
			return unknown(nil, "%s: %s", r.Name, oneLine(r.Found, maxEvidence))
		}
	}
	return Enforced, nil
}

// check runs specs in order, noting each observation, and returns the first
// that did not pass.
func (x *experiment) check(ctx context.Context, specs []verify.Spec) *verify.Result {
	for _, s := range specs {
		if x.maxTimeout > 0 && s.TimeoutOrDefault() > x.maxTimeout {
			s.Timeout = x.maxTimeout.String()
		}
		r := verify.Run(ctx, x.env, s)
		seen := r.Found
		if r.Status == verify.Pass && r.Kind == "exec" {
			// An exec pass reports only its exit code; what it matched is
			// what was expected.
			seen = r.Expected
		}
		x.evidence = append(x.evidence, r.Name+": "+oneLine(seen, maxEvidence))
		if r.Status != verify.Pass {
			return &r
		}
	}
	return nil
}

// oneLine joins s's lines with "; " and cuts it to n runes.
func oneLine(s string, n int) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	s = strings.Join(parts, "; ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
