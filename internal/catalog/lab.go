// Package catalog reads labs: lab.yaml plus the markdown and manifests it
// names. Labs are data; this package decodes them strictly and validates them
// as a whole, so a broken lab is reported with every problem at once.
package catalog

import (
	"io/fs"
	"path"
	"strings"

	"github.com/seclab/seclab/internal/verify"
)

// Lab is one exercise, as written in labs/<id>/lab.yaml.
type Lab struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Domain  string `json:"domain"`  // KCSA domain, for the progress report
	Minutes int    `json:"minutes"` // estimated time
	// Profile names the cluster profile the lab needs (see internal/cluster).
	Profile string `json:"profile"`
	// Intro is a markdown file shown by `start` before step 1.
	Intro string `json:"intro,omitempty"`
	// Images are loaded into the cluster's nodes from the local docker
	// engine when present there (offline use); manifests must pin them.
	Images []string `json:"images,omitempty"`
	// Namespaces the lab owns: reset deletes them.
	Namespaces []string `json:"namespaces,omitempty"`
	// Owns lists objects outside those namespaces that reset deletes
	// (for labs that teach in "default").
	Owns []verify.ObjectRef `json:"owns,omitempty"`
	// Setup manifests are applied at start and after reset.
	Setup []string `json:"setup,omitempty"`
	// Preflight names engine canaries run at start, e.g. "networkpolicy".
	Preflight []string `json:"preflight,omitempty"`
	// Kernel lists the kernel features the lab adapts to. start tells them
	// from the docker engine before it creates anything, says what a
	// missing one means here, and checks, near-misses and node setup
	// marked `when` run only where their condition holds.
	Kernel []KernelFeature `json:"kernel,omitempty"`
	// NodeSetup runs on the nodes at start and after reset (e.g. load an
	// AppArmor profile); a command that fails stops the setup.
	NodeSetup []NodeCommand `json:"nodeSetup,omitempty"`
	// NodeRestore runs on the nodes at start and reset before seclab waits
	// for the cluster: it puts back node files the lab has the learner
	// edit (an API server manifest, a kubelet configuration), which may
	// have left the cluster unable to answer. What it prints is shown.
	NodeRestore []NodeCommand `json:"nodeRestore,omitempty"`
	Steps       []Step        `json:"steps"`

	// files is the lab's directory; paths in the lab are relative to it.
	files fs.FS
	// digest tells an image's digest on the cluster, to fill in the digest
	// pins of manifests (see WithDigests); nil leaves them as written.
	digest func(image string) (string, error)
	// dir is where the lab was read from, for messages.
	dir string
}

// KernelFeature is a feature of the nodes' kernel the lab adapts to.
type KernelFeature struct {
	Feature string `json:"feature"`
	// Missing is what start says where the kernel lacks it: what cannot
	// be shown here and what the lab teaches instead.
	Missing string `json:"missing"`
}

// NodeCommand is a command run on the nodes of a role: either Command, or
// Script (a lab file run by sh) with Args.
type NodeCommand struct {
	// Role is control-plane or worker; empty means every node.
	Role    string   `json:"role,omitempty"`
	Command []string `json:"command,omitempty"`
	Script  string   `json:"script,omitempty"`
	Args    []string `json:"args,omitempty"`
	When    string   `json:"when,omitempty"`
}

// NodeArgs is the command line of c as run on a node.
func (l *Lab) NodeArgs(c NodeCommand) ([]string, error) {
	if c.Script == "" {
		return c.Command, nil
	}
	b, err := l.ReadFile(c.Script)
	if err != nil {
		return nil, err
	}
	// sh -c SCRIPT NAME ARGS...: the script sees its args as $1...
	return append([]string{"sh", "-c", string(b), c.Script}, c.Args...), nil
}

// Describe is c in one line, for messages.
func (c NodeCommand) Describe() string {
	if c.Script != "" {
		return strings.TrimSpace(c.Script + " " + strings.Join(c.Args, " "))
	}
	return strings.Join(c.Command, " ")
}

// Step is one task the learner does, and how seclab knows it is done.
type Step struct {
	Title string `json:"title"`
	// Domain is the KCSA domain of this step, when the lab spans several
	// (a quiz); shown with the step.
	Domain string `json:"domain,omitempty"`
	// Text is a markdown file with the task.
	Text string `json:"text"`
	// Explanation is a markdown file shown once the step passes (and with
	// the solution): why the answer is right.
	Explanation string        `json:"explanation,omitempty"`
	Hints       []string      `json:"hints,omitempty"`
	Checks      []verify.Spec `json:"checks"`
	// Solution is the reference answer; the self-test applies it.
	Solution Solution `json:"solution"`
	// NearMisses are plausible wrong answers; each must make a check fail.
	NearMisses []NearMiss `json:"nearMisses,omitempty"`
	// Equivalents are right answers written another way than the solution
	// (another selector form, more replicas); the self-test applies each
	// in the solution's place and expects the step to pass.
	Equivalents []NearMiss `json:"equivalents,omitempty"`
	// EquivalentMutants are generated mutants of the solution (see
	// Lab.Mutants) that mean the same as the solution, so no check can
	// or should catch them; the self-test reports them as equivalent.
	EquivalentMutants []EquivalentMutant `json:"equivalentMutants,omitempty"`
}

