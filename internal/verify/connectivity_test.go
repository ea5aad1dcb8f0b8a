package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"
)

const (
	nginx1IP    = "10.244.0.5"
	nginx2IP    = "10.244.0.9"
	nginx1SvcIP = "10.96.0.10"
	nginx2SvcIP = "10.96.0.20"
)

func connSpec(expect string) Spec {
	return Spec{Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n287", Selector: "app=nginx1"},
		To:     Target{Namespace: "n287", Service: "nginx2", Port: 80},
		Expect: expect,
	}}
}

func nginx1Pod() *corev1.Pod { return readyPodObj("n287", "nginx1-a", app("nginx1"), nginx1IP) }

// nginx2Pod runs on another node than nginx1, so a test can tell where the
// baseline probe ran.
func nginx2Pod() *corev1.Pod {
	p := readyPodObj("n287", "nginx2-a", app("nginx2"), nginx2IP)
	p.Spec.NodeName = "seclab-worker2"
	return p
}

// world is n287 with a Ready nginx1 (the source) and a Ready nginx2 behind
// service nginx2:80, plus extra objects (usually policies).
func world(extra ...runtime.Object) []runtime.Object {
	return append([]runtime.Object{
		ns("n287"),
		nginx1Pod(),
		nginx2Pod(),
		service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
		sliceOf("nginx2", []discoveryv1.EndpointPort{slicePort("", 80)}, nginx2Pod()),
	}, extra...)
}

// The policies of the netpol lab, as the check reads them.
var (
	isolateNginx2 = networkPolicy("n287", "deny-all", app("nginx2"), networkingv1.PolicyTypeIngress)
	lockNginx1    = networkPolicy("n287", "lock-nginx1", app("nginx1"), networkingv1.PolicyTypeEgress)
)

// answers replies with outs in turn ("SECLAB " added), then repeats the last.
func answers(outs ...string) *fakeExec {
	return &fakeExec{fn: func(_ context.Context, _ execCall, n int) (string, string, int, error) {
		return "SECLAB " + outs[min(n, len(outs))-1] + "\n", "", 0, nil
	}}
}

// cycle replies with outs in turn, over and over: every attempt of a
// check that makes len(outs) probes sees the same sequence.
func cycle(outs ...string) *fakeExec {
	return &fakeExec{fn: func(_ context.Context, _ execCall, n int) (string, string, int, error) {
		return "SECLAB " + outs[(n-1)%len(outs)] + "\n", "", 0, nil
	}}
}

func wantProbeOf(t *testing.T, what string, cmd []string, ip, port string) {
	t.Helper()
	if len(cmd) != 7 || cmd[0] != "sh" || cmd[1] != "-c" || cmd[2] != probeScript {
		t.Fatalf("%s command = %q; want sh -c probeScript $0 host port URL", what, cmd[min(3, len(cmd)):])
	}
	if cmd[4] != ip || cmd[5] != port || cmd[6] != "http://"+ip+":"+port+"/" {
		t.Errorf("%s targets %q; want %s:%s and http://%s:%s/", what, cmd[4:], ip, port, ip, port)
	}
}

func TestConnectivityAllowedPasses(t *testing.T) {
	env, _ := testEnv(world()...)
	nodes := answering()
	env.Nodes = nodes
	ex := replies("SECLAB http 200\n")
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Pass)
	if r.Expected != "allowed" || r.Found != "HTTP 200 (connection allowed)" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
	calls := ex.Calls()
	if len(calls) != 1 {
		t.Fatalf("exec calls = %d", len(calls))
	}
	c := calls[0]
	if c.Namespace != "n287" || c.Pod != "nginx1-a" || c.Container != "main" {
		t.Errorf("exec in %s/%s/%s; want n287/nginx1-a/main", c.Namespace, c.Pod, c.Container)
	}
	// The Service's ClusterIP, no DNS name.
	wantProbeOf(t, "pod probe", c.Cmd, nginx2SvcIP, "80")
	// The baseline: from the node of the backend, straight to the pod.
	if strings.Join(nodes.calls, ",") != "seclab-worker2" {
		t.Errorf("baseline ran on %q; want the backend's node seclab-worker2", nodes.calls)
	}
	wantProbeOf(t, "baseline", nodes.cmd, nginx2IP, "80")
}

func TestConnectivityBlockedButAllowedFails(t *testing.T) {
	env, _ := testEnv(world(isolateNginx2)...)
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Fail)
	if r.Expected != "blocked by ingress policy" || r.Found != "HTTP 200 (connection allowed)" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
	if r.Attempts < 2 {
		t.Errorf("attempts = %d: a policy takes a moment to apply, the check must poll", r.Attempts)
	}
}

func TestConnectivityBlockedNeedsThreeConnectTimeouts(t *testing.T) {
	env, _ := testEnv(world(isolateNginx2)...)
	ex := replies("SECLAB timeout\n")
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Pass)
	if r.Expected != "blocked by ingress policy" ||
		r.Found != "connect timed out 3 times in a row (pod n287/nginx2-a isolated by n287/deny-all)" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
	if n := len(ex.Calls()); n != 3 {
		t.Errorf("probe ran %d times; want exactly %d (consecutive timeouts)", n, blockedTries)
	}

	ex = replies("SECLAB timeout\n")
	env.Exec = ex
	r = quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Fail)
	if r.Expected != "allowed" || r.Found != "connect timed out 3 times in a row" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
}

