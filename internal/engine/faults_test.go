package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

var testNodes = []string{"seclab-default-control-plane", "seclab-default-worker"}

func node(name string, ready corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: ready, Reason: "KubeletNotReady", Message: "container runtime network not ready",
		LastHeartbeatTime: metav1.NewTime(heartbeat),
	}}}}
}

func systemPod(name string, ready corev1.ConditionStatus, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name},
		Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
}

// faultEngine is newTestEngine on a cluster with nodes (Ready, reporting
// since their containers started) and enough API for start and reset of
// the secrets lab; logs go to the returned buffer.
func faultEngine(t *testing.T) (*Engine, *fakeClusters, *verify.Env, *bytes.Buffer) {
	t.Helper()
	e, _, fc := newTestEngine(t)
	started := time.Now().Add(-time.Hour)
	fc.nodeNames, fc.startedAt = testNodes, started
	env := resetEnv()
	env.Client = fake.NewSimpleClientset(
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}},
		node(testNodes[0], corev1.ConditionTrue, started.Add(time.Minute)),
		node(testNodes[1], corev1.ConditionTrue, started.Add(time.Minute)),
		systemPod("coredns-1", corev1.ConditionTrue, corev1.PodRunning),
	)
	e.NewEnv = func(*rest.Config) (*verify.Env, error) { return env, nil }
	var logs bytes.Buffer
	e.Log = slog.New(slog.NewTextHandler(&logs, nil))
	e.readyTimeout, e.readyPoll = 200*time.Millisecond, 10*time.Millisecond
	return e, fc, env, &logs
}

func TestClusterNotReadySaysWhatIsMissing(t *testing.T) {
	started := time.Date(2026, 12, 1, 10, 0, 0, 500, time.UTC)
	info := cluster.Info{Name: "seclab-default", NodeNames: testNodes, StartedAt: map[string]time.Time{testNodes[0]: started, testNodes[1]: started}}
	after := started.Add(10 * time.Second)
	cases := []struct {
		objs []runtime.Object
		want string
	}{
		{[]runtime.Object{node(testNodes[0], corev1.ConditionTrue, after)}, "node seclab-default-worker is not registered"},
		{[]runtime.Object{node(testNodes[0], corev1.ConditionTrue, after), node(testNodes[1], corev1.ConditionFalse, after)},
			"node seclab-default-worker is not Ready (KubeletNotReady: container runtime network not ready)"},
		// Ready, but in a status from before the container restarted
		{[]runtime.Object{node(testNodes[0], corev1.ConditionTrue, started.Add(-time.Minute)), node(testNodes[1], corev1.ConditionTrue, after)},
			"node seclab-default-control-plane has not reported since its container started"},
		{[]runtime.Object{node(testNodes[0], corev1.ConditionTrue, after), node(testNodes[1], corev1.ConditionTrue, after),
			systemPod("coredns-b", corev1.ConditionFalse, corev1.PodRunning), systemPod("coredns-a", corev1.ConditionFalse, corev1.PodPending),
			systemPod("job-done", corev1.ConditionFalse, corev1.PodSucceeded), systemPod("etcd", corev1.ConditionTrue, corev1.PodRunning)},
			"kube-system pods not ready: coredns-a, coredns-b"},
		// the status is posted in whole seconds
		{[]runtime.Object{node(testNodes[0], corev1.ConditionTrue, started.Truncate(time.Second)), node(testNodes[1], corev1.ConditionTrue, after)}, ""},
	}
	for _, tc := range cases {
		if got := clusterNotReady(context.Background(), fake.NewSimpleClientset(tc.objs...), info); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	broken := fake.NewSimpleClientset()
	broken.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if got := clusterNotReady(context.Background(), broken, info); got != "the API server is not serving yet (connection refused)" {
		t.Errorf("API down: %q", got)
	}
}

// After a restart check waits for the nodes, saying once what it waits
// for, and checks once they are back; if they do not come back it says
// which node is not and what to do.
func TestCheckWaitsForRestartedNodes(t *testing.T) {
	e, fc, env, logs := faultEngine(t)
	fc.startedAt = time.Now() // the containers just restarted; the statuses predate that
	polls := 0
	env.Client.(*fake.Clientset).PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		polls++
		if polls < 3 {
			return false, nil, nil
		}
		later := metav1.NewTime(time.Now().Add(time.Second))
		return true, &corev1.NodeList{Items: []corev1.Node{*node(testNodes[0], corev1.ConditionTrue, later.Time), *node(testNodes[1], corev1.ConditionTrue, later.Time)}}, nil
	})
	if _, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond}); err != nil {
		t.Fatalf("check after the nodes came back: %v", err)
	}
	if n := strings.Count(logs.String(), "waiting for the cluster to come back"); n != 1 || !strings.Contains(logs.String(), "has not reported since its container started") {
		t.Errorf("said %d times what it waits for:\n%s", n, logs)
	}

	e, fc, _, _ = faultEngine(t)
	fc.startedAt = time.Now()
	_, err := e.Check(context.Background(), CheckOptions{})
	want := "cluster seclab-default not ready after 200ms: node seclab-default-control-plane has not reported since its container started; run: seclab start secrets to bring the cluster back or replace it"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant   %s", err, want)
	}
}

