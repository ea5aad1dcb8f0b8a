package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestAnswerEmpty(t *testing.T) {
	env, _ := testEnv()
	env.Answer = "  \n"
	r := quick(t, env, Spec{Answer: &AnswerSpec{Equals: "cluster-admin"}})
	wantStatus(t, r, Fail)
	if r.Found != "no answer yet — run: seclab answer <value>" {
		t.Errorf("found = %q", r.Found)
	}
	wantNotContains(t, "expected", r.Expected, "cluster-admin")
}

func TestAnswerEquals(t *testing.T) {
	env, _ := testEnv()
	env.Answer = " cluster-admin\n"
	wantStatus(t, quick(t, env, Spec{Answer: &AnswerSpec{Equals: "cluster-admin"}}), Pass)

	env.Answer = "Cluster-Admin"
	r := quick(t, env, Spec{Answer: &AnswerSpec{Equals: "cluster-admin"}})
	wantStatus(t, r, Fail)
	if r.Found != `answer "Cluster-Admin" is not correct (check upper/lower case)` {
		t.Errorf("found = %q", r.Found)
	}
	wantNotContains(t, "expected/found", r.Expected+r.Found, "cluster-admin")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d: the answer cannot change while checking", r.Attempts)
	}
}

func TestAnswerFromSecret(t *testing.T) {
	sec := secretObj("default", "my-secret-from-env", corev1.SecretTypeOpaque, map[string]string{"password": "s3cr3t-value\n"})
	env, _ := testEnv(sec)
	spec := Spec{Answer: &AnswerSpec{FromSecret: &SecretKey{Name: "my-secret-from-env", Key: "password"}}}

	env.Answer = "s3cr3t-value"
	wantStatus(t, quick(t, env, spec), Pass) // both sides trimmed

	env.Answer = "wrong"
	r := quick(t, env, spec)
	wantStatus(t, r, Fail)
	if r.Expected != "the decoded value of secret default/my-secret-from-env key password" {
		t.Errorf("expected = %q", r.Expected)
	}
	if r.Found != `answer "wrong" is not correct` {
		t.Errorf("found = %q", r.Found)
	}
	wantNotContains(t, "expected/found", r.Expected+r.Found, "s3cr3t")

	missingKey := Spec{Answer: &AnswerSpec{FromSecret: &SecretKey{Name: "my-secret-from-env", Key: "token"}}}
	// The Secret is the lab's or an earlier step's: the learner changed or
	// removed it, so the step is not done (Fail), and waiting cannot help.
	r = quick(t, env, missingKey)
	wantStatus(t, r, Fail)
	if r.Found != `secret default/my-secret-from-env has no key "token", which holds the answer` || r.Attempts != 1 {
		t.Errorf("found = %q after %d attempts", r.Found, r.Attempts)
	}
	wantNotContains(t, "found", r.Found, "s3cr3t")

	r = quick(t, env, Spec{Answer: &AnswerSpec{FromSecret: &SecretKey{Namespace: "n1", Name: "gone", Key: "k"}}})
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "secret n1/gone, which holds the answer, does not exist")
	if r.Expected != "the decoded value of secret n1/gone key k" || r.Attempts != 1 {
		t.Errorf("expected = %q after %d attempts", r.Expected, r.Attempts)
	}
}

// rootUserPod is a pod the scheduler has placed (or not, with node "").
func rootUserPod(node string) *unstructured.Unstructured {
	spec := map[string]any{"containers": []any{map[string]any{"name": "app", "image": "busybox:1.36"}}}
	if node != "" {
		spec["nodeName"] = node
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"namespace": "k01", "name": "root-user"},
		"spec":     spec,
	}}
}

var nodeNameAnswer = Spec{Answer: &AnswerSpec{FromObject: &ObjectField{
	Ref:   ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "k01", Name: "root-user"},
	Field: "spec.nodeName",
}}}

func TestAnswerFromObject(t *testing.T) {
	env, _ := testEnv(rootUserPod("seclab-default-worker"))

	env.Answer = "seclab-default-worker\n"
	r := quick(t, env, nodeNameAnswer)
	wantStatus(t, r, Pass)

	env.Answer = "root-user"
	r = quick(t, env, nodeNameAnswer)
	wantStatus(t, r, Fail)
	if r.Expected != "the value of field spec.nodeName of Pod k01/root-user" {
		t.Errorf("expected = %q", r.Expected)
	}
	if r.Found != `answer "root-user" is not correct` || r.Attempts != 1 {
		t.Errorf("found = %q after %d attempts", r.Found, r.Attempts)
	}
	wantNotContains(t, "expected/found", r.Expected+r.Found, "seclab-default-worker")

	env.Answer = "SECLAB-DEFAULT-WORKER"
	r = quick(t, env, nodeNameAnswer)
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "(check upper/lower case)")
}

