package verify

import (
	"errors"
	"testing"
)

const manifestOK = `spec:
  containers:
  - command:
    - kube-apiserver
    - --anonymous-auth=false
    - --authorization-mode=Node,RBAC
`

const manifestBad = `spec:
  containers:
  - command:
    - kube-apiserver
    - --anonymous-auth=true
    - --authorization-mode=AlwaysAllow
`

func nodeSpec() Spec {
	return Spec{Node: &NodeSpec{
		Role:              "control-plane",
		Command:           []string{"cat", "/etc/kubernetes/manifests/kube-apiserver.yaml"},
		StdoutContains:    "--authorization-mode=Node,RBAC",
		StdoutNotContains: "--anonymous-auth=true",
	}}
}

func TestNodeAllPass(t *testing.T) {
	env, _ := testEnv()
	nodes := &fakeNodes{outs: []NodeOutput{{Node: "cp1", Stdout: manifestOK}, {Node: "cp2", Stdout: manifestOK}}}
	env.Nodes = nodes
	r := quick(t, env, nodeSpec())
	wantStatus(t, r, Pass)
	if nodes.role != "control-plane" || nodes.cmd[1] != "/etc/kubernetes/manifests/kube-apiserver.yaml" {
		t.Errorf("ran %q on %q", nodes.cmd, nodes.role)
	}
	if r.Found != "passed on 2 nodes" {
		t.Errorf("found = %q", r.Found)
	}
}

func TestNodeFailureNamesNodeAndLine(t *testing.T) {
	env, _ := testEnv()
	env.Nodes = &fakeNodes{outs: []NodeOutput{{Node: "cp1", Stdout: manifestOK}, {Node: "cp2", Stdout: manifestBad}, {Node: "cp3", Stdout: manifestBad}}}
	r := quick(t, env, nodeSpec())
	wantStatus(t, r, Fail)
	want := `node cp2: stdout does not contain "--authorization-mode=Node,RBAC"; ` +
		`stdout contains "--anonymous-auth=true": "- --anonymous-auth=true" (exit code 0)` + "\n" +
		`stdout: lines with "--authorization-mode": "- --authorization-mode=AlwaysAllow"` + "\n" +
		`(also failing on 1 more: cp3)`
	if r.Found != want {
		t.Errorf("found =\n%s\nwant\n%s", r.Found, want)
	}
	if r.Expected != `on every control-plane node: exit code 0, stdout contains "--authorization-mode=Node,RBAC", stdout does not contain "--anonymous-auth=true"` {
		t.Errorf("expected = %q", r.Expected)
	}
}

func TestNodeExitCode(t *testing.T) {
	env, _ := testEnv()
	env.Nodes = &fakeNodes{outs: []NodeOutput{{Node: "w1", ExitCode: 1, Stderr: "cat: can't open '/etc/x': No such file or directory\n"}}}
	r := quick(t, env, Spec{Node: &NodeSpec{Command: []string{"cat", "/etc/x"}}})
	wantStatus(t, r, Fail)
	want := "node w1: exit code 1\nstdout: (empty)\nstderr: \"cat: can't open '/etc/x': No such file or directory\""
	if r.Found != want {
		t.Errorf("found = %q", r.Found)
	}
}

func TestNodeErrors(t *testing.T) {
	env, _ := testEnv()
	env.Nodes = nil // testEnv gives every test a node runner; this one has none
	r := quick(t, env, nodeSpec())
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "access to the cluster's nodes is missing")
	if r.Attempts != 1 {
		t.Errorf("attempts = %d", r.Attempts)
	}

	env.Nodes = &fakeNodes{}
	r = quick(t, env, nodeSpec())
	wantStatus(t, r, Error)
	if r.Found != "no nodes with role control-plane found" {
		t.Errorf("found = %q", r.Found)
	}

	env.Nodes = &fakeNodes{err: errors.New("docker: not running")}
	r = quick(t, env, nodeSpec())
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "docker: not running")
}

// A command the deadline killed (exit code -1) is no evidence about the
// node: an Error, never a failed check.
func TestNodeCommandCutOffIsAnError(t *testing.T) {
	env, _ := testEnv()
	env.Nodes = &fakeNodes{outs: []NodeOutput{{Node: "cp", ExitCode: -1}}}
	r := quick(t, env, Spec{Node: &NodeSpec{Command: []string{"cat", "/sys/module/apparmor/parameters/enabled"}, StdoutContains: "Y"}})
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "did not finish on node cp in time")
}

// Three nodes (one control plane, two workers, as the seccomp profile
// makes), one of them lacking the file: the check fails, names that node and
// no other, and the two that pass are not blamed.
func TestNodeOneOfThreeFailsNamesIt(t *testing.T) {
	env, _ := testEnv()
	profiles := "audit.json\nfine-grained.json\nviolation.json\n"
	env.Nodes = &fakeNodes{outs: []NodeOutput{
		{Node: "seclab-seccomp-control-plane", Stdout: profiles},
		{Node: "seclab-seccomp-worker", Stdout: profiles},
		{Node: "seclab-seccomp-worker2", ExitCode: 1, Stderr: "ls: cannot access '/var/lib/kubelet/seccomp/profiles': No such file or directory\n"},
	}}
	r := quick(t, env, Spec{Node: &NodeSpec{Command: []string{"ls", "/var/lib/kubelet/seccomp/profiles"}, StdoutContains: "fine-grained.json"}})
	wantStatus(t, r, Fail)
	want := `node seclab-seccomp-worker2: exit code 1; stdout does not contain "fine-grained.json"` + "\n" +
		"stdout: (empty)\n" +
		`stderr: "ls: cannot access '/var/lib/kubelet/seccomp/profiles': No such file or directory"`
	if r.Found != want {
		t.Errorf("found =\n%s\nwant\n%s", r.Found, want)
	}
	if r.Expected != `on every node: exit code 0, stdout contains "fine-grained.json"` {
		t.Errorf("expected = %q", r.Expected)
	}
}

// A command that explains itself is shown line by line under the node,
// and the expected text is the lab's, not an exit code.
func TestNodeExplainingCommand(t *testing.T) {
	env, _ := testEnv()
	out := "w1: an anonymous GET https://10.0.0.2:10250/pods lists the node's pods (200): anonymous authentication is on\nw2: refused (401)\n"
	env.Nodes = &fakeNodes{outs: []NodeOutput{{Node: "cp", Stdout: out, ExitCode: 1}, {Node: "cp2", Stdout: "x", ExitCode: 1}}}
	s := Spec{Node: &NodeSpec{Role: "control-plane", Command: []string{"sh", "-c", "probe"}, Expected: "every kubelet answers an anonymous request with 401", Explains: true}}
	r := quick(t, env, s)
	wantStatus(t, r, Fail)
	want := "node cp reports:\nw1: an anonymous GET https://10.0.0.2:10250/pods lists the node's pods (200): anonymous authentication is on\nw2: refused (401)\n(also failing on 1 more: cp2)"
	if r.Found != want {
		t.Errorf("found =\n%s\nwant\n%s", r.Found, want)
	}
	if r.Expected != "every kubelet answers an anonymous request with 401" {
		t.Errorf("expected = %q", r.Expected)
	}
}
