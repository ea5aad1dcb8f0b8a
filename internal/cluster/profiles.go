package cluster

import (
	"fmt"
	"os"
	"sort"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// Profile is a kind of cluster a lab can ask for. Labs name profiles; seclab
// creates one cluster per profile and reuses it for every lab it Serves.
type Profile struct {
	Name string
	// Workers is the number of worker nodes besides the control plane.
	Workers int
	// Covers lists other profiles whose labs can run on this cluster too.
	Covers []string
}

// profiles is the table of known cluster profiles.
var profiles = map[string]Profile{
	"default": {
		Name:    "default",
		Workers: 1,
		// Same kind config as netpol; whether the CNI enforces policy is
		// proven by the netpol lab's canary, not assumed from the profile.
		Covers: []string{"netpol"},
	},
	"netpol": {
		Name:    "netpol",
		Workers: 1,
		Covers:  []string{"default"},
	},
}

// Profiles returns the known profile names, sorted.
func Profiles() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// GetProfile returns the named profile.
func GetProfile(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown cluster profile %q (known: %v)", name, Profiles())
	}
	return p, nil
}

// Serves reports whether a cluster made for profile p can run labs that ask
// for profile want.
func (p Profile) Serves(want string) bool {
	if p.Name == want {
		return true
	}
	for _, c := range p.Covers {
		if c == want {
			return true
		}
	}
	return false
}

// ClusterName is the kind cluster name seclab uses for a profile. The
// prefix is half of the ownership test (see ownedProfile).
func (p Profile) ClusterName() string { return clusterName(p.Name) }

// SuffixEnv, when set, gives seclab a separate set of clusters, named
// seclab-<profile>-<suffix>: it neither sees, reuses nor deletes clusters
// of another suffix (or of none). Tests run side by side with it.
const SuffixEnv = "SECLAB_CLUSTER_SUFFIX"

func clusterName(profile string) string {
	if s := os.Getenv(SuffixEnv); s != "" {
		return NamePrefix + profile + "-" + s
	}
	return NamePrefix + profile
}

// NamePrefix starts the name of every cluster seclab creates.
const NamePrefix = "seclab-"

// ProfileLabel is set on every node seclab creates; it is the other half of
// the ownership test and records the profile for reuse.
const ProfileLabel = "seclab.dev/profile"

// kindConfig renders the kind cluster config for p.
func (p Profile) kindConfig() *v1alpha4.Cluster {
	labels := map[string]string{ProfileLabel: p.Name}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		// This host is cgroup v1; Kubernetes >= 1.35 refuses to start there
		// unless told otherwise, and the field is harmless before that.
		KubeadmConfigPatches: []string{"kind: KubeletConfiguration\nfailCgroupV1: false\n"},
	}
	cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Labels: labels})
	for i := 0; i < p.Workers; i++ {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Labels: labels})
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}
