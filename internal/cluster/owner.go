package cluster

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// kind's labels on node containers.
const (
	kindClusterLabel = "io.x-k8s.kind.cluster"
	kindRoleLabel    = "io.x-k8s.kind.role"
)

// nodeContainer is one node container of a kind cluster.
type nodeContainer struct {
	ID, Name, Role string
	Running        bool
}

// kindNodes lists the node containers of every kind cluster, running or
// not, keyed by cluster name.
func kindNodes(ctx context.Context) (map[string][]nodeContainer, error) {
	cli, err := dockerClient()
	if err != nil {
		return nil, ErrDockerUnavailable
	}
	defer cli.Close()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", kindClusterLabel))})
	if err != nil {
		return nil, fmt.Errorf("listing kind node containers: %w", err)
	}
	out := map[string][]nodeContainer{}
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0][1:]
		}
		cluster := c.Labels[kindClusterLabel]
		out[cluster] = append(out[cluster], nodeContainer{ID: c.ID, Name: name, Role: c.Labels[kindRoleLabel], Running: c.State == "running"})
	}
	for _, nodes := range out {
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	}
	return out, nil
}

// readNodeFile reads a file from a node container's file system through the
// docker API, which also works while the container is stopped.
func readNodeFile(ctx context.Context, containerID, path string) ([]byte, error) {
	cli, err := dockerClient()
	if err != nil {
		return nil, ErrDockerUnavailable
	}
	defer cli.Close()
	rc, _, err := cli.CopyFromContainer(ctx, containerID, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(tr, 1<<20))
}

// ownedProfile returns the seclab profile recorded in a cluster's control
// plane node, or "" when the cluster is not seclab's. A cluster is seclab's
// only if its name has our prefix AND its nodes carry our profile label: a
// foreign cluster that merely shares the prefix is never touched.
func ownedProfile(ctx context.Context, name string, nodes []nodeContainer) string {
	if len(name) <= len(NamePrefix) || name[:len(NamePrefix)] != NamePrefix {
		return ""
	}
	for _, n := range nodes {
		if n.Role != "control-plane" {
			continue
		}
		conf, err := readNodeFile(ctx, n.ID, "/kind/kubeadm.conf")
		if err != nil {
			return ""
		}
		if m := profileInConfig.FindSubmatch(conf); m != nil {
			return string(m[1])
		}
		return ""
	}
	return ""
}
