package netagent

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestDefaultCNIManifest renders assets/cni/default-cni.yaml the way kind
// does (text/template with .PodSubnet) and checks what the node needs.
func TestDefaultCNIManifest(t *testing.T) {
	raw, err := os.ReadFile("../../assets/cni/default-cni.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"would you kindly template this file", "would you kindly patch this file"} {
		if !bytes.Contains(raw, []byte(marker)) {
			t.Errorf("missing kind marker %q", marker)
		}
	}
	if n := strings.Count(string(raw), "{{"); n != 1 {
		t.Errorf("want exactly one template action ({{ .PodSubnet }}), found %d", n)
	}
	tmpl, err := template.New("cni").Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, struct{ PodSubnet string }{"10.244.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	var ds *appsv1.DaemonSet
	var role *rbacv1.ClusterRole
	var binding *rbacv1.ClusterRoleBinding
	for _, doc := range strings.Split(out.String(), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("bad YAML: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			continue
		}
		kinds[meta.Kind] = true
		var target any
		switch meta.Kind {
		case "DaemonSet":
			ds = &appsv1.DaemonSet{}
			target = ds
		case "ClusterRole":
			role = &rbacv1.ClusterRole{}
			target = role
		case "ClusterRoleBinding":
			binding = &rbacv1.ClusterRoleBinding{}
			target = binding
		default:
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"} {
		if !kinds[k] {
			t.Errorf("no %s", k)
		}
	}
	if ds == nil || role == nil || binding == nil {
		t.FailNow()
	}

	want := map[string][]string{"nodes": nil, "pods": nil, "namespaces": nil, "networkpolicies": nil}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			if res == "networkpolicies" && !slices.Contains(r.APIGroups, "networking.k8s.io") {
				continue
			}
			want[res] = r.Verbs
		}
	}
	for res, verbs := range want {
		for _, v := range []string{"get", "list", "watch"} {
			if !slices.Contains(verbs, v) {
				t.Errorf("ClusterRole: %s lacks %s", res, v)
			}
		}
	}
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != ds.Spec.Template.Spec.ServiceAccountName {
		t.Errorf("binding does not bind the role to the DaemonSet's service account")
	}

	spec := ds.Spec.Template.Spec
	if ds.Namespace != "kube-system" || !spec.HostNetwork || spec.PriorityClassName != "system-node-critical" {
		t.Errorf("DaemonSet: namespace %q hostNetwork %v priority %q", ds.Namespace, spec.HostNetwork, spec.PriorityClassName)
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Operator != corev1.TolerationOpExists || spec.Tolerations[0].Key != "" {
		t.Errorf("must tolerate every taint: %+v", spec.Tolerations)
	}
	c := spec.Containers[0]
	if c.Image != "docker.io/seclab/net-agent:v1" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s pull %s", c.Image, c.ImagePullPolicy)
	}
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("not privileged")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["NODE_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("NODE_NAME: %+v", e)
	}
	if env["POD_SUBNET"].Value != "10.244.0.0/16" {
		t.Errorf("POD_SUBNET: %+v", env["POD_SUBNET"])
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.HostPath != nil && v.HostPath.Path == "/etc/cni/net.d" && m.MountPath == "/etc/cni/net.d" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Error("/etc/cni/net.d is not mounted from the host")
	}
}
