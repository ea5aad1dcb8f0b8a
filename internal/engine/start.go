package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

// StartOptions tune Start.
type StartOptions struct {
	// NodeImage for a new cluster ("" = cluster.NodeImage default rules).
	NodeImage string
}

// StartResult says what Start did.
type StartResult struct {
	Lab     *catalog.Lab
	Cluster cluster.Info
	Created bool
	// Preflight has the lab's canary results, detections included (a lab
	// that detects AppArmor decides what to teach from it).
	Preflight []CanaryResult
	// Kernel is what the lab's kernel features are here (nil when it
	// declares none); Lab is the lab as it runs on that kernel.
	Kernel map[string]bool
}

// Start brings lab id up from scratch: a cluster for its profile (reused
// when one serves it and can be brought back, else created), its images, a
// clean copy of its objects, and its preflight canaries. The lab's earlier
// runs stay in its history; the new run starts with nothing passed.
func (e *Engine) Start(ctx context.Context, id string, opts StartOptions) (StartResult, error) {
	lab, err := e.Catalog.Get(id)
	if err != nil {
		return StartResult{}, err
	}
	profile, err := e.profile(lab.Profile)
	if err != nil {
		return StartResult{}, err
	}
	// Before anything is created: what this kernel can show.
	lab, features, err := e.forKernel(ctx, lab)
	if err != nil {
		return StartResult{}, err
	}
	e.explainKernel(lab, features)
	nodeImage := cluster.NodeImage(opts.NodeImage)
	info, found, err := e.Clusters.Find(ctx, profile, nodeImage)
	if err != nil {
		return StartResult{}, err
	}
	res := StartResult{Lab: lab, Kernel: features}
	var env *verify.Env
	if found {
		e.Log.Info("reusing cluster", "name", info.Name, "profile", info.Profile)
		env, err = e.revive(ctx, info, true, lab)
		switch {
		case err == nil:
			if err := e.syncKubeconfig(info.Name); err != nil {
				return res, fmt.Errorf("writing kubeconfig for %s: %w", info.Name, err)
			}
		case ctx.Err() != nil || errors.Is(err, cluster.ErrDockerUnavailable):
			return res, err
		default:
			what := "replacing it"
			if info.Name != profile.ClusterName() {
				what = "creating " + profile.ClusterName() + " instead"
			}
			e.Log.Warn(fmt.Sprintf("cluster %s could not be brought back (%v); %s", info.Name, err, what))
			found = false
		}
	}
	if !found {
		if err := e.explainNewCluster(ctx, profile, nodeImage); err != nil {
			return res, err
		}
		info, err = e.Clusters.Create(ctx, profile, nodeImage)
		if err != nil {
			return res, err
		}
		res.Created = true
		// Whatever ran on a cluster of this name is gone with it.
		err = e.Store.Update(func(s *state.State) error {
			s.EndCluster(info.Name, "replaced by a new cluster", e.now())
			return nil
		})
		if err != nil {
			return res, err
		}
	}
	res.Cluster = info

	images := append([]string{ProbeImage}, lab.Images...)
	loaded, err := e.Clusters.LoadImages(ctx, info.Name, dedupe(images))
	if err != nil {
		return res, err
	}
	for _, l := range loaded {
		if l.Missing {
			e.Log.Warn("image not in the local docker engine; pods using it need a registry (build it with: make images)", "image", l.Image)
		}
	}
	// The images are on the nodes now: their digests are known.
	lab = lab.WithDigests(e.digests(info.Name))
	res.Lab = lab

	if env == nil {
		if env, err = e.newEnv(info.Name); err != nil {
			return res, err
		}
		// A new cluster: the restore keeps its first copies.
		if err := e.restoreNodes(ctx, env, lab); err != nil {
			return res, err
		}
	}
	if err := waitForCluster(ctx, env); err != nil {
		return res, err
	}
	res.Preflight, err = e.preflights(ctx, env, lab.Preflight)
	if err != nil {
		return res, err
	}
	if err := e.markSetupIncomplete(lab.ID, info.Name); err != nil {
		return res, err
	}
	if err := e.cleanLab(ctx, env, lab); err != nil {
		return res, err
	}
	if err := e.applySetup(ctx, env, lab); err != nil {
		return res, err
	}
	err = e.Store.Update(func(s *state.State) error {
		s.StartLab(lab.ID, info.Name, info.Context, e.now())
		return nil
	})
	return res, err
}

