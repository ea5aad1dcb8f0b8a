package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExecPass(t *testing.T) {
	ex := replies("uid=1000 gid=3000\n")
	env := execEnv(ex)
	r := quick(t, env, Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Selector: "x"}, Command: []string{"id"}, StdoutContains: "uid=1000"}})
	// Selector x matches no pod: a Fail naming the selector.
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "no pod matches x in n1")

	r = quick(t, env, Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "web"}, Command: []string{"id"}, StdoutContains: "uid=1000"}})
	wantStatus(t, r, Pass)
	if r.Expected != `exit code 0, stdout contains "uid=1000"` || r.Found != "exit code 0" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
}

func TestExecExitCodeMismatchShowsOutput(t *testing.T) {
	ex := &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) {
		return "root:x:0:0:root:/root:/bin/sh\n", "", 0, nil
	}}
	r := quick(t, execEnv(ex), Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "web"}, Command: []string{"cat", "/etc/shadow"}, ExitCode: intp(1)}})
	wantStatus(t, r, Fail)
	if r.Expected != "exit code 1" {
		t.Errorf("expected = %q", r.Expected)
	}
	want := "exit code 0\nstdout: \"root:x:0:0:root:/root:/bin/sh\\n\""
	if r.Found != want {
		t.Errorf("found = %q\n want %q", r.Found, want)
	}
}

func TestExecStdoutEqualsAndStderr(t *testing.T) {
	ex := &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) {
		return "  0\n", "warning: x\n", 0, nil
	}}
	env := execEnv(ex)
	r := quick(t, env, Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "web"}, Command: []string{"id", "-u"}, StdoutEquals: "1000"}})
	wantStatus(t, r, Fail)
	want := "stdout = \"0\" (exit code 0)\nstderr: \"warning: x\""
	if r.Found != want {
		t.Errorf("found = %q\n want %q", r.Found, want)
	}
	r = quick(t, env, Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "web"}, Command: []string{"id", "-u"}, StdoutEquals: "0\n"}})
	wantStatus(t, r, Pass) // both sides trimmed
}

func TestExecLongOutputIsCut(t *testing.T) {
	long := strings.Repeat("x", 1000)
	ex := &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) { return long, "", 2, nil }}
	r := quick(t, execEnv(ex), Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "web"}, Command: []string{"x"}}})
	wantStatus(t, r, Fail)
	if !strings.HasPrefix(r.Found, "exit code 2\nstdout: \"xxx") || !strings.HasSuffix(r.Found, "\"…") || len(r.Found) > 260 {
		t.Errorf("found = %q", r.Found)
	}
}

func TestExecErrors(t *testing.T) {
	ex := &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) {
		return "", "", 0, errors.New("unable to upgrade connection")
	}}
	r := quick(t, execEnv(ex), Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "web"}, Command: []string{"id"}}})
	wantStatus(t, r, Error)
	if r.Found != "could not run `id` in pod n1/web: unable to upgrade connection" {
		t.Errorf("found = %q", r.Found)
	}

	env, _ := testEnv(pullFailingPod("n1", "api", nil, "nginx:1.99", "ErrImagePull"))
	env.Exec = replies("")
	r = quick(t, env, Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "api"}, Command: []string{"id"}}})
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "pod n1/api is not Running and Ready", `cannot pull image "nginx:1.99" (ErrImagePull)`)
	wantNotContains(t, "found", r.Found, ":latest")

	env.Exec = nil
	r = quick(t, env, Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "api"}, Command: []string{"id"}}})
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "pod exec client is missing")
}

func TestPodProblem(t *testing.T) {
	crash := readyPodObj("n", "p", nil, "")
	crash.Status.Conditions[0].Status = "False"
	crash.Status.ContainerStatuses[0].Ready = false
	crash.Status.ContainerStatuses[0].State.Running = nil
	crash.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
	if got := podProblem(crash); !strings.Contains(got, "container main keeps crashing (CrashLoopBackOff)") {
		t.Errorf("crash: %q", got)
	}
	unready := readyPodObj("n", "p", nil, "")
	unready.Status.Conditions[0].Status = "False"
	unready.Status.ContainerStatuses[0].Ready = false
	if got := podProblem(unready); got != "container main is running but not ready (is its readiness probe failing?)" {
		t.Errorf("unready: %q", got)
	}
	if !untagged("nginx") || !untagged("docker.io/library/nginx") || untagged("nginx:1.27") || untagged("localhost:5000/nginx:1") || untagged("nginx@sha256:abc") {
		t.Error("untagged")
	}
}

// The pod (or container) a step names is the lab's or the learner's: when
// it is missing the step is not done, a Fail saying what is missing.
func TestExecMissingPodIsAFailure(t *testing.T) {
	r := quick(t, execEnv(replies("")), Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "web", Container: "sidecar"}, Command: []string{"id"}}})
	wantStatus(t, r, Fail)
	if r.Expected != `pod n1/web has a container "sidecar"` || r.Found != `pod n1/web has no container "sidecar" (containers: main)` || r.Attempts != 1 {
		t.Errorf("expected %q, found %q after %d attempts", r.Expected, r.Found, r.Attempts)
	}

	r = quick(t, execEnv(replies("")), Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "api"}, Command: []string{"id"}}})
	wantStatus(t, r, Fail)
	if r.Expected != "pod n1/api exists and is Running" {
		t.Errorf("expected = %q", r.Expected)
	}
	wantContains(t, "found", r.Found, "pod n1/api not found")

	r = quick(t, execEnv(replies(""), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}), Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Selector: "app=api"}, Command: []string{"id"}}})
	wantStatus(t, r, Fail)
	if r.Expected != "a Running pod matching app=api in n1" {
		t.Errorf("expected = %q", r.Expected)
	}
	wantContains(t, "found", r.Found, "no pod matches app=api in n1", "--show-labels")

	r = quick(t, execEnv(replies("")), Spec{Exec: &ExecSpec{In: PodRef{Namespace: "gone", Pod: "api"}, Command: []string{"id"}}})
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "pod gone/api not found (namespace gone does not exist)")
}

// A pod whose own spec keeps it from running (its command exits, its
// container cannot be created) fails the check, naming why; one whose
// image this machine lacks, or that is still starting, says nothing yet.
func TestExecInABrokenPodFails(t *testing.T) {
	for _, tc := range []struct {
		reason string
		want   Status
	}{
		{"CrashLoopBackOff", Fail},
		{"CreateContainerConfigError", Fail},
		{"ErrImagePull", Error},
		{"ContainerCreating", Error},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			env, _ := testEnv(pullFailingPod("n1", "api", map[string]string{"app": "api"}, "nginx:1.27", tc.reason))
			env.Exec = replies("")
			for _, in := range []PodRef{{Namespace: "n1", Pod: "api"}, {Namespace: "n1", Selector: "app=api"}} {
				r := quick(t, env, Spec{Exec: &ExecSpec{In: in, Command: []string{"id"}}})
				wantStatus(t, r, tc.want)
				if tc.want == Fail {
					wantContains(t, "found", r.Found, tc.reason)
					if r.Expected == "" {
						t.Errorf("%+v: a failure without an expected text", in)
					}
				}
			}
		})
	}
	done := readyPodObj("n1", "api", nil, "")
	done.Status.Phase = "Succeeded"
	env, _ := testEnv(done)
	env.Exec = replies("")
	r := quick(t, env, Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n1", Pod: "api"}, Command: []string{"id"}}})
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "pod n1/api does not run: it has finished (phase Succeeded)")
}
