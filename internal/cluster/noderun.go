package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"github.com/seclab/seclab/internal/verify"
)

// NodeRunner runs commands in the node containers of one cluster.
type NodeRunner struct {
	m       *Manager
	cluster string
}

// NodeRunner returns a verify.NodeRunner for cluster.
func (m *Manager) NodeRunner(cluster string) verify.NodeRunner {
	return &NodeRunner{m: m, cluster: cluster}
}

// RunOnNodes implements verify.NodeRunner.
func (r *NodeRunner) RunOnNodes(ctx context.Context, role string, cmd []string) ([]verify.NodeOutput, error) {
	targets, err := r.m.nodes(r.cluster, role)
	if err != nil {
		return nil, err
	}
	var out []verify.NodeOutput
	for _, n := range targets {
		res, err := runOn(ctx, n, cmd)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// RunOnNode implements verify.NodeRunner.
func (r *NodeRunner) RunOnNode(ctx context.Context, node string, cmd []string) (verify.NodeOutput, error) {
	all, err := r.m.nodes(r.cluster, "")
	if err != nil {
		return verify.NodeOutput{}, err
	}
	for _, n := range all {
		if n.String() == node {
			return runOn(ctx, n, cmd)
		}
	}
	return verify.NodeOutput{}, fmt.Errorf("cluster %s has no node %q", r.cluster, node)
}

// runOn runs cmd in node n; a non-zero exit is an outcome, not an error.
func runOn(ctx context.Context, n nodes.Node, cmd []string) (verify.NodeOutput, error) {
	var stdout, stderr bytes.Buffer
	res := verify.NodeOutput{Node: n.String()}
	err := n.CommandContext(ctx, cmd[0], cmd[1:]...).SetStdout(&stdout).SetStderr(&stderr).Run()
	var rerr *kindexec.RunError
	switch {
	case err == nil:
	case errors.As(err, &rerr):
		res.ExitCode = exitCode(rerr.Inner)
	default:
		return res, err
	}
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	return res, nil
}

func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}
