package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const twoNodes = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n  - role: worker\n"

// otherProfile is a valid profile whose content differs from the builtin
// ones: its clusters serve none of their labs.
func otherProfile(t *testing.T) *Profile {
	t.Helper()
	ps, err := LoadProfiles(fstest.MapFS{
		"other/profile.yaml": {Data: []byte("description: three nodes\n")},
		"other/cluster.yaml": {Data: []byte(twoNodes + "  - role: worker\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ps.Get("other")
	return p
}

func TestBuiltinProfilesLoad(t *testing.T) {
	ps, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"default", "netpol"} {
		p, err := ps.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Description == "" || p.Nodes() < 1 {
			t.Errorf("%s: %+v", name, p)
		}
	}
	if _, err := ps.Get("nope"); err == nil || !strings.Contains(err.Error(), "default, netpol") {
		t.Errorf("unknown profile: %v (want the known ones listed)", err)
	}
}

// Reuse is by content: the same config written differently (comments, key
// order) is the same cluster; any change to the config, a mounted file or
// the node image is another.
func TestHashFollowsContent(t *testing.T) {
	load := func(cluster string, files map[string]string) *Profile {
		t.Helper()
		fsys := fstest.MapFS{
			"p/profile.yaml": {Data: []byte("description: test\n")},
			"p/cluster.yaml": {Data: []byte(cluster)},
		}
		for f, c := range files {
			fsys["p/"+f] = &fstest.MapFile{Data: []byte(c)}
		}
		ps, err := LoadProfiles(fsys)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := ps.Get("p")
		return p
	}
	mounted := "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n    extraMounts:\n      - {hostPath: conf/a.yaml, containerPath: /etc/a.yaml}\n"
	base := load(mounted, map[string]string{"conf/a.yaml": "x: 1\n"})
	h := base.Hash("img:1")
	if len(h) != 32 {
		t.Fatalf("hash %q: want 32 hex digits (a label value)", h)
	}
	reordered := "# a comment\napiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnodes:\n  - extraMounts:\n      - containerPath: /etc/a.yaml\n        hostPath: conf/a.yaml\n    role: control-plane\n"
	if got := load(reordered, map[string]string{"conf/a.yaml": "x: 1\n"}).Hash("img:1"); got != h {
		t.Error("the same config in another key order (and a comment) must hash the same")
	}
	if base.Hash("img:2") == h {
		t.Error("another node image must change the hash")
	}
	if load(mounted, map[string]string{"conf/a.yaml": "x: 2\n"}).Hash("img:1") == h {
		t.Error("a changed mounted file must change the hash")
	}
	if load(strings.Replace(mounted, "/etc/a.yaml", "/etc/b.yaml", 1), map[string]string{"conf/a.yaml": "x: 1\n"}).Hash("img:1") == h {
		t.Error("a changed mount must change the hash")
	}
	ps, _ := Builtin()
	d, _ := ps.Get("default")
	n, _ := ps.Get("netpol")
	if d.Hash("img") != n.Hash("img") {
		t.Error("default and netpol have the same content: one cluster serves both")
	}
}

// kindConfig writes the mounted files under the files directory and
// points the mounts there; every node gets the profile and hash labels and
// the host's kubelet patch.
func TestKindConfigMaterializesFiles(t *testing.T) {
	ps, err := LoadProfiles(fstest.MapFS{
		"pss/profile.yaml":           {Data: []byte("description: test\n")},
		"pss/cluster.yaml":           {Data: []byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n    extraMounts:\n      - {hostPath: admission.yaml, containerPath: /etc/config/admission.yaml, readOnly: true}\n  - role: worker\n    extraMounts:\n      - {hostPath: seccomp, containerPath: /var/lib/kubelet/seccomp/profiles}\n")},
		"pss/admission.yaml":         {Data: []byte("kind: AdmissionConfiguration\n")},
		"pss/seccomp/audit.json":     {Data: []byte(`{"defaultAction":"SCMP_ACT_LOG"}`)},
		"pss/seccomp/violation.json": {Data: []byte(`{"defaultAction":"SCMP_ACT_ERRNO"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ps.Get("pss")
	dir := t.TempDir()
	cfg, err := p.kindConfig(dir, "img:1")
	if err != nil {
		t.Fatal(err)
	}
	hash := p.Hash("img:1")
	cp, w := cfg.Nodes[0], cfg.Nodes[1]
	wantCP := filepath.Join(dir, "pss-"+hash[:12], "admission.yaml")
	if cp.ExtraMounts[0].HostPath != wantCP || !cp.ExtraMounts[0].Readonly {
		t.Errorf("control-plane mount %+v, want hostPath %s, read-only", cp.ExtraMounts[0], wantCP)
	}
	if b, err := os.ReadFile(wantCP); err != nil || string(b) != "kind: AdmissionConfiguration\n" {
		t.Errorf("file at the mount: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(w.ExtraMounts[0].HostPath, "violation.json")); err != nil || !strings.Contains(string(b), "ERRNO") {
		t.Errorf("a mounted directory's files: %q %v", b, err)
	}
	for i, n := range cfg.Nodes {
		if n.Labels[ProfileLabel] != "pss" || n.Labels[HashLabel] != hash {
			t.Errorf("node %d labels %v", i, n.Labels)
		}
	}
	if got := strings.Join(cfg.KubeadmConfigPatches, ""); !strings.Contains(got, "failCgroupV1: false") {
		t.Errorf("host patch missing: %q", got)
	}
	if p.config.Nodes[0].ExtraMounts[0].HostPath != "admission.yaml" || p.config.Nodes[0].Labels[ProfileLabel] != "" || len(p.config.KubeadmConfigPatches) != 0 {
		t.Error("rendering must not change the profile itself")
	}
	// Rendering again (a second cluster, or a restart) finds the files in place.
	if _, err := p.kindConfig(dir, "img:1"); err != nil {
		t.Fatal(err)
	}
}

// Every problem of every profile is reported at once, each naming the
// file and field.
func TestLoadProfilesReportsEveryProblem(t *testing.T) {
	_, err := LoadProfiles(fstest.MapFS{
		"Bad_Name/profile.yaml": {Data: []byte("description: x\n")},
		"Bad_Name/cluster.yaml": {Data: []byte(twoNodes)},
		"typos/profile.yaml":    {Data: []byte("descripton: x\n")},
		"typos/cluster.yaml": {Data: []byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: mine\nnodes:\n" +
			"  - role: master\n    image: kindest/node:v1\n    labels: {seclab.dev/profile: x}\n" +
			"    extraMount: []\n" +
			"    extraMounts:\n      - {hostPath: /etc/passwd, containerPath: /x}\n      - {hostPath: missing.yaml, containerPath: relative}\n      - {hostPath: ../up, containerPath: /y}\n")},
		"typos/stray.json":       {Data: []byte("{}")},
		"nocluster/profile.yaml": {Data: []byte("description: x\n")},
	})
	if err == nil {
		t.Fatal("bad profiles accepted")
	}
	msg := err.Error()
	if head := fmt.Sprintf("invalid cluster profiles, %d problem(s):\n  - ", strings.Count(msg, "\n  - ")); !strings.HasPrefix(msg, head) {
		t.Errorf("report should start with %q:\n%s", head, msg)
	}
	for _, want := range []string{
		"profiles/Bad_Name/: the directory name must be",
		"profiles/typos/profile.yaml: descripton: unknown field",
		"profiles/typos/profile.yaml: description: required",
		"profiles/typos/cluster.yaml: nodes[0].extraMount: unknown field",
		"cluster.yaml: name: leave it out",
		`nodes[0].role: want control-plane or worker (found "master")`,
		"nodes[0].image: leave it out",
		"nodes[0].labels.seclab.dev/profile: the seclab.dev/ labels are set by seclab",
		`nodes[0].extraMounts[0].hostPath: want a path relative to the profile directory, inside it (found "/etc/passwd")`,
		`nodes[0].extraMounts[1].hostPath: "missing.yaml" is not in the profile directory`,
		`nodes[0].extraMounts[1].containerPath: want an absolute path in the node (found "relative")`,
		`nodes[0].extraMounts[2].hostPath: want a path relative to the profile directory, inside it (found "../up")`,
		"nodes: no node has role control-plane",
		"stray.json is in the profile directory but no node mounts it",
		"profiles/nocluster/cluster.yaml: missing",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}
