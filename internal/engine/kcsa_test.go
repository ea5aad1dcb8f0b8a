package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/seclab/seclab/internal/verify"
	"github.com/seclab/seclab/labs"
)

// kindFacts runs the kcsa-concepts lab's node scripts for real, on a
// fake node: its absolute paths point into a directory laid out as a
// kubeadm (kind) node's, and curl is a stub that answers as etcd does.
type kindFacts struct {
	workerProcs       []string // the worker's process names
	apiserverManifest string
	etcdManifest      string
	etcdOpen          bool // etcd answers clients without a certificate
	dir               string
}

func kubeadmFacts(t *testing.T) *kindFacts {
	return &kindFacts{
		dir:         t.TempDir(),
		workerProcs: []string{"systemd", "containerd", "kubelet", "containerd-shim", "pause", "kube-proxy", "kindnetd"},
		apiserverManifest: `    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:2379
`,
		etcdManifest: "    - --client-cert-auth=true\n    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n",
	}
}

// curlStub answers as etcd with --client-cert-auth: only a client
// certificate gets an answer, unless ETCD_OPEN is set.
const curlStub = `#!/bin/sh
case "$*" in *--cert*) exit 0;; esac
[ -n "$ETCD_OPEN" ] && exit 0
exit 56
`

// root lays out the node of a role as the facts say, fresh for each run.
func (f *kindFacts) root(role string) (string, error) {
	root, err := os.MkdirTemp(f.dir, role)
	if err != nil {
		return "", err
	}
	files := map[string]string{"bin/curl": curlStub}
	if role == "worker" {
		for i, p := range f.workerProcs {
			files[fmt.Sprintf("proc/%d/comm", i+1)] = p + "\n"
		}
	} else {
		files["etc/kubernetes/manifests/kube-apiserver.yaml"] = f.apiserverManifest
		files["etc/kubernetes/manifests/etcd.yaml"] = f.etcdManifest
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			return "", err
		}
	}
	return root, nil
}

func (f *kindFacts) RunOnNodes(ctx context.Context, role string, cmd []string) ([]verify.NodeOutput, error) {
	if len(cmd) != 3 || cmd[0] != "sh" || cmd[1] != "-c" {
		return nil, fmt.Errorf("kindFacts: unexpected command %q", cmd)
	}
	root, err := f.root(role)
	if err != nil {
		return nil, err
	}
	// Only the files read move, not the paths the scripts look for in them.
	script := strings.NewReplacer(" /proc/", " "+root+"/proc/", " /etc/kubernetes/manifests/", " "+root+"/etc/kubernetes/manifests/").Replace(cmd[2])
	c := exec.CommandContext(ctx, "sh", "-c", script)
	c.Env = append(os.Environ(), "PATH="+root+"/bin:"+os.Getenv("PATH"))
	if f.etcdOpen {
		c.Env = append(c.Env, "ETCD_OPEN=1")
	}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	code := 0
	if err := c.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return nil, err
		}
		code = exit.ExitCode()
	}
	return []verify.NodeOutput{{Node: role, ExitCode: code, Stdout: stdout.String(), Stderr: stderr.String()}}, nil
}

func (f *kindFacts) RunOnNode(context.Context, string, []string) (verify.NodeOutput, error) {
	return verify.NodeOutput{}, errors.New("kindFacts: the lab runs nothing on one node")
}

func newKCSAEngine(t *testing.T, facts *kindFacts) *Engine {
	t.Helper()
	client := fake.NewSimpleClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}})
	return newCatalogEngine(t, labs.FS, &fakeClusters{running: map[string]bool{}, nodes: facts},
		verify.Env{Client: client, Dynamic: newMemCluster(), Mapper: memMapper(), Interval: 5 * time.Millisecond})
}

