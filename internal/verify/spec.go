package verify

import (
	"fmt"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Spec is one check as written in a lab file. Exactly one of the kind fields
// is set: the key names the check kind, so strict decoding rejects fields that
// belong to another kind.
//
//	checks:
//	- name: nginx2 is isolated
//	  connectivity:
//	    from: {namespace: n287, selector: app=nginx1}
//	    to: {namespace: n287, service: nginx2, port: 80}
//	    expect: blocked
type Spec struct {
	// Name is the one line shown next to ✓/✗. Defaults to a description
	// derived from the check.
	Name string `json:"name,omitempty"`
	// Timeout bounds the polling of this check (Go duration, e.g. "30s").
	// Defaults to DefaultTimeout.
	Timeout string `json:"timeout,omitempty"`
	// Keep re-runs this check in every later step of the lab, so a later
	// step fails when it undoes what this one taught.
	Keep bool `json:"keep,omitempty"`
	// When limits the check to kernels with ("apparmor") or without
	// ("!apparmor") a feature the lab declares; the engine leaves it out
	// elsewhere (see catalog.Lab.For).
	When string `json:"when,omitempty"`

	Object       *ObjectSpec       `json:"object,omitempty"`
	Absent       *AbsentSpec       `json:"absent,omitempty"`
	Selects      *SelectsSpec      `json:"selects,omitempty"`
	Secret       *SecretSpec       `json:"secret,omitempty"`
	Connectivity *ConnectivitySpec `json:"connectivity,omitempty"`
	Exec         *ExecSpec         `json:"exec,omitempty"`
	Admission    *AdmissionSpec    `json:"admission,omitempty"`
	Access       *AccessSpec       `json:"access,omitempty"`
	Request      *RequestSpec      `json:"request,omitempty"`
	Answer       *AnswerSpec       `json:"answer,omitempty"`
	Node         *NodeSpec         `json:"node,omitempty"`
	Reachability *ReachabilitySpec `json:"reachability,omitempty"`
}

// Default polling deadlines when the lab does not set timeout. A failing
// check reports only at its deadline, so they are short: long enough for
// an apply to settle (a policy to be enforced, a pod to start from a loaded
// image), short enough that a wrong answer is reported quickly.
const (
	DefaultTimeout        = 5 * time.Second  // API objects, RBAC, admission, answers
	DefaultTrafficTimeout = 15 * time.Second // connectivity, exec, node commands
	DefaultMatrixTimeout  = 60 * time.Second // reachability: probe pods start, blocked cells time out
)

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// ObjectSpec passes when the object exists and contains Match: maps match
// key by key (extra keys in the object are fine), lists match element-wise
// in order and must have the same length, scalars must be equal, and
// operators ({$gte: 1}, {$contains: [...]}, see matchops.go) stand in for
// values that need not be exact.
type ObjectSpec struct {
	Ref   ObjectRef      `json:"ref"`
	Match map[string]any `json:"match,omitempty"`
}

// SelectsSpec passes when the label selector at Field of the object selects
// exactly the pods that Pods selects, judged by what each selects (on the
// live pods and on near-miss label sets), not by how it is written.
//
//	selects:
//	  ref: {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, namespace: n287, name: deny-all}
//	  field: spec.podSelector
//	  pods: app=nginx2
type SelectsSpec struct {
	Ref ObjectRef `json:"ref"`
	// Field is the path to the selector: a LabelSelector (spec.podSelector,
	// spec.ingress[0].from[0].podSelector), a label map (a Service's
	// spec.selector) or selector text.
	Field string `json:"field"`
	// Pods is a label selector for the pods it must select; "" means every
	// pod.
	Pods *string `json:"pods"`
	// Namespace whose live pods are compared; default the object's.
	Namespace string `json:"namespace,omitempty"`
}

// AbsentSpec passes when the object does not exist.
type AbsentSpec struct {
	Ref ObjectRef `json:"ref"`
}

// SecretSpec checks a Secret's decoded data.
type SecretSpec struct {
	Namespace string `json:"namespace,omitempty"` // default "default"
	Name      string `json:"name"`
	// Type, when set, must equal the Secret's type (e.g. Opaque).
	Type string `json:"type,omitempty"`
	// Data maps key -> expected decoded value; every key must be present
	// with exactly that value (a trailing newline counts).
	Data map[string]string `json:"data,omitempty"`
	// OnlyKeys, when true, fails if the Secret has keys not listed in Data.
	OnlyKeys bool `json:"onlyKeys,omitempty"`
}

// PodRef selects the pod a probe runs from, or describes a throwaway pod.
type PodRef struct {
	Namespace string `json:"namespace"`
	// Selector is a label selector ("app=nginx1"); the first Running pod is used.
	Selector string `json:"selector,omitempty"`
	// Pod names one pod.
	Pod string `json:"pod,omitempty"`
	// Probe, when set, runs from a temporary pod with these labels (may be
	// empty: an unlabeled pod), created and deleted by the check.
	Probe *ProbePod `json:"probe,omitempty"`
	// Container in the pod; default the first.
	Container string `json:"container,omitempty"`
}

// ProbePod is a temporary pod the check creates to send traffic from.
type ProbePod struct {
	Labels map[string]string `json:"labels,omitempty"`
}

// Target is where a connectivity check sends traffic.
type Target struct {
	Namespace string `json:"namespace"`
	// Service by name (traffic goes to its DNS name), or
	Service string `json:"service,omitempty"`
	// Selector picks pods; traffic goes to the first Ready pod's IP.
	Selector string `json:"selector,omitempty"`
	Port     int    `json:"port"`
}

// Expectations shared by several kinds.
const (
	ExpectAllowed   = "allowed"
	ExpectBlocked   = "blocked"
	ExpectDenied    = "denied"
	ExpectAdmitted  = "admitted"
	ExpectWarned    = "warned"
	ExpectForbidden = "forbidden"
)

// ConnectivitySpec sends real HTTP traffic from inside a pod to a target.
// "allowed" needs an HTTP response; "blocked" needs the connection to fail
// while the target itself is Ready (so a missing target is an error, never
// a pass).
type ConnectivitySpec struct {
	From   PodRef `json:"from"`
	To     Target `json:"to"`
	Expect string `json:"expect"` // allowed | blocked
	// Direction is the policy direction a "blocked" must come from:
	// ingress (default: the target is isolated) or egress (the source is).
	Direction string `json:"direction,omitempty"`
}

func (c *ConnectivitySpec) direction() networkingv1.PolicyType { return ingressOrEgress(c.Direction) }

// ReachabilitySpec declares who may reach whom; every other source/target
// pair must be blocked. Sources are generated to cover near-misses (see
// reachability.go); the lab lists only the rules.
//
//	reachability:
//	  targets:
//	  - {name: nginx2, namespace: n287, service: nginx2, port: 80}
//	  allow:
//	  - {from: {namespace: n287, labels: {app: nginx1}}, to: [nginx2]}
type ReachabilitySpec struct {
	Targets []ReachTarget `json:"targets"`
	Allow   []ReachRule   `json:"allow,omitempty"`
	Sources ReachSources  `json:"sources,omitempty"`
}

// direction: a matrix proves ingress isolation. An egress matrix would need
// sources the learner's egress policy selects; the generated ones are not,
// so it is not offered until a lab needs it (connectivity has egress).
func (c *ReachabilitySpec) direction() networkingv1.PolicyType { return networkingv1.PolicyTypeIngress }

// ReachTarget is one column of the matrix; Name is what rules refer to.
type ReachTarget struct {
	Name string `json:"name"`
	Target
}

func (t ReachTarget) label() string { return fmt.Sprintf("%s:%d", t.Name, t.Port) }

// ReachRule allows sources matching From to reach the targets named in To
// (all targets when To is empty).
type ReachRule struct {
	From PeerMatch `json:"from"`
	To   []string  `json:"to,omitempty"`
}

func (r ReachRule) allows(target string) bool {
	if len(r.To) == 0 {
		return true
	}
	for _, t := range r.To {
		if t == target {
			return true
		}
	}
	return false
}

// PeerMatch matches source pods: Namespace "" is any namespace, Labels
// empty is any pod (labels are a subset match, as a policy's matchLabels).
type PeerMatch struct {
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

func (m PeerMatch) matches(ns string, l map[string]string) bool {
	if m.Namespace != "" && m.Namespace != ns {
		return false
	}
	return labels.SelectorFromSet(m.Labels).Matches(labels.Set(l))
}

func (m PeerMatch) String() string {
	switch {
	case m.Namespace == "" && len(m.Labels) == 0:
		return "any pod"
	case len(m.Labels) == 0:
		return "pods in " + m.Namespace
	case m.Namespace == "":
		return "pods " + labelSet(m.Labels) + " in any namespace"
	}
	return m.Namespace + " pods " + labelSet(m.Labels)
}

// ReachSources tunes the generated sources.
type ReachSources struct {
	// Namespaces whose pods are sources (default: the targets' namespaces).
	Namespaces []string `json:"namespaces,omitempty"`
	// Elsewhere is another namespace for probe pods (default "default").
	Elsewhere string `json:"elsewhere,omitempty"`
	// Probes adds probe pods to the generated ones.
	Probes []ProbeSource `json:"probes,omitempty"`
}

func (s ReachSources) elsewhere() string {
	if s.Elsewhere != "" {
		return s.Elsewhere
	}
	return "default"
}

// ProbeSource is a probe pod with these labels in Namespace.
type ProbeSource struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// ExecSpec runs a command in a pod and compares its outcome.
type ExecSpec struct {
	In      PodRef   `json:"in"`
	Command []string `json:"command"`
	// ExitCode expected (default 0).
	ExitCode *int `json:"exitCode,omitempty"`
	// StdoutContains / StdoutEquals (trimmed) compare standard output.
	StdoutContains string `json:"stdoutContains,omitempty"`
	StdoutEquals   string `json:"stdoutEquals,omitempty"`
}

// AdmissionSpec submits an object with server-side dry-run and checks what
// admission said.
type AdmissionSpec struct {
	// Object is a full manifest (apiVersion, kind, metadata, ...).
	Object map[string]any `json:"object,omitempty"`
	// PodTemplate, instead of Object, submits a pod made from the pod
	// template at a field of a live object (a Deployment's spec.template),
	// in that object's namespace: admission judges the workload the
	// learner wrote as it will judge the pods its controller creates.
	PodTemplate *ObjectField `json:"podTemplate,omitempty"`
	Expect      string       `json:"expect"` // denied | admitted | warned
	// MessageContains must appear in the denial or in one warning.
	MessageContains string `json:"messageContains,omitempty"`
	// NoWarnings, with expect admitted, also fails on any warning: a Pod
	// Security warn level the object falls short of warns, it does not deny.
	NoWarnings bool `json:"noWarnings,omitempty"`
}

// AccessSpec asks the API server (SubjectAccessReview) whether a subject may
// do something.
type AccessSpec struct {
	// Exactly one subject: a user, or a service account "namespace/name".
	User           string   `json:"user,omitempty"`
	Groups         []string `json:"groups,omitempty"`
	ServiceAccount string   `json:"serviceAccount,omitempty"`

	Verb        string `json:"verb"`
	Group       string `json:"group,omitempty"` // API group, "" is core
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	Expect      string `json:"expect"` // allowed | denied
}

// RequestSpec makes a real API request as a service account, with a
// short-lived token from the TokenRequest API, and judges it by the HTTP
// status: what the API server really does with the account's credentials,
// not what a review predicts. Writes are sent with dry-run.
//
//	request:
//	  as: {serviceAccount: rbac-lab/app}
//	  verb: list
//	  resource: {apiVersion: v1, resource: pods, namespace: rbac-lab}
//	  expect: allowed
type RequestSpec struct {
	As       RequestSubject  `json:"as"`
	Verb     string          `json:"verb"` // get | list | create
	Resource RequestResource `json:"resource"`
	// Object is the body of a create (a full manifest of the resource's
	// kind); it is sent with dryRun=All, so nothing is stored.
	Object map[string]any `json:"object,omitempty"`
	Expect string         `json:"expect"` // allowed | forbidden
}

// RequestSubject is who a request is made as.
type RequestSubject struct {
	ServiceAccount string `json:"serviceAccount"` // namespace/name
}

// RequestResource is what a request is about: the resource's API version
// and plural name as in its URL, a namespace ("" is cluster-wide, or every
// namespace for a namespaced resource) and, for get, the object's name.
type RequestResource struct {
	APIVersion string `json:"apiVersion"`
	Resource   string `json:"resource"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
}

// Request verbs.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbCreate = "create"
)

// AnswerSpec compares the learner's answer (seclab answer ...) with an
// expected value: given literally, read from a Secret key, or read from a
// field of a live object (a value that differs from cluster to cluster,
// like the node a pod runs on).
//
// With Choices the question is multiple choice: the step shows the
// choices, the learner answers with a choice id, and Equals names the
// right one ("b"), or with Multiple every one that applies ("a,c,e"),
// compared as a set regardless of case, spaces and order (see choice.go).
type AnswerSpec struct {
	Equals     string       `json:"equals,omitempty"`
	FromSecret *SecretKey   `json:"fromSecret,omitempty"`
	FromObject *ObjectField `json:"fromObject,omitempty"`
	Choices    []Choice     `json:"choices,omitempty"`
	// Multiple: select all that apply (the answer is a set of ids).
	Multiple bool `json:"multiple,omitempty"`
}

// ObjectField points at one field of an object, by a dotted path with list
// indexes (spec.nodeName, status.podIPs[0].ip), as selects.field does.
type ObjectField struct {
	Ref   ObjectRef `json:"ref"`
	Field string    `json:"field"`
}

// SecretKey points at one key of a Secret.
type SecretKey struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Key       string `json:"key"`
}

// NodeSpec runs a command on the cluster's node containers (file reads are
// commands too, e.g. ["cat", "/etc/kubernetes/manifests/kube-apiserver.yaml"]).
type NodeSpec struct {
	// Role limits the nodes: control-plane, worker, or "" for all.
	Role           string   `json:"role,omitempty"`
	Command        []string `json:"command"`
	ExitCode       *int     `json:"exitCode,omitempty"`
	StdoutContains string   `json:"stdoutContains,omitempty"`
	// StdoutNotContains fails the check when present in the output.
	StdoutNotContains string `json:"stdoutNotContains,omitempty"`
	// Expected says what passes (and on which nodes), in the learner's
	// terms, instead of the exit code and output wanted.
	Expected string `json:"expected,omitempty"`
	// Explains marks a command that prints what it found, one finding
	// per line: a failure shows those lines as they are, not an excerpt.
	Explains bool `json:"explains,omitempty"`
}

// validLabels returns why l is not a valid label set, or "".
func validLabels(l map[string]string) string {
	if _, err := labels.ValidatedSelectorFromSet(l); err != nil {
		return err.Error()
	}
	return ""
}

// Kind returns the name of the check kind set in s ("" if none).
func (s Spec) Kind() string {
	kinds := s.kinds()
	if len(kinds) == 1 {
		return kinds[0]
	}
	return ""
}

func (s Spec) kinds() []string {
	var k []string
	add := func(set bool, name string) {
		if set {
			k = append(k, name)
		}
	}
	add(s.Object != nil, "object")
	add(s.Absent != nil, "absent")
	add(s.Selects != nil, "selects")
	add(s.Secret != nil, "secret")
	add(s.Connectivity != nil, "connectivity")
	add(s.Exec != nil, "exec")
	add(s.Admission != nil, "admission")
	add(s.Access != nil, "access")
	add(s.Request != nil, "request")
	add(s.Answer != nil, "answer")
	add(s.Node != nil, "node")
	add(s.Reachability != nil, "reachability")
	return k
}

// TimeoutOrDefault parses Timeout; Validate has already rejected bad values.
func (s Spec) TimeoutOrDefault() time.Duration {
	if d, err := time.ParseDuration(s.Timeout); err == nil && d > 0 {
		return d
	}
	if s.Reachability != nil {
		return DefaultMatrixTimeout
	}
	if s.Connectivity != nil || s.Exec != nil || s.Node != nil {
		return DefaultTrafficTimeout
	}
	return DefaultTimeout
}

// Validate returns every problem in s, each prefixed with the field path
// relative to the check (e.g. "connectivity.to.port: must be 1-65535").
func (s Spec) Validate() []string {
	var errs []string
	bad := func(path, format string, a ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, a...))
	}
	switch k := s.kinds(); len(k) {
	case 0:
		bad("(check)", "no check kind set; want one of object, absent, selects, secret, connectivity, exec, admission, access, request, answer, node, reachability")
	case 1:
	default:
		bad("(check)", "more than one check kind set (%s); split them into separate checks", strings.Join(k, ", "))
	}
	if s.Timeout != "" {
		if d, err := time.ParseDuration(s.Timeout); err != nil || d <= 0 {
			bad("timeout", "%q is not a positive duration like 30s", s.Timeout)
		}
	}
	ref := func(path string, r ObjectRef) {
		if r.APIVersion == "" {
			bad(path+".apiVersion", "required")
		}
		if r.Kind == "" {
			bad(path+".kind", "required")
		}
		if r.Name == "" {
			bad(path+".name", "required")
		}
	}
	// A selector typo would otherwise surface only at run time as "no pod
	// matches", which sends the learner hunting for a problem they don't have.
	selector := func(path, sel string) {
		if sel == "" {
			return
		}
		if _, err := labels.Parse(sel); err != nil {
			bad(path, "%q is not a label selector: %v", sel, err)
		}
	}
	pod := func(path string, p PodRef) {
		if p.Namespace == "" {
			bad(path+".namespace", "required")
		}
		n := 0
		for _, set := range []bool{p.Selector != "", p.Pod != "", p.Probe != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			bad(path, "set exactly one of selector, pod, probe")
		}
		selector(path+".selector", p.Selector)
	}
	target := func(path string, t Target) {
		if t.Namespace == "" {
			bad(path+".namespace", "required")
		}
		if (t.Service == "") == (t.Selector == "") {
			bad(path, "set exactly one of service, selector")
		}
		selector(path+".selector", t.Selector)
		if t.Port < 1 || t.Port > 65535 {
			bad(path+".port", "must be 1-65535, got %d", t.Port)
		}
	}
	oneOf := func(path, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	if o := s.Object; o != nil {
		ref("object.ref", o.Ref)
		errs = append(errs, compileMatch("object.match", o.Match).errs...)
	}
	if a := s.Absent; a != nil {
		ref("absent.ref", a.Ref)
	}
	if sl := s.Selects; sl != nil {
		ref("selects.ref", sl.Ref)
		if sl.Field == "" {
			bad("selects.field", "required (the path to the selector, e.g. spec.podSelector)")
		} else if _, err := parseFieldPath(sl.Field); err != nil {
			bad("selects.field", "%v", err)
		}
		if sl.Pods == nil {
			bad("selects.pods", `required: a label selector for the pods it must select ("" for every pod)`)
		} else {
			selector("selects.pods", *sl.Pods)
		}
	}
	if sc := s.Secret; sc != nil {
		if sc.Name == "" {
			bad("secret.name", "required")
		}
		if len(sc.Data) == 0 && sc.Type == "" {
			bad("secret", "set data or type: there is nothing to compare")
		}
	}
	if c := s.Connectivity; c != nil {
		pod("connectivity.from", c.From)
		target("connectivity.to", c.To)
		oneOf("connectivity.expect", c.Expect, ExpectAllowed, ExpectBlocked)
		if c.Direction != "" {
			oneOf("connectivity.direction", c.Direction, "ingress", "egress")
		}
	}
	if m := s.Reachability; m != nil {
		if len(m.Targets) == 0 {
			bad("reachability.targets", "required")
		}
		names := map[string]bool{}
		for i, t := range m.Targets {
			p := fmt.Sprintf("reachability.targets[%d]", i)
			target(p, t.Target)
			if t.Name == "" {
				bad(p+".name", "required")
			} else if names[t.Name] {
				bad(p+".name", "%q is used twice", t.Name)
			}
			names[t.Name] = true
		}
		for i, r := range m.Allow {
			for j, to := range r.To {
				if !names[to] {
					bad(fmt.Sprintf("reachability.allow[%d].to[%d]", i, j), "%q is not a target name", to)
				}
			}
			if err := validLabels(r.From.Labels); err != "" {
				bad(fmt.Sprintf("reachability.allow[%d].from.labels", i), "%s", err)
			}
		}
		for i, p := range m.Sources.Probes {
			if p.Namespace == "" {
				bad(fmt.Sprintf("reachability.sources.probes[%d].namespace", i), "required")
			}
			if err := validLabels(p.Labels); err != "" {
				bad(fmt.Sprintf("reachability.sources.probes[%d].labels", i), "%s", err)
			}
		}
	}
	if e := s.Exec; e != nil {
		pod("exec.in", e.In)
		if len(e.Command) == 0 {
			bad("exec.command", "required")
		}
	}
	if a := s.Admission; a != nil {
		switch {
		case len(a.Object) > 0 && a.PodTemplate != nil:
			bad("admission", "set exactly one of object, podTemplate")
		case a.PodTemplate != nil:
			ref("admission.podTemplate.ref", a.PodTemplate.Ref)
			if a.PodTemplate.Field == "" {
				bad("admission.podTemplate.field", "required (the path to the pod template, e.g. spec.template)")
			} else if _, err := parseFieldPath(a.PodTemplate.Field); err != nil {
				bad("admission.podTemplate.field", "%v", err)
			}
		case len(a.Object) == 0:
			bad("admission.object", "required (or podTemplate)")
		default:
			for _, f := range []string{"apiVersion", "kind"} {
				if v, _ := a.Object[f].(string); v == "" {
					bad("admission.object."+f, "required")
				}
			}
			if md, _ := a.Object["metadata"].(map[string]any); md == nil || md["name"] == nil {
				bad("admission.object.metadata.name", "required")
			}
		}
		oneOf("admission.expect", a.Expect, ExpectDenied, ExpectAdmitted, ExpectWarned)
		if a.NoWarnings && a.Expect != ExpectAdmitted {
			bad("admission.noWarnings", "only with expect: admitted")
		}
	}
	if a := s.Access; a != nil {
		if (a.User == "") == (a.ServiceAccount == "") {
			bad("access", "set exactly one of user, serviceAccount")
		}
		if a.ServiceAccount != "" && strings.Count(a.ServiceAccount, "/") != 1 {
			bad("access.serviceAccount", "want namespace/name, got %q", a.ServiceAccount)
		}
		if a.Verb == "" {
			bad("access.verb", "required")
		}
		if a.Resource == "" {
			bad("access.resource", "required")
		}
		oneOf("access.expect", a.Expect, ExpectAllowed, ExpectDenied)
	}
	if r := s.Request; r != nil {
		errs = append(errs, r.validate()...)
	}
	if a := s.Answer; a != nil {
		n := 0
		for _, set := range []bool{a.Equals != "", a.FromSecret != nil, a.FromObject != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			bad("answer", "set exactly one of equals, fromSecret, fromObject")
		}
		if f := a.FromSecret; f != nil && (f.Name == "" || f.Key == "") {
			bad("answer.fromSecret", "name and key are required")
		}
		if f := a.FromObject; f != nil {
			ref("answer.fromObject.ref", f.Ref)
			if f.Field == "" {
				bad("answer.fromObject.field", "required (the path to the value, e.g. spec.nodeName)")
			} else if _, err := parseFieldPath(f.Field); err != nil {
				bad("answer.fromObject.field", "%v", err)
			}
		}
		a.validateChoices(bad)
	}
	if n := s.Node; n != nil {
		if len(n.Command) == 0 {
			bad("node.command", "required")
		}
		if n.Role != "" {
			oneOf("node.role", n.Role, "control-plane", "worker")
		}
	}
	return errs
}
