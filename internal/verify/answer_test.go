package verify

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
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