// Any connection means allowed, even after timeouts: a policy being
// removed, or a slow first connect.
func TestConnectivityAnswerAfterTimeoutsIsAllowed(t *testing.T) {
	env, _ := testEnv(world(isolateNginx2)...)
	ex := answers("timeout", "timeout", "http 200")
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Pass)
	if r.Found != "HTTP 200 (connection allowed)" || len(ex.Calls()) != 3 || r.Attempts != 1 {
		t.Errorf("found %q after %d probes in %d attempts", r.Found, len(ex.Calls()), r.Attempts)
	}

	env.Exec = cycle("timeout", "timeout", "connected")
	r = quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Fail)
	if r.Found != "connected (connection allowed)" {
		t.Errorf("found %q", r.Found)
	}
}

// Only connect timeouts are evidence of a block: anything else in between
// (or instead) means seclab cannot tell, however often it happens.
func TestConnectivityOtherFailuresAreNotBlocked(t *testing.T) {
	for _, tc := range []struct {
		name string
		ex   *fakeExec
		want string
	}{
		{"timeout then refused", cycle("timeout", "refused"),
			"pod n287/nginx1-a got connection refused from service n287/nginx2:80: a refusal is not a policy block"},
		{"refused", cycle("refused"), "a refusal is not a policy block (is something listening on port 80?)"},
		{"unreachable", cycle("unreachable"), "found service n287/nginx2:80 unreachable (no route): a routing problem, not a policy block"},
		{"reset", cycle("timeout", "timeout", "reset"), "had its connection to service n287/nginx2:80 reset: not a policy block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(world(isolateNginx2)...)
			env.Exec = tc.ex
			for _, expect := range []string{ExpectBlocked, ExpectAllowed} {
				r := quick(t, env, connSpec(expect))
				wantStatus(t, r, Error)
				wantContains(t, "found", r.Found, tc.want)
				if r.Attempts < 2 {
					t.Errorf("attempts = %d; this may settle, the check must poll", r.Attempts)
				}
			}
		})
	}
}

// A block passes only when the policy direction under test can have
// caused it.
func TestConnectivityBlockAttributedToIngress(t *testing.T) {
	// Defaulted policyTypes: Ingress always, Egress when there are egress rules.
	defaultedIngress := networkPolicy("n287", "deny-all", app("nginx2"))
	defaultedEgress := networkPolicy("n287", "lock-nginx1", app("nginx1"))
	defaultedEgress.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}}
	for _, tc := range []struct {
		name     string
		policies []runtime.Object
		status   Status
		want     string
	}{
		{"target isolated", []runtime.Object{isolateNginx2}, Pass, "(pod n287/nginx2-a isolated by n287/deny-all)"},
		{"defaulted policyTypes isolate for ingress", []runtime.Object{defaultedIngress}, Pass, "isolated by n287/deny-all"},
		{"no policy", nil, Fail,
			"connect timed out 3 times in a row, but no NetworkPolicy selects pod n287/nginx2-a for ingress"},
		{"policy in the default namespace", []runtime.Object{networkPolicy("default", "deny-all", app("nginx2"), networkingv1.PolicyTypeIngress)}, Fail,
			"no NetworkPolicy selects pod n287/nginx2-a for ingress"},
		{"policy for egress only", []runtime.Object{networkPolicy("n287", "deny-all", app("nginx2"), networkingv1.PolicyTypeEgress)}, Fail,
			"no NetworkPolicy selects pod n287/nginx2-a for ingress"},
		{"only the source's egress", []runtime.Object{lockNginx1}, Fail,
			"no NetworkPolicy selects pod n287/nginx2-a for ingress; the egress policy n287/lock-nginx1 on pod n287/nginx1-a blocked it instead"},
		{"source egress restricted too", []runtime.Object{isolateNginx2, lockNginx1}, Error,
			"pod n287/nginx1-a is also restricted by egress policy n287/lock-nginx1, so the block proves nothing about pod n287/nginx2-a's ingress: probe from a source no egress policy selects"},
		{"defaulted egress restriction", []runtime.Object{isolateNginx2, defaultedEgress}, Error, "restricted by egress policy n287/lock-nginx1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(world(tc.policies...)...)
			env.Exec = replies("SECLAB timeout\n")
			r := quick(t, env, connSpec(ExpectBlocked))
			wantStatus(t, r, tc.status)
			wantContains(t, "found", r.Found, tc.want)
			if tc.status != Error && r.Expected != "blocked by ingress policy" {
				t.Errorf("expected = %q", r.Expected)
			}
		})
	}
}

