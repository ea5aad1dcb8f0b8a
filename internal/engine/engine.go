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
	// StartNodes starts stopped node containers; Readdress fixes nodes
	// that came back with another IP address (one line each).
	StartNodes(ctx context.Context, name string) (cluster.Info, error)
	Readdress(ctx context.Context, name string) ([]string, error)
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
	return Active{Lab: lab, Progress: s.Lab(s.Current)}, nil
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
