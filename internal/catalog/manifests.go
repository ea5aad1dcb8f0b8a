package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Manifests parses a lab file holding one or more Kubernetes objects.
func (l *Lab) Manifests(name string) ([]*unstructured.Unstructured, error) {
	data, err := l.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("file %q: not found in lab directory", name)
	}
	objs, err := ParseManifests(data)
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", name, err)
	}
	var problems []string
	for i, o := range objs {
		where := fmt.Sprintf("object %d (%s %s)", i+1, o.GetKind(), o.GetName())
		for _, c := range containers(o.Object) {
			img, _ := c["image"].(string)
			pinned, isPin, msg := l.pinImage(img)
			switch {
			case msg != "":
				problems = append(problems, where+": "+msg)
			case isPin:
				c["image"] = pinned
			case imageProblem(img) != "":
				problems = append(problems, where+": "+imageProblem(img))
			case !contains(l.Images, img):
				problems = append(problems, fmt.Sprintf("%s: image %q is not in the lab's images list, so it would not be loaded into the cluster", where, img))
			}
			if p, _ := c["imagePullPolicy"].(string); p == "Always" {
				problems = append(problems, where+": imagePullPolicy Always cannot work offline; use IfNotPresent")
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("file %q: %s", name, strings.Join(problems, "; "))
	}
	return objs, nil
}

// ParseManifests splits multi-document YAML into objects; each must have
// apiVersion, kind and metadata.name. Empty documents are skipped.
func ParseManifests(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d: %v", doc, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		switch {
		case u.GetAPIVersion() == "":
			return nil, fmt.Errorf("document %d: apiVersion is required", doc)
		case u.GetKind() == "":
			return nil, fmt.Errorf("document %d: kind is required", doc)
		case u.GetName() == "":
			return nil, fmt.Errorf("document %d (%s): metadata.name is required", doc, u.GetKind())
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no objects")
	}
	return out, nil
}

// containers finds every container spec in an object (Pod, workload
// templates, CronJob), wherever "containers"/"initContainers" lists appear.
func containers(obj map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if k == "containers" || k == "initContainers" || k == "ephemeralContainers" {
					if list, ok := e.([]any); ok {
						for _, c := range list {
							if cm, ok := c.(map[string]any); ok {
								out = append(out, cm)
							}
						}
						continue
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(obj)
	return out
}

// digestPin stands, in the image of a lab manifest, for the digest the
// cluster's nodes hold for one of the lab's images:
//
//	image: registry.seclab.local/busybox@${digest:registry.seclab.local/busybox:1.36}
//
// seclab builds its images on each machine, so the digest differs from one
// machine to the next and no lab file can write it down; the engine fills
// it in from the cluster (WithDigests) before anything is applied.
var digestPin = regexp.MustCompile(`^([^@$]+)@\$\{digest:([^}]*)\}$`)

// pinImage fills in img's digest pin: isPin is false for an image without
// one, problem says what is wrong with one. Without a digest source (a lab
// only being validated) the pin is checked and left as written.
func (l *Lab) pinImage(img string) (pinned string, isPin bool, problem string) {
	if !strings.Contains(img, "${") {
		return "", false, ""
	}
	m := digestPin.FindStringSubmatch(img)
	if m == nil {
		return "", true, fmt.Sprintf("image %q: a digest pin is written REPOSITORY@${digest:IMAGE}, IMAGE one of the lab's images", img)
	}
	ref := m[2]
	if !contains(l.Images, ref) {
		return "", true, fmt.Sprintf("image %q: %q is not in the lab's images list, so it would not be loaded into the cluster and has no digest there", img, ref)
	}
	if l.digest == nil {
		return img, true, ""
	}
	d, err := l.digest(ref)
	if err != nil {
		return "", true, fmt.Sprintf("image %q: cannot tell the digest of %s on the cluster: %v", img, ref, err)
	}
	if !strings.HasPrefix(d, "sha256:") {
		return "", true, fmt.Sprintf("image %q: the cluster gave %q as the digest of %s, not sha256:...", img, d, ref)
	}
	return m[1] + "@" + d, true, ""
}
