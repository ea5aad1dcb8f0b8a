package cluster

import (
	"errors"
	"testing"
)

// The engine's security options decide what the nodes' kernel has; names
// it does not list are absent, others are ignored.
func TestKernelFeaturesFromEngine(t *testing.T) {
	m, d, _ := newFakeManager()
	d.securityOptions = []string{"name=seccomp,profile=default", "name=cgroupns"}
	f, err := m.KernelFeatures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f[FeatureAppArmor] || !f[FeatureSeccomp] || f[FeatureSELinux] || len(f) != len(KnownFeatures) {
		t.Errorf("features %v", f)
	}
	if got := FeatureList(f); got != "apparmor=no, seccomp=yes, selinux=no" {
		t.Errorf("FeatureList = %q", got)
	}
	d.securityOptions = []string{"name=apparmor", "name=seccomp,profile=builtin", "name=selinux"}
	if f, _ := m.KernelFeatures(ctx); !f[FeatureAppArmor] || !f[FeatureSeccomp] || !f[FeatureSELinux] {
		t.Errorf("features %v", f)
	}
	d.down = true
	if _, err := m.KernelFeatures(ctx); !errors.Is(err, ErrDockerUnavailable) {
		t.Errorf("docker down: %v", err)
	}
}
