// Package cluster owns everything about kind clusters and the docker engine
// they run on: creating clusters for a profile with the kind library,
// finding and reusing seclab's own clusters, loading images into nodes, and
// running commands on nodes. It is the only package that imports kind or
// docker.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/seclab/seclab/assets"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// DefaultNodeImage is the node image `make images` builds for offline use.
var DefaultNodeImage = assets.Version("NODE_IMAGE")

// NodeImageEnv overrides DefaultNodeImage.
const NodeImageEnv = "SECLAB_NODE_IMAGE"

// NodeImage picks the node image: the flag, else the environment, else the default.
func NodeImage(flag string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(NodeImageEnv); v != "" {
		return v
	}
	return DefaultNodeImage
}

// dockerFix is what to do when docker does not answer.
const dockerFix = "start the docker engine (on this machine: make docker) and run the command again"

// ErrDockerUnavailable means no docker engine answered.
var ErrDockerUnavailable = errors.New("docker is not reachable: " + dockerFix)

// DockerUnavailable is ErrDockerUnavailable naming the cluster that cannot
// be reached without docker.
func DockerUnavailable(cluster string) error { return dockerDown{cluster} }

type dockerDown struct{ cluster string }

func (d dockerDown) Error() string {
	return "docker is not reachable, so cluster " + d.cluster + " cannot be reached: " + dockerFix
}
func (d dockerDown) Is(target error) bool { return target == ErrDockerUnavailable }

// Info describes one seclab cluster.
type Info struct {
	Name    string `json:"name"`
	Profile string `json:"profile"`
	// Hash is the Profile.Hash the cluster was made with ("" before
	// profiles had one): a cluster serves a lab only for the same hash.
	Hash    string `json:"profileHash,omitempty"`
	Context string `json:"context"`
	Nodes   int    `json:"nodes"`
	Running bool   `json:"running"` // every node container runs
	// NodeNames are the node (and container) names, control plane first;
	// Stopped the ones whose container is not running.
	NodeNames []string `json:"nodeNames,omitempty"`
	Stopped   []string `json:"stopped,omitempty"`
	// StartedAt is when each running node's container last started: a
	// node's status from before then is stale.
	StartedAt map[string]time.Time `json:"-"`
}

// NotFoundError means the cluster has no node containers left (deleted
// outside seclab).
type NotFoundError struct{ Cluster string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("cluster %s no longer exists", e.Cluster) }

// StoppedError means some of the cluster's node containers are not running.
type StoppedError struct {
	Cluster string
	Nodes   []string
}

func (e *StoppedError) Error() string {
	if len(e.Nodes) == 1 {
		return fmt.Sprintf("node %s of cluster %s is stopped", e.Nodes[0], e.Cluster)
	}
	return fmt.Sprintf("nodes %s of cluster %s are stopped", strings.Join(e.Nodes, ", "), e.Cluster)
}

// Manager creates, finds and deletes seclab's kind clusters.
type Manager struct {
	docker dockerAPI // nil when no client could be made: every call says docker is unavailable
	kind   kindAPI
	log    *slog.Logger
	// KubeconfigPath is where contexts are merged ("" = kind's default:
	// $KUBECONFIG or ~/.kube/config), so the learner's kubectl works.
	KubeconfigPath string
	// FilesDir is where profiles' files are written for kind to mount
	// ("" = DefaultFilesDir).
	FilesDir string
}

// New returns a Manager using docker.
func New(log *slog.Logger) *Manager {
	m := &Manager{kind: newKindProvider(log), log: log}
	if d, err := newDocker(); err == nil {
		m.docker = d
	}
	return m
}

// Ping checks that the docker engine answers.
func (m *Manager) Ping(ctx context.Context) error { return ping(ctx, m.docker) }

// ContextName is the kubeconfig context kind writes for a cluster.
func ContextName(cluster string) string { return "kind-" + cluster }