func TestConnectivityBlockAttributedToEgress(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policies []runtime.Object
		status   Status
		want     string
	}{
		{"source isolated", []runtime.Object{lockNginx1}, Pass, "connect timed out 3 times in a row (pod n287/nginx1-a isolated by n287/lock-nginx1)"},
		{"only the target's ingress", []runtime.Object{isolateNginx2}, Fail,
			"no NetworkPolicy selects pod n287/nginx1-a for egress; the ingress policy n287/deny-all on pod n287/nginx2-a blocked it instead"},
		{"both", []runtime.Object{isolateNginx2, lockNginx1}, Error,
			"pod n287/nginx2-a is also restricted by ingress policy n287/deny-all, so the block proves nothing about pod n287/nginx1-a's egress: probe a target no ingress policy selects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(world(tc.policies...)...)
			env.Exec = replies("SECLAB timeout\n")
			s := connSpec(ExpectBlocked)
			s.Connectivity.Direction = "egress"
			r := quick(t, env, s)
			wantStatus(t, r, tc.status)
			wantContains(t, "found", r.Found, tc.want)
			if tc.status != Error && r.Expected != "blocked by egress policy" {
				t.Errorf("expected = %q", r.Expected)
			}
		})
	}
}

func TestConnectivityAmbiguousTimeoutIsFinalError(t *testing.T) {
	env, _ := testEnv(world(isolateNginx2)...)
	ex := replies("SECLAB ambiguous\n")
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "pod n287/nginx1-a timed out reaching service n287/nginx2:80", "wget", "cannot tell a blocked connect from a slow answer", "curl")
	if r.Attempts != 1 || len(ex.Calls()) != 1 {
		t.Errorf("attempts = %d, probes = %d; the tool will not change by waiting", r.Attempts, len(ex.Calls()))
	}
}

