package cluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kinderrors "sigs.k8s.io/kind/pkg/errors"
	kindexec "sigs.k8s.io/kind/pkg/exec"
)

var ctx = context.Background()

func mustProfile(t *testing.T, name string) *Profile {
	t.Helper()
	ps, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ps.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func names(infos []Info) []string {
	var out []string
	for _, i := range infos {
		out = append(out, fmt.Sprintf("%s(%s,running=%v,nodes=%d)", i.Name, i.Profile, i.Running, i.Nodes))
	}
	return out
}

func TestFindPicksRunningClusterServingTheLab(t *testing.T) {
	m, d, _ := newFakeManager()
	d.addSeclab("default", true)
	d.addSeclab("netpol", false) // stopped: never handed out
	d.addForeign("seclab-foo", true)
	d.addForeign("kind", true)

	find := func(want string) string {
		t.Helper()
		p := otherProfile(t)
		if want != "other" {
			p = mustProfile(t, want)
		}
		info, ok, err := m.Find(ctx, p, testImage)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ""
		}
		return info.Name
	}
	// netpol's own cluster is stopped; default's has the same content
	if got := find("netpol"); got != "seclab-default" {
		t.Errorf("Find(netpol) = %q, want seclab-default", got)
	}
	if got := find("default"); got != "seclab-default" {
		t.Errorf("Find(default) = %q, want seclab-default", got)
	}
	if got := find("other"); got != "" {
		t.Errorf("Find(other) = %q: no cluster has its hash", got)
	}

	// with both running, each profile gets its own cluster
	d.setRunning("seclab-netpol", true)
	if got := find("netpol"); got != "seclab-netpol" {
		t.Errorf("Find(netpol) = %q, want the exact profile's cluster", got)
	}
	if got := find("default"); got != "seclab-default" {
		t.Errorf("Find(default) = %q, want the exact profile's cluster", got)
	}

	// only netpol's cluster left: it serves default labs too
	d.setRunning("seclab-default", false)
	if got := find("default"); got != "seclab-netpol" {
		t.Errorf("Find(default) = %q, want seclab-netpol (same content as default)", got)
	}
}

func TestListShowsOnlySeclabClusters(t *testing.T) {
	m, d, _ := newFakeManager()
	d.addSeclab("netpol", true)
	d.addSeclab("default", false)
	d.addForeign("seclab-foo", true)
	// the label alone is not enough: the name must have seclab's prefix
	d.addNodes("kind", testConfig(mustProfile(t, "netpol")), true)

	got, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"seclab-default(default,running=false,nodes=2)", "seclab-netpol(netpol,running=true,nodes=2)"}
	if !reflect.DeepEqual(names(got), want) {
		t.Errorf("List = %v, want %v", names(got), want)
	}
	if got[1].Context != "kind-seclab-netpol" {
		t.Errorf("context %q", got[1].Context)
	}
}

func TestCreateReplacesStoppedSeclabCluster(t *testing.T) {
	m, d, k := newFakeManager()
	d.addSeclab("netpol", true)
	d.containers[1].running = false // the worker died with a docker restart

	if found, ok, _ := m.Find(ctx, mustProfile(t, "netpol"), testImage); !ok || found.Running || !reflect.DeepEqual(found.Stopped, []string{"seclab-netpol-worker"}) {
		t.Fatalf("Find = %+v %v; want the cluster, not running, naming its stopped worker", found, ok)
	}
	info, err := m.Create(ctx, mustProfile(t, "netpol"), testImage)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"delete seclab-netpol", "create seclab-netpol " + testImage}; !reflect.DeepEqual(k.calls, want) {
		t.Errorf("kind calls %q, want %q", k.calls, want)
	}
	for i, n := range k.configs[0].Nodes {
		if n.Labels[ProfileLabel] != "netpol" {
			t.Errorf("created node %d lacks the profile label: %v", i, n.Labels)
		}
	}
	if info.Name != "seclab-netpol" || info.Profile != "netpol" || !info.Running || info.Nodes != 2 {
		t.Errorf("Create returned %+v", info)
	}
	found, ok, err := m.Find(ctx, mustProfile(t, "netpol"), testImage)
	if err != nil || !ok || found.Name != info.Name || found.Profile != info.Profile || !found.Running || found.Nodes != info.Nodes {
		t.Errorf("after replacing: Find = %+v %v %v, want %+v", found, ok, err, info)
	}
}