// EquivalentMutant names a mutant by id and says why it is harmless.
type EquivalentMutant struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Solution is what `seclab solution` shows and what the self-test does.
type Solution struct {
	// Text is a markdown file explaining the solution (commands to type).
	Text string `json:"text"`
	// Apply are manifests the self-test applies (server-side apply).
	Apply []string `json:"apply,omitempty"`
	// Answer is submitted for steps checked with an answer check. It is
	// left out when the check reads its value from the cluster
	// (fromObject): see Step.LiveAnswer.
	Answer string `json:"answer,omitempty"`
	// Run are node commands run after Apply (edit a node's file, restart
	// its kubelet). Nothing undoes them: each must bring the node to the
	// state it teaches from whatever state an earlier trial left.
	Run []NodeCommand `json:"run,omitempty"`
}

// NearMiss is a wrong answer that looks right. The self-test applies it on
// top of the previous steps' solutions, expects the step to fail, then
// deletes what it applied.
type NearMiss struct {
	Name   string   `json:"name"`
	When   string   `json:"when,omitempty"` // as verify.Spec.When
	Apply  []string `json:"apply,omitempty"`
	Answer string   `json:"answer,omitempty"`
	// Run are node commands run after Apply, as Solution.Run; they are
	// not undone, the next trial's or the solution's commands set the
	// node's state again.
	Run []NodeCommand `json:"run,omitempty"`
}

// LiveAnswer returns the step's answer check that reads its expected value
// from a live object, or nil. Such a value differs between clusters (the
// node a pod runs on), so the solution cannot write it down: whoever
// submits the reference answer reads it with verify.ExpectedAnswer.
func (s *Step) LiveAnswer() *verify.AnswerSpec {
	for _, c := range s.Checks {
		if c.Answer != nil && c.Answer.FromObject != nil {
			return c.Answer
		}
	}
	return nil
}

// Question returns the step's multiple-choice answer check, or nil.
func (s *Step) Question() *verify.AnswerSpec {
	for _, c := range s.Checks {
		if c.Answer.IsChoice() {
			return c.Answer
		}
	}
	return nil
}

// WithDigests returns the lab with its manifests' digest pins
// (REPOSITORY@${digest:IMAGE}) filled in by digest, which tells the
// sha256: digest the cluster's nodes hold for one of the lab's images.
func (l *Lab) WithDigests(digest func(image string) (string, error)) *Lab {
	out := *l
	out.digest = digest
	return &out
}

// ReadFile returns a file of the lab by its lab-relative path.
func (l *Lab) ReadFile(name string) ([]byte, error) {
	return fs.ReadFile(l.files, path.Clean(name))
}

// Dir is where the lab came from (for messages).
func (l *Lab) Dir() string { return l.dir }

// NumSteps is the number of steps, numbered from 1.
func (l *Lab) NumSteps() int { return len(l.Steps) }

// Step returns step n (1-based), or nil.
func (l *Lab) Step(n int) *Step {
	if n < 1 || n > len(l.Steps) {
		return nil
	}
	return &l.Steps[n-1]
}

// Holds reports whether condition when ("", "feature" or "!feature")
// holds for the given kernel features.
func Holds(when string, features map[string]bool) bool {
	if when == "" {
		return true
	}
	if f, neg := strings.CutPrefix(when, "!"); neg {
		return !features[f]
	}
	return features[when]
}

// For returns the lab as it runs on a kernel with features: checks,
// near-misses, equivalents and node setup whose `when` does not hold are
// left out. A lab without kernel features is returned as is.
func (l *Lab) For(features map[string]bool) *Lab {
	if len(l.Kernel) == 0 {
		return l
	}
	out := *l
	node := func(c NodeCommand) string { return c.When }
	out.NodeSetup = keepWhen(l.NodeSetup, features, node)
	out.NodeRestore = keepWhen(l.NodeRestore, features, node)
	out.Steps = make([]Step, len(l.Steps))
	for i, s := range l.Steps {
		s.Checks = keepWhen(s.Checks, features, func(c verify.Spec) string { return c.When })
		trial := func(t NearMiss) string { return t.When }
		s.NearMisses = keepWhen(s.NearMisses, features, trial)
		s.Equivalents = keepWhen(s.Equivalents, features, trial)
		s.Solution.Run = keepWhen(s.Solution.Run, features, node)
		out.Steps[i] = s
	}
	return &out
}

// keepWhen is the items of in whose condition holds for features.
func keepWhen[T any](in []T, features map[string]bool, when func(T) string) []T {
	var out []T
	for _, t := range in {
		if Holds(when(t), features) {
			out = append(out, t)
		}
	}
	return out
}
