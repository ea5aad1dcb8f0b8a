package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/errdefs"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// StartNodes starts the cluster's stopped node containers, control plane
// first, and returns the cluster as it is then. Whether Kubernetes on them
// comes back is for the caller to wait for.
func (m *Manager) StartNodes(ctx context.Context, name string) (Info, error) {
	if err := m.Ping(ctx); err != nil {
		return Info{}, err
	}
	all, err := kindNodes(ctx, m.docker)
	if err != nil {
		return Info{}, err
	}
	nodes, ok := all[name]
	if !ok {
		return Info{}, &NotFoundError{Cluster: name}
	}
	for _, n := range nodes {
		if n.Running {
			continue
		}
		m.log.Info("starting stopped node container", "node", n.Name)
		if err := m.docker.ContainerStart(ctx, n.ID, container.StartOptions{}); err != nil {
			return Info{}, fmt.Errorf("starting node container %s: %w", n.Name, err)
		}
	}
	return m.Get(ctx, name)
}

// kubeletFlags is where kubeadm keeps the kubelet's flags on a node; kind
// puts the node's address there (--node-ip).
const kubeletFlags = "/var/lib/kubelet/kubeadm-flags.env"

var nodeIPFlag = regexp.MustCompile(`--node-ip=([0-9.]+)`)

// kindNetwork is the docker network kind puts its nodes on.
const kindNetwork = "kind"

// addressFiles hold a node's own address once kubeadm has set it up: the
// control plane's static pods and component kubeconfigs, and every node's
// kubeadm config and kubelet flags. Each names only its own node's address.
var addressFiles = []string{
	"/etc/kubernetes/manifests/etcd.yaml",
	"/etc/kubernetes/manifests/kube-apiserver.yaml",
	"/etc/kubernetes/manifests/kube-controller-manager.yaml",
	"/etc/kubernetes/manifests/kube-scheduler.yaml",
	"/etc/kubernetes/controller-manager.conf",
	"/etc/kubernetes/scheduler.conf",
	"/etc/kubernetes/kubelet.conf",
	kubeadmConfig,
	kubeletFlags,
}

// readdressScript moves a node from address $1 to $2: it rewrites the
// address in the files that hold it, issues a new API server certificate
// for it (the old one names the old address), restarts the kubelet (which
// recreates the static pods whose manifests changed) and stops the
// controller manager and scheduler, which read their kubeconfig only at
// start; the kubelet starts them again.
var readdressScript = `set -eu
old=$(printf '%s' "$1" | sed 's/\./\\./g')
for f in ` + strings.Join(addressFiles, " ") + `; do
  if [ -f "$f" ]; then sed -i "s/\b$old\b/$2/g" "$f"; fi
done
if [ -f /etc/kubernetes/pki/apiserver.crt ]; then
  rm -f /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.key
  kubeadm init phase certs apiserver --config ` + kubeadmConfig + `
fi
systemctl restart kubelet
pkill -x kube-controller || true
pkill -x kube-scheduler || true
`

// Readdress fixes the nodes that came back from a restart with another IP
// address than Kubernetes was set up with. kind's own node images rewrite
// the address when the container starts; seclab's air-gapped image does
// not, and without this the API server never comes back (etcd and the API
// server bind the old address). It returns one line per node it fixed.
func (m *Manager) Readdress(ctx context.Context, name string) ([]string, error) {
	if err := m.Ping(ctx); err != nil {
		return nil, err
	}
	all, err := kindNodes(ctx, m.docker)
	if err != nil {
		return nil, err
	}
	nodes, ok := all[name]
	if !ok {
		return nil, &NotFoundError{Cluster: name}
	}
	var fixed []string
	for _, n := range nodes {
		if !n.Running {
			continue
		}
		was, now, err := addressChange(ctx, m.docker, n)
		if err != nil {
			return fixed, fmt.Errorf("cluster %s: %w", name, err)
		}
		if was == "" {
			continue
		}
		m.log.Info("node came back with another address; updating its Kubernetes configuration", "node", n.Name, "was", was, "now", now)
		if err := m.runOnNode(ctx, name, n.Name, []string{"sh", "-c", readdressScript, "readdress", was, now}); err != nil {
			return fixed, fmt.Errorf("node %s: moving Kubernetes from address %s to %s: %w", n.Name, was, now, err)
		}
		fixed = append(fixed, fmt.Sprintf("%s: %s -> %s", n.Name, was, now))
	}
	return fixed, nil
}

