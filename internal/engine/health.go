package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

// ReadyTimeout bounds the wait for a cluster's nodes to come back after a
// restart; past it start replaces the cluster and check gives up.
const ReadyTimeout = 3 * time.Minute

// LabError says why the active lab cannot be worked on now, and what to do.
type LabError struct {
	Lab, Cluster string
	Err          error  // the cause
	Fix          string // a command line and what it does
}

func (e *LabError) Error() string {
	if e.Fix == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + "; run: " + e.Fix
}

func (e *LabError) Unwrap() error { return e.Err }

// runError is why act's run cannot be worked on as it is, or nil. A run
// whose setup did not finish is fine for reset, which sets it up again.
func runError(act Active, forReset bool) error {
	p := act.Progress
	switch {
	case !p.Ended.IsZero():
		return &LabError{Lab: act.Lab.ID, Cluster: p.Cluster,
			Err: fmt.Errorf("lab %s's cluster %s was %s on %s", act.Lab.ID, p.Cluster, p.EndReason, p.Ended.Local().Format("2006-01-02 15:04")),
			Fix: "seclab start " + act.Lab.ID + " to do the lab again (your earlier progress is kept)"}
	case p.SetupIncomplete && !forReset:
		return &LabError{Lab: act.Lab.ID, Cluster: p.Cluster,
			Err: fmt.Errorf("the last seclab start or reset of lab %s did not finish (interrupted?), so its objects on cluster %s are half set up", act.Lab.ID, p.Cluster),
			Fix: "seclab reset to set the lab up again"}
	}
	return nil
}

// clusterError turns a failure to use the lab's cluster into a message
// that names the cluster (or node) and says what to do.
func clusterError(act Active, err error) error {
	name := act.Progress.Cluster
	var gone *cluster.NotFoundError
	var stopped *cluster.StoppedError
	var already *LabError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &already), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, cluster.ErrDockerUnavailable):
		return cluster.DockerUnavailable(name)
	case errors.As(err, &gone):
		return &LabError{Lab: act.Lab.ID, Cluster: name, Err: fmt.Errorf("%w (deleted outside seclab?)", err),
			Fix: "seclab start " + act.Lab.ID + " to create it again"}
	case errors.As(err, &stopped):
		return &LabError{Lab: act.Lab.ID, Cluster: name, Err: err,
			Fix: "seclab reset (or seclab start " + act.Lab.ID + ") to start it again and set the lab up from scratch"}
	case errors.Is(err, errNotReady) && len(act.Lab.NodeRestore) > 0:
		// The lab has the learner edit node files: the likeliest cause
		// is an edit the API server or a kubelet cannot run with.
		return &LabError{Lab: act.Lab.ID, Cluster: name, Err: err,
			Fix: "seclab reset to put back the cluster's own node files (yours are kept on the node) and set the lab up again"}
	}
	return &LabError{Lab: act.Lab.ID, Cluster: name, Err: err,
		Fix: "seclab start " + act.Lab.ID + " to bring the cluster back or replace it"}
}

// labEnv is the check environment of the active lab's run, once its
// cluster serves it: nodes that came back from a restart with other
// addresses are fixed and waited for. Stopped nodes are an error, except
// forReset, which starts them (the lab is set up again anyway).
func (e *Engine) labEnv(ctx context.Context, act Active, forReset bool) (*verify.Env, error) {
	if err := runError(act, forReset); err != nil {
		return nil, err
	}
	info, err := e.Clusters.Get(ctx, act.Progress.Cluster)
	var stopped *cluster.StoppedError
	if errors.As(err, &stopped) && forReset {
		err = nil
	}
	if err != nil {
		return nil, clusterError(act, err)
	}
	var restore *catalog.Lab
	if forReset {
		restore = act.Lab
	}
	env, err := e.revive(ctx, info, forReset, restore)
	if err != nil {
		return nil, clusterError(act, err)
	}
	e.syncKubeconfigQuietly(info.Name)
	return env, nil
}

// ClusterProblem says why the active lab's cluster cannot be used, or nil;
// it does not wait or repair anything (status is a quick look), but puts
// back a missing kubectl context.
func (e *Engine) ClusterProblem(ctx context.Context, act Active) error {
	if err := runError(act, false); err != nil {
		return err
	}
	if _, err := e.Clusters.Get(ctx, act.Progress.Cluster); err != nil {
		return clusterError(act, err)
	}
	e.syncKubeconfigQuietly(act.Progress.Cluster)
	return nil
}

