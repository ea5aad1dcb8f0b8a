package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Kernel features a lab can depend on. Kind nodes are containers on the
// docker engine's kernel, so the engine's security options say what every
// node will have, before any node exists.
const (
	FeatureAppArmor = "apparmor"
	FeatureSeccomp  = "seccomp"
	FeatureSELinux  = "selinux"
)

// KnownFeatures are the features KernelFeatures can tell.
var KnownFeatures = []string{FeatureAppArmor, FeatureSeccomp, FeatureSELinux}

// KernelFeatures reports which of KnownFeatures the docker engine's kernel
// has enabled (the engine lists them as "name=apparmor" and so on).
func (m *Manager) KernelFeatures(ctx context.Context) (map[string]bool, error) {
	if err := m.Ping(ctx); err != nil {
		return nil, err
	}
	info, err := m.docker.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking the docker engine about its kernel: %w", err)
	}
	return featuresFrom(info.SecurityOptions), nil
}

func featuresFrom(securityOptions []string) map[string]bool {
	out := map[string]bool{}
	for _, f := range KnownFeatures {
		out[f] = false
	}
	for _, opt := range securityOptions {
		for _, kv := range strings.Split(opt, ",") {
			if name, ok := strings.CutPrefix(kv, "name="); ok {
				if _, known := out[name]; known {
					out[name] = true
				}
			}
		}
	}
	return out
}

// FeatureList is features as "apparmor=no, seccomp=yes" (for messages).
func FeatureList(f map[string]bool) string {
	var parts []string
	for k, v := range f {
		yn := "no"
		if v {
			yn = "yes"
		}
		parts = append(parts, k+"="+yn)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
