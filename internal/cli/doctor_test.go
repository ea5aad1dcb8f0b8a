package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
	"github.com/seclab/seclab/labs"
)

func sampleReport() doctorReport {
	return doctorReport{
		Machine: []finding{
			{Name: "docker engine", OK: true, Required: true, Detail: "reachable"},
			{Name: "AppArmor", OK: false, Required: false, Detail: "not in this kernel"},
		},
		Cluster: &clusterReport{Name: "seclab-netpol", Enforcement: []engine.CanaryResult{
			{Name: "networkpolicy", Title: "NetworkPolicy enforced", Enforced: engine.Enforced, Evidence: "before any policy: HTTP 200 (connection allowed); with a deny-all policy: connection timed out after 3s"},
			{Name: "seccomp", Title: "seccomp RuntimeDefault", Enforced: engine.Unknown, Evidence: "the control check failed — Unconfined pod, unshare -U: exit code 1"},
			{Name: "apparmor", Title: "AppArmor", Enforced: engine.NotEnforced, Evidence: "every node: node seclab-netpol-control-plane: exit code 1"},
		}},
	}
}

func TestDoctorPrintsTheEnforcementTable(t *testing.T) {
	var b bytes.Buffer
	printDoctor(&b, sampleReport())
	got := b.String()
	for _, want := range []string{
		"✓ docker engine  reachable\n- AppArmor       not in this kernel\n",
		"\nEnforcement on cluster seclab-netpol:\n",
		"MECHANISM               ENFORCED  EVIDENCE\n",
		"NetworkPolicy enforced  yes       before any policy: HTTP 200 (connection allowed); with a deny-all policy: connection timed out after 3s\n",
		"seccomp RuntimeDefault  unknown   the control check failed — Unconfined pod, unshare -U: exit code 1\n",
		"AppArmor                no        every node: node seclab-netpol-control-plane: exit code 1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, got)
		}
	}
}

func TestDoctorSaysWhyThereIsNoTable(t *testing.T) {
	var b bytes.Buffer
	printDoctor(&b, doctorReport{})
	if !strings.Contains(b.String(), "No seclab cluster to test for enforcement (start a lab, or pass --cluster NAME)") {
		t.Errorf("no cluster: %q", b.String())
	}
	b.Reset()
	printDoctor(&b, doctorReport{Cluster: &clusterReport{Name: "seclab-default", Skipped: "cluster seclab-default is gone"}})
	if got := b.String(); !strings.Contains(got, "Enforcement on cluster seclab-default: not tested: cluster seclab-default is gone\n") || strings.Contains(got, "MECHANISM") {
		t.Errorf("skipped cluster: %q", got)
	}
}

func TestDoctorJSONCarriesTheSameData(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Machine []finding `json:"machine"`
		Cluster struct {
			Name        string `json:"name"`
			Enforcement []struct {
				Name, Title, Enforced, Evidence string
			} `json:"enforcement"`
		} `json:"cluster"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if len(got.Machine) != 2 || got.Cluster.Name != "seclab-netpol" || len(got.Cluster.Enforcement) != 3 {
		t.Fatalf("JSON: %s", b.String())
	}
	nf := got.Cluster.Enforcement[0]
	if nf.Name != "networkpolicy" || nf.Title != "NetworkPolicy enforced" || nf.Enforced != "yes" || !strings.HasPrefix(nf.Evidence, "before any policy") {
		t.Errorf("networkpolicy row: %+v", nf)
	}
	if got.Cluster.Enforcement[2].Enforced != "no" || got.Cluster.Enforcement[1].Enforced != "unknown" {
		t.Errorf("verdicts: %+v", got.Cluster.Enforcement)
	}
}

// stoppedClusters is a cluster layer where no cluster runs.
type stoppedClusters struct{}

func (stoppedClusters) Find(context.Context, *cluster.Profile, string) (cluster.Info, bool, error) {
	return cluster.Info{}, false, nil
}
func (stoppedClusters) Create(context.Context, *cluster.Profile, string) (cluster.Info, error) {
	return cluster.Info{}, errors.New("not in this test")
}
func (stoppedClusters) Get(_ context.Context, name string) (cluster.Info, error) {
	return cluster.Info{}, errors.New("cluster " + name + " is gone")
}
func (stoppedClusters) List(context.Context) ([]cluster.Info, error) { return nil, nil }
func (stoppedClusters) Delete(context.Context, string) error         { return nil }
func (stoppedClusters) EnsureKubeConfig(string) (string, error)      { return "", nil }
func (stoppedClusters) StartNodes(context.Context, string) (cluster.Info, error) {
	return cluster.Info{}, errors.New("not in this test")
}
func (stoppedClusters) Readdress(context.Context, string) ([]string, error) { return nil, nil }
func (stoppedClusters) KernelFeatures(context.Context) (map[string]bool, error) {
	return map[string]bool{}, nil
}
func (stoppedClusters) RESTConfig(string) (*rest.Config, error) { return &rest.Config{}, nil }
func (stoppedClusters) NodeRunner(string) verify.NodeRunner     { return nil }
func (stoppedClusters) LoadImages(context.Context, string, []string) ([]cluster.LoadResult, error) {
	return nil, nil
}
func (stoppedClusters) ImageDigest(context.Context, string, string) (string, error) {
	return "", errors.New("not in this test")
}

func TestDoctorPicksTheClusterToTest(t *testing.T) {
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(labs.FS, catalog.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{Catalog: cat, Clusters: stoppedClusters{}, Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()

	if rep, err := enforcement(ctx, e, "", true); rep != nil || err != nil {
		t.Errorf("no lab, no --cluster: %+v, %v", rep, err)
	}
	// --cluster names a cluster that is not running: an error, and said.
	rep, err := enforcement(ctx, e, "seclab-x", true)
	if err == nil || rep == nil || rep.Name != "seclab-x" || !strings.Contains(rep.Skipped, "gone") {
		t.Errorf("--cluster on a gone cluster: %+v, %v", rep, err)
	}
	// The active lab's cluster is gone: only noted.
	_ = store.Update(func(s *state.State) error {
		s.StartLab("secrets", "seclab-default", "kind-seclab-default", time.Now())
		return nil
	})
	rep, err = enforcement(ctx, e, "", true)
	if err != nil || rep == nil || rep.Name != "seclab-default" || !strings.Contains(rep.Skipped, "gone") {
		t.Errorf("active lab's cluster gone: %+v, %v", rep, err)
	}
	rep, err = enforcement(ctx, e, "", false)
	if err != nil || rep == nil || rep.Skipped != cluster.ErrDockerUnavailable.Error() {
		t.Errorf("no docker: %+v, %v", rep, err)
	}
}