// revive brings a cluster seclab found back into service: its stopped node
// containers are started (if startStopped), nodes that came back with other
// addresses are fixed, and then it waits until every node is Ready with a
// status newer than its container's start and kube-system's pods are ready.
// Before the wait, the node restore of lab (if not nil) puts back what the
// learner may have broken on the nodes.
func (e *Engine) revive(ctx context.Context, info cluster.Info, startStopped bool, lab *catalog.Lab) (*verify.Env, error) {
	var err error
	if !info.Running {
		if !startStopped {
			return nil, &cluster.StoppedError{Cluster: info.Name, Nodes: info.Stopped}
		}
		if info, err = e.Clusters.StartNodes(ctx, info.Name); err != nil {
			return nil, err
		}
	}
	if _, err := e.Clusters.Readdress(ctx, info.Name); err != nil {
		return nil, err
	}
	env, err := e.newEnv(info.Name)
	if err != nil {
		return nil, err
	}
	if err := e.restoreNodes(ctx, env, lab); err != nil {
		return nil, err
	}
	if err := e.waitReady(ctx, env.Client, info); err != nil {
		return nil, err
	}
	return env, nil
}

// restoreNodes runs lab's node restore, saying what it put back.
func (e *Engine) restoreNodes(ctx context.Context, env *verify.Env, lab *catalog.Lab) error {
	if lab == nil || len(lab.NodeRestore) == 0 {
		return nil
	}
	outs, err := runNodeCommands(ctx, env, lab, "node restore", lab.NodeRestore)
	for _, o := range outs {
		for _, line := range strings.Split(strings.TrimSpace(o.Stdout), "\n") {
			if line != "" {
				e.Log.Info(line, "node", o.Node)
			}
		}
	}
	return err
}

// errNotReady marks a cluster that did not become ready in time.
var errNotReady = errors.New("not ready")

// waitReady waits until clusterNotReady has nothing to say, saying once
// what it waits for.
func (e *Engine) waitReady(ctx context.Context, client kubernetes.Interface, info cluster.Info) error {
	timeout := ReadyTimeout
	if e.readyTimeout > 0 {
		timeout = e.readyTimeout
	}
	poll := 2 * time.Second
	if e.readyPoll > 0 {
		poll = e.readyPoll
	}
	deadline := time.Now().Add(timeout)
	said := false
	for {
		problem := clusterNotReady(ctx, client, info)
		if problem == "" {
			if said {
				e.Log.Info("cluster is ready", "name", info.Name)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %s %w after %s: %s", info.Name, errNotReady, timeout, problem)
		}
		if !said {
			e.Log.Info("waiting for the cluster to come back", "name", info.Name, "reason", problem)
			said = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// clusterNotReady is the first thing keeping the cluster from serving a
// lab, or "": the API must answer, every node must be Ready in a status
// posted since its container last started (a status from before a restart
// says nothing), and every pod in kube-system must be ready.
func clusterNotReady(ctx context.Context, client kubernetes.Interface, info cluster.Info) string {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := client.CoreV1().Nodes().List(rctx, metav1.ListOptions{})
	if err != nil {
		return "the API server is not serving yet (" + oneLine(err.Error(), 200) + ")"
	}
	byName := map[string]*corev1.Node{}
	for i := range nodes.Items {
		byName[nodes.Items[i].Name] = &nodes.Items[i]
	}
	for _, name := range info.NodeNames {
		n := byName[name]
		if n == nil {
			return "node " + name + " is not registered"
		}
		ready := readyCondition(n)
		switch {
		case ready == nil:
			return "node " + name + " has no Ready condition yet"
		case ready.Status != corev1.ConditionTrue:
			return fmt.Sprintf("node %s is not Ready (%s: %s)", name, ready.Reason, oneLine(ready.Message, 120))
		case ready.LastHeartbeatTime.Time.Before(info.StartedAt[name].Truncate(time.Second)):
			return "node " + name + " has not reported since its container started"
		}
	}
	pods, err := client.CoreV1().Pods(metav1.NamespaceSystem).List(rctx, metav1.ListOptions{})
	if err != nil {
		return "the API server is not serving yet (" + oneLine(err.Error(), 200) + ")"
	}
	var waiting []string
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodSucceeded && !podReady(&p) {
			waiting = append(waiting, p.Name)
		}
	}
	if len(waiting) > 0 {
		sort.Strings(waiting)
		return "kube-system pods not ready: " + strings.Join(waiting, ", ")
	}
	return ""
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// syncKubeconfig puts the learner's kubectl context back when it is
// missing or stale, saying so.
func (e *Engine) syncKubeconfig(name string) error {
	msg, err := e.Clusters.EnsureKubeConfig(name)
	if err != nil {
		return err
	}
	if msg != "" {
		e.Log.Warn(msg)
	}
	return nil
}

// syncKubeconfigQuietly is syncKubeconfig where the context is a courtesy:
// seclab's checks use their own client config.
func (e *Engine) syncKubeconfigQuietly(name string) {
	if err := e.syncKubeconfig(name); err != nil {
		e.Log.Warn("could not check the kubectl context", "cluster", name, "err", err)
	}
}

// markSetupIncomplete records, before a start or reset rebuilds lab id's
// objects on clusterName, that its live run there no longer matches the
// cluster until the rebuild finishes (and records a new run).
func (e *Engine) markSetupIncomplete(id, clusterName string) error {
	return e.Store.Update(func(s *state.State) error {
		if p := s.Lab(id); p != nil && p.Cluster == clusterName && p.Ended.IsZero() {
			p.SetupIncomplete = true
		}
		return nil
	})
}