func TestConnectivityBaseline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nodes  *fakeNodes
		status Status
		final  bool
		want   string
	}{
		{"refused on the node", &fakeNodes{any: &NodeOutput{Stdout: "SECLAB refused\n"}}, Fail, true,
			"pod n287/nginx2-a refused connections on port 80: nothing listens there"},
		{"timeout on the node", &fakeNodes{any: &NodeOutput{Stdout: "SECLAB timeout\n"}}, Error, false,
			"service n287/nginx2:80 does not answer even from its own node seclab-worker2 (pod n287/nginx2-a port 80: timeout)"},
		{"node runner fails", &fakeNodes{err: errors.New("docker: not running")}, Error, false,
			"could not run the baseline probe on node seclab-worker2: docker: not running"},
		{"garbage", &fakeNodes{any: &NodeOutput{Stdout: "sh: curl: not found\n"}}, Error, false,
			`unexpected baseline probe output on node seclab-worker2: "sh: curl: not found"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(world(isolateNginx2)...)
			env.Nodes = tc.nodes
			ex := replies("SECLAB timeout\n") // would read as blocked
			env.Exec = ex
			r := quick(t, env, connSpec(ExpectBlocked))
			wantStatus(t, r, tc.status)
			wantContains(t, "found", r.Found, tc.want)
			if tc.final != (r.Attempts == 1) {
				t.Errorf("attempts = %d; final = %v", r.Attempts, tc.final)
			}
			if tc.status == Fail && r.Expected != "service n287/nginx2:80 answers (probed from node seclab-worker2, where no policy applies)" {
				t.Errorf("expected = %q", r.Expected)
			}
			if n := len(ex.Calls()); n != 0 {
				t.Errorf("probed from the source %d times although the target is not proven to answer", n)
			}
		})
	}

	env, _ := testEnv(world(isolateNginx2)...)
	env.Nodes = nil
	env.Exec = replies("SECLAB timeout\n")
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "a node runner (for the baseline probe) is missing")
}

// Traffic to a ClusterIP may land on any backend, so every backend must
// answer: a second replica that refuses fails the check by name.
func TestConnectivityBaselineEveryBackend(t *testing.T) {
	second := readyPodObj("n287", "nginx2-b", app("nginx2"), "10.244.0.10")
	second.Spec.NodeName = "seclab-worker3"
	env, _ := testEnv(
		ns("n287"), nginx1Pod(), nginx2Pod(), second, isolateNginx2,
		service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
		sliceOf("nginx2", []discoveryv1.EndpointPort{slicePort("", 80)}, nginx2Pod(), second),
	)
	nodes := &fakeNodes{any: &NodeOutput{Stdout: "SECLAB http 200\n"}, outs: []NodeOutput{{Node: "seclab-worker3", Stdout: "SECLAB refused\n"}}}
	env.Nodes = nodes
	env.Exec = replies("SECLAB timeout\n")
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Fail)
	wantContains(t, "found", r.Found, "pod n287/nginx2-b refused connections on port 80")
}

func TestConnectivityServiceProblems(t *testing.T) {
	for _, tc := range []struct {
		name   string
		objs   []runtime.Object
		status Status
		final  bool
		want   string
	}{
		{"missing service", []runtime.Object{ns("n287"), nginx1Pod()}, Fail, true,
			"service n287/nginx2 not found"},
		{"missing namespace", nil, Fail, true,
			"service n287/nginx2 not found (namespace n287 does not exist)"},
		{"wrong port", []runtime.Object{service("n287", "nginx2", nginx2SvcIP, 8080, nil)}, Fail, true,
			"service n287/nginx2 has no TCP port 80 (its ports: 8080)"},
		// Pods may still come: poll.
		{"selector matches nothing", []runtime.Object{service("n287", "nginx2", nginx2SvcIP, 80, app("ngnix2"))}, Error, false,
			"service n287/nginx2 has no ready endpoints (its selector app=ngnix2 matches no pod)"},
		{"no selector", []runtime.Object{service("n287", "nginx2", nginx2SvcIP, 80, nil)}, Error, false,
			"service n287/nginx2 has no ready endpoints (it has no selector)"},
		{"endpoints updating", []runtime.Object{ns("n287"), nginx2Pod(), service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2"))}, Error, false,
			"service n287/nginx2 has no ready endpoints (its pods are Ready; the endpoints may still be updating)"},
		{"pods starting", []runtime.Object{ns("n287"), service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "n287", Name: "nginx2-a", Labels: app("nginx2")}, Status: corev1.PodStatus{Phase: corev1.PodPending}}},
			Error, false, "service n287/nginx2 has no ready endpoints: pod nginx2-a: it is still starting (Pending)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(tc.objs...)
			ex := replies("SECLAB timeout\n")
			env.Exec = ex
			r := quick(t, env, connSpec(ExpectBlocked))
			wantStatus(t, r, tc.status)
			if r.Found != tc.want {
				t.Errorf("found = %q\n want %q", r.Found, tc.want)
			}
			if tc.status == Fail && r.Expected != "service n287/nginx2 answers on port 80" {
				t.Errorf("expected = %q", r.Expected)
			}
			if tc.final != (r.Attempts == 1) {
				t.Errorf("attempts = %d (final: %v)", r.Attempts, tc.final)
			}
			if len(ex.Calls()) != 0 {
				t.Errorf("probe ran %d times against a target that is not up", len(ex.Calls()))
			}
		})
	}
}

// Endpoints that are still updating settle: the check polls until they do.
func TestConnectivityEndpointsSettle(t *testing.T) {
	env, cs := testEnv(world()...)
	var lists atomic.Int32
	cs.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists.Add(1) == 1 {
			return true, &discoveryv1.EndpointSliceList{}, nil
		}
		return false, nil, nil
	})
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, Spec{Timeout: "5s", Connectivity: connSpec(ExpectAllowed).Connectivity})
	wantStatus(t, r, Pass)
	if r.Attempts != 2 {
		t.Errorf("attempts = %d; want 2 (no endpoints, then the slice)", r.Attempts)
	}
}

// Pods stuck on their image will not recover by waiting: the learner's
// failure, said at once, and never "blocked".
func TestConnectivityTargetPodsStuck(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"image pull", pullFailingPod("n287", "nginx2-a", app("nginx2"), "nginx", "ImagePullBackOff"),
			`it has no ready endpoints: pod nginx2-a: container nginx cannot pull image "nginx" (ImagePullBackOff): this cluster has no registry access`},
		{"crash loop", pullFailingPod("n287", "nginx2-a", app("nginx2"), "nginx:1.27", "CrashLoopBackOff"),
			"it has no ready endpoints: pod nginx2-a: container nginx keeps crashing (CrashLoopBackOff)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(ns("n287"), nginx1Pod(), tc.pod,
				service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
				slice("n287", "nginx2", false),
				isolateNginx2)
			ex := replies("SECLAB timeout\n") // would look "blocked"
			env.Exec = ex
			r := quick(t, env, connSpec(ExpectBlocked))
			wantStatus(t, r, Fail)
			if r.Expected != "service n287/nginx2 answers on port 80" {
				t.Errorf("expected = %q", r.Expected)
			}
			wantContains(t, "found", r.Found, tc.want)
			if len(ex.Calls()) != 0 {
				t.Errorf("probe ran %d times against a target that is not up", len(ex.Calls()))
			}
			if r.Attempts != 1 {
				t.Errorf("a stuck pod will not recover: want 1 attempt, got %d", r.Attempts)
			}
		})
	}
}

func TestConnectivitySourceImagePullBackOff(t *testing.T) {
	env, _ := testEnv(ns("n287"),
		pullFailingPod("n287", "nginx1", app("nginx1"), "nginx", "ImagePullBackOff"),
		nginx2Pod(),
		service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
		sliceOf("nginx2", nil, nginx2Pod()),
	)
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found,
		"no Running pod matches app=nginx1 in n287",
		`pod nginx1: container nginx cannot pull image "nginx" (ImagePullBackOff)`,
		"no registry",
		"nginx:latest")
	if r.Attempts != 1 {
		t.Errorf("want 1 attempt for a stuck source pod, got %d", r.Attempts)
	}
}

// `kubectl set image deploy/nginx1 nginx=nginx:1.27` after `--image=nginx`
// keeps imagePullPolicy Always: the tag is right, the policy is what fails.
func TestConnectivityPinnedImageWithPullAlways(t *testing.T) {
	pod := pullFailingPod("n287", "nginx1", app("nginx1"), "nginx:1.27", "ErrImagePull")
	pod.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways
	env, _ := testEnv(pod,
		nginx2Pod(),
		service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
		sliceOf("nginx2", nil, nginx2Pod()),
	)
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, `cannot pull image "nginx:1.27"`, "imagePullPolicy is Always", "IfNotPresent")
	wantNotContains(t, "found", r.Found, "use the exact image and tag")
}

func TestConnectivityNoSourcePod(t *testing.T) {
	env, _ := testEnv(world()...)
	env.Exec = replies("SECLAB http 200\n")
	s := connSpec(ExpectAllowed)
	s.Connectivity.From.Selector = "app=web"
	r := quick(t, env, s)
	wantStatus(t, r, Fail) // the source pod is the lab's: gone means the learner removed it
	wantContains(t, "found", r.Found, "no pod matches app=web in n287")
}

func TestConnectivityProbeOutputProblems(t *testing.T) {
	for _, tc := range []struct {
		stdout string
		err    error
		want   string
		final  bool
	}{
		{"SECLAB notool\n", nil, "cannot probe from pod n287/nginx1-a: it has neither curl, bash nor wget", true},
		{"", errors.New(`exec: "sh": executable file not found in $PATH`), "cannot probe from pod n287/nginx1-a: it has no sh", true},
		{"hello\n", nil, `unexpected probe output from pod n287/nginx1-a: "hello"`, false},
		{"", errors.New("container not found"), "could not run the probe in pod n287/nginx1-a: container not found", false},
		{"SECLAB other curl exit code 3\n", nil, "the probe from pod n287/nginx1-a failed in an unexpected way: other curl exit code 3", false},
		{"SECLAB dns\n", nil, "failed in an unexpected way: dns", false},
	} {
		t.Run(tc.want, func(t *testing.T) {
			env, _ := testEnv(world(isolateNginx2)...)
			env.Exec = &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) { return tc.stdout, "", 0, tc.err }}
			r := quick(t, env, connSpec(ExpectBlocked))
			wantStatus(t, r, Error)
			wantContains(t, "found", r.Found, tc.want)
			if tc.final != (r.Attempts == 1) {
				t.Errorf("attempts = %d, final = %v", r.Attempts, tc.final)
			}
		})
	}
}

func TestConnectivitySelectorTargetUsesPodIP(t *testing.T) {
	// A probe pod (another check's) carrying the target's labels, sorted
	// first: never the target.
	other := readyPodObj("n287", "a-probe", app("nginx2"), "10.244.1.99")
	other.Labels[ProbeLabel] = "true"
	env, _ := testEnv(world(other)...)
	nodes := answering()
	env.Nodes = nodes
	ex := replies("SECLAB http 200\n")
	env.Exec = ex
	r := quick(t, env, Spec{Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n287", Pod: "nginx1-a"},
		To:     Target{Namespace: "n287", Selector: "app=nginx2", Port: 8080},
		Expect: ExpectAllowed,
	}})
	wantStatus(t, r, Pass)
	wantProbeOf(t, "pod probe", ex.Calls()[0].Cmd, nginx2IP, "8080")
	if strings.Join(nodes.calls, ",") != "seclab-worker2" {
		t.Errorf("baseline ran on %q", nodes.calls)
	}
	wantProbeOf(t, "baseline", nodes.cmd, nginx2IP, "8080")
}

func TestConnectivitySelectorTargetProblems(t *testing.T) {
	for _, tc := range []struct {
		name   string
		objs   []runtime.Object
		status Status
		want   string
	}{
		{"no pod", []runtime.Object{ns("n287"), nginx1Pod()}, Fail, "no pod matches app=nginx2 in n287"},
		{"stuck", []runtime.Object{ns("n287"), nginx1Pod(), pullFailingPod("n287", "nginx2-a", app("nginx2"), "nginx", "ErrImagePull")},
			Fail, `none is Ready: pod nginx2-a: container nginx cannot pull image "nginx" (ErrImagePull)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(tc.objs...)
			ex := replies("SECLAB timeout\n")
			env.Exec = ex
			r := quick(t, env, Spec{Connectivity: &ConnectivitySpec{
				From:   PodRef{Namespace: "n287", Pod: "nginx1-a"},
				To:     Target{Namespace: "n287", Selector: "app=nginx2", Port: 80},
				Expect: ExpectBlocked,
			}})
			wantStatus(t, r, tc.status)
			wantContains(t, "found", r.Found, tc.want)
			if r.Expected != "a Ready pod app=nginx2 in n287 answers on port 80" {
				t.Errorf("expected = %q", r.Expected)
			}
			if len(ex.Calls()) != 0 {
				t.Errorf("probed a target that is not there")
			}
			// Pods that do not exist yet may come (a Deployment just
			// applied): polled. Pods stuck on their image will not.
			if polled := tc.name == "no pod"; polled != (r.Attempts > 1) {
				t.Errorf("attempts = %d, want polling: %v", r.Attempts, polled)
			}
		})
	}
}