// List returns seclab's clusters, running or not (others on the machine
// are not listed).
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	if err := m.Ping(ctx); err != nil {
		return nil, err
	}
	all, err := kindNodes(ctx, m.docker)
	if err != nil {
		return nil, err
	}
	var out []Info
	for name, nodes := range all {
		info, ok, err := m.inspect(ctx, name, nodes)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// inspect reports whether a kind cluster is seclab's, and what it is.
func (m *Manager) inspect(ctx context.Context, name string, nodes []nodeContainer) (Info, bool, error) {
	profile, hash, err := ownedProfile(ctx, m.docker, name, nodes)
	if err != nil || profile == "" {
		return Info{}, false, err
	}
	if name != clusterName(profile) {
		// Another suffix's (SuffixEnv): a separate set of clusters.
		return Info{}, false, nil
	}
	info := Info{Name: name, Profile: profile, Hash: hash, Context: ContextName(name), Nodes: len(nodes), Running: true, StartedAt: map[string]time.Time{}}
	for _, n := range nodes {
		info.NodeNames = append(info.NodeNames, n.Name)
		if !n.Running {
			info.Running = false
			info.Stopped = append(info.Stopped, n.Name)
			continue
		}
		info.StartedAt[n.Name] = n.StartedAt
	}
	return info, true, nil
}

// lookup returns the seclab cluster called name; exists tells whether any
// kind cluster has that name (seclab's or not).
func (m *Manager) lookup(ctx context.Context, name string) (info Info, owned, exists bool, err error) {
	if err := m.Ping(ctx); err != nil {
		return Info{}, false, false, err
	}
	all, err := kindNodes(ctx, m.docker)
	if err != nil {
		return Info{}, false, false, err
	}
	nodes, exists := all[name]
	if !exists {
		return Info{}, false, false, nil
	}
	info, owned, err = m.inspect(ctx, name, nodes)
	return info, owned, true, err
}

// Find returns the seclab cluster that profile p makes from nodeImage, if
// any: one with the same hash (whatever profile it was made for: profiles
// with the same content share a cluster), running before stopped (which
// StartNodes may bring back), p's own before another's.
func (m *Manager) Find(ctx context.Context, p *Profile, nodeImage string) (Info, bool, error) {
	all, err := m.List(ctx)
	if err != nil {
		return Info{}, false, err
	}
	want := p.Hash(nodeImage)
	for _, running := range []bool{true, false} {
		for _, own := range []bool{true, false} {
			for _, c := range all {
				if c.Hash == want && c.Running == running && (c.Name == p.ClusterName()) == own {
					return c, true, nil
				}
			}
		}
	}
	return Info{}, false, nil
}

// Get returns the seclab cluster called name if all its nodes run; else a
// *NotFoundError or a *StoppedError.
func (m *Manager) Get(ctx context.Context, name string) (Info, error) {
	info, owned, exists, err := m.lookup(ctx, name)
	switch {
	case err != nil:
		return Info{}, err
	case !exists:
		return Info{}, &NotFoundError{Cluster: name}
	case !owned:
		return Info{}, fmt.Errorf("cluster %s is not one seclab created (a kind cluster of that name replaced it?); delete or rename it, then run seclab start again", name)
	case !info.Running:
		return info, &StoppedError{Cluster: name, Nodes: info.Stopped}
	}
	return info, nil
}

// Create makes the cluster for profile p from nodeImage and waits until its
// nodes are Ready. The kubeconfig context is merged for the learner.
func (m *Manager) Create(ctx context.Context, p *Profile, nodeImage string) (Info, error) {
	if err := m.Ping(ctx); err != nil {
		return Info{}, err
	}
	if err := m.requireImage(ctx, nodeImage); err != nil {
		return Info{}, err
	}
	name := p.ClusterName()
	old, owned, exists, err := m.lookup(ctx, name)
	switch {
	case err != nil:
		return Info{}, err
	case exists && !owned:
		return Info{}, fmt.Errorf("a kind cluster named %s exists but was not created by seclab; delete or rename it", name)
	case exists:
		// Ours but not usable: the caller found it could not be brought
		// back (or it was stopped), so replace it.
		m.log.Info("replacing cluster", "name", name, "running", old.Running)
		if err := m.kind.Delete(name, m.KubeconfigPath); err != nil {
			return Info{}, fmt.Errorf("deleting stopped cluster %s: %w", name, err)
		}
	}
	filesDir := m.FilesDir
	if filesDir == "" {
		if filesDir, err = DefaultFilesDir(); err != nil {
			return Info{}, err
		}
	}
	cfg, err := p.kindConfig(filesDir, nodeImage)
	if err != nil {
		return Info{}, err
	}
	m.log.Info("creating cluster", "name", name, "profile", p.Name, "nodes", len(cfg.Nodes), "image", nodeImage)
	start := time.Now()
	if err := m.kind.Create(name, cfg, nodeImage, m.KubeconfigPath); err != nil {
		return Info{}, createError(name, err)
	}
	m.log.Info("cluster ready", "name", name, "took", time.Since(start).Round(time.Second))
	return Info{Name: name, Profile: p.Name, Hash: p.Hash(nodeImage), Context: ContextName(name), Nodes: len(cfg.Nodes), Running: true}, nil
}

// requireImage fails early, with the fix, when the node image is missing:
// kind would otherwise try to pull it, which cannot work offline.
func (m *Manager) requireImage(ctx context.Context, image string) error {
	present, err := imagePresent(ctx, m.docker, image)
	if err != nil {
		return err
	}
	if !present {
		return fmt.Errorf("node image %s is not in the local docker engine; build it with: make images (or pass --image)", image)
	}
	return nil
}

// Delete removes a seclab cluster, running or stopped; anything else is
// refused.
func (m *Manager) Delete(ctx context.Context, name string) error {
	_, owned, exists, err := m.lookup(ctx, name)
	switch {
	case err != nil:
		return err
	case !exists:
		m.log.Info("cluster already gone", "name", name)
		return nil
	case !owned:
		return fmt.Errorf("refusing to delete %s: not a cluster seclab created", name)
	}
	m.log.Info("deleting cluster", "name", name)
	if err := m.kind.Delete(name, m.KubeconfigPath); err != nil {
		return fmt.Errorf("deleting cluster %s: %w", name, err)
	}
	return nil
}

// RESTConfig returns a client config for the cluster straight from kind
// (not from the learner's kubeconfig, which they may edit).
func (m *Manager) RESTConfig(name string) (*rest.Config, error) {
	raw, err := m.kind.KubeConfig(name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: reading kubeconfig: %w", name, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: parsing kubeconfig: %w", name, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// nodes returns the cluster's nodes with the given role ("" = all).
func (m *Manager) nodes(name, role string) ([]nodes.Node, error) {
	all, err := m.kind.ListNodes(name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: listing nodes: %w", name, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("cluster %s has no nodes (deleted?)", name)
	}
	var out []nodes.Node
	for _, n := range all {
		r, err := n.Role()
		if err != nil {
			return nil, err
		}
		if role == "" || r == role {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
