package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func connSpec(expect string) Spec {
	return Spec{Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n287", Selector: "app=nginx1"},
		To:     Target{Namespace: "n287", Service: "nginx2", Port: 80},
		Expect: expect,
	}}
}

// world is n287 with a Ready nginx1 (the source) behind no service, and a
// Ready nginx2 behind service nginx2:80.
func world(extra ...runtime.Object) []runtime.Object {
	return append([]runtime.Object{
		ns("n287"),
		readyPodObj("n287", "nginx1-a", map[string]string{"app": "nginx1"}, "10.244.0.5"),
		readyPodObj("n287", "nginx2-a", map[string]string{"app": "nginx2"}, "10.244.0.9"),
		service("n287", "nginx2", 80, map[string]string{"app": "nginx2"}),
		slice("n287", "nginx2", true),
	}, extra...)
}

func TestConnectivityAllowedPasses(t *testing.T) {
	env, _ := testEnv(world()...)
	ex := replies("SECLAB http 200\n")
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Pass)
	if r.Found != "HTTP 200 (connection allowed)" {
		t.Errorf("found = %q", r.Found)
	}
	calls := ex.Calls()
	if len(calls) != 1 {
		t.Fatalf("exec calls = %d", len(calls))
	}
	c := calls[0]
	if c.Namespace != "n287" || c.Pod != "nginx1-a" || c.Container != "main" {
		t.Errorf("exec in %s/%s/%s; want n287/nginx1-a/main", c.Namespace, c.Pod, c.Container)
	}
	if got := c.Cmd[len(c.Cmd)-1]; got != "http://nginx2.n287.svc.cluster.local:80/" {
		t.Errorf("url = %q", got)
	}
	if c.Cmd[0] != "sh" || c.Cmd[1] != "-c" || c.Cmd[2] != probeScript {
		t.Errorf("command = %q", c.Cmd[:2])
	}
}

func TestConnectivityBlockedButAllowedFails(t *testing.T) {
	env, _ := testEnv(world()...)
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Fail)
	if r.Expected != "blocked" || r.Found != "HTTP 200 (connection allowed)" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
	if r.Attempts < 2 {
		t.Errorf("attempts = %d: a policy takes a moment to apply, the check must poll", r.Attempts)
	}
}

func TestConnectivityBlockedPassesOnTimeout(t *testing.T) {
	env, _ := testEnv(world()...)
	env.Exec = replies("SECLAB timeout 2\n")
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Pass)

	r = quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Fail)
	if r.Expected != "allowed" || r.Found != "connection timed out after 2s" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
}

func TestConnectivityNoEndpointsIsErrorNotBlocked(t *testing.T) {
	env, _ := testEnv(
		ns("n287"),
		readyPodObj("n287", "nginx1-a", map[string]string{"app": "nginx1"}, "10.244.0.5"),
		pullFailingPod("n287", "nginx2-a", map[string]string{"app": "nginx2"}, "nginx", "ImagePullBackOff"),
		service("n287", "nginx2", 80, map[string]string{"app": "nginx2"}),
		slice("n287", "nginx2", false),
	)
	ex := replies("SECLAB timeout 2\n") // would look "blocked"
	env.Exec = ex
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "service n287/nginx2 has no ready endpoints", `pod nginx2-a: container nginx cannot pull image "nginx"`)
	if len(ex.Calls()) != 0 {
		t.Errorf("probe ran %d times against a target that is not up", len(ex.Calls()))
	}
	if r.Attempts != 1 {
		t.Errorf("a pod that cannot pull its image will not recover: want 1 attempt, got %d", r.Attempts)
	}
}

func TestConnectivityServiceProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"missing service", []runtime.Object{ns("n287"), readyPodObj("n287", "nginx1-a", map[string]string{"app": "nginx1"}, "")},
			"service n287/nginx2 not found"},
		{"wrong port", []runtime.Object{service("n287", "nginx2", 8080, nil)}, "service n287/nginx2 has no port 80 (its ports: 8080)"},
		{"selector matches nothing", []runtime.Object{service("n287", "nginx2", 80, map[string]string{"app": "ngnix2"})},
			"service n287/nginx2 has no ready endpoints (its selector app=ngnix2 matches no pod)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(tc.objs...)
			env.Exec = replies("SECLAB timeout 2\n")
			r := quick(t, env, connSpec(ExpectBlocked))
			wantStatus(t, r, Error)
			if r.Found != tc.want {
				t.Errorf("found = %q\n want %q", r.Found, tc.want)
			}
			// A missing service or port is settled; a selector that
			// matches nothing yet may still get pods.
			if final := tc.name != "selector matches nothing"; final != (r.Attempts == 1) {
				t.Errorf("attempts = %d (settled: %v)", r.Attempts, final)
			}
		})
	}
}