// A headless service has no address of its own: traffic goes to its pod,
// on the port the pod serves (targetPort).
func TestConnectivityHeadlessServiceUsesPodIPAndTargetPort(t *testing.T) {
	svc := service("n287", "nginx2", corev1.ClusterIPNone, 80, app("nginx2"))
	svc.Spec.Ports[0].TargetPort = intstr.FromInt32(8080)
	env, _ := testEnv(ns("n287"), nginx1Pod(), nginx2Pod(), svc,
		sliceOf("nginx2", []discoveryv1.EndpointPort{slicePort("", 8080)}, nginx2Pod()))
	nodes := answering()
	env.Nodes = nodes
	ex := replies("SECLAB http 200\n")
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Pass)
	wantProbeOf(t, "pod probe", ex.Calls()[0].Cmd, nginx2IP, "8080")
	wantProbeOf(t, "baseline", nodes.cmd, nginx2IP, "8080")
}

// A named targetPort is resolved by the EndpointSlice controller; the
// baseline must use the slice's number for the service port in question.
func TestConnectivityNamedTargetPortFromEndpointSlice(t *testing.T) {
	svc := service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2"))
	svc.Spec.Ports = []corev1.ServicePort{
		{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("tls")},
		{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")},
	}
	env, _ := testEnv(ns("n287"), nginx1Pod(), nginx2Pod(), svc,
		sliceOf("nginx2", []discoveryv1.EndpointPort{slicePort("https", 8443), slicePort("http", 8080)}, nginx2Pod()))
	nodes := answering()
	env.Nodes = nodes
	ex := replies("SECLAB http 200\n")
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Pass)
	wantProbeOf(t, "pod probe", ex.Calls()[0].Cmd, nginx2SvcIP, "80")
	wantProbeOf(t, "baseline", nodes.cmd, nginx2IP, "8080")
}

