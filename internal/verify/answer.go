package verify

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// answerCheck compares what the learner submitted with `seclab answer`.
// The expected value is never shown, neither a literal (it would give the
// quiz away) nor a Secret's (it may be a real credential): Expected names
// where it comes from instead.
type answerCheck struct {
	spec *AnswerSpec
}

func (c *answerCheck) describe() string { return "answer is correct" }

func (c *answerCheck) source() string {
	if f := c.spec.FromSecret; f != nil {
		return "the decoded value of secret " + namespaceOr(f.Namespace) + "/" + f.Name + " key " + f.Key
	}
	return "the correct answer to the step's question"
}

func (c *answerCheck) attempt(ctx context.Context, env *Env) Result {
	expected := c.source()
	got := strings.TrimSpace(env.Answer)
	if got == "" {
		// The answer cannot change while seclab check runs.
		return final(failed(expected, "no answer yet — run: seclab answer <value>"))
	}
	want := c.spec.Equals
	if f := c.spec.FromSecret; f != nil {
		if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
			return *r
		}
		ns := namespaceOr(f.Namespace)
		sec, err := env.Client.CoreV1().Secrets(ns).Get(ctx, f.Name, metav1.GetOptions{})
		// A missing Secret or key is a Fail: the lab's setup or an earlier
		// step made it, so only the learner can have removed or changed it,
		// and the step cannot be done without it. Final: the API is
		// synchronous and the answer cannot change while checking.
		if apierrors.IsNotFound(err) {
			return final(failed(expected, fmt.Sprintf("secret %s/%s, which holds the answer, does not exist (recreate it, or rebuild the earlier steps with seclab reset --step N)", ns, f.Name)))
		}
		if err != nil {
			return errorf("could not read secret %s/%s: %v", ns, f.Name, err)
		}
		v, ok := sec.Data[f.Key]
		if !ok {
			return final(failed(expected, fmt.Sprintf("secret %s/%s has no key %q, which holds the answer", ns, f.Name, f.Key)))
		}
		want = string(v)
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
