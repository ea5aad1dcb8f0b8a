package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/verify"
)

// quizDir writes a two-step question lab to a labs directory, starts it
// in a fresh state directory, and returns the directory for --labs-dir.
func quizDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"quiz/lab.yaml": `id: quiz
title: Quiz
domain: Overview of Cloud Native Security
minutes: 1
profile: default
steps:
  - title: Order the layers
    domain: Overview of Cloud Native Security
    text: q1.md
    explanation: why1.md
    checks:
      - keep: true
        answer:
          equals: b
          choices:
            - {id: a, text: "Code, Container, Cluster, Cloud"}
            - {id: b, text: "Cloud, Cluster, Container, Code"}
            - {id: c, text: "Cluster, Cloud, Code, Container"}
    solution: {text: s1.md, answer: b}
  - title: Pick the node components
    text: q2.md
    checks:
      - answer:
          equals: a,c
          multiple: true
          choices: [{id: a, text: kubelet}, {id: b, text: etcd}, {id: c, text: kube-proxy}]
    solution: {text: s1.md, answer: "a,c"}
`,
		"quiz/q1.md":   "Which order runs from the outside in?\n",
		"quiz/q2.md":   "What runs on every worker?\n",
		"quiz/s1.md":   "The answer is in the text.\n",
		"quiz/why1.md": "Cloud holds the cluster, which runs containers, which run code.\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	withStarted(t, "quiz")
	return dir
}

func TestStepShowsChoicesNotTheAnswer(t *testing.T) {
	dir := quizDir(t)
	out, errOut, code := runIn(t, context.Background(), "--labs-dir", dir, "step")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `Step 1/2: Order the layers
KCSA domain: Overview of Cloud Native Security

Which order runs from the outside in?

  a) Code, Container, Cluster, Cloud
  b) Cloud, Cluster, Container, Code
  c) Cluster, Cloud, Code, Container

Answer with one choice: seclab answer ID    (stuck? seclab hint)
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	out, _, code = runIn(t, context.Background(), "--labs-dir", dir, "step", "2")
	if code != 0 || !strings.Contains(out, "  c) kube-proxy\n") || !strings.Contains(out, "Select every choice that applies: seclab answer ID,ID,...") {
		t.Errorf("step 2: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "KCSA domain") {
		t.Errorf("step 2 has no domain of its own:\n%s", out)
	}
}

func TestStepJSONHasChoicesNotTheAnswer(t *testing.T) {
	dir := quizDir(t)
	out, errOut, code := runIn(t, context.Background(), "--labs-dir", dir, "step", "-o", "json", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var got struct {
		Step     int
		Of       int
		Title    string
		Text     string
		Choices  []verify.Choice
		Multiple bool
		Passed   bool
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Step != 2 || got.Of != 2 || got.Text != "What runs on every worker?\n" || !got.Multiple || len(got.Choices) != 3 || got.Choices[2] != (verify.Choice{ID: "c", Text: "kube-proxy"}) {
		t.Errorf("step view: %+v", got)
	}
	for _, k := range []string{"equals", "answer", "solution", "explanation"} {
		if _, ok := v[k]; ok {
			t.Errorf("step -o json has %q, which gives the answer away:\n%s", k, out)
		}
	}
}

// An answer that names no choice is a usage error, refused before any
// cluster is asked; a valid one goes on to be checked (here: no docker).
func TestAnswerNotAChoiceExits2(t *testing.T) {
	dir := quizDir(t)
	out, errOut, code := runIn(t, context.Background(), "--labs-dir", dir, "answer", "kubelet")
	if code != ExitUsage || out != "" || errOut != "seclab: step 1: \"kubelet\" is not a choice of this question; answer with the id of one choice: a, b, c\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, _, code = runIn(t, context.Background(), "--labs-dir", dir, "answer", "--step", "2", "A, c")
	if code != ExitEnvError {
		t.Errorf("a valid answer should reach the (missing) cluster: exit %d", code)
	}
}

func TestExplanationFollowsAPass(t *testing.T) {
	passed := engine.StepReport{Lab: "quiz", Step: 1, Of: 2, Title: "Order the layers", Passed: true,
		Results:     []verify.Result{{Name: "answer is correct", Status: verify.Pass}},
		Explanation: "Cloud holds the cluster."}
	var b bytes.Buffer
	if err := printReports(&b, nil, []engine.StepReport{passed}, false); err != nil {
		t.Fatal(err)
	}
	want := "Step 1/2: Order the layers\n  ✓ answer is correct\nStep 1 passed (1/1 checks).\n\nWhy:\nCloud holds the cluster.\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	// check --all lists steps; explanations are for the step just done.
	b.Reset()
	if err := printReports(&b, nil, []engine.StepReport{passed, passed}, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Why:") {
		t.Errorf("explanations in a many-step report:\n%s", b.String())
	}
}

func TestSolutionShowsTheExplanation(t *testing.T) {
	dir := quizDir(t)
	out, errOut, code := runIn(t, context.Background(), "--labs-dir", dir, "solution", "1")
	want := "Step 1/2: Order the layers — solution\n\nThe answer is in the text.\n\nWhy:\nCloud holds the cluster, which runs containers, which run code.\n"
	if code != 0 || out != want {
		t.Errorf("exit %d (%s):\n%s\nwant:\n%s", code, errOut, out, want)
	}
}