func probeSpec(labels map[string]string, expect string) Spec {
	return Spec{Timeout: "5s", Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n287", Probe: &ProbePod{Labels: labels}},
		To:     Target{Namespace: "n287", Service: "nginx2", Port: 80},
		Expect: expect,
	}}
}

func TestConnectivityProbePodLifecycle(t *testing.T) {
	env, cs := testEnv(world(isolateNginx2)...)
	kubelet := startsProbes(cs)
	// What the probe pod looked like each time traffic was sent from it.
	type seen struct {
		labels map[string]string
		owners []metav1.OwnerReference
	}
	var atExec []seen
	ex := &fakeExec{fn: func(ctx context.Context, c execCall, n int) (string, string, int, error) {
		p, err := cs.CoreV1().Pods(c.Namespace).Get(ctx, c.Pod, metav1.GetOptions{})
		if err != nil {
			return "", "", 0, err
		}
		atExec = append(atExec, seen{p.Labels, p.OwnerReferences})
		if n < 3 {
			return "SECLAB http 200\n", "", 0, nil
		}
		return "SECLAB timeout\n", "", 0, nil
	}}
	env.Exec = ex
	env.ProbeImage = "registry.local/busybox:1.36"
	r := quick(t, env, probeSpec(map[string]string{"role": "frontend"}, ExpectBlocked))
	wantStatus(t, r, Pass)
	// Two attempts see HTTP, the third three timeouts, from the same pod.
	if !strings.HasPrefix(r.Found, "connect timed out 3 times in a row") || r.Attempts != 3 || len(ex.Calls()) != 5 {
		t.Errorf("found %q after %d attempts, %d probes", r.Found, r.Attempts, len(ex.Calls()))
	}
	created := kubelet.pods()
	if len(created) != 1 {
		t.Fatalf("created %d probe pods; want one reused across attempts", len(created))
	}
	p := created[0]
	if !strings.HasPrefix(p.Name, "seclab-probe-") || p.Namespace != "n287" {
		t.Errorf("probe pod %s/%s", p.Namespace, p.Name)
	}
	// Created with only the marker: a ReplicaSet selecting the lab's labels
	// must not adopt it before it is its own controller.
	if len(p.Labels) != 1 || p.Labels[ProbeLabel] != "true" {
		t.Errorf("created with labels %v; want only %s", p.Labels, ProbeLabel)
	}
	if len(p.OwnerReferences) != 0 {
		t.Errorf("created with owners %v", p.OwnerReferences)
	}
	if g := p.Spec.ReadinessGates; len(g) != 1 || g[0].ConditionType != "seclab.dev/never-ready" {
		t.Errorf("readiness gates = %v; the probe must never become a Service endpoint", g)
	}
	patch, ok := probePatches(t, cs)[p.Name]
	if !ok {
		t.Fatalf("probe pod %s was never patched", p.Name)
	}
	if len(patch.Metadata.Labels) != 1 || patch.Metadata.Labels["role"] != "frontend" {
		t.Errorf("patched labels = %v; want role=frontend", patch.Metadata.Labels)
	}
	own := patch.Metadata.OwnerReferences
	if len(own) != 1 || own[0].APIVersion != "v1" || own[0].Kind != "Pod" || own[0].Name != p.Name ||
		own[0].UID != "uid-1" || own[0].Controller == nil || !*own[0].Controller {
		t.Errorf("patched ownerReferences = %+v; want the pod itself as controller", own)
	}
	for i, s := range atExec {
		if s.labels["role"] != "frontend" || s.labels[ProbeLabel] != "true" || len(s.owners) != 1 {
			t.Errorf("probe %d ran from a pod with labels %v owners %v; want it labeled and self-owned first", i+1, s.labels, s.owners)
		}
	}
	c := p.Spec.Containers[0]
	if c.Image != "registry.local/busybox:1.36" || c.ImagePullPolicy != corev1.PullIfNotPresent || strings.Join(c.Command, " ") != "sleep 3600" {
		t.Errorf("container = %s %s %v", c.Image, c.ImagePullPolicy, c.Command)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %v; a ResourceQuota namespace needs requests and limits", c.Resources)
	}
	if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g != 0 {
		t.Errorf("terminationGracePeriodSeconds = %v", g)
	}
	if a := p.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Errorf("automountServiceAccountToken = %v", a)
	}
	sc, csc := p.Spec.SecurityContext, c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
		csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || csc.Capabilities == nil || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("probe pod must pass the restricted Pod Security Standard: %+v %+v", sc, csc)
	}
	for _, call := range ex.Calls() {
		if call.Pod != p.Name || call.Container != "probe" {
			t.Errorf("probe ran in %s/%s, want %s/probe", call.Pod, call.Container, p.Name)
		}
	}
	if left := leftProbes(t, cs); len(left) != 0 {
		t.Errorf("probe pods not deleted: %v", left)
	}
}

