package netagent

import (
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// NodePodCIDRs returns a node's pod CIDRs (spec.podCIDRs, or spec.podCIDR).
func NodePodCIDRs(n *corev1.Node) []netip.Prefix {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// nodeInternalIPs returns a node's InternalIP addresses.
func nodeInternalIPs(n *corev1.Node) []netip.Addr {
	var out []netip.Addr
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// Route is a route to another node's pods: Dst via that node's InternalIP.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// DesiredRoutes returns, sorted, a route to every other node's podCIDRs
// through that node's InternalIP of the same family (kind nodes share one
// L2 network).
func DesiredRoutes(self string, nodes []*corev1.Node) []Route {
	var out []Route
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		ips := nodeInternalIPs(n)
		for _, cidr := range NodePodCIDRs(n) {
			for _, ip := range ips {
				if ip.Is4() == cidr.Addr().Is4() {
					out = append(out, Route{Dst: cidr, Via: ip})
					break
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dst.String() < out[j].Dst.String() })
	return out
}

// ParseCIDRList parses a comma-separated list of CIDRs ("10.244.0.0/16,fd00:10:244::/56").
func ParseCIDRList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
