package cluster

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/docker/docker/errdefs"
)

// kubeadmConfig is where kind keeps a node's kubeadm config; it holds the
// node labels seclab set, and stays readable while the node is stopped.
const kubeadmConfig = "/kind/kubeadm.conf"

var (
	profileInConfig = regexp.MustCompile(regexp.QuoteMeta(ProfileLabel) + `=([a-z0-9-]+)`)
	hashInConfig    = regexp.MustCompile(regexp.QuoteMeta(HashLabel) + `=([0-9a-f]+)`)
)

// ownedProfile returns the seclab profile and profile hash recorded in a
// cluster's control plane node, or "" when the cluster is not seclab's (the
// hash is "" for a cluster from before profiles had one). A cluster is seclab's
// only if its name has our prefix AND its nodes carry our profile label: a
// foreign cluster that merely shares the prefix is never touched. An error
// means it could not be told.
func ownedProfile(ctx context.Context, d dockerAPI, name string, nodes []nodeContainer) (profile, hash string, err error) {
	if !strings.HasPrefix(name, NamePrefix) || name == NamePrefix {
		return "", "", nil
	}
	for _, n := range nodes {
		if n.Role != controlPlaneRole {
			continue
		}
		conf, err := readNodeFile(ctx, d, n.ID, kubeadmConfig)
		if errdefs.IsNotFound(err) {
			return "", "", nil // not made by kind's create (or a create that died early)
		}
		if err != nil {
			return "", "", fmt.Errorf("cluster %s: reading %s from node %s: %w", name, kubeadmConfig, n.Name, err)
		}
		m := profileInConfig.FindSubmatch(conf)
		if m == nil {
			return "", "", nil
		}
		if h := hashInConfig.FindSubmatch(conf); h != nil {
			hash = string(h[1])
		}
		return string(m[1]), hash, nil
	}
	return "", "", nil
}

// readNodeFile reads a file from a node container's file system through the
// docker API, which also works while the container is stopped.
func readNodeFile(ctx context.Context, d dockerAPI, containerID, path string) ([]byte, error) {
	rc, _, err := d.CopyFromContainer(ctx, containerID, path)
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
