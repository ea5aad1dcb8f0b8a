package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Get tells a cluster deleted behind seclab's back from one with stopped
// nodes, naming them.
func TestGetSaysGoneOrWhichNodesStopped(t *testing.T) {
	m, d, _ := newFakeManager()
	var gone *NotFoundError
	if _, err := m.Get(ctx, "seclab-netpol"); !errors.As(err, &gone) || err.Error() != "cluster seclab-netpol no longer exists" {
		t.Errorf("no cluster: %v", err)
	}
	d.addSeclab("netpol", true)
	if info, err := m.Get(ctx, "seclab-netpol"); err != nil || !info.Running || !reflect.DeepEqual(info.NodeNames, []string{"seclab-netpol-control-plane", "seclab-netpol-worker"}) {
		t.Errorf("running: %+v %v", info, err)
	}
	d.byName("seclab-netpol-worker").running = false
	var stopped *StoppedError
	_, err := m.Get(ctx, "seclab-netpol")
	if !errors.As(err, &stopped) || err.Error() != "node seclab-netpol-worker of cluster seclab-netpol is stopped" {
		t.Errorf("worker stopped: %v", err)
	}
	d.setRunning("seclab-netpol", false)
	if _, err := m.Get(ctx, "seclab-netpol"); err == nil || err.Error() != "nodes seclab-netpol-control-plane, seclab-netpol-worker of cluster seclab-netpol are stopped" {
		t.Errorf("all stopped: %v", err)
	}
}

// With no running cluster for a profile, Find hands out a stopped one
// (start brings it back) before nothing.
func TestFindFallsBackToStoppedCluster(t *testing.T) {
	m, d, _ := newFakeManager()
	d.addSeclab("default", false)
	d.addSeclab("netpol", false)
	info, ok, err := m.Find(ctx, mustProfile(t, "netpol"), testImage)
	if err != nil || !ok || info.Name != "seclab-netpol" || info.Running {
		t.Errorf("Find = %+v %v %v; want the stopped seclab-netpol", info, ok, err)
	}
	d.setRunning("seclab-default", true)
	if info, _, _ := m.Find(ctx, mustProfile(t, "netpol"), testImage); info.Name != "seclab-default" || !info.Running {
		t.Errorf("Find = %+v; want the running cluster that covers netpol", info)
	}
}

func TestStartNodesStartsTheStoppedOnes(t *testing.T) {
	m, d, _ := newFakeManager()
	d.addSeclab("netpol", true)
	cp, w := d.byName("seclab-netpol-control-plane"), d.byName("seclab-netpol-worker")
	cpStarted := cp.started.Add(-time.Hour)
	cp.started = cpStarted
	w.running = false

	info, err := m.StartNodes(ctx, "seclab-netpol")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Running || len(info.Stopped) != 0 || !w.running {
		t.Errorf("after StartNodes: %+v, worker running %v", info, w.running)
	}
	if !cp.started.Equal(cpStarted) {
		t.Error("the running control plane was restarted")
	}
	if got := info.StartedAt["seclab-netpol-worker"]; !got.Equal(w.started) {
		t.Errorf("worker StartedAt %v, want its new start %v", got, w.started)
	}

	w.running = false
	w.startErr = errors.New("Bind for 127.0.0.1:44575 failed: port is already allocated")
	if _, err := m.StartNodes(ctx, "seclab-netpol"); err == nil || !strings.Contains(err.Error(), "starting node container seclab-netpol-worker: Bind") {
		t.Errorf("failed start: %v", err)
	}
	var gone *NotFoundError
	if _, err := m.StartNodes(ctx, "seclab-default"); !errors.As(err, &gone) {
		t.Errorf("no such cluster: %v", err)
	}
}

// readdressable gives the cluster's containers fake kind nodes whose
// address script rewrites the kubelet flags, as the real one does.
func readdressable(d *fakeDocker, k *fakeKind, cluster string) map[string][]string {
	ran := map[string][]string{}
	k.nodes = nil
	for _, c := range d.containers {
		if c.labels[kindClusterLabel] != cluster {
			continue
		}
		c := c
		k.nodes = append(k.nodes, &fakeNode{name: c.name, role: c.labels[kindRoleLabel], readdress: func(was, now string) error {
			ran[c.name] = append(ran[c.name], was+" -> "+now)
			c.files[kubeletFlags] = strings.ReplaceAll(c.files[kubeletFlags], was, now)
			return nil
		}})
	}
	return ran
}

