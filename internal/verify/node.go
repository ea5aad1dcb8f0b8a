package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// nodeCheck runs a command on the cluster's node containers (e.g. read the
// kube-apiserver manifest). Every node of the role must pass: hardening one
// control-plane node out of three is not done.
type nodeCheck struct {
	spec *NodeSpec
}

func (c *nodeCheck) nodes() string {
	if c.spec.Role == "" {
		return "every node"
	}
	return "every " + c.spec.Role + " node"
}

func (c *nodeCheck) describe() string {
	n := c.spec
	if n.Expected != "" {
		return n.Expected
	}
	return fmt.Sprintf("%s: `%s` %s", c.nodes(), commandLine(n.Command), outcomeWanted(n.ExitCode, n.StdoutContains, "", n.StdoutNotContains))
}

// wanted is the expected text of a result.
func (c *nodeCheck) wanted() string {
	n := c.spec
	if n.Expected != "" {
		return n.Expected // it says which nodes
	}
	return "on " + c.nodes() + ": " + outcomeWanted(n.ExitCode, n.StdoutContains, "", n.StdoutNotContains)
}

// maxFindings bounds the lines an explaining command may show.
const maxFindings = 20

// findings is what an explaining command printed, line by line. It may
// speak of other nodes (a check run from the control plane): the node is
// the one that reports.
func findings(o NodeOutput) string {
	lines := strings.Split(strings.TrimSpace(o.Stdout), "\n")
	if len(lines) > maxFindings {
		lines = append(lines[:maxFindings], fmt.Sprintf("(%d more lines)", len(lines)-maxFindings))
	}
	s := "node " + o.Node + " reports:"
	for _, l := range lines {
		s += "\n" + strings.TrimSpace(l)
	}
	if e := strings.TrimSpace(o.Stderr); e != "" {
		s += "\nstderr: " + quote(e, maxOutput)
	}
	return s
}

func (c *nodeCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Nodes != nil, "access to the cluster's nodes"); r != nil {
		return *r
	}
	n := c.spec
	expected := c.wanted()
	outs, err := env.Nodes.RunOnNodes(ctx, n.Role, n.Command)
	if err != nil {
		return errorf("could not run `%s` on the nodes: %v", commandLine(n.Command), err)
	}
	// A command cut off by the deadline (killed: exit code -1) says
	// nothing about the node, only that the machine was slow.
	for _, o := range outs {
		if ctx.Err() != nil || o.ExitCode < 0 {
			return errorf("`%s` did not finish on node %s in time (the machine may be busy)", commandLine(n.Command), o.Node)
		}
	}
	// Error: the lab asks for a node role this cluster's profile lacks; a
	// lab/cluster mismatch, never something the learner did.
	if len(outs) == 0 {
		role := n.Role
		if role == "" {
			role = "any"
		}
		return errorf("no nodes with role %s found", role)
	}
	var bad []NodeOutput
	var first []string
	for _, o := range outs {
		p := outputProblems(o.ExitCode, o.Stdout, n.ExitCode, n.StdoutContains, "", n.StdoutNotContains)
		if len(p) > 0 {
			if bad == nil {
				first = p
			}
			bad = append(bad, o)
		}
	}
	if len(bad) == 0 {
		return passed(expected, "passed on "+plural(len(outs), "node"))
	}
	o := bad[0]
	found := "node " + o.Node + ": " + describeOutput(first, o.ExitCode, o.Stdout, o.Stderr, n.StdoutContains)
	if n.Explains && strings.TrimSpace(o.Stdout) != "" {
		found = findings(o)
	}
	if len(bad) > 1 {
		found += "\n(also failing on " + strconv.Itoa(len(bad)-1) + " more: "
		for i, b := range bad[1:] {
			if i > 0 {
				found += ", "
			}
			found += b.Node
		}
		found += ")"
	}
	return failed(expected, found)
}
