package netagent

import (
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The test world: two nodes, three namespaces, pods on both nodes, a
// host-network pod, a terminated pod and addresses outside the cluster.
//
//	node n1 (172.18.0.2): x/a x/c y/a z/b x/host(hostNetwork) x/old(Succeeded)
//	node n2 (172.18.0.3): x/b y/b z/a
var (
	nodeIPs = map[string]netip.Addr{"n1": mustAddr("172.18.0.2"), "n2": mustAddr("172.18.0.3")}

	testNamespaces = []*corev1.Namespace{
		ns("x", "team=red"),
		ns("y", "team=blue"),
		ns("z", "team=red", "env=prod"),
	}

	testPods = []*corev1.Pod{
		pod("x", "a", "n1", []string{"10.244.1.10", "fd00:10:244:1::10"}, "app=a,tier=web", "http:80/TCP", "dns:53/UDP", "metrics:9090/TCP"),
		pod("x", "b", "n2", []string{"10.244.2.10"}, "app=b,tier=web", "http:8080/TCP"),
		pod("x", "c", "n1", []string{"10.244.1.11"}, "app=c,tier=db", "db:5432/TCP", "http:81/TCP", "sig:7777/SCTP"),
		pod("y", "a", "n1", []string{"10.244.1.20", "fd00:10:244:1::20"}, "app=a"),
		pod("y", "b", "n2", []string{"10.244.2.20"}, "app=b", "http:80/UDP"),
		pod("z", "a", "n2", []string{"10.244.2.30"}, "app=a,tier=web", "http:8081/TCP"),
		pod("z", "b", "n1", []string{"10.244.1.30"}, "app=b"),
		hostPod("x", "host", "n1", "172.18.0.2", "app=a,tier=web", "http:80/TCP"),
		donePod("x", "old", "n1", "10.244.1.99", "app=a,tier=web", "http:80/TCP"),
	}

	// addresses that are not pods
	external   = mustAddr("192.168.5.5")
	external2  = mustAddr("192.168.6.1")
	externalV6 = mustAddr("2001:db8::1")
)

// addrOf names endpoints in test tables: "x/a", "x/a6" (IPv6), "ext", "n1"...
func addrOf(name string) netip.Addr {
	switch name {
	case "ext":
		return external
	case "ext2":
		return external2
	case "ext6":
		return externalV6
	case "n1", "n2":
		return nodeIPs[name]
	}
	v6 := strings.HasSuffix(name, "6")
	base := strings.TrimSuffix(name, "6")
	for _, p := range testPods {
		if p.Namespace+"/"+p.Name == base {
			for _, ip := range p.Status.PodIPs {
				a := mustAddr(ip.IP)
				if a.Is6() == v6 {
					return a
				}
			}
		}
	}
	panic("no address for " + name)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func parseLabels(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func ns(name string, lbls ...string) *corev1.Namespace {
	l := parseLabels(strings.Join(lbls, ","))
	if l == nil {
		l = map[string]string{}
	}
	l["kubernetes.io/metadata.name"] = name
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

// pod builds a running pod; ports are "name:number/PROTO".
func pod(namespace, name, node string, ips []string, lbls string, ports ...string) *corev1.Pod {
	var cps []corev1.ContainerPort
	for _, p := range ports {
		n, rest, _ := strings.Cut(p, ":")
		num, proto, _ := strings.Cut(rest, "/")
		v, _ := strconv.Atoi(num)
		cps = append(cps, corev1.ContainerPort{Name: n, ContainerPort: int32(v), Protocol: corev1.Protocol(proto)})
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: parseLabels(lbls)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{
			{Name: "main", Ports: cps[:len(cps)/2]}, {Name: "side", Ports: cps[len(cps)/2:]},
		}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		p.Status.PodIP = ips[0]
	}
	return p
}

func hostPod(namespace, name, node, ip, lbls string, ports ...string) *corev1.Pod {
	p := pod(namespace, name, node, []string{ip}, lbls, ports...)
	p.Spec.HostNetwork = true
	return p
}

func donePod(namespace, name, node, ip, lbls string, ports ...string) *corev1.Pod {
	p := pod(namespace, name, node, []string{ip}, lbls, ports...)
	p.Status.Phase = corev1.PodSucceeded
	return p
}

// --- policy builders ---

func sel(s string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: parseLabels(s)}
}

func policy(namespace, name, podSel string, mods ...func(*networkingv1.NetworkPolicy)) *networkingv1.NetworkPolicy {
	p := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *sel(podSel)},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func types(ts ...networkingv1.PolicyType) func(*networkingv1.NetworkPolicy) {
	return func(p *networkingv1.NetworkPolicy) { p.Spec.PolicyTypes = ts }
}

const (
	ING = networkingv1.PolicyTypeIngress
	EGR = networkingv1.PolicyTypeEgress
)

type rule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

func ingress(rules ...rule) func(*networkingv1.NetworkPolicy) {
	return func(p *networkingv1.NetworkPolicy) {
		for _, r := range rules {
			p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: r.peers, Ports: r.ports})
		}
	}
}

func egress(rules ...rule) func(*networkingv1.NetworkPolicy) {
	return func(p *networkingv1.NetworkPolicy) {
		for _, r := range rules {
			p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: r.peers, Ports: r.ports})
		}
	}
}

// r builds a rule from peers and ports.
func r(items ...any) rule {
	var out rule
	for _, it := range items {
		switch v := it.(type) {
		case networkingv1.NetworkPolicyPeer:
			out.peers = append(out.peers, v)
		case networkingv1.NetworkPolicyPort:
			out.ports = append(out.ports, v)
		default:
			panic("bad rule item")
		}
	}
	return out
}

func podPeer(s string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: sel(s)}
}

func nsPeer(s string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: sel(s)}
}

func nsPodPeer(nsSel, podSel string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: sel(nsSel), PodSelector: sel(podSel)}
}

func cidrPeer(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func protoPtr(p string) *corev1.Protocol {
	if p == "" {
		return nil
	}
	pr := corev1.Protocol(p)
	return &pr
}

// port: "TCP/80", "UDP/http", "TCP/8000-9000", "UDP/" (every UDP port), "80" (TCP implied).
func port(s string) networkingv1.NetworkPolicyPort {
	proto, val, ok := strings.Cut(s, "/")
	if !ok {
		proto, val = "", s
	}
	np := networkingv1.NetworkPolicyPort{Protocol: protoPtr(proto)}
	if val == "" {
		return np
	}
	lo, hi, isRange := strings.Cut(val, "-")
	if n, err := strconv.Atoi(lo); err == nil {
		v := intstr.FromInt32(int32(n))
		np.Port = &v
		if isRange {
			h, _ := strconv.Atoi(hi)
			e := int32(h)
			np.EndPort = &e
		}
	} else {
		v := intstr.FromString(val)
		np.Port = &v
	}
	return np
}