// explainNewCluster says, before a cluster is created, which cluster it
// replaces or starts beside, and why none of them serves the lab.
func (e *Engine) explainNewCluster(ctx context.Context, p *cluster.Profile, nodeImage string) error {
	all, err := e.Clusters.List(ctx)
	if err != nil {
		return err
	}
	want := p.Hash(nodeImage)
	var beside []string
	for _, c := range all {
		switch {
		case c.Name == p.ClusterName() && c.Hash != want:
			e.Log.Warn(fmt.Sprintf("replacing cluster %s: it was made from another version of profile %s or another node image (profile hash %s, now %s)", c.Name, p.Name, orNone(c.Hash), want))
		case c.Name != p.ClusterName():
			beside = append(beside, fmt.Sprintf("%s (profile %s)", c.Name, c.Profile))
		}
	}
	if len(beside) > 0 {
		e.Log.Info(fmt.Sprintf("starting %s beside %s: profile %s needs another cluster configuration (seclab down removes clusters)", p.ClusterName(), strings.Join(beside, ", "), p.Name))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// waitForCluster waits until the API answers and the default service
// account exists: before that, pods a learner creates are rejected.
func waitForCluster(ctx context.Context, env *verify.Env) error {
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("cluster API not ready after 2m (default service account missing): %w", err)
	}
	return nil
}

// cleanLab deletes what the lab owns: its namespaces and listed objects.
func (e *Engine) cleanLab(ctx context.Context, env *verify.Env, lab *catalog.Lab) error {
	var objs []*unstructured.Unstructured
	for _, r := range lab.Owns {
		objs = append(objs, refObject(r))
	}
	for _, ns := range lab.Namespaces {
		objs = append(objs, refObject(verify.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: ns}))
	}
	if len(objs) > 0 {
		e.Log.Info("removing the lab's objects", "lab", lab.ID)
	}
	// Probe pods a cancelled check could not delete. They may be in any
	// namespace, and the API has no cross-namespace delete-collection.
	zero := int64(0)
	probes, err := env.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: verify.ProbeLabel + "=true"})
	if err != nil {
		return fmt.Errorf("listing leftover probe pods: %w", err)
	}
	for _, p := range probes.Items {
		err := env.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting leftover probe pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return deleteObjects(ctx, env, objs)
}

// explainKernel says, for each kernel feature the lab adapts to and this
// kernel lacks, what that means and which steps still check what here.
func (e *Engine) explainKernel(lab *catalog.Lab, features map[string]bool) {
	for _, k := range lab.Kernel {
		if features[k.Feature] {
			e.Log.Info(fmt.Sprintf("the nodes' kernel has %s: every step of lab %s runs with it", k.Feature, lab.ID))
			continue
		}
		e.Log.Warn(fmt.Sprintf("the nodes' kernel has no %s: %s", k.Feature, strings.TrimSpace(k.Missing)))
	}
	if len(lab.Kernel) > 0 {
		var steps []string
		for i, s := range lab.Steps {
			steps = append(steps, fmt.Sprintf("%d (%d checks)", i+1, len(s.Checks)))
		}
		e.Log.Info(fmt.Sprintf("on this kernel (%s) the steps check: %s", cluster.FeatureList(features), strings.Join(steps, ", ")))
	}
}

func (e *Engine) applySetup(ctx context.Context, env *verify.Env, lab *catalog.Lab) error {
	if err := runNodeSetup(ctx, env, lab); err != nil {
		return err
	}
	for _, f := range lab.Setup {
		objs, err := lab.Manifests(f)
		if err != nil {
			return err
		}
		if err := applyObjects(ctx, env, objs); err != nil {
			return fmt.Errorf("lab setup %s: %w", f, err)
		}
	}
	return nil
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// runNodeSetup runs the lab's node setup; the first command that fails on
// a node stops it, naming the node and what it printed.
func runNodeSetup(ctx context.Context, env *verify.Env, lab *catalog.Lab) error {
	_, err := runNodeCommands(ctx, env, lab, "node setup", lab.NodeSetup)
	return err
}

// runNodeCommands runs cmds in order on the nodes of their roles and
// returns what each printed; the first that fails on a node stops it.
func runNodeCommands(ctx context.Context, env *verify.Env, lab *catalog.Lab, what string, cmds []catalog.NodeCommand) ([]verify.NodeOutput, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	if env.Nodes == nil {
		return nil, fmt.Errorf("lab %s runs %s on its nodes, but there is no access to them", lab.ID, what)
	}
	var all []verify.NodeOutput
	for _, c := range cmds {
		args, err := lab.NodeArgs(c)
		if err != nil {
			return all, fmt.Errorf("%s `%s`: %w", what, c.Describe(), err)
		}
		outs, err := env.Nodes.RunOnNodes(ctx, c.Role, args)
		if err != nil {
			return all, fmt.Errorf("%s `%s`: %w", what, c.Describe(), err)
		}
		if len(outs) == 0 {
			return all, fmt.Errorf("%s `%s`: the cluster has no %s node", what, c.Describe(), orAny(c.Role))
		}
		for _, o := range outs {
			if o.ExitCode != 0 {
				return all, fmt.Errorf("%s `%s` failed on node %s (exit %d): %s", what, c.Describe(), o.Node, o.ExitCode, strings.TrimSpace(o.Stderr+" "+o.Stdout))
			}
		}
		all = append(all, outs...)
	}
	return all, nil
}

func orAny(role string) string {
	if role == "" {
		return "any"
	}
	return role
}