// Nodes that came back from a restart with swapped addresses are each
// moved to their new one; nodes whose address did not change, stopped
// ones and ones not set up yet are left alone.
func TestReaddressFixesNodesWhoseAddressChanged(t *testing.T) {
	m, d, k := newFakeManager()
	d.addSeclab("netpol", true)
	ran := readdressable(d, k, "seclab-netpol")
	if fixed, err := m.Readdress(ctx, "seclab-netpol"); err != nil || len(fixed) != 0 || len(ran) != 0 {
		t.Fatalf("unchanged addresses: fixed %v, ran %v, err %v", fixed, ran, err)
	}

	cp, w := d.byName("seclab-netpol-control-plane"), d.byName("seclab-netpol-worker")
	cp.ip, w.ip = w.ip, cp.ip // as after a docker restart here
	fixed, err := m.Readdress(ctx, "seclab-netpol")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"seclab-netpol-control-plane: 172.18.0.2 -> 172.18.0.3", "seclab-netpol-worker: 172.18.0.3 -> 172.18.0.2"}
	if !reflect.DeepEqual(fixed, want) {
		t.Errorf("fixed %q, want %q", fixed, want)
	}
	if fixed, err := m.Readdress(ctx, "seclab-netpol"); err != nil || len(fixed) != 0 {
		t.Errorf("second Readdress: %v %v; want nothing left to fix", fixed, err)
	}
	if n := len(ran["seclab-netpol-control-plane"]) + len(ran["seclab-netpol-worker"]); n != 2 {
		t.Errorf("script ran %d times: %v", n, ran)
	}

	// a stopped node and one never set up (no kubelet flags) are skipped
	w.running = false
	cp.ip = "172.18.0.9"
	delete(cp.files, kubeletFlags)
	if fixed, err := m.Readdress(ctx, "seclab-netpol"); err != nil || len(fixed) != 0 {
		t.Errorf("nothing to fix: %v %v", fixed, err)
	}
}

func TestReaddressFailureNamesNodeAndAddresses(t *testing.T) {
	m, d, k := newFakeManager()
	d.addSeclab("netpol", true)
	d.byName("seclab-netpol-control-plane").ip = "172.18.0.7"
	k.nodes = []nodes.Node{&fakeNode{name: "seclab-netpol-control-plane", role: "control-plane",
		readdress: func(string, string) error { return errors.New("kubeadm: certificate error") }}}
	_, err := m.Readdress(ctx, "seclab-netpol")
	if err == nil || !strings.Contains(err.Error(), "node seclab-netpol-control-plane: moving Kubernetes from address 172.18.0.2 to 172.18.0.7") ||
		!strings.Contains(err.Error(), "kubeadm: certificate error") {
		t.Errorf("err = %v", err)
	}
}

const kindKubeconfig = `apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://127.0.0.1:44575
  name: kind-seclab-netpol
contexts:
- context:
    cluster: kind-seclab-netpol
    user: kind-seclab-netpol
  name: kind-seclab-netpol
current-context: kind-seclab-netpol
users:
- name: kind-seclab-netpol
  user:
    token: x
`

// The learner's context is written again only when it is missing or
// points elsewhere, and the message says which.
func TestEnsureKubeConfig(t *testing.T) {
	m, _, k := newFakeManager()
	k.kubeconfig = kindKubeconfig
	m.KubeconfigPath = filepath.Join(t.TempDir(), "config")

	msg, err := m.EnsureKubeConfig("seclab-netpol")
	if err != nil || msg != "kubectl context kind-seclab-netpol was missing; wrote it again to "+m.KubeconfigPath {
		t.Fatalf("missing file: %q %v", msg, err)
	}
	if msg, err := m.EnsureKubeConfig("seclab-netpol"); err != nil || msg != "" {
		t.Errorf("context in place: %q %v; want nothing done", msg, err)
	}

	cfg, err := clientcmd.LoadFromFile(m.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters["kind-seclab-netpol"].Server = "https://127.0.0.1:39999"
	if err := clientcmd.WriteToFile(*cfg, m.KubeconfigPath); err != nil {
		t.Fatal(err)
	}
	msg, _ = m.EnsureKubeConfig("seclab-netpol")
	if !strings.Contains(msg, "pointed at https://127.0.0.1:39999, not the cluster's https://127.0.0.1:44575") {
		t.Errorf("stale server: %q", msg)
	}

	delete(cfg.Contexts, "kind-seclab-netpol")
	cfg.Clusters["kind-seclab-netpol"].Server = "https://127.0.0.1:44575"
	if err := clientcmd.WriteToFile(*cfg, m.KubeconfigPath); err != nil {
		t.Fatal(err)
	}
	if msg, _ := m.EnsureKubeConfig("seclab-netpol"); !strings.Contains(msg, "was missing") {
		t.Errorf("context removed: %q", msg)
	}
	if exports := strings.Count(strings.Join(k.calls, ","), "export"); exports != 3 {
		t.Errorf("%d exports, want 3 (one per problem): %q", exports, k.calls)
	}
}

// With $KUBECONFIG listing several files, a context in any of them is
// found, as kubectl would.
func TestEnsureKubeConfigReadsEveryKubeconfigFile(t *testing.T) {
	m, _, k := newFakeManager()
	k.kubeconfig = kindKubeconfig
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(second, []byte(kindKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", first+string(os.PathListSeparator)+second)
	if msg, err := m.EnsureKubeConfig("seclab-netpol"); err != nil || msg != "" {
		t.Errorf("context in the second file: %q %v", msg, err)
	}
	if len(k.calls) != 0 {
		t.Errorf("kind called: %q", k.calls)
	}
}
