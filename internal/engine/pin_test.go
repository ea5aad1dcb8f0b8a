package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var pinDigest = "sha256:" + strings.Repeat("5e", 32)

// pinLab pins a pod by the digest the nodes hold for the lab's image: no
// lab file can write it down, so the engine fills it in wherever a
// manifest is applied.
func pinLab() fstest.MapFS {
	pod := func(name, image string) []byte {
		return []byte(`apiVersion: v1
kind: Pod
metadata: {name: ` + name + `, namespace: toy}
spec:
  containers: [{name: app, image: "` + image + `", imagePullPolicy: IfNotPresent}]
`)
	}
	const pin = "registry.seclab.local/busybox@${digest:registry.seclab.local/busybox:1.36}"
	return fstest.MapFS{
		"pinned/lab.yaml": {Data: []byte(`id: pinned
title: Pinned lab
domain: Testing
minutes: 1
profile: default
images: [registry.seclab.local/busybox:1.36]
namespaces: [toy]
setup: [setup.yaml]
steps:
  - title: Pin app by digest
    text: step.md
    checks:
      - name: app runs the image by the digest the nodes hold
        timeout: 200ms  # the memory cluster never makes a pod ready
        object:
          ref: {apiVersion: v1, kind: Pod, namespace: toy, name: app}
          match:
            spec:
              containers: [{name: app, image: "registry.seclab.local/busybox@` + pinDigest + `", imagePullPolicy: IfNotPresent}]
    solution:
      text: step.md
      apply: [solution.yaml]
    nearMisses:
      - name: another pod pinned, app left on its tag
        apply: [nearmiss.yaml]
`)},
		"pinned/step.md": {Data: []byte("Do it.\n")},
		"pinned/setup.yaml": {Data: append([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: toy}\n---\n"),
			pod("app", "registry.seclab.local/busybox:1.36")...)},
		"pinned/solution.yaml": {Data: pod("app", pin)},
		"pinned/nearmiss.yaml": {Data: pod("other", pin)},
	}
}

// The self-test applies the solution, near-misses, mutants and undos with
// the cluster's digest in place of each pin, and never the pin itself.
func TestSelfTestFillsInDigestPins(t *testing.T) {
	e, mem := newSelfTestEngine(t, pinLab())
	fc := e.Clusters.(*fakeClusters)
	fc.digests = map[string]string{"registry.seclab.local/busybox:1.36": pinDigest}
	r, err := e.SelfTest(context.Background(), "pinned", quick)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Held() {
		t.Errorf("problems:\n%s", strings.Join(r.Problems, "\n"))
	}
	if s := r.Steps[0]; s.Fresh.Passed || s.Solution == nil || !s.Solution.Passed || len(s.Mutants) == 0 {
		t.Errorf("fresh %+v, solution %+v, %d mutants", s.Fresh, s.Solution, len(s.Mutants))
	}
	for _, o := range mem.applied {
		data, _ := json.Marshal(o.Object)
		if strings.Contains(string(data), "${digest:") {
			t.Errorf("applied with the pin unresolved: %s", data)
		}
	}
	if !strings.Contains(strings.Join(fc.calls, "\n"), "digest of registry.seclab.local/busybox:1.36 on seclab-default") {
		t.Errorf("the digest was not asked of the lab's cluster: %q", fc.calls)
	}

	// seclab solution --apply (Solve) fills it in as well.
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	if err := mem.Resource(pods).Namespace("toy").Delete(context.Background(), "app", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Solve(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if got := containerImage(mem.get("pods", "toy", "app").Object); got != "registry.seclab.local/busybox@"+pinDigest {
		t.Errorf("solve applied image %q", got)
	}
}

// A digest the nodes cannot tell stops the run, naming the image.
func TestUnknownDigestIsAnError(t *testing.T) {
	e, _ := newSelfTestEngine(t, pinLab())
	_, err := e.SelfTest(context.Background(), "pinned", quick)
	if err == nil || !strings.Contains(err.Error(), "registry.seclab.local/busybox:1.36 is not on the nodes") {
		t.Errorf("err = %v", err)
	}
}

func containerImage(obj map[string]any) string {
	c := obj["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	s, _ := c["image"].(string)
	return s
}
