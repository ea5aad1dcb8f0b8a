//go:build e2e

// Package e2e runs every lab's self-test on real kind clusters built from
// the air-gapped images (make images): on a fresh lab every step fails;
// then, in order, each near-miss and a sample of the generated mutants of
// a step fail and the step's reference solution passes. It also drives the
// CLI as a learner would and proves that `down --all` deletes only
// seclab's clusters.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cli"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/cluster/kindtest"
	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/labs"
)

var (
	eng *engine.Engine
	log *slog.Logger
)

func TestMain(m *testing.M) {
	// Keep the learner's real state and kubeconfig out of the tests.
	tmp, err := os.MkdirTemp("", "seclab-e2e-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", filepath.Join(tmp, "state"))
	os.Setenv("KUBECONFIG", filepath.Join(tmp, "kubeconfig"))
	log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cat, err := catalog.Load(labs.FS, catalog.ValidateOptions{Profiles: cluster.MustBuiltin().Names(), Features: cluster.KnownFeatures})
	if err != nil {
		panic(err)
	}
	dir, _ := state.DefaultDir()
	store, err := state.Open(dir)
	if err != nil {
		panic(err)
	}
	eng = &engine.Engine{Catalog: cat, Clusters: cluster.New(log), Store: store, Log: log}
	code := m.Run()
	// Whatever failed, leave no seclab cluster behind.
	if names, err := eng.Down(context.Background(), true); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: %v (deleted %v)\n", err, names)
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

// run invokes the CLI in-process and returns stdout, stderr and exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	code := cli.Main(ctx, append([]string{"seclab"}, args...), &out, &errb)
	t.Logf("$ seclab %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return out.String(), errb.String(), code
}

func checkJSON(t *testing.T, args ...string) ([]engine.StepReport, int) {
	t.Helper()
	out, _, code := run(t, append([]string{"check", "-o", "json"}, args...)...)
	var reports []engine.StepReport
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("check -o json output is not JSON: %v\n%s", err, out)
	}
	return reports, code
}

func describe(r engine.StepReport) string {
	var b strings.Builder
	for _, res := range r.Results {
		fmt.Fprintf(&b, "\n  [%s] %s: expected %q found %q", res.Status, res.Name, res.Expected, res.Found)
	}
	return b.String()
}

// mutantPlan is SECLAB_MUTANTS (all, none or sample=N); by default a fixed
// sample of each lab's mutants keeps the suite within its time budget
// (make mutants runs them all).
func mutantPlan(t *testing.T) engine.MutantPlan {
	s := os.Getenv("SECLAB_MUTANTS")
	if s == "" {
		return engine.MutantPlan{Sample: engine.DefaultMutantSample}
	}
	p, err := engine.ParseMutantPlan(s)
	if err != nil {
		t.Fatalf("SECLAB_MUTANTS: %v", err)
	}
	return p
}

