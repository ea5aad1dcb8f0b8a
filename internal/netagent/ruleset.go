package netagent

import (
	"net/netip"
)

// Ruleset is what one node enforces, independent of nftables syntax: Render
// turns it into an nftables table, Allows evaluates it the way that table
// does in the forward hook for the first packet of a connection.
type Ruleset struct {
	// Loopback: isolated local pods, always allowed to reach themselves
	// (through a Service: hairpin traffic is forwarded).
	Loopback []netip.Addr
	// IngressIsolated and EgressIsolated: IPs of local pods selected by at
	// least one policy of that direction.
	IngressIsolated []netip.Addr
	EgressIsolated  []netip.Addr
	// Ingress and Egress are the allow rules; a packet of an isolated pod's
	// direction passes only if one of them matches.
	Ingress []Match
	Egress  []Match
	// ClusterCIDRs: traffic from these to anywhere outside them is masqueraded.
	ClusterCIDRs []netip.Prefix
}

// Match is one allow rule. Nil fields match anything; non-nil ones are never
// empty (a rule that can match nothing is not emitted).
type Match struct {
	Comment string
	Family  Family
	Src     *IPSet
	Dst     *IPSet
	Ports   *PortSet // destination protocol and port
	// Endpoints, when set: (destination address, protocol, port) must be one
	// of them. Used for named ports, resolved per destination pod.
	Endpoints *EndpointSet
}

// Packet is the first packet of a connection as the forward hook sees it
// (after kube-proxy's DNAT).
type Packet struct {
	Src, Dst netip.Addr
	Proto    uint8
	Port     uint16
}

func (m *Match) matches(p Packet) bool {
	if familyOf(p.Src) != m.Family || familyOf(p.Dst) != m.Family {
		return false
	}
	if m.Src != nil && !m.Src.Contains(p.Src) {
		return false
	}
	if m.Dst != nil && !m.Dst.Contains(p.Dst) {
		return false
	}
	if m.Ports != nil && !m.Ports.Contains(p.Proto, p.Port) {
		return false
	}
	if m.Endpoints != nil && !m.Endpoints.Contains(Endpoint{p.Dst, p.Proto, p.Port}) {
		return false
	}
	return true
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// Allows evaluates the forward chain for a new connection's first packet,
// in the order Render emits it.
func (r *Ruleset) Allows(p Packet) bool {
	if p.Src == p.Dst && containsAddr(r.Loopback, p.Src) {
		return true
	}
	if containsAddr(r.EgressIsolated, p.Src) && !anyMatch(r.Egress, p) {
		return false
	}
	if containsAddr(r.IngressIsolated, p.Dst) && !anyMatch(r.Ingress, p) {
		return false
	}
	return true
}

func anyMatch(ms []Match, p Packet) bool {
	for i := range ms {
		if ms[i].matches(p) {
			return true
		}
	}
	return false
}
