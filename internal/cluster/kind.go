package cluster

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// kindAPI is what seclab asks of the kind library; kubeconfig "" means
// kind's default ($KUBECONFIG or ~/.kube/config). Tests use a fake.
type kindAPI interface {
	Create(name string, cfg *v1alpha4.Cluster, nodeImage, kubeconfig string) error
	Delete(name, kubeconfig string) error
	KubeConfig(name string) (string, error)
	ExportKubeConfig(name, kubeconfig string) error
	ListNodes(name string) ([]nodes.Node, error)
}

// kindProvider is kindAPI on the kind library with docker.
type kindProvider struct{ p *kindcluster.Provider }

func newKindProvider(log *slog.Logger) kindProvider {
	return kindProvider{kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(kindLogger{log}))}
}

func (k kindProvider) Create(name string, cfg *v1alpha4.Cluster, nodeImage, kubeconfig string) error {
	return k.p.Create(name,
		kindcluster.CreateWithV1Alpha4Config(cfg),
		kindcluster.CreateWithNodeImage(nodeImage),
		kindcluster.CreateWithWaitForReady(3*time.Minute),
		kindcluster.CreateWithKubeconfigPath(kubeconfig),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
	)
}

func (k kindProvider) Delete(name, kubeconfig string) error { return k.p.Delete(name, kubeconfig) }

func (k kindProvider) KubeConfig(name string) (string, error) { return k.p.KubeConfig(name, false) }

func (k kindProvider) ExportKubeConfig(name, kubeconfig string) error {
	return k.p.ExportKubeConfig(name, kubeconfig, false)
}

func (k kindProvider) ListNodes(name string) ([]nodes.Node, error) { return k.p.ListNodes(name) }

// createOutputLines is how much of a failed command's output a failed
// create shows: the end, where the reason is.
const createOutputLines = 20

// createError explains a failed create. kind's error names the command that
// failed (kubeadm init, docker run, ...) but not what it printed, which is
// the part that says why.
func createError(name string, err error) error {
	rerr := kindexec.RunErrorForError(err)
	if rerr == nil || len(strings.TrimSpace(string(rerr.Output))) == 0 {
		return fmt.Errorf("creating cluster %s: %w", name, err)
	}
	lines := strings.Split(strings.TrimRight(string(rerr.Output), "\n"), "\n")
	head := fmt.Sprintf("output of the failing command (%d lines):", len(lines))
	if len(lines) > createOutputLines {
		head = fmt.Sprintf("output of the failing command (last %d of %d lines):", createOutputLines, len(lines))
		lines = lines[len(lines)-createOutputLines:]
	}
	return fmt.Errorf("creating cluster %s: %w\n%s\n  %s", name, err, head, strings.Join(lines, "\n  "))
}
