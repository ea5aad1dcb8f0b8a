package verify

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// fromYAML decodes a match tree the way lab files are decoded (numbers
// become float64).
func fromYAML(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test YAML %q: %v", s, err)
	}
	return m
}

// opsObject is what the API server would return (JSON types: int64 numbers).
func opsObject() map[string]any {
	return map[string]any{
		"spec": map[string]any{
			"replicas": int64(2),
			"image":    "nginx:1.27@sha256:abc",
			"name":     "nginx-web",
			"ports": []any{
				map[string]any{"port": int64(80), "protocol": "TCP"},
				map[string]any{"port": int64(443), "protocol": "TCP"},
			},
			"policyTypes": []any{"Ingress", "Egress"},
			"labels":      map[string]any{"a": "1", "b": "2"},
			"limits":      map[string]any{"memory": "512Mi", "cpu": "500m"},
			"privileged":  false,
		},
		"status": map[string]any{"readyReplicas": int64(1)},
	}
}

// diffText renders differences the way object checks show them.
func diffText(d []difference) string {
	var s []string
	for _, x := range d {
		s = append(s, x.expected()+" | "+x.found())
	}
	return strings.Join(s, "; ")
}

func TestMatchOperators(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		diff       string // "" = match
	}{
		// numbers
		{"gte pass", `status: {readyReplicas: {$gte: 1}}`, ""},
		{"gte fail", `status: {readyReplicas: {$gte: 2}}`, "status.readyReplicas >= 2 | status.readyReplicas = 1"},
		{"gt fail at equal", `status: {readyReplicas: {$gt: 1}}`, "status.readyReplicas > 1 | status.readyReplicas = 1"},
		{"lt and lte", `spec: {replicas: {$lt: 3, $lte: 2}}`, ""},
		{"range fails one side", `spec: {replicas: {$gte: 1, $lte: 1}}`, "spec.replicas <= 1 | spec.replicas = 2"},
		{"compare missing", `status: {availableReplicas: {$gte: 1}}`, "status.availableReplicas >= 1 | status.availableReplicas = <missing>"},
		{"compare a string that is no quantity", `spec: {name: {$gt: 1}}`, `spec.name > 1 | spec.name = "nginx-web"`},
		{"quantity", `spec: {limits: {memory: {$lte: 1Gi}, cpu: {$lt: 1}}}`, ""},
		{"quantity fail", `spec: {limits: {memory: {$lte: 256Mi}}}`, `spec.limits.memory <= "256Mi" | spec.limits.memory = "512Mi"`},
		{"ne pass", `spec: {replicas: {$ne: 3}}`, ""},
		{"ne fail", `spec: {replicas: {$ne: 2}}`, "spec.replicas != 2 | spec.replicas = 2"},
		{"ne on missing passes", `spec: {hostNetwork: {$ne: true}}`, ""},
		{"ne null wants it set", `spec: {hostNetwork: {$ne: null}}`, "spec.hostNetwork != null | spec.hostNetwork = <missing>"},
		{"in pass", `spec: {replicas: {$in: [1, 2, 3]}}`, ""},
		{"in fail", `spec: {name: {$in: [web, db]}}`, `spec.name in ["web", "db"] | spec.name = "nginx-web"`},
		{"in null accepts missing", `spec: {hostNetwork: {$in: [false, null]}}`, ""},
		{"in without null wants it set", `spec: {hostNetwork: {$in: [false]}}`, `spec.hostNetwork in [false] | spec.hostNetwork = <missing>`},
		{"in null still checks a present value", `spec: {name: {$in: [web, null]}}`, `spec.name in ["web", null] | spec.name = "nginx-web"`},

		// strings
		{"regex pass", `spec: {image: {$regex: '^nginx:1\.27(@sha256:.*)?$'}}`, ""},
		{"regex fail", `spec: {image: {$regex: '^nginx:1\.26'}}`, `spec.image matches /^nginx:1\.26/ | spec.image = "nginx:1.27@sha256:abc"`},
		{"regex on a number", `spec: {replicas: {$regex: '2'}}`, `spec.replicas matches /2/ | spec.replicas = 2`},
		{"prefix pass", `spec: {name: {$prefix: nginx}}`, ""},
		{"prefix fail", `spec: {name: {$prefix: web}}`, `spec.name starts with "web" | spec.name = "nginx-web"`},

		// lists
		{"contains any order", `spec: {ports: {$contains: [{port: 443}, {port: 80, protocol: TCP}]}}`, ""},
		{"contains fail shows the list searched", `spec: {ports: {$contains: [{port: 80}, {port: 8080}]}}`,
			`spec.ports contains {port: 8080} | spec.ports = [{port: 80, protocol: "TCP"}, {port: 443, protocol: "TCP"}]`},
		{"contains scalars", `spec: {policyTypes: {$contains: [Egress]}}`, ""},
		{"contains on missing", `spec: {egress: {$contains: [{}]}}`, "spec.egress contains {} | spec.egress = <missing>"},
		{"contains on a map", `spec: {labels: {$contains: [a]}}`, `spec.labels contains "a" | spec.labels = {a: "1", b: "2"}`},
		{"nested operators", `spec: {ports: {$contains: [{port: {$gt: 400}, protocol: {$in: [TCP, UDP]}}]}}`, ""},
		{"nested operators fail", `spec: {ports: {$contains: [{port: {$gt: 500}}]}}`,
			`spec.ports contains {port: {$gt: 500}} | spec.ports = [{port: 80, protocol: "TCP"}, {port: 443, protocol: "TCP"}]`},
		{"setEquals any order", `spec: {policyTypes: {$setEquals: [Egress, Ingress]}}`, ""},
		{"setEquals extra element", `spec: {policyTypes: {$setEquals: [Ingress]}}`,
			`spec.policyTypes = ["Ingress"] in any order | spec.policyTypes = ["Ingress", "Egress"] (not expected: "Egress")`},
		{"setEquals missing element", `spec: {policyTypes: {$setEquals: [Ingress, Egress, Other]}}`,
			`spec.policyTypes = ["Ingress", "Egress", "Other"] in any order | spec.policyTypes = ["Ingress", "Egress"] (nothing matches "Other")`},
		{"setEquals empty on missing", `spec: {egress: {$setEquals: []}}`, ""},
		{"setEquals with patterns", `spec: {ports: {$setEquals: [{port: 443}, {protocol: TCP}]}}`, ""},
		{"len", `spec: {ports: {$len: 2}, labels: {$len: {$gte: 2}}}`, ""},
		{"len fail", `spec: {ports: {$len: {$gt: 2}}}`,
			`spec.ports has length > 2 | spec.ports = [{port: 80, protocol: "TCP"}, {port: 443, protocol: "TCP"}] (2 items)`},
		{"len of missing is 0", `spec: {egress: {$len: 0}}`, ""},
		{"len of missing", `spec: {egress: {$len: 1}}`, "spec.egress has length 1 | spec.egress = <missing>"},
		{"len of a string", `spec: {name: {$len: 9}}`, `spec.name has length 9 | spec.name = "nginx-web"`},

		// presence and negation
		{"absent pass", `spec: {hostNetwork: {$absent: true}}`, ""},
		{"absent fail", `spec: {privileged: {$absent: true}}`, "spec.privileged is absent | spec.privileged = false"},
		{"absent false pass", `spec: {privileged: {$absent: false}}`, ""},
		{"absent false fail", `spec: {hostPID: {$absent: false}}`, "spec.hostPID is set | spec.hostPID = <missing>"},
		{"not pass", `spec: {image: {$not: {$prefix: "nginx:latest"}}}`, ""},
		{"not fail", `spec: {image: {$not: {$prefix: nginx}}}`, `spec.image not (starts with "nginx") | spec.image = "nginx:1.27@sha256:abc"`},
		{"not contains", `spec: {ports: {$not: {$contains: [{port: 8080}]}}}`, ""},
		{"not a plain value", `spec: {replicas: {$not: 2}}`, "spec.replicas not (= 2) | spec.replicas = 2"},
		{"not on missing", `spec: {hostNetwork: {$not: true}}`, ""},

		// a missing map holds when all its fields may be missing
		{"ne under a missing map", `spec: {securityContext: {privileged: {$ne: true}, runAsUser: null}}`, ""},
		{"value under a missing map", `spec: {securityContext: {privileged: {$ne: true}, runAsUser: 1000}}`,
			"spec.securityContext = {privileged: {$ne: true}, runAsUser: 1000} | spec.securityContext = <missing>"},
		{"empty map wants the map", `spec: {securityContext: {}}`, "spec.securityContext = {} | spec.securityContext = <missing>"},
		{"contains element without the parent map", `spec: {ports: {$contains: [{port: 80, tls: {enabled: {$absent: true}}}]}}`, ""},

		// operators inside plain lists keep list semantics
		{"operator in list element", `spec: {ports: [{port: {$lt: 100}}, {port: {$gt: 400}}]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compileMatch("object.match", fromYAML(t, tc.want))
			if len(c.errs) > 0 {
				t.Fatalf("compile: %q", c.errs)
			}
			var d []difference
			c.root.match("", opsObject(), true, &d)
			if got := diffText(d); got != tc.diff {
				t.Errorf("diff\n  got  %q\n  want %q", got, tc.diff)
			}
		})
	}
}

func TestMatchOperatorValidation(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		errs       []string
	}{
		{"unknown operator", `spec: {ports: {$contians: [{port: 80}]}}`,
			[]string{"object.match.spec.ports.$contians: unknown operator (known: $absent, $contains, $every, $gt, $gte, $in, $len, $lt, $lte, $ne, $not, $or, $prefix, $regex, $setEquals)"}},
		{"unknown nested in contains", `spec: {ports: {$contains: [{port: {$greater: 1}}]}}`,
			[]string{"object.match.spec.ports.$contains[0].port.$greater: unknown operator"}},
		{"bad regex", `spec: {image: {$regex: 'nginx(:1'}}`,
			[]string{`object.match.spec.image.$regex: "nginx(:1" is not a valid regular expression: missing closing ): ` + "`nginx(:1`"}},
		{"regex not a string", `spec: {image: {$regex: 1}}`, []string{"object.match.spec.image.$regex: want a regular expression as a string, got 1"}},
		{"compare a word", `status: {readyReplicas: {$gte: one}}`,
			[]string{`object.match.status.readyReplicas.$gte: want a number or a quantity like 500m, got "one"`}},
		{"compare a list", `status: {readyReplicas: {$lt: [1]}}`, []string{"object.match.status.readyReplicas.$lt: want a number"}},
		{"contains not a list", `spec: {ports: {$contains: {port: 80}}}`,
			[]string{"object.match.spec.ports.$contains: want a list of patterns, got {port: 80}"}},
		{"contains empty", `spec: {ports: {$contains: []}}`, []string{"object.match.spec.ports.$contains: an empty list is contained in any list"}},
		{"setEquals not a list", `spec: {policyTypes: {$setEquals: Ingress}}`, []string{"object.match.spec.policyTypes.$setEquals: want a list of patterns"}},
		{"in not a list", `spec: {replicas: {$in: 1}}`, []string{"object.match.spec.replicas.$in: want a non-empty list of values, got 1"}},
		{"in of maps", `spec: {replicas: {$in: [1, {a: 1}]}}`, []string{"object.match.spec.replicas.$in[1]: want a single value"}},
		{"ne of a map", `spec: {replicas: {$ne: {a: 1}}}`, []string{"object.match.spec.replicas.$ne: want a single value"}},
		{"len negative", `spec: {ports: {$len: -1}}`, []string{"object.match.spec.ports.$len: want a count"}},
		{"len string operator", `spec: {ports: {$len: {$prefix: a}}}`, []string{"object.match.spec.ports.$len.$prefix: not a numeric operator"}},
		{"absent not a bool", `spec: {x: {$absent: yes please}}`, []string{`object.match.spec.x.$absent: want true or false, got "yes please"`}},
		{"prefix not a string", `spec: {x: {$prefix: 1}}`, []string{"object.match.spec.x.$prefix: want a string, got 1"}},
		{"mixed with fields", `spec: {ports: {$len: 1, port: 80}}`, []string{"object.match.spec.ports.$len: operators cannot be mixed with fields"}},
		{"operator at the root", `$not: {spec: {}}`, []string{"object.match: operators apply to a field"}},
		{"or of one pattern", `spec: {$or: [{hostPID: false}]}`, []string{"object.match.spec.$or: list at least two patterns (with one, write the pattern itself)"}},
		{"or not a list", `spec: {$or: {hostPID: false}}`, []string{"object.match.spec.$or: want a list of patterns, got {hostPID: false}"}},
		{"or with a bad alternative", `spec: {$or: [{a: {$gte: x}}, {b: 1}]}`, []string{"object.match.spec.$or[0].a.$gte: want a number"}},
		{"every with a bad pattern", `spec: {containers: {$every: {name: {$regex: '('}}}}`, []string{"object.match.spec.containers.$every.name.$regex:"}},
		{"several problems", `spec: {a: {$gte: x}, b: {$regex: '('}}`,
			[]string{"object.match.spec.a.$gte: want a number", "object.match.spec.b.$regex:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Through Spec.Validate: that is what lab loading calls.
			s := Spec{Object: &ObjectSpec{Ref: npRef, Match: fromYAML(t, tc.want)}}
			got := s.Validate()
			if len(got) != len(tc.errs) {
				t.Errorf("got %d problems %q, want %d", len(got), got, len(tc.errs))
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.errs {
				if !strings.Contains(all, w) {
					t.Errorf("problems %q\n  missing %q", got, w)
				}
			}
		})
	}
}

func TestObjectOperatorsNameAndMessages(t *testing.T) {
	np := netpol("n287", "np", "nginx2")
	spec := Spec{Object: &ObjectSpec{Ref: npRef, Match: fromYAML(t, `
spec:
  policyTypes: {$setEquals: [Ingress]}
  ingress: {$contains: [{ports: {$contains: [{port: 8080}]}}]}
  podSelector: {matchLabels: {app: {$prefix: nginx}}}
`)}}
	env, _ := testEnv(np)
	r := quick(t, env, spec)
	wantStatus(t, r, Fail)
	if want := "NetworkPolicy n287/np matches {spec.ingress contains {ports: {$contains: [{port: 8080}]}}, spec.podSelector.mat…}"; r.Name != want {
		t.Errorf("name = %q\n want %q", r.Name, want)
	}
	if want := "spec.ingress contains {ports: {$contains: [{port: 8080}]}}"; r.Expected != want {
		t.Errorf("expected = %q\n want %q", r.Expected, want)
	}
	if want := `spec.ingress = [{ports: [{port: 80, protocol: "TCP"}]}]`; r.Found != want {
		t.Errorf("found = %q\n want %q", r.Found, want)
	}

	r = quick(t, env, Spec{Object: &ObjectSpec{Ref: npRef, Match: fromYAML(t, `spec: {policyTypes: {$setEquals: [Ingress]}, podSelector: {matchLabels: {app: {$prefix: nginx}}}}`)}})
	wantStatus(t, r, Pass)

	d := &unstructured.Unstructured{Object: deployment(int64(0)).Object}
	env, _ = testEnv(d)
	r = quick(t, env, Spec{Object: &ObjectSpec{
		Ref:   ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "n287", Name: "nginx1"},
		Match: fromYAML(t, `status: {readyReplicas: {$gte: 1}}`),
	}})
	wantStatus(t, r, Fail)
	if r.Name != "Deployment n287/nginx1 matches {status.readyReplicas >= 1}" ||
		r.Expected != "status.readyReplicas >= 1" || r.Found != "status.readyReplicas = 0" {
		t.Errorf("name %q expected %q found %q", r.Name, r.Expected, r.Found)
	}

	// An invalid operator never reaches the cluster.
	r = quick(t, env, Spec{Object: &ObjectSpec{
		Ref:   ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "n287", Name: "nginx1"},
		Match: fromYAML(t, `status: {readyReplicas: {$gtee: 1}}`),
	}})
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "object.match.status.readyReplicas.$gtee: unknown operator")
	if r.Name != "Deployment n287/nginx1 matches {status.readyReplicas $gtee 1}" {
		t.Errorf("name = %q", r.Name)
	}
}

func TestFlattenOperators(t *testing.T) {
	for want, tree := range map[string]string{
		`{spec.replicas >= 1, spec.replicas <= 3}`:                 `spec: {replicas: {$gte: 1, $lte: 3}}`,
		`{spec.image matches /^nginx:1\.27/}`:                      `spec: {image: {$regex: '^nginx:1\.27'}}`,
		`{spec.name starts with "nginx", spec.replicas in [1, 2]}`: `spec: {name: {$prefix: nginx}, replicas: {$in: [1, 2]}}`,
		`{spec.hostNetwork is absent, spec.ports has length >= 1}`: `spec: {hostNetwork: {$absent: true}, ports: {$len: {$gte: 1}}}`,
		`{spec.policyTypes = ["Ingress"] in any order}`:            `spec: {policyTypes: {$setEquals: [Ingress]}}`,
		`{spec.image not (starts with "nginx:latest")}`:            `spec: {image: {$not: {$prefix: "nginx:latest"}}}`,
		`{spec.name: web, spec.x != null}`:                         `spec: {x: {$ne: null}, name: web}`,
		`{spec.containers has every item matching {name: "x"}}`:    `spec: {containers: {$every: {name: x}}}`,
		`{spec.type matches one of "a" or "b"}`:                    `spec: {type: {$or: [a, b]}}`,
	} {
		if got := flatten(fromYAML(t, tree)); got != want {
			t.Errorf("flatten(%s)\n  = %s\n want %s", tree, got, want)
		}
	}
}

func TestRenderFlow(t *testing.T) {
	for want, v := range map[string]any{
		`{port: 80, protocol: "TCP"}`:       map[string]any{"protocol": "TCP", "port": int64(80)},
		`["a", 1.5, true, null]`:            []any{"a", 1.5, true, nil},
		`{"app.kubernetes.io/name": "web"}`: map[string]any{"app.kubernetes.io/name": "web"},
		`{$gte: 1}`:                         map[string]any{"$gte": int64(1)},
		`"line\n"`:                          "line\n",
		`{a: {b: []}}`:                      map[string]any{"a": map[string]any{"b": []any{}}},
		`{n: 3}`:                            map[string]any{"n": 3}, // Go types from code are normalized
		`1e+21`:                             1e21,
		`[{a: "x"}, {b: ["y"]}]`:            []any{map[string]any{"a": "x"}, map[string]any{"b": []string{"y"}}},
	} {
		if got := render(v); got != want {
			t.Errorf("render(%#v) = %s, want %s", v, got, want)
		}
	}
}

// podObject is a pod as the API server returns it: a hardened container and
// a sidecar that is not.
func podObject() map[string]any {
	return map[string]any{
		"spec": map[string]any{
			"securityContext": map[string]any{"seccompProfile": map[string]any{"type": "RuntimeDefault"}},
			"containers": []any{
				map[string]any{"name": "app", "securityContext": map[string]any{
					"runAsNonRoot": true, "allowPrivilegeEscalation": false,
					"capabilities": map[string]any{"drop": []any{"ALL"}},
				}},
				map[string]any{"name": "sidecar", "securityContext": map[string]any{"privileged": true}},
			},
			"volumes": []any{
				map[string]any{"name": "tmp", "emptyDir": map[string]any{}},
				map[string]any{"name": "root", "hostPath": map[string]any{"path": "/"}},
			},
		},
	}
}

// runAsNonRootAnywhere is the check of the workload-hardening lab: true for
// the pod (and no container says false), or true in every container.
const runAsNonRootAnywhere = `spec:
  $or:
    - securityContext: {runAsNonRoot: true}
      containers: {$every: {securityContext: {runAsNonRoot: {$ne: false}}}}
    - containers: {$every: {securityContext: {runAsNonRoot: true}}}`

func TestEveryAndOr(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		obj        func(spec map[string]any)
		diff       string // "" = match
	}{
		{"every passes", `spec: {containers: {$every: {name: {$regex: '^[a-z]+$'}}}}`, nil, ""},
		{"every names each element that fails", `spec: {containers: {$every: {securityContext: {privileged: {$ne: true}}}}}`, nil,
			"spec.containers[1].securityContext.privileged != true | spec.containers[1].securityContext.privileged = true"},
		{"every under a missing map", `spec: {containers: {$every: {securityContext: {allowPrivilegeEscalation: false}}}}`, nil,
			"spec.containers[1].securityContext.allowPrivilegeEscalation = false | spec.containers[1].securityContext.allowPrivilegeEscalation = <missing>"},
		{"every on a missing list holds", `spec: {initContainers: {$every: {name: x}}}`, nil, ""},
		{"every on a map", `spec: {securityContext: {$every: {name: x}}}`, nil,
			`spec.securityContext has every item matching {name: "x"} | spec.securityContext = {seccompProfile: {type: "RuntimeDefault"}}`},
		{"every finds the hostPath", `spec: {volumes: {$every: {hostPath: {$absent: true}}}}`, nil,
			`spec.volumes[1].hostPath is absent | spec.volumes[1].hostPath = {path: "/"}`},
		{"every with contains", `spec: {containers: {$every: {securityContext: {capabilities: {drop: {$contains: [ALL]}}}}}}`, nil,
			`spec.containers[1].securityContext.capabilities = {drop: {$contains: ["ALL"]}} | spec.containers[1].securityContext.capabilities = <missing>`},

		{"or: the pod level holds", runAsNonRootAnywhere, func(spec map[string]any) {
			spec["securityContext"].(map[string]any)["runAsNonRoot"] = true
		}, ""},
		{"or: every container holds", runAsNonRootAnywhere, func(spec map[string]any) {
			spec["containers"].([]any)[1].(map[string]any)["securityContext"].(map[string]any)["runAsNonRoot"] = true
		}, ""},
		{"or: neither, each alternative's difference", runAsNonRootAnywhere, nil,
			"spec.securityContext.runAsNonRoot = true or spec.containers[1].securityContext.runAsNonRoot = true | " +
				"spec.securityContext.runAsNonRoot = <missing>; spec.containers[1].securityContext.runAsNonRoot = <missing>"},
		{"or: the pod says true but a container says false", runAsNonRootAnywhere, func(spec map[string]any) {
			spec["securityContext"].(map[string]any)["runAsNonRoot"] = true
			spec["containers"].([]any)[1].(map[string]any)["securityContext"].(map[string]any)["runAsNonRoot"] = false
		}, "spec.containers[1].securityContext.runAsNonRoot != false or spec.containers[1].securityContext.runAsNonRoot = true | " +
			"spec.containers[1].securityContext.runAsNonRoot = false"},
		{"or: alternatives with several differences are grouped", `spec: {$or: [{hostPID: true, hostIPC: true}, {hostNetwork: true}]}`, nil,
			"(spec.hostIPC = true and spec.hostPID = true) or spec.hostNetwork = true | " +
				"spec.hostIPC = <missing>; spec.hostPID = <missing>; spec.hostNetwork = <missing>"},
		{"or on a value", `spec: {securityContext: {seccompProfile: {type: {$or: [RuntimeDefault, Localhost]}}}}`, nil, ""},
		{"or with absent", `spec: {securityContext: {appArmorProfile: {$or: [{$absent: true}, {type: RuntimeDefault}]}}}`, nil, ""},
		{"not of or", `spec: {securityContext: {seccompProfile: {type: {$not: {$or: [RuntimeDefault, Localhost]}}}}}`, nil,
			`spec.securityContext.seccompProfile.type not (matches one of "RuntimeDefault" or "Localhost") | spec.securityContext.seccompProfile.type = "RuntimeDefault"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compileMatch("object.match", fromYAML(t, tc.want))
			if len(c.errs) > 0 {
				t.Fatalf("compile: %q", c.errs)
			}
			obj := podObject()
			if tc.obj != nil {
				tc.obj(obj["spec"].(map[string]any))
			}
			var d []difference
			c.root.match("", obj, true, &d)
			if got := diffText(d); got != tc.diff {
				t.Errorf("diff\n  got  %q\n  want %q", got, tc.diff)
			}
		})
	}
}

