package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
			if msg := imageProblem(img); msg != "" {
				problems = append(problems, where+": "+msg)
			} else if !contains(l.Images, img) {
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