// The question lab as data: on a kubeadm cluster its self-test holds
// (every step fails fresh, each near-miss answer fails, each equivalent
// form and each solution passes).
func TestKCSAConceptsSelfTest(t *testing.T) {
	e := newKCSAEngine(t, kubeadmFacts(t))
	// The node scripts are real processes: give them time on a busy machine.
	r, err := e.SelfTest(context.Background(), "kcsa-concepts", SelfTestOptions{FailTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Held() {
		t.Errorf("problems:\n%s", strings.Join(r.Problems, "\n"))
	}
	if len(r.Steps) != 9 {
		t.Fatalf("%d steps", len(r.Steps))
	}
	for _, s := range r.Steps {
		if len(s.NearMisses) < 2 {
			t.Errorf("step %d has %d near-misses", s.Step, len(s.NearMisses))
		}
		for _, tr := range s.NearMisses {
			// A wrong answer is caught by the answer check, not by a fact.
			if tr.Outcome != Killed || len(tr.CaughtBy) != 1 || tr.CaughtBy[0].Name != "your answer is right" {
				t.Errorf("step %d near-miss %q: %s %+v", s.Step, tr.Name, tr.Outcome, tr.CaughtBy)
			}
		}
	}
}

// The facts behind steps 6-8 are checked live: the right answer does not
// pass on a cluster where a fact does not hold, and the one fact check
// says which.
func TestKCSAConceptsChecksTheFactsLive(t *testing.T) {
	for _, tc := range []struct {
		name   string
		step   int
		answer string
		change func(*kindFacts)
		found  string
	}{
		{"no kube-proxy on the worker", 6, "a,c,e", func(f *kindFacts) { f.workerProcs = []string{"containerd", "kubelet"} }, "this worker runs no kube-proxy"},
		{"an API server on the worker", 6, "a,c,e", func(f *kindFacts) { f.workerProcs = append(f.workerProcs, "kube-apiserver") }, "this worker runs kube-apiserver"},
		{"a process named like kubelet only", 6, "a,c,e", func(f *kindFacts) { f.workerProcs[2] = "kubelet-helper" }, "this worker runs no kubelet"},
		{"etcd answers without a certificate", 7, "c", func(f *kindFacts) { f.etcdOpen = true }, "etcd answered a client without a certificate"},
		{"etcd without client-cert-auth", 7, "c", func(f *kindFacts) { f.etcdManifest = "    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n" }, "etcd.yaml does not set --client-cert-auth=true"},
		{"apiserver without an etcd client key", 8, "b", func(f *kindFacts) {
			f.apiserverManifest = strings.ReplaceAll(f.apiserverManifest, "--etcd-keyfile", "--etcd-key")
		}, "kube-apiserver.yaml has no --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key"},
		{"apiserver talking to etcd without TLS", 8, "b", func(f *kindFacts) {
			f.apiserverManifest = strings.ReplaceAll(f.apiserverManifest, "https://127", "http://127")
		}, "kube-apiserver.yaml has no --etcd-servers=https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			facts := kubeadmFacts(t)
			e := newKCSAEngine(t, facts)
			ctx := context.Background()
			if _, err := e.Start(ctx, "kcsa-concepts", StartOptions{}); err != nil {
				t.Fatal(err)
			}
			// Earlier steps answered rightly: their answers are kept checks.
			lab, _ := e.Catalog.Get("kcsa-concepts")
			for k := 1; k < tc.step; k++ {
				if _, err := e.Answer(k, lab.Step(k).Solution.Answer); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.Answer(tc.step, tc.answer); err != nil {
				t.Fatal(err)
			}
			opts := CheckOptions{Step: tc.step, Timeout: 3 * time.Second}
			if r, err := e.Check(ctx, opts); err != nil || !r[0].Passed {
				t.Fatalf("the right answer: %+v (%v)", r, err)
			}
			tc.change(facts)
			r, err := e.Check(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			var failed []verify.Result
			for _, res := range r[0].Results {
				if res.Status != verify.Pass {
					failed = append(failed, res)
				}
			}
			if len(failed) != 1 || !strings.HasSuffix(failed[0].Name, "is as the question assumes (checked live)") || !strings.Contains(failed[0].Found, tc.found) {
				t.Errorf("not passed: %+v, want only the step's fact check, saying %q", failed, tc.found)
			}
		})
	}
}

// A wrong answer to a question with facts behind it sees those facts
// checked, and nothing it is shown may give the right choice away (named
// checks per component once did: "the worker node runs kube-proxy").
func TestKCSAConceptsWrongAnswerRevealsNothing(t *testing.T) {
	e := newKCSAEngine(t, kubeadmFacts(t))
	ctx := context.Background()
	if _, err := e.Start(ctx, "kcsa-concepts", StartOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		step     int
		wrong    string
		giveaway []string
	}{
		{6, "b,d", []string{"kubelet", "kube-proxy", "containerd"}},
		{7, "b", []string{"certificate", "CA"}},
		{8, "a", []string{"etcd-certfile", "etcd-keyfile", "etcd-cafile"}},
	} {
		if _, err := e.Answer(tc.step, tc.wrong); err != nil {
			t.Fatal(err)
		}
		r, err := e.Check(ctx, CheckOptions{Step: tc.step, Timeout: 3 * time.Second})
		if err != nil || r[0].Passed {
			t.Fatalf("step %d with a wrong answer: %+v (%v)", tc.step, r, err)
		}
		var shown strings.Builder
		for _, res := range r[0].Results {
			fmt.Fprintln(&shown, res.Name, res.Expected, res.Found)
		}
		for _, g := range tc.giveaway {
			if strings.Contains(shown.String(), g) {
				t.Errorf("step %d: a wrong answer is shown %q:\n%s", tc.step, g, shown.String())
			}
		}
	}
}