// A probe pod is never Ready (its readiness gate): containers ready is
// enough to use it (Ready, should a cluster report it, too); a pod not
// running, or running with its containers not ready, is not usable.
func TestProbeUsable(t *testing.T) {
	running := func(mod func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{Status: probeRunning("10.244.1.1")}
		mod(p)
		return p
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"containers ready, pod not Ready", running(func(*corev1.Pod) {}), true},
		{"containers not ready", running(func(p *corev1.Pod) { p.Status.Conditions[1].Status = corev1.ConditionFalse }), false},
		{"Ready without a ContainersReady condition", running(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}), true},
		{"no conditions yet", running(func(p *corev1.Pod) { p.Status.Conditions = nil }), false},
		{"pending", running(func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), false},
		{"being deleted", running(func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }), false},
	} {
		if got := probeUsable(tc.pod); got != tc.want {
			t.Errorf("%s: probeUsable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The check waits for the probe's container before sending traffic.
func TestConnectivityProbeWaitsForItsContainer(t *testing.T) {
	env, cs := testEnv(world()...)
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	// The kubelet is slow: the pod runs, its container is ready only by
	// the third time the check looks.
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status = probeRunning("10.244.1.1")
		p.Status.Conditions[1].Status = corev1.ConditionFalse
		p.Status.ContainerStatuses[0].Ready = false
		return false, nil, nil
	})
	var gets atomic.Int32
	cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.GetAction).GetName()
		if !strings.HasPrefix(name, "seclab-probe-") || gets.Add(1) != 2 {
			return false, nil, nil
		}
		obj, err := cs.Tracker().Get(pods, "n287", name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Status = probeRunning("10.244.1.1")
		return false, nil, cs.Tracker().Update(pods, p, "n287")
	})
	var early atomic.Int32
	env.Exec = &fakeExec{fn: func(ctx context.Context, _ execCall, _ int) (string, string, int, error) {
		if gets.Load() < 2 {
			early.Add(1)
		}
		return "SECLAB http 200\n", "", 0, nil
	}}
	r := quick(t, env, probeSpec(nil, ExpectAllowed))
	wantStatus(t, r, Pass)
	if early.Load() != 0 || gets.Load() < 2 {
		t.Errorf("exec'd %d times before the container was ready (%d reads)", early.Load(), gets.Load())
	}
}

// A probe pod that could not be labeled must not be reused unlabeled: its
// traffic would say nothing about the labels under test.
func TestConnectivityUnlabeledProbeIsReplaced(t *testing.T) {
	env, cs := testEnv(world()...)
	kubelet := startsProbes(cs)
	var patches atomic.Int32
	cs.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if patches.Add(1) == 1 {
			return true, nil, errors.New("etcdserver: request timed out")
		}
		return false, nil, nil
	})
	var from []map[string]string
	env.Exec = &fakeExec{fn: func(ctx context.Context, c execCall, _ int) (string, string, int, error) {
		p, err := cs.CoreV1().Pods(c.Namespace).Get(ctx, c.Pod, metav1.GetOptions{})
		if err != nil {
			return "", "", 0, err
		}
		from = append(from, p.Labels)
		return "SECLAB http 200\n", "", 0, nil
	}}
	r := quick(t, env, probeSpec(app("nginx1"), ExpectAllowed))
	wantStatus(t, r, Pass)
	if r.Attempts != 2 || len(kubelet.pods()) != 2 {
		t.Errorf("attempts = %d, probe pods created = %d; want a fresh pod on the second attempt", r.Attempts, len(kubelet.pods()))
	}
	for _, l := range from {
		if l["app"] != "nginx1" {
			t.Errorf("traffic sent from a probe labeled %v", l)
		}
	}
	if left := leftProbes(t, cs); len(left) != 0 {
		t.Errorf("probe pods not deleted: %v", left)
	}
}

func TestConnectivityProbeImageMissing(t *testing.T) {
	env, cs := testEnv(world()...)
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status = pullFailingPod("", "", nil, p.Spec.Containers[0].Image, "ErrImagePull").Status
		p.Status.ContainerStatuses[0].Name = "probe"
		return false, nil, nil
	})
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, probeSpec(nil, ExpectAllowed))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, fmt.Sprintf("cannot pull image %q (ErrImagePull)", DefaultProbeImage), "preloaded")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d; a missing image will not appear by waiting", r.Attempts)
	}
	if left := leftProbes(t, cs); len(left) != 0 {
		t.Errorf("probe pods not deleted: %v", left)
	}
}