// Nodes that came back with other addresses are fixed by check too: the
// learner's work on the cluster is still there.
func TestCheckFixesChangedAddresses(t *testing.T) {
	e, fc, _, _ := faultEngine(t)
	fc.readdress = []string{"seclab-default-worker: 172.18.0.3 -> 172.18.0.2"}
	if _, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if fc.readdress != nil {
		t.Error("check did not fix the addresses")
	}
}

func TestCheckSaysTheClusterIsGone(t *testing.T) {
	e, fc, _, _ := faultEngine(t)
	delete(fc.running, "seclab-default")
	_, err := e.Check(context.Background(), CheckOptions{})
	want := "cluster seclab-default no longer exists (deleted outside seclab?); run: seclab start secrets to create it again"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant   %s", err, want)
	}
	if _, err := e.Reset(context.Background(), 0); err == nil || err.Error() != want {
		t.Errorf("reset: %v", err)
	}
}

// A stopped node: check names it and leaves it alone; reset starts it and
// sets the lab up again.
func TestStoppedNodeCheckNamesItResetStartsIt(t *testing.T) {
	e, fc, _, _ := faultEngine(t)
	fc.stopped = map[string][]string{"seclab-default": {"seclab-default-worker"}}
	_, err := e.Check(context.Background(), CheckOptions{})
	want := "node seclab-default-worker of cluster seclab-default is stopped; run: seclab reset (or seclab start secrets) to start it again and set the lab up from scratch"
	if err == nil || err.Error() != want {
		t.Errorf("check: %v\nwant   %s", err, want)
	}
	if len(fc.calls) != 0 {
		t.Errorf("check touched the cluster: %q", fc.calls)
	}
	before, _ := e.Current()
	act, err := e.Reset(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(fc.calls, ";") != "start nodes of seclab-default" || act.Progress.Run == before.Progress.Run {
		t.Errorf("reset: calls %q, run %q (was %q)", fc.calls, act.Progress.Run, before.Progress.Run)
	}
	if _, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond}); err != nil {
		t.Errorf("check after reset: %v", err)
	}
}