func TestCreateNew(t *testing.T) {
	m, _, k := newFakeManager()
	if _, err := m.Create(ctx, mustProfile(t, "default"), testImage); err != nil {
		t.Fatal(err)
	}
	if want := []string{"create seclab-default " + testImage}; !reflect.DeepEqual(k.calls, want) {
		t.Errorf("kind calls %q, want %q", k.calls, want)
	}
}

func TestCreateNeedsTheNodeImage(t *testing.T) {
	m, _, k := newFakeManager()
	_, err := m.Create(ctx, mustProfile(t, "default"), "kindest/node:absent")
	if err == nil || !strings.Contains(err.Error(), "make images") {
		t.Errorf("err = %v, want the missing image and its fix", err)
	}
	if len(k.calls) > 0 {
		t.Errorf("kind called without the image (it would try to pull): %q", k.calls)
	}
}

// A plain kind cluster whose name merely starts with seclab- is not
// seclab's: never listed, found, deleted or replaced.
func TestForeignClusterIsLeftAlone(t *testing.T) {
	m, d, k := newFakeManager()
	d.addForeign("seclab-foo", true)
	d.addForeign("seclab-netpol", false)

	if list, err := m.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want nothing", names(list), err)
	}
	if info, ok, err := m.Find(ctx, mustProfile(t, "default"), testImage); err != nil || ok {
		t.Errorf("Find = %+v %v %v; want nothing", info, ok, err)
	}
	if _, err := m.Get(ctx, "seclab-foo"); err == nil {
		t.Error("Get returned a foreign cluster")
	}
	if err := m.Delete(ctx, "seclab-foo"); err == nil || !strings.Contains(err.Error(), "not a cluster seclab created") {
		t.Errorf("Delete(seclab-foo) = %v, want a refusal", err)
	}
	_, err := m.Create(ctx, mustProfile(t, "netpol"), testImage)
	if err == nil || !strings.Contains(err.Error(), "was not created by seclab") {
		t.Errorf("Create over a foreign seclab-netpol = %v, want a refusal", err)
	}
	if len(k.calls) > 0 {
		t.Errorf("kind was asked to touch a foreign cluster: %q", k.calls)
	}
	if len(d.containers) != 4 {
		t.Errorf("%d node containers left, want 4", len(d.containers))
	}
}

// Ownership comes from a file read through the docker API, which works on
// stopped containers: a stopped seclab cluster stays seclab's, so it can be
// told apart, deleted and replaced.
func TestOwnershipOfStoppedCluster(t *testing.T) {
	m, d, k := newFakeManager()
	d.addSeclab("netpol", false)

	list, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"seclab-netpol(netpol,running=false,nodes=2)"}; !reflect.DeepEqual(names(list), want) {
		t.Errorf("List = %v, want %v", names(list), want)
	}
	if _, err := m.Get(ctx, "seclab-netpol"); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("Get of a stopped cluster = %v, want 'stopped'", err)
	}
	if err := m.Delete(ctx, "seclab-netpol"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"delete seclab-netpol"}; !reflect.DeepEqual(k.calls, want) {
		t.Errorf("kind calls %q, want %q", k.calls, want)
	}
	if err := m.Delete(ctx, "seclab-netpol"); err != nil {
		t.Errorf("deleting a cluster already gone: %v", err)
	}
	if len(k.calls) != 1 {
		t.Errorf("kind asked to delete a cluster that is gone: %q", k.calls)
	}
}

// A failure to read the marker is "could not tell", never "not ours".
func TestOwnershipUnreadable(t *testing.T) {
	m, d, k := newFakeManager()
	d.addSeclab("netpol", true)
	d.copyErr = errors.New("engine hiccup")
	if _, err := m.List(ctx); err == nil || !strings.Contains(err.Error(), "engine hiccup") {
		t.Errorf("List = %v, want the read error", err)
	}
	if _, err := m.Create(ctx, mustProfile(t, "netpol"), testImage); err == nil || strings.Contains(err.Error(), "not created by seclab") {
		t.Errorf("Create = %v, want the read error, not a foreign-cluster verdict", err)
	}
	if len(k.calls) > 0 {
		t.Errorf("kind called: %q", k.calls)
	}

	// a control plane without kind's kubeadm config was not made by kind
	// create for seclab
	d.copyErr = nil
	delete(d.containers[0].files, kubeadmConfig)
	if list, err := m.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want nothing", names(list), err)
	}
}

