package cluster

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/system"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// dockerAPI is the part of the docker engine API seclab uses; the real one
// is *dockerclient.Client, tests use a fake.
type dockerAPI interface {
	Ping(ctx context.Context) (types.Ping, error)
	Info(ctx context.Context) (system.Info, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	CopyFromContainer(ctx context.Context, containerID, srcPath string) (io.ReadCloser, container.PathStat, error)
	ImageInspect(ctx context.Context, imageID string, opts ...dockerclient.ImageInspectOption) (image.InspectResponse, error)
	ImageSave(ctx context.Context, imageIDs []string, opts ...dockerclient.ImageSaveOption) (io.ReadCloser, error)
}

// newDocker returns a client for the engine $DOCKER_HOST (or the default
// socket) names. It fails only on a malformed environment; whether an engine
// answers is ping's business.
func newDocker() (dockerAPI, error) {
	c, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err // not a nil *Client inside a non-nil interface
	}
	return c, nil
}

// ping fails with ErrDockerUnavailable unless the engine answers (d is nil
// when no client could be made).
func ping(ctx context.Context, d dockerAPI) error {
	if d == nil {
		return ErrDockerUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := d.Ping(ctx); err != nil {
		return ErrDockerUnavailable
	}
	return nil
}

// imageID returns the local image's ID, or "" when the engine lacks it.
func imageID(ctx context.Context, d dockerAPI, ref string) (string, error) {
	inspect, err := d.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	return inspect.ID, nil
}

// ImagePresent reports whether the local docker engine has image.
func ImagePresent(ctx context.Context, image string) (bool, error) {
	d, err := newDocker()
	if err != nil {
		return false, ErrDockerUnavailable
	}
	return imagePresent(ctx, d, image)
}

func imagePresent(ctx context.Context, d dockerAPI, image string) (bool, error) {
	if err := ping(ctx, d); err != nil {
		return false, err
	}
	id, err := imageID(ctx, d, image)
	return id != "", err
}

// kind's labels on node containers.
const (
	kindClusterLabel = "io.x-k8s.kind.cluster"
	kindRoleLabel    = "io.x-k8s.kind.role"
)

// nodeContainer is one node container of a kind cluster.
type nodeContainer struct {
	ID, Name, Role string
	Running        bool
	// IPs are the container's addresses, by docker network name.
	IPs map[string]string
	// StartedAt is when a running container last started.
	StartedAt time.Time
}

// kindNodes lists the node containers of every kind cluster, running or
// not, keyed by cluster name, control plane first.
func kindNodes(ctx context.Context, d dockerAPI) (map[string][]nodeContainer, error) {
	list, err := d.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", kindClusterLabel))})
	if err != nil {
		return nil, fmt.Errorf("listing kind node containers: %w", err)
	}
	out := map[string][]nodeContainer{}
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0][1:]
		}
		n := nodeContainer{ID: c.ID, Name: name, Role: c.Labels[kindRoleLabel], Running: c.State == container.StateRunning, IPs: map[string]string{}}
		if c.NetworkSettings != nil {
			for net, ep := range c.NetworkSettings.Networks {
				if ep != nil && ep.IPAddress != "" {
					n.IPs[net] = ep.IPAddress
				}
			}
		}
		if n.Running {
			// Only inspect has the start time: it tells a node's status
			// posted before a restart from one posted after.
			inspect, err := d.ContainerInspect(ctx, c.ID)
			if err != nil {
				return nil, fmt.Errorf("inspecting node container %s: %w", name, err)
			}
			if inspect.State != nil {
				n.StartedAt, _ = time.Parse(time.RFC3339Nano, inspect.State.StartedAt)
			}
		}
		cluster := c.Labels[kindClusterLabel]
		out[cluster] = append(out[cluster], n)
	}
	for _, nodes := range out {
		sort.Slice(nodes, func(i, j int) bool {
			if cpi, cpj := nodes[i].Role == controlPlaneRole, nodes[j].Role == controlPlaneRole; cpi != cpj {
				return cpi
			}
			return nodes[i].Name < nodes[j].Name
		})
	}
	return out, nil
}

const controlPlaneRole = "control-plane"
