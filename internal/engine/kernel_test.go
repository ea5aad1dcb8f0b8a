package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

// setupNodes records the commands run on every node and answers with a
// per-node exit code.
type setupNodes struct {
	ran  [][]string
	exit map[string]int // node -> exit code of every command
}

func (s *setupNodes) RunOnNodes(_ context.Context, _ string, cmd []string) ([]verify.NodeOutput, error) {
	s.ran = append(s.ran, cmd)
	var out []verify.NodeOutput
	for _, n := range []string{"cp", "w1", "w2"} {
		o := verify.NodeOutput{Node: n, ExitCode: s.exit[n]}
		if o.ExitCode != 0 {
			o.Stderr = "apparmor_parser: Unable to replace \"p\"\n"
		}
		out = append(out, o)
	}
	return out, nil
}

func (s *setupNodes) RunOnNode(context.Context, string, []string) (verify.NodeOutput, error) {
	return verify.NodeOutput{}, nil
}

func apparmorLab(t *testing.T) *catalog.Lab {
	t.Helper()
	e, _, _ := newTestEngine(t)
	lab, err := e.Catalog.Get("apparmor")
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

// The node setup runs only where its condition holds, on every node, and
// a node that fails it is named with what the command printed.
func TestNodeSetupRunsWhereItHolds(t *testing.T) {
	lab := apparmorLab(t)
	nodes := &setupNodes{}
	env := &verify.Env{Nodes: nodes}
	if err := runNodeSetup(context.Background(), env, lab.For(map[string]bool{"apparmor": false})); err != nil || len(nodes.ran) != 0 {
		t.Fatalf("without AppArmor: ran %v, err %v", nodes.ran, err)
	}
	with := lab.For(map[string]bool{"apparmor": true})
	if err := runNodeSetup(context.Background(), env, with); err != nil || len(nodes.ran) != 1 || nodes.ran[0][0] != "apparmor_parser" {
		t.Fatalf("with AppArmor: ran %v, err %v", nodes.ran, err)
	}
	nodes.exit = map[string]int{"w2": 1}
	err := runNodeSetup(context.Background(), env, with)
	if err == nil || !strings.Contains(err.Error(), "failed on node w2 (exit 1): apparmor_parser: Unable to replace") {
		t.Errorf("a failing node: %v", err)
	}
}

// start says, before it creates anything, what a missing kernel feature
// means and what each step still checks.
func TestExplainKernel(t *testing.T) {
	e, _, _ := newTestEngine(t)
	var logs bytes.Buffer
	e.Log = slog.New(slog.NewTextHandler(&logs, nil))
	lab := apparmorLab(t)
	without := map[string]bool{"apparmor": false, "seccomp": true, "selinux": false}
	e.explainKernel(lab.For(without), without)
	got := logs.String()
	for _, want := range []string{
		"the nodes' kernel has no apparmor: AppArmor profiles cannot be enforced on this machine",
		"on this kernel (apparmor=no, seccomp=yes, selinux=no) the steps check: 1 (2 checks), 2 (2 checks), 3 (2 checks)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	logs.Reset()
	with := map[string]bool{"apparmor": true}
	e.explainKernel(lab.For(with), with)
	if !strings.Contains(logs.String(), "every step of lab apparmor runs with it") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("with AppArmor: %s", logs.String())
	}
}

// Current resolves a lab with kernel features for this kernel, asking the
// cluster layer once per engine, not on every call; a failed answer is
// not kept.
func TestKernelFeaturesAskedOnce(t *testing.T) {
	e, _, fc := newTestEngine(t)
	err := e.Store.Update(func(s *state.State) error {
		s.StartLab("apparmor", "seclab-default", "kind-seclab-default", time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	whole := apparmorLab(t)
	resolved := whole.For(map[string]bool{"apparmor": false, "seccomp": true, "selinux": false})
	if len(resolved.Step(1).Checks) == len(whole.Step(1).Checks) {
		t.Fatal("the apparmor lab's step 1 no longer depends on the kernel: pick another step")
	}

	fc.kernelErr = errors.New("docker: connection refused")
	act, err := e.Current()
	if err != nil || len(act.Lab.Step(1).Checks) != len(whole.Step(1).Checks) {
		t.Fatalf("without an answer the lab stays whole: %d checks, err %v", len(act.Lab.Step(1).Checks), err)
	}
	for i := 0; i < 2; i++ {
		act, err := e.Current()
		if err != nil || len(act.Lab.Step(1).Checks) != len(resolved.Step(1).Checks) {
			t.Fatalf("call %d: step 1 has %d checks (err %v), want the %d this kernel runs", i+1, len(act.Lab.Step(1).Checks), err, len(resolved.Step(1).Checks))
		}
	}
	if fc.kernelAsked != 2 {
		t.Errorf("KernelFeatures asked %d times, want 2 (the failed call, then once)", fc.kernelAsked)
	}
}
