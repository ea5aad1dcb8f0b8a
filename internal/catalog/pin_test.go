package catalog_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/seclab/seclab/internal/catalog"
)

const pinLab = `id: pin
title: Pin
domain: Testing
minutes: 1
profile: default
images: [registry.seclab.local/busybox:1.36]
namespaces: [pin]
steps:
  - title: Pin it
    text: s.md
    checks:
      - object:
          ref: {apiVersion: v1, kind: Pod, namespace: pin, name: app}
    solution:
      text: s.md
      apply: [pod.yaml]
    nearMisses:
      - {name: elsewhere, apply: [pod.yaml]}
`

func pinPod(image string) []byte {
	return []byte(`apiVersion: v1
kind: Pod
metadata: {name: app, namespace: pin}
spec:
  initContainers: [{name: init, image: "registry.seclab.local/busybox:1.36"}]
  containers: [{name: app, image: "` + image + `", imagePullPolicy: IfNotPresent}]
`)
}

func loadPinLab(t *testing.T, image string) (*catalog.Lab, error) {
	t.Helper()
	cat, err := catalog.Load(fstest.MapFS{"pin/lab.yaml": {Data: []byte(pinLab)}, "pin/s.md": {Data: []byte("x")}, "pin/pod.yaml": {Data: pinPod(image)}}, opts)
	if err != nil {
		return nil, err
	}
	return cat.Get("pin")
}

// A digest pin validates against the lab's images and is filled in with the
// digest the cluster tells, where the image is written; other images stay.
func TestDigestPin(t *testing.T) {
	lab, err := loadPinLab(t, "registry.seclab.local/busybox@${digest:registry.seclab.local/busybox:1.36}")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := lab.Manifests("pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := image(objs[0].Object, "containers"); got != "registry.seclab.local/busybox@${digest:registry.seclab.local/busybox:1.36}" {
		t.Errorf("without a digest source the pin is left as written, got %q", got)
	}

	digest := "sha256:" + strings.Repeat("ab", 32)
	var asked []string
	pinned := lab.WithDigests(func(img string) (string, error) {
		asked = append(asked, img)
		return digest, nil
	})
	objs, err = pinned.Manifests("pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := image(objs[0].Object, "containers"), "registry.seclab.local/busybox@"+digest; got != want {
		t.Errorf("pinned image %q, want %q", got, want)
	}
	if got := image(objs[0].Object, "initContainers"); got != "registry.seclab.local/busybox:1.36" {
		t.Errorf("an image without a pin changed: %q", got)
	}
	if strings.Join(asked, ",") != "registry.seclab.local/busybox:1.36" {
		t.Errorf("asked the digest of %q", asked)
	}
	// The lab it was made from is unchanged.
	if objs, _ := lab.Manifests("pod.yaml"); !strings.Contains(image(objs[0].Object, "containers"), "${digest:") {
		t.Error("WithDigests changed the original lab")
	}

	failing := lab.WithDigests(func(string) (string, error) { return "", errors.New("node seclab-default-worker lacks it") })
	if _, err := failing.Manifests("pod.yaml"); err == nil || !strings.Contains(err.Error(), "node seclab-default-worker lacks it") {
		t.Errorf("a digest the cluster cannot tell: err = %v", err)
	}
	odd := lab.WithDigests(func(string) (string, error) { return "latest", nil })
	if _, err := odd.Manifests("pod.yaml"); err == nil || !strings.Contains(err.Error(), "not sha256:") {
		t.Errorf("a digest that is none: err = %v", err)
	}
}

// A pin must name one of the lab's images (else nothing loads it, and it
// has no digest on the nodes), in the one form seclab fills in.
func TestDigestPinProblems(t *testing.T) {
	for image, want := range map[string]string{
		"registry.seclab.local/busybox@${digest:busybox:1.36}":                        `"busybox:1.36" is not in the lab's images list`,
		"${digest:registry.seclab.local/busybox:1.36}":                                "a digest pin is written REPOSITORY@${digest:IMAGE}",
		"registry.seclab.local/busybox@${digest:registry.seclab.local/busybox:1.36":   "a digest pin is written",
		"registry.seclab.local/busybox@${digest:registry.seclab.local/busybox:1.36}x": "a digest pin is written",
	} {
		_, err := loadPinLab(t, image)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("image %q: err = %v, want %q", image, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), "solution.apply[0]") {
			t.Errorf("image %q: the problem does not say where: %v", image, err)
		}
	}
}

func image(obj map[string]any, list string) string {
	c := obj["spec"].(map[string]any)[list].([]any)[0].(map[string]any)
	s, _ := c["image"].(string)
	return s
}
