// Package engine runs labs on clusters: start (cluster, images, setup,
// canaries), check a step, reset, solve, and tear down. It joins the
// catalog (what a lab is), cluster (where it runs), verify (is it done) and
// state (how far the learner got).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/seclab/seclab/assets"
	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

// ProbeImage runs the throwaway pods connectivity checks and canaries send
// traffic from; it is loaded into every cluster with the lab's images.
var ProbeImage = assets.Version("PROBE_IMAGE")

// Clusters is what the engine needs from internal/cluster (an interface so
// engine logic can be tested without docker).
type Clusters interface {
	Find(ctx context.Context, p *cluster.Profile, nodeImage string) (cluster.Info, bool, error)
	Create(ctx context.Context, p *cluster.Profile, nodeImage string) (cluster.Info, error)
	Get(ctx context.Context, name string) (cluster.Info, error)
	List(ctx context.Context) ([]cluster.Info, error)
	Delete(ctx context.Context, name string) error
	LoadImages(ctx context.Context, name string, images []string) ([]cluster.LoadResult, error)
	// ImageDigest is the digest (sha256:...) the nodes hold for a loaded
	// image: what a lab manifest's digest pin stands for.
	ImageDigest(ctx context.Context, name, image string) (string, error)
	// StartNodes starts stopped node containers; Readdress fixes nodes
	// that came back with another IP address (one line each).
	StartNodes(ctx context.Context, name string) (cluster.Info, error)
	Readdress(ctx context.Context, name string) ([]string, error)
	// KernelFeatures says which cluster.KnownFeatures the nodes' kernel
	// has (it is the docker engine's, so it is known before any node).
	KernelFeatures(ctx context.Context) (map[string]bool, error)
	// EnsureKubeConfig rewrites the learner's kubectl context when it is
	// missing or stale and says so ("" when it was fine).
	EnsureKubeConfig(name string) (string, error)
	RESTConfig(name string) (*rest.Config, error)
	NodeRunner(name string) verify.NodeRunner
}

// Engine ties the pieces together. Fields are set by the CLI.
type Engine struct {
	Catalog  *catalog.Catalog
	Clusters Clusters
	// Profiles are the cluster profiles labs name (nil = cluster.Builtin).
	Profiles *cluster.Profiles
	Store    *state.Store
	Log      *slog.Logger
	// NewEnv builds check clients for a cluster; tests replace it.
	NewEnv func(cfg *rest.Config) (*verify.Env, error)
	Now    func() time.Time

	// canaryTimeoutCap shortens the canaries' check deadlines in tests,
	// where a "not enforced" answer would otherwise wait them out.
	canaryTimeoutCap time.Duration
	// readyTimeout and readyPoll replace ReadyTimeout and the 2s poll of
	// waitReady in tests.
	readyTimeout, readyPoll time.Duration

	// kernel is Clusters.KernelFeatures' answer, asked once per Engine:
	// every Current needs it for a lab with kernel features, and the
	// docker engine's kernel does not change while seclab runs.
	kernelMu sync.Mutex
	kernel   map[string]bool
}

func (e *Engine) profile(name string) (*cluster.Profile, error) {
	ps := e.Profiles
	if ps == nil {
		var err error
		if ps, err = cluster.Builtin(); err != nil {
			return nil, err
		}
	}
	return ps.Get(name)
}

// ErrNoLab means no lab was started yet.
var ErrNoLab = errors.New("no lab started; run: seclab start <lab> (seclab list shows them)")

// Active is the current lab with its progress.
type Active struct {
	Lab      *catalog.Lab
	Progress *state.Progress
}

// OnStep is the step the learner is on: the first not yet passed, or the
// last one when all passed (there is nothing after it to work on).
func (a Active) OnStep() int {
	n := a.Lab.NumSteps()
	if next := a.Progress.NextStep(n); next <= n {
		return next
	}
	return n
}

// Current returns the active lab, or ErrNoLab.
func (e *Engine) Current() (Active, error) {
	s, err := e.Store.Load()
	if err != nil {
		return Active{}, err
	}
	if s.Current == "" || s.Lab(s.Current) == nil {
		return Active{}, ErrNoLab
	}
	lab, err := e.Catalog.Get(s.Current)
	if err != nil {
		return Active{}, fmt.Errorf("the active lab %q is not in this seclab build: %w", s.Current, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if resolved, _, err := e.forKernel(ctx, lab); err == nil {
		// Without docker the lab stays whole: hint and solution work,
		// and any check fails on the cluster first.
		lab = resolved
	}
	p := s.Lab(s.Current)
	return Active{Lab: lab.WithDigests(e.digests(p.Cluster)), Progress: p}, nil
}

// digestTimeout bounds asking the nodes for one image's digest.
const digestTimeout = 30 * time.Second

// digests tells the digests of images on cluster name, asking the nodes
// once per image and only when a manifest pins one (see
// catalog.Lab.WithDigests).
func (e *Engine) digests(name string) func(string) (string, error) {
	var mu sync.Mutex
	known := map[string]string{}
	return func(image string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if d, ok := known[image]; ok {
			return d, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), digestTimeout)
		defer cancel()
		d, err := e.Clusters.ImageDigest(ctx, name, image)
		if err != nil {
			return "", err
		}
		known[image] = d
		return d, nil
	}
}

// forKernel returns lab as it runs on this machine's kernel, and the
// features it was told (nil for a lab that declares none).
func (e *Engine) forKernel(ctx context.Context, lab *catalog.Lab) (*catalog.Lab, map[string]bool, error) {
	if len(lab.Kernel) == 0 {
		return lab, nil, nil
	}
	f, err := e.kernelFeatures(ctx)
	if err != nil {
		return lab, nil, err
	}
	return lab.For(f), f, nil
}

// kernelFeatures asks Clusters once; an error is not kept, so a later call
// (docker back up) asks again.
func (e *Engine) kernelFeatures(ctx context.Context) (map[string]bool, error) {
	e.kernelMu.Lock()
	defer e.kernelMu.Unlock()
	if e.kernel == nil {
		f, err := e.Clusters.KernelFeatures(ctx)
		if err != nil {
			return nil, err
		}
		e.kernel = f
	}
	return e.kernel, nil
}

// env builds the check environment for a running cluster.
func (e *Engine) env(ctx context.Context, clusterName string) (*verify.Env, error) {
	if _, err := e.Clusters.Get(ctx, clusterName); err != nil {
		return nil, err
	}
	return e.newEnv(clusterName)
}

// newEnv builds the check environment for a cluster known to run.
func (e *Engine) newEnv(clusterName string) (*verify.Env, error) {
	cfg, err := e.Clusters.RESTConfig(clusterName)
	if err != nil {
		return nil, err
	}
	newEnv := e.NewEnv
	if newEnv == nil {
		newEnv = verify.NewEnv
	}
	env, err := newEnv(cfg)
	if err != nil {
		return nil, err
	}
	env.Nodes = e.Clusters.NodeRunner(clusterName)
	env.ProbeImage = ProbeImage
	return env, nil
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
