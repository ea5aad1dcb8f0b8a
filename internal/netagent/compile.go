package netagent

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Snapshot is the cluster state one node's ruleset is compiled from.
type Snapshot struct {
	NodeName   string
	Pods       []*corev1.Pod
	Namespaces []*corev1.Namespace
	Policies   []*networkingv1.NetworkPolicy
	// ClusterCIDRs are the cluster's pod subnets (masquerade boundary).
	ClusterCIDRs []netip.Prefix
}

// podInfo is a pod that takes part in pod networking.
type podInfo struct {
	pod   *corev1.Pod
	ips   []netip.Addr
	local bool
}

// PodIPs returns the IPs of a pod that NetworkPolicy applies to: nil for
// host-network pods, pods without an IP and pods that have terminated.
func PodIPs(p *corev1.Pod) []netip.Addr {
	if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return nil
	}
	var ips []netip.Addr
	add := func(s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		a = a.Unmap()
		for _, x := range ips {
			if x == a {
				return
			}
		}
		ips = append(ips, a)
	}
	for _, pip := range p.Status.PodIPs {
		add(pip.IP)
	}
	if p.Status.PodIP != "" {
		add(p.Status.PodIP)
	}
	return ips
}

// PolicyTypes returns the directions a policy isolates its pods in. Without
// policyTypes, Ingress is implied and Egress only if there are egress rules.
func PolicyTypes(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

type compiler struct {
	snap     *Snapshot
	pods     []*podInfo            // sorted by namespace/name
	podsByNS map[string][]*podInfo // same order
	nsLabels map[string]labels.Set
	nsNames  []string // sorted
	warnings []string
}

// Compile computes the ruleset of snap.NodeName: ingress rules for pods on
// this node as destinations, egress rules for pods on this node as sources.
// Together, the rulesets of all nodes enforce every policy, whichever nodes
// a connection's ends are on. Warnings describe policy parts that were ignored.
func Compile(snap *Snapshot) (*Ruleset, []string) {
	c := &compiler{snap: snap, podsByNS: map[string][]*podInfo{}, nsLabels: map[string]labels.Set{}}
	pods := append([]*corev1.Pod(nil), snap.Pods...)
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	for _, p := range pods {
		ips := PodIPs(p)
		if len(ips) == 0 {
			continue
		}
		pi := &podInfo{pod: p, ips: ips, local: p.Spec.NodeName == snap.NodeName}
		c.pods = append(c.pods, pi)
		c.podsByNS[p.Namespace] = append(c.podsByNS[p.Namespace], pi)
	}
	for _, ns := range snap.Namespaces {
		c.nsLabels[ns.Name] = labels.Set(ns.Labels)
		c.nsNames = append(c.nsNames, ns.Name)
	}
	sort.Strings(c.nsNames)

	policies := append([]*networkingv1.NetworkPolicy(nil), snap.Policies...)
	sort.Slice(policies, func(i, j int) bool {
		if policies[i].Namespace != policies[j].Namespace {
			return policies[i].Namespace < policies[j].Namespace
		}
		return policies[i].Name < policies[j].Name
	})

	rs := &Ruleset{ClusterCIDRs: snap.ClusterCIDRs}
	var ingIso, egrIso []netip.Addr
	for _, pol := range policies {
		selected := c.selectLocal(pol)
		if len(selected) == 0 {
			continue
		}
		ingress, egress := PolicyTypes(pol)
		var sel ipSetBuilder
		for _, p := range selected {
			for _, a := range p.ips {
				sel.addAddr(a)
				if ingress {
					ingIso = append(ingIso, a)
				}
				if egress {
					egrIso = append(egrIso, a)
				}
			}
		}
		if ingress {
			for i, rule := range pol.Spec.Ingress {
				name := fmt.Sprintf("%s/%s ingress %d", pol.Namespace, pol.Name, i)
				rs.Ingress = append(rs.Ingress, c.ingressMatches(name, pol.Namespace, selected, &sel, rule)...)
			}
		}
		if egress {
			for i, rule := range pol.Spec.Egress {
				name := fmt.Sprintf("%s/%s egress %d", pol.Namespace, pol.Name, i)
				rs.Egress = append(rs.Egress, c.egressMatches(name, pol.Namespace, &sel, rule)...)
			}
		}
	}
	rs.IngressIsolated = sortedAddrs(ingIso)
	rs.EgressIsolated = sortedAddrs(egrIso)
	rs.Loopback = sortedAddrs(append(append([]netip.Addr(nil), ingIso...), egrIso...))
	return rs, c.warnings
}

func sortedAddrs(as []netip.Addr) []netip.Addr {
	sort.Slice(as, func(i, j int) bool { return as[i].Less(as[j]) })
	var out []netip.Addr
	for i, a := range as {
		if i == 0 || a != as[i-1] {
			out = append(out, a)
		}
	}
	return out
}

func (c *compiler) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// selector converts a label selector; nil matches everything.
func (c *compiler) selector(ls *metav1.LabelSelector, what string) (labels.Selector, bool) {
	if ls == nil {
		return labels.Everything(), true
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		c.warnf("%s: invalid selector ignored (matches nothing): %v", what, err)
		return nil, false
	}
	return s, true
}

// selectLocal returns the local pods a policy applies to.
func (c *compiler) selectLocal(pol *networkingv1.NetworkPolicy) []*podInfo {
	s, ok := c.selector(&pol.Spec.PodSelector, pol.Namespace+"/"+pol.Name+" podSelector")
	if !ok {
		return nil
	}
	var out []*podInfo
	for _, p := range c.podsByNS[pol.Namespace] {
		if p.local && s.Matches(labels.Set(p.pod.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// peers resolves the peers of a rule. any: no peers given, every address.
func (c *compiler) peers(what, ns string, peers []networkingv1.NetworkPolicyPeer) (any bool, b *ipSetBuilder) {
	b = &ipSetBuilder{}
	if len(peers) == 0 {
		return true, b
	}
	for i, peer := range peers {
		pw := fmt.Sprintf("%s peer %d", what, i)
		if peer.IPBlock != nil {
			if peer.PodSelector != nil || peer.NamespaceSelector != nil {
				c.warnf("%s: ipBlock together with selectors is invalid; ignored", pw)
				continue
			}
			s, _, err := ipBlockSet(peer.IPBlock.CIDR, peer.IPBlock.Except)
			if err != nil {
				c.warnf("%s: %v; ignored", pw, err)
				continue
			}
			b.addSet(s)
			continue
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			c.warnf("%s: empty peer is invalid; ignored", pw)
			continue
		}
		namespaces := []string{ns}
		if peer.NamespaceSelector != nil {
			nsSel, ok := c.selector(peer.NamespaceSelector, pw+" namespaceSelector")
			if !ok {
				continue
			}
			namespaces = nil
			for _, n := range c.nsNames {
				if nsSel.Matches(c.nsLabels[n]) {
					namespaces = append(namespaces, n)
				}
			}
		}
		podSel, ok := c.selector(peer.PodSelector, pw+" podSelector")
		if !ok {
			continue
		}
		for _, n := range namespaces {
			for _, p := range c.podsByNS[n] {
				if podSel.Matches(labels.Set(p.pod.Labels)) {
					for _, a := range p.ips {
						b.addAddr(a)
					}
				}
			}
		}
	}
	return false, b
}

func (c *compiler) ingressMatches(name, ns string, selected []*podInfo, sel *ipSetBuilder, rule networkingv1.NetworkPolicyIngressRule) []Match {
	anySrc, srcB := c.peers(name, ns, rule.From)
	ports := compilePorts(rule.Ports)
	var out []Match
	for _, f := range Families {
		dst := sel.set(f)
		if len(dst) == 0 {
			continue
		}
		var src *IPSet
		if !anySrc {
			s := srcB.set(f)
			if len(s) == 0 {
				continue
			}
			src = &s
		}
		if ports.all {
			out = append(out, Match{Comment: name, Family: f, Src: src, Dst: &dst})
			continue
		}
		if len(ports.numeric) > 0 {
			p := ports.numeric
			out = append(out, Match{Comment: name, Family: f, Src: src, Dst: &dst, Ports: &p})
		}
		if len(ports.named) > 0 {
			var eps []Endpoint
			for _, p := range selected {
				eps = appendNamed(eps, p, f, nil, ports.named)
			}
			if len(eps) > 0 {
				e := normalizeEndpoints(eps)
				out = append(out, Match{Comment: name + " named ports", Family: f, Src: src, Endpoints: &e})
			}
		}
	}
	return out
}

func (c *compiler) egressMatches(name, ns string, sel *ipSetBuilder, rule networkingv1.NetworkPolicyEgressRule) []Match {
	anyDst, dstB := c.peers(name, ns, rule.To)
	ports := compilePorts(rule.Ports)
	var out []Match
	for _, f := range Families {
		src := sel.set(f)
		if len(src) == 0 {
			continue
		}
		var dst *IPSet
		if !anyDst {
			d := dstB.set(f)
			if len(d) == 0 {
				continue
			}
			dst = &d
		}
		if ports.all {
			out = append(out, Match{Comment: name, Family: f, Src: &src, Dst: dst})
			continue
		}
		if len(ports.numeric) > 0 {
			p := ports.numeric
			out = append(out, Match{Comment: name, Family: f, Src: &src, Dst: dst, Ports: &p})
		}
		if len(ports.named) > 0 {
			// named ports exist only on pods: resolve them on every pod
			// (on any node) whose address the peers allow
			var eps []Endpoint
			for _, p := range c.pods {
				eps = appendNamed(eps, p, f, dst, ports.named)
			}
			if len(eps) > 0 {
				e := normalizeEndpoints(eps)
				out = append(out, Match{Comment: name + " named ports", Family: f, Src: &src, Endpoints: &e})
			}
		}
	}
	return out
}

// appendNamed adds the endpoints of pod p's named ports, for its addresses of
// family f that are in within (nil: all).
func appendNamed(eps []Endpoint, p *podInfo, f Family, within *IPSet, named []namedPort) []Endpoint {
	for _, a := range p.ips {
		if familyOf(a) != f || (within != nil && !within.Contains(a)) {
			continue
		}
		for _, np := range named {
			if port, ok := resolveNamedPort(p.pod, np); ok {
				eps = append(eps, Endpoint{Addr: a, Proto: np.Proto, Port: port})
			}
		}
	}
	return eps
}
