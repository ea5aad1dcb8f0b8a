package verify

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// execSpec is an exec check against pod n1/web, the simplest kind whose
// outcome a test can script attempt by attempt.
func execSpec(timeout string) Spec {
	return Spec{Timeout: timeout, Exec: &ExecSpec{
		In:             PodRef{Namespace: "n1", Pod: "web"},
		Command:        []string{"id", "-u"},
		StdoutContains: "1000",
	}}
}

func execEnv(ex *fakeExec, objs ...runtime.Object) *Env {
	env, _ := testEnv(append(objs, readyPodObj("n1", "web", nil, "10.0.0.1"))...)
	env.Exec = ex
	return env
}

func TestRunPassesOnThirdAttempt(t *testing.T) {
	ex := &fakeExec{fn: func(_ context.Context, _ execCall, n int) (string, string, int, error) {
		if n < 3 {
			return "0\n", "", 0, nil
		}
		return "1000\n", "", 0, nil
	}}
	r := Run(context.Background(), execEnv(ex), execSpec("5s"))
	wantStatus(t, r, Pass)
	if r.Attempts != 3 || len(ex.Calls()) != 3 {
		t.Errorf("attempts = %d, exec calls = %d; want 3 and 3", r.Attempts, len(ex.Calls()))
	}
	if r.Elapsed <= 0 || r.Elapsed > 2*time.Second {
		t.Errorf("elapsed = %v; want a short positive duration", r.Elapsed)
	}
}

func TestRunTimeoutReturnsLastFailure(t *testing.T) {
	ex := &fakeExec{fn: func(_ context.Context, _ execCall, n int) (string, string, int, error) {
		return fmt.Sprintf("attempt-%d\n", n), "", 0, nil
	}}
	env := execEnv(ex)
	env.Interval = 10 * time.Millisecond
	start := time.Now()
	r := Run(context.Background(), env, execSpec("80ms"))
	wantStatus(t, r, Fail)
	n := len(ex.Calls())
	if n < 2 {
		t.Fatalf("exec calls = %d; want polling (≥2 attempts)", n)
	}
	// The Found text is the last attempt's, not the first's.
	wantContains(t, "found", r.Found, fmt.Sprintf("attempt-%d", n), `stdout does not contain "1000"`)
	if r.Attempts != n {
		t.Errorf("attempts = %d, want %d", r.Attempts, n)
	}
	if r.Elapsed < 80*time.Millisecond || time.Since(start) > 2*time.Second {
		t.Errorf("elapsed = %v; want about the 80ms timeout", r.Elapsed)
	}
}

func TestRunAttemptCutByDeadlineKeepsPreviousResult(t *testing.T) {
	ex := &fakeExec{fn: func(ctx context.Context, _ execCall, n int) (string, string, int, error) {
		if n == 1 {
			return "0\n", "", 0, nil
		}
		<-ctx.Done() // a probe hanging until the deadline
		return "", "", 0, ctx.Err()
	}}
	r := Run(context.Background(), execEnv(ex), execSpec("100ms"))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, `stdout does not contain "1000"`)
	wantNotContains(t, "found", r.Found, "deadline")
}

func TestRunFirstAttemptCutByDeadlineIsError(t *testing.T) {
	ex := &fakeExec{fn: func(ctx context.Context, _ execCall, _ int) (string, string, int, error) {
		<-ctx.Done()
		return "", "", 0, ctx.Err()
	}}
	r := Run(context.Background(), execEnv(ex), execSpec("50ms"))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "no result within the check's timeout of 50ms")
}

func TestRunCancelStopsPolling(t *testing.T) {
	ex := replies("0\n")
	env := execEnv(ex)
	env.Interval = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	r := Run(ctx, env, execSpec("1m"))
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Run kept polling after cancel: %v", time.Since(start))
	}
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "interrupted", `stdout does not contain "1000"`)
}

