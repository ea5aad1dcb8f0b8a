package netagent

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// refWorld evaluates NetworkPolicy semantics directly from the API objects,
// policy by policy, the way the Kubernetes documentation states them. It
// shares no code with the compiler and is the oracle the compiled rulesets
// are checked against.
type refWorld struct {
	pods       []*corev1.Pod
	namespaces []*corev1.Namespace
	policies   []*networkingv1.NetworkPolicy
}

// podAt returns the pod-network pod with that IP (never a host-network or
// terminated pod).
func (w *refWorld) podAt(a netip.Addr) *corev1.Pod {
	for _, p := range w.pods {
		if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, ip := range p.Status.PodIPs {
			if netip.MustParseAddr(ip.IP) == a {
				return p
			}
		}
	}
	return nil
}

func (w *refWorld) nsLabels(name string) labels.Set {
	for _, n := range w.namespaces {
		if n.Name == name {
			return n.Labels
		}
	}
	return nil
}

func selMatches(ls *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(ls)
	return err == nil && s.Matches(labels.Set(l))
}

func (w *refWorld) peerMatches(polNS string, peer networkingv1.NetworkPolicyPeer, a netip.Addr, p *corev1.Pod) bool {
	if peer.IPBlock != nil {
		if !netip.MustParsePrefix(peer.IPBlock.CIDR).Contains(a) {
			return false
		}
		for _, e := range peer.IPBlock.Except {
			if netip.MustParsePrefix(e).Contains(a) {
				return false
			}
		}
		return true
	}
	if p == nil {
		return false
	}
	if peer.NamespaceSelector != nil {
		if !selMatches(peer.NamespaceSelector, w.nsLabels(p.Namespace)) {
			return false
		}
	} else if p.Namespace != polNS {
		return false
	}
	return peer.PodSelector == nil || selMatches(peer.PodSelector, p.Labels)
}

func (w *refWorld) peersMatch(polNS string, peers []networkingv1.NetworkPolicyPeer, a netip.Addr, p *corev1.Pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if w.peerMatches(polNS, peer, a, p) {
			return true
		}
	}
	return false
}

func refProto(p *corev1.Protocol) uint8 {
	if p == nil {
		return 6
	}
	return map[corev1.Protocol]uint8{corev1.ProtocolTCP: 6, corev1.ProtocolUDP: 17, corev1.ProtocolSCTP: 132}[*p]
}

// portsMatch: the destination port; named ports are looked up on the
// destination pod.
func portsMatch(ports []networkingv1.NetworkPolicyPort, proto uint8, port uint16, dst *corev1.Pod) bool {
	if len(ports) == 0 {
		return true
	}
	for _, np := range ports {
		if refProto(np.Protocol) != proto {
			continue
		}
		if np.Port == nil {
			return true
		}
		if np.Port.Type == intstr.Int {
			end := np.Port.IntVal
			if np.EndPort != nil {
				end = *np.EndPort
			}
			if int32(port) >= np.Port.IntVal && int32(port) <= end {
				return true
			}
			continue
		}
		if dst == nil {
			continue
		}
		for _, c := range dst.Spec.Containers {
			for _, cp := range c.Ports {
				cpProto := cp.Protocol
				if cp.Name == np.Port.StrVal && refProto(&cpProto) == proto && cp.ContainerPort == int32(port) {
					return true
				}
			}
		}
	}
	return false
}

func refTypes(p *networkingv1.NetworkPolicy) (ing, egr bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		ing = ing || t == networkingv1.PolicyTypeIngress
		egr = egr || t == networkingv1.PolicyTypeEgress
	}
	return ing, egr
}

// allowed: may a new connection from src to dst:port/proto be opened?
func (w *refWorld) allowed(src, dst netip.Addr, proto uint8, port uint16) bool {
	sp, dp := w.podAt(src), w.podAt(dst)
	if sp != nil && sp == dp {
		return true // a pod may always reach itself
	}
	if sp != nil {
		isolated, ok := false, false
		for _, pol := range w.policies {
			if _, egr := refTypes(pol); !egr || pol.Namespace != sp.Namespace || !selMatches(&pol.Spec.PodSelector, sp.Labels) {
				continue
			}
			isolated = true
			for _, rule := range pol.Spec.Egress {
				if w.peersMatch(pol.Namespace, rule.To, dst, dp) && portsMatch(rule.Ports, proto, port, dp) {
					ok = true
				}
			}
		}
		if isolated && !ok {
			return false
		}
	}
	if dp != nil {
		isolated, ok := false, false
		for _, pol := range w.policies {
			if ing, _ := refTypes(pol); !ing || pol.Namespace != dp.Namespace || !selMatches(&pol.Spec.PodSelector, dp.Labels) {
				continue
			}
			isolated = true
			for _, rule := range pol.Spec.Ingress {
				if w.peersMatch(pol.Namespace, rule.From, src, sp) && portsMatch(rule.Ports, proto, port, dp) {
					ok = true
				}
			}
		}
		if isolated && !ok {
			return false
		}
	}
	return true
}
