package verify

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ref := ObjectRef{APIVersion: "v1", Kind: "Pod", Name: "p"}
	conn := func(mod func(*ConnectivitySpec)) Spec {
		c := &ConnectivitySpec{
			From:   PodRef{Namespace: "n", Selector: "app=a"},
			To:     Target{Namespace: "n", Service: "s", Port: 80},
			Expect: ExpectBlocked,
		}
		mod(c)
		return Spec{Connectivity: c}
	}
	for _, tc := range []struct {
		name string
		spec Spec
		want []string // each must appear in one problem; nil = valid
	}{
		{"valid object", Spec{Object: &ObjectSpec{Ref: ref}}, nil},
		{"valid connectivity", conn(func(*ConnectivitySpec) {}), nil},
		{"no kind", Spec{}, []string{"(check): no check kind set"}},
		{"two kinds", Spec{Object: &ObjectSpec{Ref: ref}, Absent: &AbsentSpec{Ref: ref}},
			[]string{"(check): more than one check kind set (object, absent)"}},
		{"bad timeout", Spec{Timeout: "-1s", Object: &ObjectSpec{Ref: ref}}, []string{`timeout: "-1s" is not a positive duration`}},
		{"object ref", Spec{Object: &ObjectSpec{}},
			[]string{"object.ref.apiVersion: required", "object.ref.kind: required", "object.ref.name: required"}},
		{"absent ref", Spec{Absent: &AbsentSpec{Ref: ObjectRef{APIVersion: "v1", Kind: "Pod"}}}, []string{"absent.ref.name: required"}},
		{"secret nothing to compare", Spec{Secret: &SecretSpec{Name: "s"}}, []string{"secret: set data or type"}},
		{"secret name", Spec{Secret: &SecretSpec{Type: "Opaque"}}, []string{"secret.name: required"}},
		{"connectivity two sources", conn(func(c *ConnectivitySpec) { c.From.Pod = "p" }),
			[]string{"connectivity.from: set exactly one of selector, pod, probe"}},
		{"connectivity bad selector", conn(func(c *ConnectivitySpec) { c.From.Selector = "app in (a" }),
			[]string{`connectivity.from.selector: "app in (a" is not a label selector`}},
		{"connectivity bad target selector", conn(func(c *ConnectivitySpec) { c.To.Service = ""; c.To.Selector = "a b" }),
			[]string{`connectivity.to.selector: "a b" is not a label selector`}},
		{"connectivity port", conn(func(c *ConnectivitySpec) { c.To.Port = 0 }), []string{"connectivity.to.port: must be 1-65535, got 0"}},
		{"connectivity target", conn(func(c *ConnectivitySpec) { c.To.Selector = "app=b" }), []string{"connectivity.to: set exactly one of service, selector"}},
		{"connectivity expect", conn(func(c *ConnectivitySpec) { c.Expect = "denied" }),
			[]string{`connectivity.expect: "denied" is not one of allowed, blocked`}},
		{"connectivity namespaces", conn(func(c *ConnectivitySpec) { c.From.Namespace = ""; c.To.Namespace = "" }),
			[]string{"connectivity.from.namespace: required", "connectivity.to.namespace: required"}},
		{"exec", Spec{Exec: &ExecSpec{In: PodRef{Namespace: "n", Pod: "p"}}}, []string{"exec.command: required"}},
		{"admission empty", Spec{Admission: &AdmissionSpec{Expect: ExpectDenied}}, []string{"admission.object: required"}},
		{"admission fields", Spec{Admission: &AdmissionSpec{Object: map[string]any{"spec": map[string]any{}}, Expect: "rejected"}},
			[]string{"admission.object.apiVersion: required", "admission.object.kind: required", "admission.object.metadata.name: required", `admission.expect: "rejected" is not one of denied, admitted, warned`}},
		{"access subject", Spec{Access: &AccessSpec{User: "u", ServiceAccount: "n/s", Verb: "get", Resource: "pods", Expect: ExpectAllowed}},
			[]string{"access: set exactly one of user, serviceAccount"}},
		{"access sa format", Spec{Access: &AccessSpec{ServiceAccount: "sa", Verb: "get", Resource: "pods", Expect: ExpectAllowed}},
			[]string{`access.serviceAccount: want namespace/name, got "sa"`}},
		{"access fields", Spec{Access: &AccessSpec{User: "u", Expect: "maybe"}},
			[]string{"access.verb: required", "access.resource: required", `access.expect: "maybe" is not one of allowed, denied`}},
		{"answer both", Spec{Answer: &AnswerSpec{Equals: "x", FromSecret: &SecretKey{Name: "s", Key: "k"}}}, []string{"answer: set exactly one of equals, fromSecret"}},
		{"answer secret key", Spec{Answer: &AnswerSpec{FromSecret: &SecretKey{Name: "s"}}}, []string{"answer.fromSecret: name and key are required"}},
		{"node", Spec{Node: &NodeSpec{Role: "master"}}, []string{"node.command: required", `node.role: "master" is not one of control-plane, worker`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.spec.Validate()
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("want valid, got %q", got)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %d problems %q, want %d", len(got), got, len(tc.want))
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems %q\n  missing %q", got, w)
				}
			}
		})
	}
}

func TestTimeoutOrDefault(t *testing.T) {
	if d := (Spec{Timeout: "3s"}).TimeoutOrDefault(); d != 3*time.Second {
		t.Errorf("3s -> %v", d)
	}
	if d := (Spec{}).TimeoutOrDefault(); d != DefaultTimeout {
		t.Errorf("empty -> %v", d)
	}
}