func TestDockerDown(t *testing.T) {
	m, d, k := newFakeManager()
	d.addSeclab("netpol", true)
	d.down = true
	noClient := &Manager{kind: k, log: m.log} // New could not make a client

	for _, mm := range []*Manager{m, noClient} {
		_, err1 := mm.List(ctx)
		_, _, err2 := mm.Find(ctx, mustProfile(t, "netpol"), testImage)
		_, err3 := mm.Get(ctx, "seclab-netpol")
		_, err4 := mm.Create(ctx, mustProfile(t, "netpol"), testImage)
		err5 := mm.Delete(ctx, "seclab-netpol")
		_, err6 := mm.LoadImages(ctx, "seclab-netpol", []string{"nginx:1.27"})
		_, err7 := mm.StartNodes(ctx, "seclab-netpol")
		_, err8 := mm.Readdress(ctx, "seclab-netpol")
		for i, err := range []error{mm.Ping(ctx), err1, err2, err3, err4, err5, err6, err7, err8} {
			if !errors.Is(err, ErrDockerUnavailable) {
				t.Errorf("call %d: err = %v, want ErrDockerUnavailable", i, err)
			}
		}
	}
	if len(k.calls) > 0 {
		t.Errorf("kind called with docker down: %q", k.calls)
	}
	if ok, err := imagePresent(ctx, d, testImage); ok || !errors.Is(err, ErrDockerUnavailable) {
		t.Errorf("imagePresent = %v, %v", ok, err)
	}
}

func kindRunError(lines int) error {
	var out strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&out, "kubeadm line %d\n", i)
	}
	// as kind reports a failed kubeadm init: a RunError wrapped with context
	return kinderrors.Wrap(&kindexec.RunError{
		Command: []string{"docker", "exec", "--privileged", "seclab-netpol-control-plane", "kubeadm", "init"},
		Output:  []byte(out.String()),
		Inner:   errors.New("exit status 1"),
	}, "failed to init node with kubeadm")
}

func TestCreateErrorShowsCommandOutput(t *testing.T) {
	msg := createError("seclab-netpol", kindRunError(30)).Error()
	for _, want := range []string{
		"creating cluster seclab-netpol: failed to init node with kubeadm: command \"docker exec --privileged seclab-netpol-control-plane kubeadm init\" failed with error: exit status 1",
		"output of the failing command (last 20 of 30 lines):\n  kubeadm line 11\n",
		"\n  kubeadm line 30",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "kubeadm line 10\n") {
		t.Errorf("more than the last 20 lines:\n%s", msg)
	}
	if strings.HasSuffix(msg, "\n") {
		t.Errorf("trailing newline: %q", msg)
	}

	short := createError("seclab-netpol", kindRunError(2)).Error()
	if !strings.HasSuffix(short, "output of the failing command (2 lines):\n  kubeadm line 1\n  kubeadm line 2") {
		t.Errorf("short output:\n%s", short)
	}
	plain := createError("seclab-netpol", errors.New("boom"))
	if plain.Error() != "creating cluster seclab-netpol: boom" {
		t.Errorf("not a command error: %q", plain)
	}
}

func TestCreateFailureReported(t *testing.T) {
	m, _, k := newFakeManager()
	k.createErr = kindRunError(3)
	_, err := m.Create(ctx, mustProfile(t, "netpol"), testImage)
	if err == nil || !strings.Contains(err.Error(), "kubeadm init") || !strings.Contains(err.Error(), "  kubeadm line 3") {
		t.Errorf("err = %v, want the command and its output", err)
	}
}

