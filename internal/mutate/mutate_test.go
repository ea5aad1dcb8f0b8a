package mutate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	pathpkg "path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/seclab/seclab/labs"
)

// objects parses YAML documents (catalog.ParseManifests would be an import
// cycle: the catalog uses this package).
func objects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func labFile(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	data, err := fs.ReadFile(labs.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	return objects(t, data)
}

func ids(ms []Mutant) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

var netpolOpts = Options{Namespaces: []string{"n287"}}

func TestNetpolSolutionMutants(t *testing.T) {
	want := map[string][]string{
		"01-deploy.yaml": {
			"01-deploy.yaml#Deployment/nginx1:change-namespace:metadata.namespace=default",
			"01-deploy.yaml#Deployment/nginx1:widen-selector:spec.selector",
			"01-deploy.yaml#Deployment/nginx1:change-label:metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx1:change-label:spec.selector.matchLabels.app",
			"01-deploy.yaml#Deployment/nginx1:change-label:spec.template.metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx1:drop-field:metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx1:drop-field:spec.replicas",
			"01-deploy.yaml#Deployment/nginx1:drop-field:spec.selector.matchLabels.app",
			"01-deploy.yaml#Deployment/nginx1:drop-field:spec.template.metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx1:drop-field:spec.template.spec.containers[0].image",
			"01-deploy.yaml#Deployment/nginx1:drop-field:spec.template.spec.containers[0].imagePullPolicy",
			"01-deploy.yaml#Deployment/nginx1:drop-field:spec.template.spec.containers[0].name",
			"01-deploy.yaml#Deployment/nginx2:change-namespace:metadata.namespace=default",
			"01-deploy.yaml#Deployment/nginx2:widen-selector:spec.selector",
			"01-deploy.yaml#Deployment/nginx2:change-label:metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx2:change-label:spec.selector.matchLabels.app",
			"01-deploy.yaml#Deployment/nginx2:change-label:spec.template.metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx2:drop-field:metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx2:drop-field:spec.replicas",
			"01-deploy.yaml#Deployment/nginx2:drop-field:spec.selector.matchLabels.app",
			"01-deploy.yaml#Deployment/nginx2:drop-field:spec.template.metadata.labels.app",
			"01-deploy.yaml#Deployment/nginx2:drop-field:spec.template.spec.containers[0].image",
			"01-deploy.yaml#Deployment/nginx2:drop-field:spec.template.spec.containers[0].imagePullPolicy",
			"01-deploy.yaml#Deployment/nginx2:drop-field:spec.template.spec.containers[0].name",
			"01-deploy.yaml#Service/nginx1:change-namespace:metadata.namespace=default",
			"01-deploy.yaml#Service/nginx1:widen-selector:spec.selector",
			"01-deploy.yaml#Service/nginx1:change-label:metadata.labels.app",
			"01-deploy.yaml#Service/nginx1:change-label:spec.selector.app",
			"01-deploy.yaml#Service/nginx1:drop-field:metadata.labels.app",
			"01-deploy.yaml#Service/nginx1:drop-field:spec.ports[0].port",
			"01-deploy.yaml#Service/nginx1:drop-field:spec.ports[0].protocol",
			"01-deploy.yaml#Service/nginx1:drop-field:spec.ports[0].targetPort",
			"01-deploy.yaml#Service/nginx2:change-namespace:metadata.namespace=default",
			"01-deploy.yaml#Service/nginx2:widen-selector:spec.selector",
			"01-deploy.yaml#Service/nginx2:change-label:metadata.labels.app",
			"01-deploy.yaml#Service/nginx2:change-label:spec.selector.app",
			"01-deploy.yaml#Service/nginx2:drop-field:metadata.labels.app",
			"01-deploy.yaml#Service/nginx2:drop-field:spec.ports[0].port",
			"01-deploy.yaml#Service/nginx2:drop-field:spec.ports[0].protocol",
			"01-deploy.yaml#Service/nginx2:drop-field:spec.ports[0].targetPort",
		},
		"02-deny-all.yaml": {
			"02-deny-all.yaml#NetworkPolicy/deny-all:change-namespace:metadata.namespace=default",
			"02-deny-all.yaml#NetworkPolicy/deny-all:widen-selector:spec.podSelector",
			"02-deny-all.yaml#NetworkPolicy/deny-all:add-allow-all:spec.ingress",
			"02-deny-all.yaml#NetworkPolicy/deny-all:swap-direction:spec",
			"02-deny-all.yaml#NetworkPolicy/deny-all:change-label:spec.podSelector.matchLabels.app",
			"02-deny-all.yaml#NetworkPolicy/deny-all:drop-field:spec.podSelector.matchLabels.app",
			"02-deny-all.yaml#NetworkPolicy/deny-all:drop-field:spec.policyTypes[0]",
		},
		"03-allow-nginx1.yaml": {
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:change-namespace:metadata.namespace=default",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:widen-selector:spec.ingress[0].from[0].podSelector",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:widen-selector:spec.podSelector",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:add-allow-all:spec.ingress",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:swap-direction:spec",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:change-label:spec.ingress[0].from[0].podSelector.matchLabels.app",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:change-label:spec.podSelector.matchLabels.app",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:drop-field:spec.ingress[0].from[0].podSelector.matchLabels.app",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:drop-field:spec.podSelector.matchLabels.app",
			"03-allow-nginx1.yaml#NetworkPolicy/allow-nginx1:drop-field:spec.policyTypes[0]",
		},
	}
	for file, wantIDs := range want {
		got := ids(Generate(file, labFile(t, "netpol/solution/"+file), netpolOpts))
		if !reflect.DeepEqual(got, wantIDs) {
			t.Errorf("%s: mutant ids\n got: %s\nwant: %s", file, strings.Join(got, "\n      "), strings.Join(wantIDs, "\n      "))
		}
	}
}

// Every solution and near-miss manifest of the built-in labs, plus objects
// written to reach the corners: the generic properties must hold for all.
func allInputs(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	in := map[string][]*unstructured.Unstructured{}
	err := fs.WalkDir(labs.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || pathpkg.Base(p) == "lab.yaml" {
			return err
		}
		in[p] = labFile(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	in["corners.yaml"] = objects(t, []byte(corners))
	return in
}

const corners = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: both
  namespace: a
  labels: {app.kubernetes.io/name: web, "": x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - {}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
    ports: [{port: 53, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: both, namespace: b}
spec:
  podSelector:
    matchExpressions: [{key: tier, operator: In, values: [db]}]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: client}}
      namespaceSelector: {}
---
# Ingress implied, no rules: swapping would change nothing.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: implied}
spec:
  podSelector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: empty}
data: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: long
  namespace: a
spec:
  selector: {matchLabels: {app: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}
  template:
    metadata: {labels: {app: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}
    spec:
      containers: [{name: c, image: nginx:1.27, args: [a, b]}]
`

func TestGenericProperties(t *testing.T) {
	opts := Options{Namespaces: []string{"a", "b"}}
	for file, objs := range allInputs(t) {
		before := make([]*unstructured.Unstructured, len(objs))
		for i, o := range objs {
			before[i] = o.DeepCopy()
		}
		ms := Generate(pathpkg.Base(file), objs, opts)
		if again := Generate(pathpkg.Base(file), objs, opts); !reflect.DeepEqual(ids(again), ids(ms)) {
			t.Errorf("%s: order differs between runs", file)
		}
		if !reflect.DeepEqual(before, objs) {
			t.Errorf("%s: Generate modified its input", file)
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m.ID] {
				t.Errorf("duplicate id %s", m.ID)
			}
			seen[m.ID] = true
			orig := objs[m.Index]
			if reflect.DeepEqual(m.Object.Object, orig.Object) {
				t.Errorf("%s: equal to the original", m.ID)
			}
			if m.Object.GetAPIVersion() != orig.GetAPIVersion() || m.Object.GetKind() != orig.GetKind() || m.Object.GetName() != orig.GetName() {
				t.Errorf("%s: apiVersion, kind or name changed", m.ID)
			}
			if m.Description == "" {
				t.Errorf("%s: no description", m.ID)
			}
			checkPath(t, m, orig)
		}
	}
}

// checkPath: the mutant's path is real in the original, and the change is
// what its operator says, at that path.
func checkPath(t *testing.T, m Mutant, orig *unstructured.Unstructured) {
	t.Helper()
	p, err := parsePath(m.Path)
	if err != nil {
		t.Errorf("%s: path %q does not parse: %v", m.ID, m.Path, err)
		return
	}
	if !strings.Contains(m.ID, ":"+string(m.Operator)+":"+m.Path) {
		t.Errorf("%s: id does not name operator %s and path %s", m.ID, m.Operator, m.Path)
	}
	was, inOrig := lookup(orig.Object, p)
	now, inMutant := lookup(m.Object.Object, p)
	switch m.Operator {
	case DropField:
		if !inOrig || !isLeaf(was) {
			t.Errorf("%s: drops %s, which is not a leaf of the original", m.ID, m.Path)
		}
		if _, isIndex := p.last().(int); !isIndex && inMutant {
			t.Errorf("%s: %s still present", m.ID, m.Path)
		}
		top, _ := p[0].(string)
		roots := map[string]bool{"metadata": true, "spec": true, "data": true, "stringData": true, "rules": true, "subjects": true, "roleRef": true}
		if !roots[top] || top == "metadata" && p[1] != "labels" {
			t.Errorf("%s: drops outside spec/data/stringData/rules/subjects/roleRef/metadata.labels", m.ID)
		}
	case ChangeLabel:
		old, _ := was.(string)
		nv, _ := now.(string)
		if !inOrig || !strings.HasSuffix(nv, LabelSuffix) || nv == old || len(nv) > 63 || !labelValue.MatchString(nv) {
			t.Errorf("%s: label %q -> %q is not a valid change", m.ID, was, now)
		}
	case WidenSelector:
		if !inOrig || isLeaf(was) || !reflect.DeepEqual(now, map[string]any{}) {
			t.Errorf("%s: widened %v -> %v", m.ID, was, now)
		}
	case ChangeNamespace:
		if !inOrig || m.Path != "metadata.namespace" || "="+m.Object.GetNamespace() != m.ID[strings.LastIndex(m.ID, "="):] {
			t.Errorf("%s: namespace %v -> %v", m.ID, was, now)
		}
	case AddAllowAll:
		if _, specOK := orig.Object["spec"]; !specOK || !isNP(orig) {
			t.Errorf("%s: allow-all on a non-policy", m.ID)
		}
		l, _ := now.([]any)
		if len(l) == 0 || !reflect.DeepEqual(l[len(l)-1], map[string]any{}) {
			t.Errorf("%s: last rule is %v, want {}", m.ID, l)
		}
	case SwapDirection:
		if !inOrig || !isNP(orig) {
			t.Errorf("%s: swap on a non-policy", m.ID)
		}
	default:
		t.Errorf("%s: unknown operator %q", m.ID, m.Operator)
	}
}

func isNP(o *unstructured.Unstructured) bool { return isNetworkPolicy(o) }

var labelValue = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)

// parsePath reads the id form back: a.b[0]["quoted.key"].
func parsePath(s string) (path, error) {
	var p path
	for s != "" {
		switch {
		case strings.HasPrefix(s, `["`):
			end := strings.Index(s, `"]`)
			for end >= 0 && strings.HasSuffix(s[:end], `\`) {
				next := strings.Index(s[end+1:], `"]`)
				if next < 0 {
					end = -1
					break
				}
				end += 1 + next
			}
			if end < 0 {
				return nil, fmt.Errorf("unterminated key in %q", s)
			}
			k, err := strconv.Unquote(s[1 : end+1])
			if err != nil {
				return nil, err
			}
			p, s = append(p, k), s[end+2:]
		case strings.HasPrefix(s, "["):
			end := strings.Index(s, "]")
			n, err := strconv.Atoi(s[1:end])
			if err != nil {
				return nil, err
			}
			p, s = append(p, n), s[end+1:]
		default:
			s = strings.TrimPrefix(s, ".")
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return nil, fmt.Errorf("empty key in %q", s)
			}
			p, s = append(p, s[:end]), s[end:]
		}
	}
	return p, nil
}

func byID(t *testing.T, ms []Mutant, id string) Mutant {
	t.Helper()
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no mutant %s in:\n%s", id, strings.Join(ids(ms), "\n"))
	return Mutant{}
}

func TestCorners(t *testing.T) {
	ms := Generate("c.yaml", objects(t, []byte(corners)), Options{Namespaces: []string{"a", "b"}})

	// Same kind and name in one file: the namespace tells them apart.
	byID(t, ms, "c.yaml#NetworkPolicy/a/both:change-namespace:metadata.namespace=default")
	byID(t, ms, "c.yaml#NetworkPolicy/b/both:change-namespace:metadata.namespace=a")
	// Keys that are not plain names are quoted; the empty key too.
	byID(t, ms, `c.yaml#NetworkPolicy/a/both:drop-field:metadata.labels["app.kubernetes.io/name"]`)
	byID(t, ms, `c.yaml#NetworkPolicy/a/both:change-label:metadata.labels[""]`)

	for _, id := range ids(ms) {
		switch {
		case strings.HasPrefix(id, "c.yaml#NetworkPolicy/a/both:add-allow-all:spec.ingress"):
			t.Errorf("%s: the policy already allows all ingress", id)
		case strings.HasPrefix(id, "c.yaml#NetworkPolicy/a/both:widen-selector:spec.podSelector"),
			strings.HasPrefix(id, "c.yaml#NetworkPolicy/b/both:widen-selector:spec.ingress[0].from[0].namespaceSelector"):
			t.Errorf("%s: the selector is already empty", id)
		case strings.HasPrefix(id, "c.yaml#NetworkPolicy/b/both:add-allow-all:spec.egress"):
			t.Errorf("%s: the policy does not govern egress (no policyTypes, no egress rules)", id)
		case strings.HasPrefix(id, "c.yaml#NetworkPolicy/implied:swap-direction"):
			t.Errorf("%s: swapping a policy with no rules and no policyTypes changes nothing", id)
		case strings.HasPrefix(id, "c.yaml#ConfigMap/"):
			t.Errorf("%s: an empty ConfigMap without namespace has nothing to mutate", id)
		}
	}

	eg := byID(t, ms, "c.yaml#NetworkPolicy/a/both:add-allow-all:spec.egress")
	rules, _, _ := unstructured.NestedSlice(eg.Object.Object, "spec", "egress")
	if len(rules) != 2 {
		t.Errorf("allow-all egress: %v, want the DNS rule and {}", rules)
	}

	// Swapping renames the peers, so the object stays valid.
	sw := byID(t, ms, "c.yaml#NetworkPolicy/b/both:swap-direction:spec")
	spec := sw.Object.Object["spec"].(map[string]any)
	if _, ok := spec["ingress"]; ok {
		t.Errorf("swap kept ingress: %v", spec)
	}
	peers, found, _ := unstructured.NestedSlice(spec, "egress")
	if !found || peers[0].(map[string]any)["to"] == nil || peers[0].(map[string]any)["from"] != nil {
		t.Errorf("swap: egress rules %v, want from renamed to to", peers)
	}
	sa := byID(t, ms, "c.yaml#NetworkPolicy/a/both:swap-direction:spec")
	types, _, _ := unstructured.NestedStringSlice(sa.Object.Object, "spec", "policyTypes")
	if !reflect.DeepEqual(types, []string{"Egress", "Ingress"}) {
		t.Errorf("swap policyTypes: %v", types)
	}

	// matchExpressions holders are selectors too.
	byID(t, ms, "c.yaml#NetworkPolicy/b/both:widen-selector:spec.podSelector")

	// A 62-character label stays within 63 after the change.
	long := byID(t, ms, "c.yaml#Deployment/long:change-label:spec.selector.matchLabels.app")
	v, _, _ := unstructured.NestedString(long.Object.Object, "spec", "selector", "matchLabels", "app")
	if len(v) > 63 || !strings.HasSuffix(v, LabelSuffix) {
		t.Errorf("long label changed to %q (%d chars)", v, len(v))
	}

	// A scalar list element is dropped from its list.
	args := byID(t, ms, "c.yaml#Deployment/long:drop-field:spec.template.spec.containers[0].args[0]")
	got, _ := lookup(args.Object.Object, path{"spec", "template", "spec", "containers", 0, "args"})
	if !reflect.DeepEqual(got, []any{"b"}) {
		t.Errorf("dropping args[0]: %v", got)
	}
}

func TestSecretsMutants(t *testing.T) {
	got := ids(Generate("02-from-literals.yaml", labFile(t, "secrets/solution/02-from-literals.yaml"), Options{}))
	want := []string{
		"02-from-literals.yaml#Secret/my-secret-from-literals:drop-field:stringData.password",
		"02-from-literals.yaml#Secret/my-secret-from-literals:drop-field:stringData.username",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v (a lab without namespaces moves nothing: default is where it is)", got, want)
	}
}

// RBAC objects keep what the learner writes at the top level: rules,
// subjects and roleRef get drop-field mutants like a spec does.
func TestRBACMutants(t *testing.T) {
	objs := labFile(t, "rbac/solution/02-least-privilege.yaml")
	got := strings.Join(ids(Generate("02-least-privilege.yaml", objs, Options{})), "\n")
	for _, want := range []string{":drop-field:rules[0].verbs[0]", ":drop-field:roleRef.name"} {
		if !strings.Contains(got, want) {
			t.Errorf("no mutant %s in:\n%s", want, got)
		}
	}
}
