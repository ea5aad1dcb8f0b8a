package cluster

import (
	"bytes"
	"context"
	"errors"

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
		var stdout, stderr bytes.Buffer
		res := verify.NodeOutput{Node: n.String()}
		err := n.CommandContext(ctx, cmd[0], cmd[1:]...).SetStdout(&stdout).SetStderr(&stderr).Run()
		var rerr *kindexec.RunError
		switch {
		case err == nil:
		case errors.As(err, &rerr):
			res.ExitCode = exitCode(rerr.Inner)
		default:
			return nil, err
		}
		res.Stdout, res.Stderr = stdout.String(), stderr.String()
		out = append(out, res)
	}
	return out, nil
}

func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}
