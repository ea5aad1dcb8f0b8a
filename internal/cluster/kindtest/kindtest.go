// Package kindtest creates plain kind clusters that seclab does not own, so
// tests can prove seclab leaves such clusters alone.
package kindtest

import (
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"github.com/seclab/seclab/internal/cluster"
)

func provider() *kindcluster.Provider {
	return kindcluster.NewProvider(kindcluster.ProviderWithDocker())
}

// Create makes a single-node cluster from the seclab node image, with no
// seclab labels, and does not touch any kubeconfig the learner uses.
func Create(name, kubeconfig string) error {
	return provider().Create(name,
		kindcluster.CreateWithNodeImage(cluster.NodeImage("")),
		kindcluster.CreateWithWaitForReady(2*time.Minute),
		kindcluster.CreateWithKubeconfigPath(kubeconfig),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
	)
}

// Exists reports whether a kind cluster called name exists.
func Exists(name string) bool {
	names, err := provider().List()
	if err != nil {
		return false
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// Delete removes the cluster.
func Delete(name, kubeconfig string) error {
	return provider().Delete(name, kubeconfig)
}
