package engine

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/seclab/seclab/internal/verify"
)

// roleNodes answers each command on a node named after the role asked
// for, printing what the lab's restore would print.
type roleNodes struct {
	roles []string
	cmds  [][]string
	exit  int
}

func (r *roleNodes) RunOnNodes(_ context.Context, role string, cmd []string) ([]verify.NodeOutput, error) {
	r.roles = append(r.roles, role)
	r.cmds = append(r.cmds, cmd)
	node := "every-" + role
	return []verify.NodeOutput{{Node: node, Stdout: "restored /etc/x\n\nsecond line\n", ExitCode: r.exit}}, nil
}

func (r *roleNodes) RunOnNode(context.Context, string, []string) (verify.NodeOutput, error) {
	return verify.NodeOutput{}, nil
}

// The components lab's node restore runs its scripts by role, in order,
// and says what each put back; a failing one stops it, naming the node.
func TestNodeRestoreRunsScriptsByRoleAndSaysWhatItDid(t *testing.T) {
	e, _, _ := newTestEngine(t)
	var logs bytes.Buffer
	e.Log = slog.New(slog.NewTextHandler(&logs, nil))
	lab, err := e.Catalog.Get("components")
	if err != nil {
		t.Fatal(err)
	}
	nodes := &roleNodes{}
	if err := e.restoreNodes(context.Background(), &verify.Env{Nodes: nodes}, lab); err != nil {
		t.Fatal(err)
	}
	if strings.Join(nodes.roles, ",") != ",control-plane" {
		t.Errorf("roles %q, want every node then the control plane", nodes.roles)
	}
	script, _ := lab.ReadFile("setup/restore-apiserver.sh")
	if c := nodes.cmds[1]; len(c) != 4 || c[0] != "sh" || c[1] != "-c" || c[2] != string(script) {
		t.Errorf("control-plane command %q, want sh -c with setup/restore-apiserver.sh", c)
	}
	for _, want := range []string{`msg="restored /etc/x" node=every-control-plane`, `msg="second line" node=every-`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	nodes = &roleNodes{exit: 1}
	err = e.restoreNodes(context.Background(), &verify.Env{Nodes: nodes}, lab)
	if err == nil || !strings.Contains(err.Error(), "node restore `setup/restore-kubelet.sh` failed on node every-") || len(nodes.cmds) != 1 {
		t.Errorf("a failing restore: %v after %d commands", err, len(nodes.cmds))
	}
	// Nothing to restore: no node access needed.
	if err := e.restoreNodes(context.Background(), &verify.Env{}, nil); err != nil {
		t.Errorf("no lab: %v", err)
	}
}