// LoadImages copies an image only into the nodes whose containerd lacks
// that exact image ID, and tells loaded, current and missing apart.
func TestLoadImages(t *testing.T) {
	m, d, k := newFakeManager()
	d.images["nginx:1.27"] = "sha256:nginx-new"
	d.images["busybox:1.36"] = "sha256:bb"
	cp := &fakeNode{name: "seclab-netpol-control-plane", role: "control-plane", images: map[string]string{
		"docker.io/library/nginx:1.27": "sha256:nginx-old", "docker.io/library/busybox:1.36": "sha256:bb"}}
	w := &fakeNode{name: "seclab-netpol-worker", role: "worker", images: map[string]string{
		"docker.io/library/busybox:1.36": "sha256:bb"}}
	k.nodes = []nodes.Node{w, cp}

	got, err := m.LoadImages(ctx, "seclab-netpol", []string{"nginx:1.27", "busybox:1.36", "absent:1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []LoadResult{{Image: "nginx:1.27", Loaded: true}, {Image: "busybox:1.36", Current: true}, {Image: "absent:1", Missing: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results %+v, want %+v", got, want)
	}
	for _, n := range []*fakeNode{cp, w} {
		if !reflect.DeepEqual(n.imports, []string{"nginx:1.27"}) {
			t.Errorf("%s imported %q, want only nginx:1.27", n.name, n.imports)
		}
		if id := n.images["docker.io/library/nginx:1.27"]; id != "sha256:nginx-new" {
			t.Errorf("%s has nginx %s after loading", n.name, id)
		}
	}

	// Loaded or current, each image gets its digest name (as a pull would
	// record it), so that a pod pinned by digest finds it on the node.
	for _, n := range []*fakeNode{cp, w} {
		want := []string{"docker.io/library/nginx@" + manifestDigest("sha256:nginx-new"), "docker.io/library/busybox@" + manifestDigest("sha256:bb")}
		if !reflect.DeepEqual(n.tags, want) {
			t.Errorf("%s named %q, want %q", n.name, n.tags, want)
		}
	}

	again, err := m.LoadImages(ctx, "seclab-netpol", []string{"nginx:1.27"})
	if err != nil || !reflect.DeepEqual(again, []LoadResult{{Image: "nginx:1.27", Current: true}}) {
		t.Errorf("second load: %+v, %v; want current", again, err)
	}
	if len(cp.imports)+len(w.imports) != 2 {
		t.Errorf("an image already there was loaded again: %q %q", cp.imports, w.imports)
	}
	if len(cp.tags)+len(w.tags) != 4 {
		t.Errorf("an image already named by digest was named again: %q %q", cp.tags, w.tags)
	}
}

// ImageDigest is the manifest digest every node holds for an image; a node
// without it, or nodes that disagree, are errors that say which node.
func TestImageDigest(t *testing.T) {
	m, _, k := newFakeManager()
	cp := &fakeNode{name: "seclab-netpol-control-plane", role: "control-plane", images: map[string]string{
		"registry.seclab.local/busybox:1.36": "sha256:bb", "docker.io/library/nginx:1.27": "sha256:nginx-old"}}
	w := &fakeNode{name: "seclab-netpol-worker", role: "worker", images: map[string]string{
		"registry.seclab.local/busybox:1.36": "sha256:bb", "docker.io/library/nginx:1.27": "sha256:nginx-new"}}
	k.nodes = []nodes.Node{w, cp}

	got, err := m.ImageDigest(ctx, "seclab-netpol", "registry.seclab.local/busybox:1.36")
	if err != nil || got != manifestDigest("sha256:bb") {
		t.Errorf("ImageDigest = %q, %v; want %s", got, err, manifestDigest("sha256:bb"))
	}
	if _, err := m.ImageDigest(ctx, "seclab-netpol", "nginx:1.27"); err == nil || !strings.Contains(err.Error(), "different images") {
		t.Errorf("nodes that disagree: err = %v", err)
	}
	delete(w.images, "registry.seclab.local/busybox:1.36")
	if _, err := m.ImageDigest(ctx, "seclab-netpol", "registry.seclab.local/busybox:1.36"); err == nil || !strings.Contains(err.Error(), "not on node seclab-netpol-worker") {
		t.Errorf("an image missing on a node: err = %v", err)
	}
}

// With a suffix, seclab keeps to its own set: clusters of no suffix (or
// another) are neither listed, found nor named; its new clusters carry it.
func TestSuffixSeparatesClusterSets(t *testing.T) {
	m, d, _ := newFakeManager()
	d.addSeclab("netpol", true) // seclab-netpol: the no-suffix set's
	t.Setenv(SuffixEnv, "ci")
	p := mustProfile(t, "netpol")
	if got := p.ClusterName(); got != "seclab-netpol-ci" {
		t.Errorf("ClusterName = %q", got)
	}
	d.addNodes("seclab-netpol-ci", testConfig(p), true)
	got, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"seclab-netpol-ci(netpol,running=true,nodes=2)"}; !reflect.DeepEqual(names(got), want) {
		t.Errorf("List = %v, want %v", names(got), want)
	}
	info, found, err := m.Find(ctx, mustProfile(t, "netpol"), testImage)
	if err != nil || !found || info.Name != "seclab-netpol-ci" {
		t.Errorf("Find = %+v %v %v", info, found, err)
	}
	t.Setenv(SuffixEnv, "")
	got, _ = m.List(ctx)
	if want := []string{"seclab-netpol(netpol,running=true,nodes=2)"}; !reflect.DeepEqual(names(got), want) {
		t.Errorf("without the suffix, List = %v, want %v", names(got), want)
	}
}
