package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// fakeDocker is a docker engine holding kind node containers and images.
type fakeDocker struct {
	down       bool
	containers []*fakeContainer
	images     map[string]string // reference -> image ID
	copyErr    error             // CopyFromContainer fails with this when set
}

type fakeContainer struct {
	id, name string
	labels   map[string]string
	running  bool
	files    map[string]string
	ip       string    // on the kind network, while running
	started  time.Time // last start
	startErr error     // ContainerStart fails with this when set
}

var errRefused = errors.New("dial unix /var/run/docker.sock: connect: connection refused")

func (f *fakeDocker) Ping(context.Context) (types.Ping, error) {
	if f.down {
		return types.Ping{}, errRefused
	}
	return types.Ping{APIVersion: "1.51"}, nil
}

func (f *fakeDocker) ContainerList(_ context.Context, opts container.ListOptions) ([]container.Summary, error) {
	if f.down {
		return nil, errRefused
	}
	var out []container.Summary
	for _, c := range f.containers {
		if (!opts.All && !c.running) || !opts.Filters.MatchKVList("label", c.labels) {
			continue
		}
		state := container.StateExited
		if c.running {
			state = container.StateRunning
		}
		nets := map[string]*network.EndpointSettings{}
		if c.running {
			nets["kind"] = &network.EndpointSettings{IPAddress: c.ip}
		}
		out = append(out, container.Summary{ID: c.id, Names: []string{"/" + c.name}, Labels: c.labels, State: state,
			NetworkSettings: &container.NetworkSettingsSummary{Networks: nets}})
	}
	return out, nil
}

func (f *fakeDocker) container(id string) (*fakeContainer, error) {
	for _, c := range f.containers {
		if c.id == id {
			return c, nil
		}
	}
	return nil, errdefs.NotFound(fmt.Errorf("No such container: %s", id))
}

func (f *fakeDocker) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	if f.down {
		return container.InspectResponse{}, errRefused
	}
	c, err := f.container(id)
	if err != nil {
		return container.InspectResponse{}, err
	}
	return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: c.id,
		State: &container.State{Running: c.running, StartedAt: c.started.Format(time.RFC3339Nano)}}}, nil
}

// ContainerStart starts a container; it gets the next free address, as
// docker's IPAM hands them out.
func (f *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	if f.down {
		return errRefused
	}
	c, err := f.container(id)
	if err != nil {
		return err
	}
	if c.startErr != nil {
		return c.startErr
	}
	if !c.running {
		c.running, c.started, c.ip = true, time.Now(), f.freeIP()
	}
	return nil
}

func (f *fakeDocker) freeIP() string {
	used := map[string]bool{}
	for _, c := range f.containers {
		if c.running {
			used[c.ip] = true
		}
	}
	for i := 2; ; i++ {
		if ip := fmt.Sprintf("172.18.0.%d", i); !used[ip] {
			return ip
		}
	}
}

func (f *fakeDocker) CopyFromContainer(_ context.Context, id, path string) (io.ReadCloser, container.PathStat, error) {
	if f.down {
		return nil, container.PathStat{}, errRefused
	}
	if f.copyErr != nil {
		return nil, container.PathStat{}, f.copyErr
	}
	for _, c := range f.containers {
		if c.id != id {
			continue
		}
		data, ok := c.files[path]
		if !ok {
			return nil, container.PathStat{}, errdefs.NotFound(fmt.Errorf("Could not find the file %s in container %s", path, c.name))
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		name := path[strings.LastIndex(path, "/")+1:]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return nil, container.PathStat{}, err
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			return nil, container.PathStat{}, err
		}
		if err := tw.Close(); err != nil {
			return nil, container.PathStat{}, err
		}
		return io.NopCloser(&buf), container.PathStat{Name: name, Size: int64(len(data))}, nil
	}
	return nil, container.PathStat{}, errdefs.NotFound(fmt.Errorf("No such container: %s", id))
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...dockerclient.ImageInspectOption) (image.InspectResponse, error) {
	if f.down {
		return image.InspectResponse{}, errRefused
	}
	if id, ok := f.images[ref]; ok {
		return image.InspectResponse{ID: id}, nil
	}
	return image.InspectResponse{}, errdefs.NotFound(fmt.Errorf("No such image: %s", ref))
}

// ImageSave returns a stand-in archive, "REF ID", that fakeNode imports.
func (f *fakeDocker) ImageSave(_ context.Context, refs []string, _ ...dockerclient.ImageSaveOption) (io.ReadCloser, error) {
	if len(refs) != 1 {
		return nil, fmt.Errorf("fakeDocker: saving %d images at once", len(refs))
	}
	id, ok := f.images[refs[0]]
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("No such image: %s", refs[0]))
	}
	return io.NopCloser(strings.NewReader(refs[0] + " " + id)), nil
}