func TestConnectivityProbeNamespaceMissing(t *testing.T) {
	noNamespace := func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apiNotFound("namespaces", "n9")
	}
	env, cs := testEnv()
	cs.PrependReactor("create", "pods", noNamespace)
	ex := replies("SECLAB http 200\n")
	env.Exec = ex
	r := quick(t, env, Spec{Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n9", Probe: &ProbePod{}},
		To:     Target{Namespace: "n287", Selector: "app=x", Port: 80},
		Expect: ExpectAllowed,
	}})
	// The target is checked first and is missing too.
	wantStatus(t, r, Fail)
	if r.Found != "no pod matches app=x in n287 (namespace n287 does not exist)" {
		t.Errorf("found = %q", r.Found)
	}

	env, cs = testEnv(world()...)
	cs.PrependReactor("create", "pods", noNamespace)
	env.Exec = ex
	s := probeSpec(nil, ExpectAllowed)
	s.Connectivity.From.Namespace = "n9"
	s.Timeout = "100ms"
	r = quick(t, env, s)
	wantStatus(t, r, Error)
	if r.Found != "cannot start a probe pod: namespace n9 does not exist" {
		t.Errorf("found = %q", r.Found)
	}
	if len(ex.Calls()) != 0 {
		t.Errorf("exec'd without a source pod")
	}
}

func TestParseProbe(t *testing.T) {
	for in, want := range map[string][2]string{
		"SECLAB http 404\n":              {"http", "404"},
		"noise\nSECLAB timeout\n":        {"timeout", ""},
		"  SECLAB other wget exit 1: x ": {"other", "wget exit 1: x"},
	} {
		o, d, ok := parseProbe(in)
		if !ok || o != want[0] || d != want[1] {
			t.Errorf("parseProbe(%q) = %q %q %v", in, o, d, ok)
		}
	}
	for _, in := range []string{"SECLAB\n", "", "timeout\n"} {
		if _, _, ok := parseProbe(in); ok {
			t.Errorf("parseProbe(%q) is a result; want none", in)
		}
	}
}

func TestConnectivityDescribe(t *testing.T) {
	for _, tc := range []struct {
		spec *ConnectivitySpec
		want string
	}{
		{connSpec(ExpectBlocked).Connectivity, "n287/app=nginx1 → service nginx2:80 is blocked"},
		{&ConnectivitySpec{From: PodRef{Namespace: "default", Probe: &ProbePod{Labels: app("nginx1")}},
			To: Target{Namespace: "n287", Service: "nginx2", Port: 80}, Expect: ExpectBlocked},
			"default/probe pod app=nginx1 → service n287/nginx2:80 is blocked"},
	} {
		c := newCheck(Spec{Connectivity: tc.spec})
		if got := c.describe(); got != tc.want {
			t.Errorf("describe = %q, want %q", got, tc.want)
		}
	}
}

// Traffic to a Service may land on any of its pods: a block counts for
// ingress only when every one of them is isolated, and proves nothing
// about egress when any of them is.
func TestConnectivityBlockWithSeveralBackends(t *testing.T) {
	v1, v2 := nginx2Pod(), nginx2Pod()
	v1.Labels["version"] = "v1"
	v2.Name, v2.Status.PodIP, v2.Labels["version"] = "nginx2-b", "10.244.0.10", "v2"
	onlyV1 := networkPolicy("n287", "deny-v1", map[string]string{"version": "v1"}, networkingv1.PolicyTypeIngress)
	onlyV2 := networkPolicy("n287", "deny-v2", map[string]string{"version": "v2"}, networkingv1.PolicyTypeIngress)
	for _, tc := range []struct {
		name     string
		dir      string
		policies []runtime.Object
		status   Status
		want     string
	}{
		{"ingress, all isolated", "", []runtime.Object{isolateNginx2}, Pass, "(pod n287/nginx2-a isolated by n287/deny-all)"},
		{"ingress, first isolated only", "", []runtime.Object{onlyV1}, Fail, "but no NetworkPolicy selects pod n287/nginx2-b for ingress"},
		{"ingress, second isolated only", "", []runtime.Object{onlyV2}, Fail, "but no NetworkPolicy selects pod n287/nginx2-a for ingress"},
		{"egress, no backend isolated", "egress", []runtime.Object{lockNginx1}, Pass, "(pod n287/nginx1-a isolated by n287/lock-nginx1)"},
		{"egress, second backend isolated", "egress", []runtime.Object{lockNginx1, onlyV2}, Error,
			"pod n287/nginx2-b is also restricted by ingress policy n287/deny-v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := append([]runtime.Object{ns("n287"), nginx1Pod(), v1, v2,
				service("n287", "nginx2", nginx2SvcIP, 80, app("nginx2")),
				sliceOf("nginx2", []discoveryv1.EndpointPort{slicePort("", 80)}, v1, v2)}, tc.policies...)
			env, _ := testEnv(objs...)
			env.Exec = replies("SECLAB timeout\n")
			s := connSpec(ExpectBlocked)
			s.Connectivity.Direction = tc.dir
			r := quick(t, env, s)
			wantStatus(t, r, tc.status)
			wantContains(t, "found", r.Found, tc.want)
		})
	}
}