// An attempt that "passes" while the run is being interrupted does not
// count: the interruption may be what it saw.
func TestRunPassDuringInterruptIsNotAPass(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ex := &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) {
		cancel()
		return "1000\n", "", 0, nil
	}}
	r := Run(ctx, execEnv(ex), execSpec("1m"))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "interrupted before the check could finish")
}

func TestRunFinalResultStopsPolling(t *testing.T) {
	env, _ := testEnv()
	r := Run(context.Background(), env, Spec{Timeout: "10s", Answer: &AnswerSpec{Equals: "x"}})
	wantStatus(t, r, Fail)
	if r.Attempts != 1 || r.Elapsed > time.Second {
		t.Errorf("attempts = %d, elapsed %v: an empty answer cannot change, want 1 quick attempt", r.Attempts, r.Elapsed)
	}
}

func TestRunInvalidSpec(t *testing.T) {
	env, _ := testEnv()
	r := Run(context.Background(), env, Spec{Name: "bad", Timeout: "soon", Answer: &AnswerSpec{}})
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "invalid check", `timeout: "soon" is not a positive duration`, "answer: set exactly one of equals, fromSecret")
	if r.Attempts != 0 || r.Name != "bad" || r.Kind != "answer" {
		t.Errorf("attempts=%d name=%q kind=%q", r.Attempts, r.Name, r.Kind)
	}
}

func TestRunRecoversFromPanic(t *testing.T) {
	ex := &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) { panic("boom") }}
	r := Run(context.Background(), execEnv(ex), execSpec("1s"))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "internal error", "boom")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d; a panic is not retried", r.Attempts)
	}
}

func TestRunAllConcurrentInSpecOrder(t *testing.T) {
	// Each exec waits until all three have started: this only finishes if
	// the checks run concurrently.
	var started atomic.Int32
	all := make(chan struct{})
	ex := &fakeExec{fn: func(ctx context.Context, c execCall, _ int) (string, string, int, error) {
		if started.Add(1) == 3 {
			close(all)
		}
		select {
		case <-all:
		case <-ctx.Done():
			return "", "", 0, ctx.Err()
		}
		return "out-" + c.Cmd[0], "", 0, nil
	}}
	env := execEnv(ex)
	var specs []Spec
	for _, w := range []string{"a", "b", "c"} {
		specs = append(specs, Spec{Name: "check " + w, Timeout: "500ms", Exec: &ExecSpec{
			In: PodRef{Namespace: "n1", Pod: "web"}, Command: []string{w}, StdoutEquals: "out-" + w,
		}})
	}
	specs[1].Exec.StdoutEquals = "something else"
	rs := RunAll(context.Background(), env, specs)
	if len(rs) != 3 {
		t.Fatalf("got %d results", len(rs))
	}
	for i, w := range []string{"a", "b", "c"} {
		if rs[i].Name != "check "+w {
			t.Errorf("result %d is %q; want spec order", i, rs[i].Name)
		}
	}
	wantStatus(t, rs[0], Pass)
	wantStatus(t, rs[1], Fail)
	wantStatus(t, rs[2], Pass)
}