// addressChange returns the address Kubernetes on node n was set up with
// and the one its container has now, or "" when they agree (or n is not
// set up yet: no kubelet flags).
func addressChange(ctx context.Context, d dockerAPI, n nodeContainer) (was, now string, err error) {
	flags, err := readNodeFile(ctx, d, n.ID, kubeletFlags)
	if errdefs.IsNotFound(err) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("reading %s from node %s: %w", kubeletFlags, n.Name, err)
	}
	m := nodeIPFlag.FindSubmatch(flags)
	if m == nil {
		return "", "", nil
	}
	was = string(m[1])
	for _, ip := range n.IPs {
		if ip == was {
			return "", "", nil
		}
	}
	now = n.IPs[kindNetwork]
	if now == "" && len(n.IPs) == 1 {
		for _, ip := range n.IPs {
			now = ip
		}
	}
	if now == "" {
		return "", "", fmt.Errorf("node %s was set up with address %s but has %v now; cannot tell which to use", n.Name, was, n.IPs)
	}
	return was, now, nil
}

// runOnNode runs cmd on one node; a non-zero exit is an error with its
// output.
func (m *Manager) runOnNode(ctx context.Context, cluster, node string, cmd []string) error {
	out, err := m.NodeRunner(cluster).RunOnNode(ctx, node, cmd)
	if err != nil {
		return err
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("exit code %d: %s", out.ExitCode, strings.TrimSpace(out.Stderr+"\n"+out.Stdout))
	}
	return nil
}

// EnsureKubeConfig makes sure the learner's kubeconfig has the cluster's
// context, pointing at its API server; when not, it writes the context
// again and returns a sentence saying what was wrong ("" when nothing was).
// seclab's own checks never depend on it (see RESTConfig).
func (m *Manager) EnsureKubeConfig(name string) (string, error) {
	raw, err := m.kind.KubeConfig(name)
	if err != nil {
		return "", fmt.Errorf("cluster %s: reading kubeconfig: %w", name, err)
	}
	want, err := clientcmd.Load([]byte(raw))
	if err != nil {
		return "", fmt.Errorf("cluster %s: parsing kubeconfig: %w", name, err)
	}
	path := m.kubeconfigForMerge()
	have, err := m.learnerKubeconfig()
	if err != nil {
		return "", err
	}
	ctxName := ContextName(name)
	problem := contextProblem(have, ctxName, serverOf(want, want.CurrentContext))
	if problem == "" {
		return "", nil
	}
	if err := m.kind.ExportKubeConfig(name, m.KubeconfigPath); err != nil {
		return "", fmt.Errorf("writing kubectl context %s to %s: %w", ctxName, path, err)
	}
	return fmt.Sprintf("kubectl context %s %s; wrote it again to %s", ctxName, problem, path), nil
}

// contextProblem says what is wrong with context ctxName in cfg for a
// cluster served at server ("" when nothing).
func contextProblem(cfg *clientcmdapi.Config, ctxName, server string) string {
	c := cfg.Contexts[ctxName]
	switch {
	case c == nil:
		return "was missing"
	case cfg.Clusters[c.Cluster] == nil:
		return fmt.Sprintf("names cluster entry %q, which is missing", c.Cluster)
	case cfg.AuthInfos[c.AuthInfo] == nil:
		return fmt.Sprintf("names user %q, which is missing", c.AuthInfo)
	}
	if got := cfg.Clusters[c.Cluster].Server; got != server {
		return fmt.Sprintf("pointed at %s, not the cluster's %s", got, server)
	}
	return ""
}

func serverOf(cfg *clientcmdapi.Config, ctxName string) string {
	if c := cfg.Contexts[ctxName]; c != nil && cfg.Clusters[c.Cluster] != nil {
		return cfg.Clusters[c.Cluster].Server
	}
	return ""
}

// kubeconfigFiles are the files kubectl merges: KubeconfigPath if set, else
// $KUBECONFIG's list, else ~/.kube/config.
func (m *Manager) kubeconfigFiles() []string {
	if m.KubeconfigPath != "" {
		return []string{m.KubeconfigPath}
	}
	var out []string
	for _, p := range filepath.SplitList(os.Getenv(clientcmd.RecommendedConfigPathEnvVar)) {
		if p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = []string{clientcmd.RecommendedHomeFile}
	}
	return out
}

// kubeconfigForMerge is the file kind writes a context to: the first of
// kubeconfigFiles that exists, else the last.
func (m *Manager) kubeconfigForMerge() string {
	files := m.kubeconfigFiles()
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return files[len(files)-1]
}

// learnerKubeconfig merges kubeconfigFiles as kubectl does; missing files
// are empty.
func (m *Manager) learnerKubeconfig() (*clientcmdapi.Config, error) {
	var existing []string
	for _, f := range m.kubeconfigFiles() {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading kubeconfig %s: %w", f, err)
		}
	}
	if len(existing) == 0 {
		return clientcmdapi.NewConfig(), nil
	}
	cfg, err := (&clientcmd.ClientConfigLoadingRules{Precedence: existing}).Load()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	return cfg, nil
}