// start reuses a cluster with stopped nodes by starting them.
func TestStartStartsStoppedNodes(t *testing.T) {
	e, fc, _, _ := faultEngine(t)
	fc.stopped = map[string][]string{"seclab-default": {"seclab-default-worker"}}
	res, err := e.Start(context.Background(), "secrets", StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created || strings.Join(fc.calls, ";") != "start nodes of seclab-default" {
		t.Errorf("created %v, calls %q; want the nodes started, no new cluster", res.Created, fc.calls)
	}
}

// A cluster that cannot be brought back is replaced, saying why; the runs
// that were on it end, and their progress stays in the history.
func TestStartReplacesAClusterThatDoesNotComeBack(t *testing.T) {
	for name, breakIt := range map[string]func(*fakeClusters){
		"node does not start": func(fc *fakeClusters) {
			fc.stopped = map[string][]string{"seclab-default": {"seclab-default-worker"}}
			fc.startErr = errors.New("starting node container seclab-default-worker: port is already allocated")
		},
		"nodes stay not ready": func(fc *fakeClusters) { fc.startedAt = time.Now() },
	} {
		t.Run(name, func(t *testing.T) {
			e, fc, _, logs := faultEngine(t)
			passed(t, e, 1)
			breakIt(fc)
			res, err := e.Start(context.Background(), "secrets", StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Created || !strings.Contains(strings.Join(fc.calls, ";"), "create seclab-default") {
				t.Errorf("created %v, calls %q", res.Created, fc.calls)
			}
			if !strings.Contains(logs.String(), "cluster seclab-default could not be brought back (") || !strings.Contains(logs.String(), "); replacing it") {
				t.Errorf("no reason given:\n%s", logs)
			}
			act, _ := e.Current()
			if len(act.Progress.Passed) != 0 || len(act.Progress.History) != 1 || act.Progress.History[0].EndReason != "replaced by a new cluster" || len(act.Progress.History[0].Passed) != 1 {
				t.Errorf("progress after the replacement: %+v", act.Progress)
			}
		})
	}
}

// passed records step n of the active lab as passed.
func passed(t *testing.T, e *Engine, n int) {
	t.Helper()
	err := e.Store.Update(func(s *state.State) error {
		s.Lab(s.Current).MarkPassed(n, time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A missing kubectl context is written again and said once; seclab's own
// checks do not need it, so failing to write it does not stop a check.
func TestKubeconfigContextPutBack(t *testing.T) {
	e, fc, _, logs := faultEngine(t)
	fc.kubeconfigProblem = "kubectl context kind-seclab-default was missing; wrote it again to /x"
	for i := 0; i < 2; i++ {
		if _, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "kind-seclab-default was missing"); n != 1 {
		t.Errorf("said %d times:\n%s", n, logs)
	}
	fc.kubeconfigErr = errors.New("kubeconfig /x: permission denied")
	if _, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond}); err != nil {
		t.Errorf("check failed on the learner's kubeconfig: %v", err)
	}
	if act, _ := e.Current(); e.ClusterProblem(context.Background(), act) != nil {
		t.Error("status sees a problem in the learner's kubeconfig")
	}
	if _, err := e.Start(context.Background(), "secrets", StartOptions{}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("start: %v; want the kubeconfig error", err)
	}
}

// down deletes the cluster and keeps the lab's progress: status still has
// it, commands that need the cluster say to start the lab again, and the
// next start begins a new run with the old one in the history.
func TestDownKeepsProgress(t *testing.T) {
	e, fc, _, _ := faultEngine(t)
	passed(t, e, 1)
	if _, err := e.Answer(2, "x"); err != nil {
		t.Fatal(err)
	}
	names, err := e.Down(context.Background(), false)
	if err != nil || strings.Join(names, ",") != "seclab-default" || fc.running["seclab-default"] {
		t.Fatalf("down: %v %v", names, err)
	}
	act, err := e.Current()
	if err != nil {
		t.Fatalf("after down: %v", err)
	}
	p := act.Progress
	if len(p.Passed) != 1 || p.Answers[2] != "x" || p.Ended.IsZero() || p.EndReason != "deleted by seclab down" {
		t.Errorf("progress after down: %+v", p.Attempt)
	}
	const fix = "; run: seclab start secrets to do the lab again (your earlier progress is kept)"
	_, checkErr := e.Check(context.Background(), CheckOptions{})
	_, resetErr := e.Reset(context.Background(), 0)
	_, answerErr := e.Answer(3, "y")
	for i, err := range []error{checkErr, resetErr, answerErr, e.Solve(context.Background(), 1), e.ClusterProblem(context.Background(), act)} {
		if err == nil || !strings.HasPrefix(err.Error(), "lab secrets's cluster seclab-default was deleted by seclab down on ") || !strings.HasSuffix(err.Error(), fix) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if names, err := e.Down(context.Background(), false); err != nil || len(names) != 0 {
		t.Errorf("second down: %v %v; want nothing to delete", names, err)
	}

	if _, err := e.Start(context.Background(), "secrets", StartOptions{}); err != nil {
		t.Fatal(err)
	}
	act, _ = e.Current()
	if len(act.Progress.Passed) != 0 || !act.Progress.Ended.IsZero() || len(act.Progress.History) != 1 ||
		act.Progress.History[0].Answers[2] != "x" || act.Progress.History[0].EndReason != "deleted by seclab down" {
		t.Errorf("after start: %+v", act.Progress)
	}
	if _, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond}); err != nil {
		t.Errorf("check on the new run: %v", err)
	}
}

// Completing every step records the completion, once.
func TestCheckRecordsCompletion(t *testing.T) {
	e, _, _, _ := faultEngine(t)
	for n := 1; n <= 3; n++ {
		passed(t, e, n)
	}
	env := resetEnv()
	// step 4 asks for the decoded password; its secret and the kept ones
	// of steps 1-3 must be there
	for name, data := range map[string]map[string]string{
		"my-secret-from-file":     {"mysecret": "mysupersecretpassword\n"},
		"my-secret-from-literals": {"username": "admin", "password": "mysupersecretpassword"},
		"my-secret-from-env":      {"password": "mysupersecretpassword"},
	} {
		_, _ = env.Client.CoreV1().Secrets("default").Create(context.Background(), secret(name, data), metav1.CreateOptions{})
	}
	cur, _ := e.Current()
	ready := cur.Progress.Started // nodes reporting after their start
	for _, n := range testNodes {
		_, _ = env.Client.CoreV1().Nodes().Create(context.Background(), node(n, corev1.ConditionTrue, ready), metav1.CreateOptions{})
	}
	e.NewEnv = func(*rest.Config) (*verify.Env, error) { return env, nil }
	if _, err := e.Answer(4, "mysupersecretpassword"); err != nil {
		t.Fatal(err)
	}
	reports, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond})
	if err != nil || !reports[0].Passed {
		t.Fatalf("step 4: %v %+v", err, reports)
	}
	act, _ := e.Current()
	if act.Progress.Completed.IsZero() || act.Progress.FirstCompleted() != act.Progress.Completed {
		t.Errorf("completion not recorded: %+v", act.Progress.Attempt)
	}
}

// Ctrl-C while reset rebuilds the lab: exit with the cancellation, no new
// run recorded, the old one marked as no longer matching the cluster (check
// says so); the next reset cleans up and succeeds.
func TestInterruptedReset(t *testing.T) {
	e, _, env, _ := faultEngine(t)
	before, _ := e.Current()
	ctx, cancel := context.WithCancel(context.Background())
	env.Dynamic.(*dynamicfake.FakeDynamicClient).PrependReactor("delete", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		cancel()
		return true, nil, context.Canceled
	})
	if _, err := e.Reset(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted reset: %v", err)
	}
	act, _ := e.Current()
	if act.Progress.Run != before.Progress.Run || !act.Progress.SetupIncomplete || len(act.Progress.History) != 0 {
		t.Errorf("state after the interrupted reset: %+v", act.Progress)
	}
	_, err := e.Check(context.Background(), CheckOptions{})
	want := "the last seclab start or reset of lab secrets did not finish (interrupted?), so its objects on cluster seclab-default are half set up; run: seclab reset to set the lab up again"
	if err == nil || err.Error() != want {
		t.Errorf("check: %v\nwant   %s", err, want)
	}

	env.Dynamic = resetEnv().Dynamic
	act, err = e.Reset(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if act.Progress.SetupIncomplete || act.Progress.Run == before.Progress.Run {
		t.Errorf("after reset: %+v", act.Progress)
	}
	if _, err := e.Check(context.Background(), CheckOptions{Timeout: 50 * time.Millisecond}); err != nil {
		t.Errorf("check after reset: %v", err)
	}
}

// Ctrl-C in the first start of another lab records nothing: the active
// lab stays as it was.
func TestInterruptedStartOfAnotherLab(t *testing.T) {
	e, _, env, _ := faultEngine(t)
	before, _ := e.Current()
	ctx, cancel := context.WithCancel(context.Background())
	env.Dynamic.(*dynamicfake.FakeDynamicClient).PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		cancel() // in the netpol lab's canary, its first API call
		return true, nil, context.Canceled
	})
	if _, err := e.Start(ctx, "netpol", StartOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted start: %v", err)
	}
	s, _ := e.Store.Load()
	if s.Current != "secrets" || s.Lab("netpol") != nil || s.Lab("secrets").Run != before.Progress.Run || s.Lab("secrets").SetupIncomplete {
		t.Errorf("state after the interrupted start: current %q, labs %+v", s.Current, s.Labs)
	}
}