// addNodes adds the node containers of a kind cluster the way kind makes
// them: the cluster and role labels, and /kind/kubeadm.conf carrying the
// node labels of its kind config.
func (f *fakeDocker) addNodes(cluster string, cfg *v1alpha4.Cluster, running bool) {
	workers := 0
	for _, n := range cfg.Nodes {
		name := cluster + "-control-plane"
		if n.Role == v1alpha4.WorkerRole {
			workers++
			name = cluster + "-worker"
			if workers > 1 {
				name += fmt.Sprint(workers)
			}
		}
		var labels []string
		for k, v := range n.Labels {
			labels = append(labels, k+"="+v)
		}
		sort.Strings(labels)
		ip := fmt.Sprintf("172.18.0.%d", len(f.containers)+2)
		conf := "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n" +
			"    - name: \"node-ip\"\n      value: \"" + ip + "\"\n" +
			"    - name: \"node-labels\"\n      value: \"" + strings.Join(labels, ",") + "\"\n"
		flags := "KUBELET_KUBEADM_ARGS=\"--node-ip=" + ip + " --node-labels=" + strings.Join(labels, ",") + " --pod-infra-container-image=registry.k8s.io/pause:3.10.1\"\n"
		f.containers = append(f.containers, &fakeContainer{
			id:      fmt.Sprintf("id-%s-%d", name, len(f.containers)),
			name:    name,
			labels:  map[string]string{kindClusterLabel: cluster, kindRoleLabel: string(n.Role)},
			running: running,
			files:   map[string]string{kubeadmConfig: conf, kubeletFlags: flags},
			ip:      ip,
			started: time.Now(),
		})
	}
}

// addSeclab adds a cluster seclab made for profile.
func (f *fakeDocker) addSeclab(profile string, running bool) {
	ps, err := Builtin()
	if err != nil {
		panic(err)
	}
	p, err := ps.Get(profile)
	if err != nil {
		panic(err)
	}
	f.addNodes(p.ClusterName(), testConfig(p), running)
}

// addForeign adds a plain kind cluster (no seclab labels) of two nodes.
func (f *fakeDocker) addForeign(name string, running bool) {
	f.addNodes(name, &v1alpha4.Cluster{Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}, {Role: v1alpha4.WorkerRole}}}, running)
}

func (f *fakeDocker) setRunning(cluster string, running bool) {
	for _, c := range f.containers {
		if c.labels[kindClusterLabel] == cluster {
			c.running = running
		}
	}
}

func (f *fakeDocker) byName(name string) *fakeContainer {
	for _, c := range f.containers {
		if c.name == name {
			return c
		}
	}
	panic("no container " + name)
}

// fakeKind is the kind library on a fakeDocker: create adds node
// containers, delete removes them; every call is recorded.
type fakeKind struct {
	docker    *fakeDocker
	calls     []string
	configs   []*v1alpha4.Cluster
	createErr error
	nodes     []nodes.Node // what ListNodes returns
	// kubeconfig is what KubeConfig returns (and ExportKubeConfig merges
	// into the file it is given); "" is an error.
	kubeconfig string
}

func (k *fakeKind) Create(name string, cfg *v1alpha4.Cluster, nodeImage, _ string) error {
	k.calls = append(k.calls, "create "+name+" "+nodeImage)
	k.configs = append(k.configs, cfg)
	if k.createErr != nil {
		return k.createErr
	}
	k.docker.addNodes(name, cfg, true)
	return nil
}

func (k *fakeKind) Delete(name, _ string) error {
	k.calls = append(k.calls, "delete "+name)
	var keep []*fakeContainer
	for _, c := range k.docker.containers {
		if c.labels[kindClusterLabel] != name {
			keep = append(keep, c)
		}
	}
	k.docker.containers = keep
	return nil
}

func (k *fakeKind) KubeConfig(string) (string, error) {
	if k.kubeconfig == "" {
		return "", errors.New("fakeKind: no kubeconfig")
	}
	return k.kubeconfig, nil
}

func (k *fakeKind) ExportKubeConfig(name, path string) error {
	k.calls = append(k.calls, "export "+name)
	add, err := clientcmd.Load([]byte(k.kubeconfig))
	if err != nil {
		return err
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		cfg = clientcmdapi.NewConfig()
	}
	for n, c := range add.Clusters {
		cfg.Clusters[n] = c
	}
	for n, c := range add.AuthInfos {
		cfg.AuthInfos[n] = c
	}
	for n, c := range add.Contexts {
		cfg.Contexts[n] = c
	}
	return clientcmd.WriteToFile(*cfg, path)
}

func (k *fakeKind) ListNodes(string) ([]nodes.Node, error) { return k.nodes, nil }

const testImage = "kindest/node:test"

// testConfig is the kind config Create would give kind for p from
// testImage (files under a throwaway directory).
func testConfig(p *Profile) *v1alpha4.Cluster {
	dir, err := os.MkdirTemp("", "seclab-profile-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cfg, err := p.kindConfig(dir, testImage)
	if err != nil {
		panic(err)
	}
	return cfg
}

func newFakeManager() (*Manager, *fakeDocker, *fakeKind) {
	d := &fakeDocker{images: map[string]string{testImage: "sha256:node"}}
	k := &fakeKind{docker: d}
	return &Manager{docker: d, kind: k, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, d, k
}
