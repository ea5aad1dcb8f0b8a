package verify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// answerCheck compares what the learner submitted with `seclab answer`.
// The expected value is never shown, neither a literal (it would give the
// quiz away) nor a Secret's (it may be a real credential) nor an object's
// (it is the quiz): Expected names where it comes from instead.
type answerCheck struct {
	spec *AnswerSpec
}

func (c *answerCheck) describe() string { return "answer is correct" }

func (c *answerCheck) source() string {
	if c.spec.IsChoice() {
		return c.spec.choiceSource()
	}
	if f := c.spec.FromSecret; f != nil {
		return "the decoded value of secret " + namespaceOr(f.Namespace) + "/" + f.Name + " key " + f.Key
	}
	if f := c.spec.FromObject; f != nil {
		return "the value of field " + f.Field + " of " + f.Ref.String()
	}
	return "the correct answer to the step's question"
}

func (c *answerCheck) attempt(ctx context.Context, env *Env) Result {
	expected := c.source()
	got := strings.TrimSpace(env.Answer)
	if got == "" {
		// The answer cannot change while seclab check runs.
		if c.spec.IsChoice() {
			return final(failed(expected, "no answer yet — run: seclab answer ID (the choices: "+strings.Join(c.spec.ChoiceIDs(), ", ")+")"))
		}
		return final(failed(expected, "no answer yet — run: seclab answer <value>"))
	}
	if c.spec.IsChoice() {
		return c.attemptChoice(got)
	}
	want, res := c.expectedValue(ctx, env)
	if res != nil {
		if res.Status == Fail {
			res.Expected = expected
		}
		return *res
	}
	want = strings.TrimSpace(want)
	if got == want {
		return passed(expected, "answer "+quote(got, maxValue)+" is correct")
	}
	found := "answer " + quote(got, maxValue) + " is not correct"
	switch {
	case strings.EqualFold(got, want):
		found += " (check upper/lower case)"
	case strings.Trim(got, `"'`) == want:
		found += " (leave out the quotes)"
	}
	return final(failed(expected, found))
}

// expectedValue reads the value the answer must equal, or returns the
// result to report when it cannot be read.
func (c *answerCheck) expectedValue(ctx context.Context, env *Env) (string, *Result) {
	switch {
	case c.spec.FromSecret != nil:
		return c.fromSecret(ctx, env)
	case c.spec.FromObject != nil:
		return c.fromObject(ctx, env)
	}
	return c.spec.Equals, nil
}

func (c *answerCheck) fromSecret(ctx context.Context, env *Env) (string, *Result) {
	f := c.spec.FromSecret
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return "", r
	}
	ns := namespaceOr(f.Namespace)
	sec, err := env.Client.CoreV1().Secrets(ns).Get(ctx, f.Name, metav1.GetOptions{})
	// A missing Secret or key is a Fail: the lab's setup or an earlier
	// step made it, so only the learner can have removed or changed it,
	// and the step cannot be done without it. Final: the API is
	// synchronous and the answer cannot change while checking.
	if apierrors.IsNotFound(err) {
		r := final(failed("", fmt.Sprintf("secret %s/%s, which holds the answer, does not exist (recreate it, or rebuild the earlier steps with seclab reset --step N)", ns, f.Name)))
		return "", &r
	}
	if err != nil {
		r := errorf("could not read secret %s/%s: %v", ns, f.Name, err)
		return "", &r
	}
	v, ok := sec.Data[f.Key]
	if !ok {
		r := final(failed("", fmt.Sprintf("secret %s/%s has no key %q, which holds the answer", ns, f.Name, f.Key)))
		return "", &r
	}
	return string(v), nil
}

func (c *answerCheck) fromObject(ctx context.Context, env *Env) (string, *Result) {
	f := c.spec.FromObject
	obj, res := getObject(ctx, env, f.Ref)
	if res != nil {
		return "", res
	}
	if obj == nil {
		// Fail, final, as for a missing Secret: the lab made the object.
		r := final(failed("", fmt.Sprintf("%s, which holds the answer, does not exist (recreate it, or rebuild the earlier steps with seclab reset --step N)", f.Ref)))
		return "", &r
	}
	steps, err := parseFieldPath(f.Field)
	if err != nil { // Validate rejects it first
		r := final(errorf("bad field %q in the lab: %v", f.Field, err))
		return "", &r
	}
	v, ok := lookupField(obj.Object, steps)
	if !ok || v == nil {
		// Not final and not the learner's doing: a controller may not have
		// filled it in yet (a pod's spec.nodeName before scheduling).
		r := errorf("%s has no %s yet, so there is nothing to compare the answer with", f.Ref, f.Field)
		return "", &r
	}
	s, ok := scalarText(v)
	if !ok {
		r := final(errorf("%s %s holds %s, not a single value; the lab must point at one", f.Ref, f.Field, render(v)))
		return "", &r
	}
	return s, nil
}

// scalarText renders a string, number or boolean field as the learner
// would type it.
func scalarText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	}
	n, ok := number(v)
	if !ok {
		return "", false
	}
	if n.isInt {
		return strconv.FormatInt(n.i, 10), true
	}
	return strconv.FormatFloat(n.f, 'f', -1, 64), true
}

// ExpectedAnswer reads the value an answer check expects, for a reference
// solution whose answer lives on the cluster. It retries what may settle
// (a field not filled in yet) until ctx ends; the error says why the value
// could not be read.
func ExpectedAnswer(ctx context.Context, env *Env, spec *AnswerSpec) (string, error) {
	c := &answerCheck{spec: spec}
	for {
		want, res := c.expectedValue(ctx, env)
		if res == nil {
			return strings.TrimSpace(want), nil
		}
		if res.final {
			return "", errors.New(res.Found)
		}
		select {
		case <-ctx.Done():
			return "", errors.New(res.Found)
		case <-time.After(env.interval()):
		}
	}
}