// selfTest is the per-lab contract on a real cluster (engine.SelfTest, the
// same as seclab lab test): near-misses always, mutants as mutantPlan says.
func selfTest(t *testing.T, id string) {
	ctx := context.Background()
	report, err := eng.SelfTest(ctx, id, engine.SelfTestOptions{Mutants: mutantPlan(t)})
	if report != nil {
		for _, s := range report.Steps {
			for _, tr := range append(append([]engine.Trial{}, s.NearMisses...), s.Mutants...) {
				t.Logf("step %d %s %s: %s %s %v", s.Step, tr.ID, tr.Name, tr.Outcome, tr.Reason, tr.CaughtBy)
			}
		}
		for _, p := range report.Problems {
			t.Error(p)
		}
	}
	if err != nil {
		t.Fatalf("self-test of %s could not run: %v", id, err)
	}

	t.Run("status shows the lab done", func(t *testing.T) {
		out, _, code := run(t, "status", "-o", "json")
		if code != 0 {
			t.Fatalf("status exit %d", code)
		}
		var v struct {
			Lab  string
			Next int
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Lab != id || v.Next != 0 {
			t.Errorf("status after all solutions: %+v (%v)", v, err)
		}
	})
}

// TestNetpol runs first: its cluster (profile netpol) also serves the
// default-profile labs, so they reuse it.
func TestNetpol(t *testing.T) {
	selfTest(t, "netpol")

	t.Run("reset returns the lab to step 1", func(t *testing.T) {
		if _, _, code := run(t, "reset"); code != 0 {
			t.Fatalf("reset exit %d", code)
		}
		reports, code := checkJSON(t)
		if code != 1 || reports[0].Step != 1 || reports[0].Passed {
			t.Fatalf("after reset, check should fail on step 1 (exit 1), got exit %d step %d", code, reports[0].Step)
		}
	})

	t.Run("reset --step 3 resumes with steps 1-2 solved", func(t *testing.T) {
		if _, _, code := run(t, "reset", "--step", "3"); code != 0 {
			t.Fatalf("reset --step 3 exit %d", code)
		}
		reports, code := checkJSON(t)
		if code != 1 || reports[0].Step != 3 || reports[0].Passed {
			t.Fatalf("after reset --step 3, check should fail on step 3 (exit 1), got exit %d step %d", code, reports[0].Step)
		}
		// Step 2's state is in place (step 1's traffic check no longer
		// holds by design: deny-all blocks it).
		if reports, code := checkJSON(t, "2"); code != 0 || !reports[0].Passed {
			t.Errorf("step 2 should hold after reset --step 3: exit %d%s", code, describe(reports[0]))
		}
		out, _, _ := run(t, "status", "-o", "json")
		var v struct{ Next int }
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Next != 3 {
			t.Errorf("status next = %d, want 3 (%v)", v.Next, err)
		}
	})
}

func TestSecrets(t *testing.T) {
	selfTest(t, "secrets")

	t.Run("a wrong answer says what is wrong", func(t *testing.T) {
		out, _, code := run(t, "answer", "--step", "4", "bXlzdXBlcnNlY3JldHBhc3N3b3Jk")
		if code != 1 || !strings.Contains(out, "✗") {
			t.Fatalf("wrong answer: exit %d, output:\n%s", code, out)
		}
		if strings.Contains(out, "mysupersecretpassword") {
			t.Errorf("the failure text leaks the expected secret value:\n%s", out)
		}
	})
}

// TestEveryOtherLab gives each lab added later the same self-test, with no
// Go code to write.
func TestEveryOtherLab(t *testing.T) {
	covered := map[string]bool{"netpol": true, "secrets": true, "pss-cluster": true, "components": true}
	var labs []*catalog.Lab
	for _, l := range eng.Catalog.Labs() {
		if !covered[l.ID] {
			labs = append(labs, l)
		}
	}
	// Labs of one profile run one after the other, so that each cluster of
	// a profile of its own is deleted when its last lab is done.
	sort.SliceStable(labs, func(i, j int) bool { return labs[i].Profile < labs[j].Profile })
	for i, l := range labs {
		t.Run(l.ID, func(t *testing.T) { selfTest(t, l.ID) })
		if i == len(labs)-1 || labs[i+1].Profile != l.Profile {
			deleteOwnCluster(t, l.Profile)
		}
	}
}

// deleteOwnCluster deletes the cluster of profile name unless it is the
// one the default labs share: on two cores, idle control planes slow
// every later test down.
func deleteOwnCluster(t *testing.T, name string) {
	t.Helper()
	profiles := cluster.MustBuiltin()
	def, err := profiles.Get("default")
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	image := cluster.NodeImage("")
	if p.Hash(image) == def.Hash(image) {
		return
	}
	if err := eng.Clusters.Delete(context.Background(), p.ClusterName()); err != nil {
		t.Errorf("deleting %s: %v", p.ClusterName(), err)
	}
}

// TestCLIErrors: bad input gets one line and a non-zero exit.
func TestCLIErrors(t *testing.T) {
	_, errOut, code := run(t, "start", "no-such-lab")
	if code != cli.ExitUsage || !strings.Contains(errOut, "valid labs:") || !strings.Contains(errOut, "netpol") {
		t.Errorf("unknown lab: exit %d, stderr %q", code, errOut)
	}
	if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 {
		t.Errorf("unknown lab error is %d lines, want 1", n+1)
	}
}

// TestDownAllSparesForeignClusters creates a kind cluster that is not
// seclab's — with seclab's name prefix, the strongest decoy — and checks
// that down --all deletes seclab's clusters and leaves it alone.
func TestDownAllSparesForeignClusters(t *testing.T) {
	const foreign = "seclab-foreign-e2e"
	if err := createForeign(foreign); err != nil {
		t.Fatalf("creating foreign cluster: %v", err)
	}
	defer deleteForeign(foreign)

	before, err := eng.Clusters.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range before {
		if c.Name == foreign {
			t.Fatalf("foreign cluster listed as seclab's: %+v", c)
		}
	}
	out, _, code := run(t, "down", "--all")
	if code != 0 {
		t.Fatalf("down --all exit %d", code)
	}
	if strings.Contains(out, foreign) {
		t.Errorf("down --all touched the foreign cluster:\n%s", out)
	}
	after, err := eng.Clusters.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 0 {
		t.Errorf("seclab clusters left after down --all: %+v", after)
	}
	if !foreignExists(foreign) {
		t.Errorf("foreign cluster %s was deleted", foreign)
	}
	if _, _, code := run(t, "check"); code == 0 {
		t.Errorf("check after down should fail (no lab), got exit 0")
	}
}

func foreignKubeconfig() string { return filepath.Join(os.TempDir(), "seclab-e2e-foreign.kubeconfig") }

func createForeign(name string) error {
	if kindtest.Exists(name) {
		return nil
	}
	return kindtest.Create(name, foreignKubeconfig())
}

func deleteForeign(name string) {
	if err := kindtest.Delete(name, foreignKubeconfig()); err != nil {
		fmt.Fprintf(os.Stderr, "deleting foreign cluster %s: %v\n", name, err)
	}
	os.Remove(foreignKubeconfig())
}

func foreignExists(name string) bool { return kindtest.Exists(name) }