func TestConnectivitySourceImagePullBackOff(t *testing.T) {
	env, _ := testEnv(
		pullFailingPod("n287", "nginx1", map[string]string{"app": "nginx1"}, "nginx", "ImagePullBackOff"),
		readyPodObj("n287", "nginx2-a", map[string]string{"app": "nginx2"}, "10.244.0.9"),
		service("n287", "nginx2", 80, map[string]string{"app": "nginx2"}),
		slice("n287", "nginx2", true),
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

func TestConnectivityNoSourcePod(t *testing.T) {
	env, _ := testEnv(world()...)
	env.Exec = replies("SECLAB http 200\n")
	s := connSpec(ExpectAllowed)
	s.Connectivity.From.Selector = "app=web"
	r := quick(t, env, s)
	wantStatus(t, r, Fail) // the source pod is the lab's: gone means the learner removed it
	wantContains(t, "found", r.Found, "no pod matches app=web in n287")
}

func TestConnectivityDNSFailureIsError(t *testing.T) {
	env, _ := testEnv(world()...)
	env.Exec = replies("SECLAB dns\n")
	r := quick(t, env, connSpec(ExpectBlocked))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "DNS lookup of nginx2.n287.svc.cluster.local failed in pod n287/nginx1-a", "port 53")
}

func TestConnectivityProbeOutputProblems(t *testing.T) {
	for _, tc := range []struct {
		stdout string
		err    error
		want   string
		final  bool
	}{
		{"SECLAB notool\n", nil, "has neither curl nor wget", true},
		{"hello\n", nil, `unexpected probe output from pod n287/nginx1-a: "hello"`, false},
		{"", errors.New("container not found"), "could not run the probe in pod n287/nginx1-a: container not found", false},
		{"SECLAB other curl exit code 3\n", nil, "failed in an unexpected way: other curl exit code 3", false},
	} {
		env, _ := testEnv(world()...)
		env.Exec = &fakeExec{fn: func(context.Context, execCall, int) (string, string, int, error) { return tc.stdout, "", 0, tc.err }}
		r := quick(t, env, connSpec(ExpectBlocked))
		wantStatus(t, r, Error)
		wantContains(t, "found", r.Found, tc.want)
		if tc.final != (r.Attempts == 1) {
			t.Errorf("%q: attempts = %d, final = %v", tc.want, r.Attempts, tc.final)
		}
	}
}

func TestConnectivitySelectorTargetUsesPodIP(t *testing.T) {
	env, _ := testEnv(world()...)
	ex := replies("SECLAB refused\n")
	env.Exec = ex
	r := quick(t, env, Spec{Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n287", Pod: "nginx1-a"},
		To:     Target{Namespace: "n287", Selector: "app=nginx2", Port: 8080},
		Expect: ExpectBlocked,
	}})
	wantStatus(t, r, Pass)
	if r.Found != "connection refused" {
		t.Errorf("found = %q", r.Found)
	}
	if got := ex.Calls()[0].Cmd[4]; got != "http://10.244.0.9:8080/" {
		t.Errorf("url = %q", got)
	}
}

// startProbes makes created probe pods Running and Ready at once, as the
// kubelet would, and records them.
func startProbes(cs interface {
	PrependReactor(verb, resource string, fn k8stesting.ReactionFunc)
}, created *[]*corev1.Pod) {
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status = readyPodObj("", "", nil, "10.244.0.77").Status
		*created = append(*created, p.DeepCopy())
		return false, nil, nil // let the tracker store it
	})
}