func TestDerivedNames(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Object: &ObjectSpec{
			Ref:   ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "n287", Name: "nginx1"},
			Match: map[string]any{"status": map[string]any{"readyReplicas": 1}},
		}}, "Deployment n287/nginx1 matches {status.readyReplicas: 1}"},
		{Spec{Connectivity: &ConnectivitySpec{
			From:   PodRef{Namespace: "n287", Selector: "app=nginx1"},
			To:     Target{Namespace: "n287", Service: "nginx2", Port: 80},
			Expect: ExpectBlocked,
		}}, "n287/app=nginx1 → service nginx2:80 is blocked"},
		{Spec{Connectivity: &ConnectivitySpec{
			From:   PodRef{Namespace: "n1", Probe: &ProbePod{Labels: map[string]string{"role": "x"}}},
			To:     Target{Namespace: "n2", Selector: "app=db", Port: 5432},
			Expect: ExpectAllowed,
		}}, "n1/probe pod role=x → pods n2/app=db:5432 is allowed"},
		{Spec{Absent: &AbsentSpec{Ref: ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "n1", Name: "allow-all"}}},
			"NetworkPolicy n1/allow-all is absent"},
		{Spec{Secret: &SecretSpec{Name: "db", Data: map[string]string{"user": "u", "password": "p"}}},
			"Secret default/db has password, user"},
		{Spec{Access: &AccessSpec{ServiceAccount: "n1/app", Verb: "list", Resource: "secrets", Namespace: "n1", Expect: ExpectDenied}},
			"serviceaccount n1/app cannot list secrets in n1"},
		{Spec{Admission: &AdmissionSpec{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "priv", "namespace": "n1"}}, Expect: ExpectDenied}},
			"admission denies Pod n1/priv"},
		{Spec{Node: &NodeSpec{Role: "control-plane", Command: []string{"cat", "/etc/kubernetes/manifests/kube-apiserver.yaml"}, StdoutContains: "--authorization-mode=Node,RBAC"}},
			"every control-plane node: `cat /etc/kubernetes/manifests/kube-apiserver.yaml` exit code 0, stdout contains \"--authorization-mode=Node,RBAC\""},
		{Spec{Name: "given", Answer: &AnswerSpec{Equals: "x"}}, "given"},
	} {
		if got := newCheckName(tc.spec); got != tc.want {
			t.Errorf("name = %q\n want %q", got, tc.want)
		}
	}
}

// newCheckName is the name Run gives s, without running it.
func newCheckName(s Spec) string {
	r := Run(context.Background(), nil, s) // nil env: Run stops before any attempt
	return strings.TrimSpace(r.Name)
}

// A failure seen, then attempts that could not look (an API hiccup, the
// client's rate limiter refusing to wait past the deadline): the verdict
// at the deadline is the failure, not "could not tell".
func TestRunErrorAfterAFailureKeepsTheFailure(t *testing.T) {
	ex := &fakeExec{fn: func(_ context.Context, _ execCall, n int) (string, string, int, error) {
		if n == 1 {
			return "0\n", "", 0, nil
		}
		return "", "", 0, fmt.Errorf("rate: Wait(n=1) would exceed context deadline")
	}}
	env := execEnv(ex)
	env.Interval = 10 * time.Millisecond
	r := Run(context.Background(), env, execSpec("80ms"))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, `stdout does not contain "1000"`)
	if len(ex.Calls()) < 2 {
		t.Errorf("exec calls = %d; the errors after the failure must have been tried", len(ex.Calls()))
	}

	// Only errors: still an Error.
	ex = &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) {
		return "", "", 0, fmt.Errorf("connection refused")
	}}
	env = execEnv(ex)
	env.Interval = 10 * time.Millisecond
	wantStatus(t, Run(context.Background(), env, execSpec("80ms")), Error)
}

// Errors only, the last one about the deadline (the client's rate limiter
// refusing to wait past it): the verdict keeps the earlier error, which
// says why the check could not look (here: the pod never started).
func TestRunDeadlineErrorKeepsTheEarlierError(t *testing.T) {
	ex := &fakeExec{fn: func(_ context.Context, _ execCall, n int) (string, string, int, error) {
		if n == 1 {
			return "", "", 0, fmt.Errorf("container app is waiting: CreateContainerError: cannot load seccomp profile")
		}
		return "", "", 0, fmt.Errorf("client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline")
	}}
	env := execEnv(ex)
	env.Interval = 10 * time.Millisecond
	r := Run(context.Background(), env, execSpec("100ms"))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "CreateContainerError")
	wantNotContains(t, "found", r.Found, "context deadline")
	if n := len(ex.Calls()); n < 2 {
		t.Errorf("exec calls = %d; want polling into the deadline", n)
	}
}
