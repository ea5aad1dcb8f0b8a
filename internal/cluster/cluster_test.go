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

func TestRepository(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/nginx:1.27":            "docker.io/library/nginx",
		"registry.seclab.local/busybox:1.36":      "registry.seclab.local/busybox",
		"registry.seclab.local:5000/busybox:1.36": "registry.seclab.local:5000/busybox",
		"registry.seclab.local:5000/busybox":      "registry.seclab.local:5000/busybox",
	} {
		if got := repository(in); got != want {
			t.Errorf("repository(%q) = %q, want %q", in, got, want)
		}
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