func TestAnswerFromObjectNotThere(t *testing.T) {
	// The object is the lab's: without it the step cannot be done.
	env, _ := testEnv()
	env.Answer = "seclab-default-worker"
	r := quick(t, env, nodeNameAnswer)
	wantStatus(t, r, Fail)
	if r.Found != "Pod k01/root-user, which holds the answer, does not exist (recreate it, or rebuild the earlier steps with seclab reset --step N)" || r.Attempts != 1 {
		t.Errorf("found = %q after %d attempts", r.Found, r.Attempts)
	}
	if r.Expected != "the value of field spec.nodeName of Pod k01/root-user" {
		t.Errorf("expected = %q", r.Expected)
	}

	// Not scheduled yet: seclab cannot tell, and tries again.
	env, _ = testEnv(rootUserPod(""))
	env.Answer = "seclab-default-worker"
	r = quick(t, env, nodeNameAnswer)
	wantStatus(t, r, Error)
	if r.Found != "Pod k01/root-user has no spec.nodeName yet, so there is nothing to compare the answer with" {
		t.Errorf("found = %q", r.Found)
	}
	if r.Attempts < 2 {
		t.Errorf("attempts = %d: a field a controller fills in is worth waiting for", r.Attempts)
	}

	// A field holding a map is the lab's mistake, reported at once.
	spec := Spec{Answer: &AnswerSpec{FromObject: &ObjectField{Ref: nodeNameAnswer.Answer.FromObject.Ref, Field: "spec.containers[0]"}}}
	env, _ = testEnv(rootUserPod("n1"))
	env.Answer = "x"
	r = quick(t, env, spec)
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "Pod k01/root-user spec.containers[0] holds {", "not a single value")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d", r.Attempts)
	}
}

func TestAnswerFromObjectScalars(t *testing.T) {
	for want, v := range map[string]any{"3": int64(3), "0.5": 0.5, "2": float64(2), "true": true, "web": "web"} {
		obj := rootUserPod("n1")
		obj.Object["spec"].(map[string]any)["value"] = v
		env, _ := testEnv(obj)
		got, err := ExpectedAnswer(context.Background(), env, &AnswerSpec{FromObject: &ObjectField{Ref: nodeNameAnswer.Answer.FromObject.Ref, Field: "spec.value"}})
		if err != nil || got != want {
			t.Errorf("%T %v: got %q, %v; want %q", v, v, got, err, want)
		}
	}
}

func TestExpectedAnswer(t *testing.T) {
	env, _ := testEnv(rootUserPod("seclab-default-worker"), secretObj("default", "s", corev1.SecretTypeOpaque, map[string]string{"k": "v\n"}))
	for _, tc := range []struct {
		spec *AnswerSpec
		want string
	}{
		{&AnswerSpec{Equals: " cluster-admin "}, "cluster-admin"},
		{&AnswerSpec{FromSecret: &SecretKey{Name: "s", Key: "k"}}, "v"},
		{nodeNameAnswer.Answer, "seclab-default-worker"},
	} {
		got, err := ExpectedAnswer(context.Background(), env, tc.spec)
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %q, %v; want %q", tc.spec, got, err, tc.want)
		}
	}
	// Settled: at once, even with no deadline.
	_, err := ExpectedAnswer(context.Background(), env, &AnswerSpec{FromSecret: &SecretKey{Name: "s", Key: "nope"}})
	if err == nil || err.Error() != `secret default/s has no key "nope", which holds the answer` {
		t.Errorf("missing key: err = %v", err)
	}

	// A field not filled in yet is waited for, until the deadline.
	env, _ = testEnv(rootUserPod(""))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = ExpectedAnswer(ctx, env, nodeNameAnswer.Answer)
	if err == nil || err.Error() != "Pod k01/root-user has no spec.nodeName yet, so there is nothing to compare the answer with" || ctx.Err() == nil {
		t.Errorf("unscheduled pod: err = %v (deadline reached: %v)", err, ctx.Err() != nil)
	}
}

func TestAnswerFromObjectValidation(t *testing.T) {
	for _, tc := range []struct {
		spec *AnswerSpec
		want []string
	}{
		{&AnswerSpec{Equals: "a", FromObject: nodeNameAnswer.Answer.FromObject}, []string{"answer: set exactly one of equals, fromSecret, fromObject"}},
		{&AnswerSpec{}, []string{"answer: set exactly one of equals, fromSecret, fromObject"}},
		{&AnswerSpec{FromObject: &ObjectField{}}, []string{
			"answer.fromObject.ref.apiVersion: required", "answer.fromObject.ref.kind: required", "answer.fromObject.ref.name: required",
			"answer.fromObject.field: required (the path to the value, e.g. spec.nodeName)"}},
		{&AnswerSpec{FromObject: &ObjectField{Ref: nodeNameAnswer.Answer.FromObject.Ref, Field: "spec.containers[x]"}}, []string{
			`answer.fromObject.field: bad list index [x] in "spec.containers[x]"; want e.g. spec.ingress[0].from[0].podSelector`}},
	} {
		got := Spec{Answer: tc.spec}.Validate()
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%+v:\n  got  %q\n  want %q", tc.spec, got, tc.want)
		}
	}
}
