package engine

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
	"github.com/seclab/seclab/labs"
)

// kindFacts answers the kcsa-concepts lab's node commands as a kubeadm
// (kind) cluster would, or, with a fact changed, as a cluster that differs.
type kindFacts struct {
	workerProcs       string // /proc/*/comm of the worker
	apiserverManifest string
	etcdManifest      string
	etcdOpen          bool // etcd answers clients without a certificate
}

func kubeadmFacts() *kindFacts {
	return &kindFacts{
		workerProcs: "systemd\ncontainerd\nkubelet\ncontainerd-shim\npause\nkube-proxy\nkindnetd\n",
		apiserverManifest: `    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:2379
`,
		etcdManifest: "    - --client-cert-auth=true\n    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n",
	}
}

func (f *kindFacts) RunOnNodes(_ context.Context, role string, cmd []string) ([]verify.NodeOutput, error) {
	line := strings.Join(cmd, " ")
	out := func(node, stdout string) ([]verify.NodeOutput, error) {
		return []verify.NodeOutput{{Node: node, Stdout: stdout}}, nil
	}
	switch {
	case role == "worker" && strings.Contains(line, "/proc/[0-9]*/comm"):
		return out("w", f.workerProcs)
	case role != "control-plane":
	case line == "cat /etc/kubernetes/manifests/kube-apiserver.yaml":
		return out("cp", f.apiserverManifest)
	case line == "cat /etc/kubernetes/manifests/etcd.yaml":
		return out("cp", f.etcdManifest)
	case strings.Contains(line, "curl") && strings.Contains(line, "--cert "):
		return out("cp", `{"etcdserver":"3.6.5","etcdcluster":"3.6.0"}`)
	case strings.Contains(line, "curl") && f.etcdOpen:
		return out("cp", "answered\n")
	case strings.Contains(line, "curl"):
		return out("cp", "refused\n")
	}
	return []verify.NodeOutput{{Node: "?", ExitCode: 127, Stderr: "kindFacts: unexpected command " + line}}, nil
}

func (f *kindFacts) RunOnNode(context.Context, string, []string) (verify.NodeOutput, error) {
	return verify.NodeOutput{}, nil
}

func newKCSAEngine(t *testing.T, facts *kindFacts) *Engine {
	t.Helper()
	cat, err := catalog.Load(labs.FS, catalog.ValidateOptions{Profiles: cluster.Profiles()})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewSimpleClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}})
	mem := newMemCluster()
	return &Engine{
		Catalog: cat, Clusters: &fakeClusters{running: map[string]bool{}, nodes: facts}, Store: store,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewEnv: func(*rest.Config) (*verify.Env, error) {
			return &verify.Env{Client: client, Dynamic: mem, Mapper: memMapper(), Interval: 5 * time.Millisecond}, nil
		},
	}
}

// The question lab as data: on a kubeadm cluster its self-test holds
// (every step fails fresh, each near-miss answer fails, each equivalent
// form and each solution passes).
func TestKCSAConceptsSelfTest(t *testing.T) {
	e := newKCSAEngine(t, kubeadmFacts())
	r, err := e.SelfTest(context.Background(), "kcsa-concepts", quick)
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
// pass on a cluster where the fact does not hold, and the failing check
// names the fact.
func TestKCSAConceptsChecksTheFactsLive(t *testing.T) {
	for _, tc := range []struct {
		name   string
		step   int
		answer string
		change func(*kindFacts)
		failed string
	}{
		{"no kube-proxy on the worker", 6, "a,c,e", func(f *kindFacts) { f.workerProcs = "containerd\nkubelet\n" }, "the worker node runs kube-proxy"},
		{"an API server on the worker", 6, "a,c,e", func(f *kindFacts) { f.workerProcs += "kube-apiserver\n" }, "the worker node runs no API server"},
		{"etcd answers without a certificate", 7, "c", func(f *kindFacts) { f.etcdOpen = true }, "etcd refuses a client without a certificate"},
		{"etcd without client-cert-auth", 7, "c", func(f *kindFacts) { f.etcdManifest = "    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n" }, "etcd requires a client certificate (--client-cert-auth=true)"},
		{"apiserver without an etcd client key", 8, "b", func(f *kindFacts) {
			f.apiserverManifest = strings.ReplaceAll(f.apiserverManifest, "--etcd-keyfile", "--etcd-key")
		}, "the API server names its etcd client key (--etcd-keyfile)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			facts := kubeadmFacts()
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
			opts := CheckOptions{Step: tc.step, Timeout: 50 * time.Millisecond}
			if r, err := e.Check(ctx, opts); err != nil || !r[0].Passed {
				t.Fatalf("the right answer: %+v (%v)", r, err)
			}
			tc.change(facts)
			r, err := e.Check(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, res := range r[0].Results {
				if res.Status != verify.Pass {
					failed = append(failed, res.Name)
				}
			}
			if len(failed) != 1 || failed[0] != tc.failed {
				t.Errorf("not passed: %q, want only %q", failed, tc.failed)
			}
		})
	}
}