// Nested alternatives that ask the same of a field say it once, and what
// was found at each field is listed once.
func TestNestedOrSaysEachThingOnce(t *testing.T) {
	want := map[string]any{"profile": map[string]any{"type": "Localhost", "name": "deny"}}
	tree := map[string]any{"spec": map[string]any{"$or": []any{
		map[string]any{"pod": want, "containers": map[string]any{"$every": map[string]any{"$or": []any{map[string]any{"profile": map[string]any{"$absent": true}}, want}}}},
		map[string]any{"containers": map[string]any{"$every": want}},
	}}}
	var errs []string
	p := compile("match", tree, &errs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	obj := map[string]any{"spec": map[string]any{"pod": want, "containers": []any{map[string]any{"profile": map[string]any{"type": "Unconfined"}}}}}
	var d []difference
	p.match("", obj, true, &d)
	if len(d) != 1 {
		t.Fatalf("differences %+v", d)
	}
	exp, found := d[0].expected(), d[0].found()
	if strings.Count(exp, `spec.containers[0].profile.type = "Localhost"`) != 1 {
		t.Errorf("expected repeats itself: %s", exp)
	}
	if strings.Count(found, `spec.containers[0].profile.type = "Unconfined"`) != 1 {
		t.Errorf("found repeats itself: %s", found)
	}
}
