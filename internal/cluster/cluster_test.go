package cluster

import "testing"

func TestNodeImagePrecedence(t *testing.T) {
	t.Setenv(NodeImageEnv, "")
	if got := NodeImage(""); got != DefaultNodeImage {
		t.Errorf("default: %s", got)
	}
	t.Setenv(NodeImageEnv, "env:image")
	if got := NodeImage(""); got != "env:image" {
		t.Errorf("env: %s", got)
	}
	if got := NodeImage("flag:image"); got != "flag:image" {
		t.Errorf("flag must win: %s", got)
	}
}

func TestProfilesServe(t *testing.T) {
	np, err := GetProfile("netpol")
	if err != nil {
		t.Fatal(err)
	}
	def, _ := GetProfile("default")
	if !np.Serves("netpol") || !np.Serves("default") {
		t.Error("netpol cluster must serve netpol and default labs")
	}
	if !def.Serves("netpol") || !def.Serves("default") {
		t.Error("default and netpol clusters share one kind config: each must serve the other")
	}
	if np.Serves("pss-cluster") {
		t.Error("a profile serves only what it lists")
	}
	if _, err := GetProfile("nope"); err == nil {
		t.Error("unknown profile accepted")
	}
}

// The kind config marks every node with the profile label: half of the
// ownership test, and how reuse finds the profile.
func TestKindConfigLabelsEveryNode(t *testing.T) {
	p, _ := GetProfile("netpol")
	cfg := p.kindConfig()
	if len(cfg.Nodes) != 1+p.Workers {
		t.Fatalf("nodes = %d, want %d", len(cfg.Nodes), 1+p.Workers)
	}
	for i, n := range cfg.Nodes {
		if n.Labels[ProfileLabel] != "netpol" {
			t.Errorf("node %d lacks %s=netpol: %v", i, ProfileLabel, n.Labels)
		}
	}
	if p.ClusterName() != "seclab-netpol" {
		t.Errorf("cluster name %s", p.ClusterName())
	}
}

func TestProfileInKubeadmConfig(t *testing.T) {
	conf := "nodeRegistration:\n  kubeletExtraArgs:\n    node-labels: \"seclab.dev/profile=netpol\"\n"
	m := profileInConfig.FindStringSubmatch(conf)
	if m == nil || m[1] != "netpol" {
		t.Errorf("profile not found in %q: %v", conf, m)
	}
	if profileInConfig.MatchString("node-labels: \"app=web\"") {
		t.Error("foreign labels taken as seclab's")
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"nginx:1.27":                     "docker.io/library/nginx:1.27",
		"seclab/net-agent:v1":            "docker.io/seclab/net-agent:v1",
		"registry.k8s.io/pause:3.10.1":   "registry.k8s.io/pause:3.10.1",
		"localhost/app:1":                "localhost/app:1",
		"docker.io/library/busybox:1.36": "docker.io/library/busybox:1.36",
	} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
}