func TestConnectivityProbePodLifecycle(t *testing.T) {
	env, cs := testEnv(world()...)
	var created []*corev1.Pod
	startProbes(cs, &created)
	ex := &fakeExec{fn: func(_ context.Context, _ execCall, n int) (string, string, int, error) {
		if n < 3 {
			return "SECLAB http 200\n", "", 0, nil
		}
		return "SECLAB timeout 3\n", "", 0, nil
	}}
	env.Exec = ex
	env.ProbeImage = "registry.local/busybox:1.36"
	r := quick(t, env, Spec{Timeout: "5s", Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n287", Probe: &ProbePod{Labels: map[string]string{"role": "frontend"}}},
		To:     Target{Namespace: "n287", Service: "nginx2", Port: 80},
		Expect: ExpectBlocked,
	}})
	wantStatus(t, r, Pass)
	if r.Found != "connection timed out after 3s" || r.Attempts != 3 {
		t.Errorf("found %q after %d attempts", r.Found, r.Attempts)
	}
	if len(created) != 1 {
		t.Fatalf("created %d probe pods; want one reused across attempts", len(created))
	}
	p := created[0]
	if !strings.HasPrefix(p.Name, "seclab-probe-") || p.Namespace != "n287" {
		t.Errorf("probe pod %s/%s", p.Namespace, p.Name)
	}
	if p.Labels["role"] != "frontend" || p.Labels[ProbeLabel] != "true" {
		t.Errorf("labels = %v", p.Labels)
	}
	c := p.Spec.Containers[0]
	if c.Image != "registry.local/busybox:1.36" || c.ImagePullPolicy != corev1.PullIfNotPresent || strings.Join(c.Command, " ") != "sleep 3600" {
		t.Errorf("container = %s %s %v", c.Image, c.ImagePullPolicy, c.Command)
	}
	if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g != 0 {
		t.Errorf("terminationGracePeriodSeconds = %v", g)
	}
	if sc := p.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("probe pod must pass the restricted Pod Security Standard")
	}
	for _, call := range ex.Calls() {
		if call.Pod != p.Name {
			t.Errorf("probe ran in %s, want %s", call.Pod, p.Name)
		}
	}
	// Deleted afterwards.
	left, _ := cs.CoreV1().Pods("n287").List(context.Background(), metav1.ListOptions{LabelSelector: ProbeLabel})
	if len(left.Items) != 0 {
		t.Errorf("probe pod not deleted: %v", left.Items[0].Name)
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
	r := quick(t, env, Spec{Timeout: "5s", Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n287", Probe: &ProbePod{}},
		To:     Target{Namespace: "n287", Service: "nginx2", Port: 80},
		Expect: ExpectAllowed,
	}})
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, `cannot pull image "busybox:1.36" (ErrImagePull)`, "preloaded")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d; a missing image will not appear by waiting", r.Attempts)
	}
	left, _ := cs.CoreV1().Pods("n287").List(context.Background(), metav1.ListOptions{LabelSelector: ProbeLabel})
	if len(left.Items) != 0 {
		t.Errorf("probe pod not deleted")
	}
}

func TestConnectivityProbeNamespaceMissing(t *testing.T) {
	env, cs := testEnv()
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apiNotFound("namespaces", "n9")
	})
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, Spec{Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n9", Probe: &ProbePod{}},
		To:     Target{Namespace: "n287", Selector: "app=x", Port: 80},
		Expect: ExpectAllowed,
	}})
	wantStatus(t, r, Error)
	// The target is checked first and is missing too.
	wantContains(t, "found", r.Found, "no target pod matches app=x in n287")

	env, cs = testEnv(world()...)
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apiNotFound("namespaces", "n9")
	})
	env.Exec = replies("SECLAB http 200\n")
	r = quick(t, env, Spec{Connectivity: &ConnectivitySpec{
		From:   PodRef{Namespace: "n9", Probe: &ProbePod{}},
		To:     Target{Namespace: "n287", Service: "nginx2", Port: 80},
		Expect: ExpectAllowed,
	}})
	wantStatus(t, r, Error)
	if r.Found != "cannot start a probe pod: namespace n9 does not exist" {
		t.Errorf("found = %q", r.Found)
	}
}

func TestParseProbe(t *testing.T) {
	for in, want := range map[string][2]string{
		"SECLAB http 404\n":              {"http", "404"},
		"noise\nSECLAB timeout 2\n":      {"timeout", "2"},
		"  SECLAB other wget exit 1: x ": {"other", "wget exit 1: x"},
	} {
		o, d, ok := parseProbe(in)
		if !ok || o != want[0] || d != want[1] {
			t.Errorf("parseProbe(%q) = %q %q %v", in, o, d, ok)
		}
	}
	if _, _, ok := parseProbe("SECLAB\n"); ok {
		t.Error("a bare marker is not a result")
	}
}

// `kubectl set image deploy/nginx1 nginx=nginx:1.27` after `--image=nginx`
// keeps imagePullPolicy Always: the tag is right, the policy is what fails.
func TestConnectivityPinnedImageWithPullAlways(t *testing.T) {
	pod := pullFailingPod("n287", "nginx1", map[string]string{"app": "nginx1"}, "nginx:1.27", "ErrImagePull")
	pod.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways
	env, _ := testEnv(pod,
		readyPodObj("n287", "nginx2-a", map[string]string{"app": "nginx2"}, "10.244.0.9"),
		service("n287", "nginx2", 80, map[string]string{"app": "nginx2"}),
		slice("n287", "nginx2", true),
	)
	env.Exec = replies("SECLAB http 200\n")
	r := quick(t, env, connSpec(ExpectAllowed))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, `cannot pull image "nginx:1.27"`, "imagePullPolicy is Always", "IfNotPresent")
	if strings.Contains(r.Found, "use the exact image and tag") {
		t.Errorf("the tag is right; the message must not blame it: %s", r.Found)
	}
}
