package netagent

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// IP protocol numbers of the protocols NetworkPolicy knows.
const (
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
	ProtoSCTP uint8 = 132
)

func protoNumber(p *corev1.Protocol) uint8 {
	if p == nil {
		return ProtoTCP
	}
	switch *p {
	case corev1.ProtocolUDP:
		return ProtoUDP
	case corev1.ProtocolSCTP:
		return ProtoSCTP
	default:
		return ProtoTCP
	}
}

func protoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoSCTP:
		return "sctp"
	}
	return fmt.Sprint(p)
}

// PortRange is an inclusive range of destination ports of one protocol.
type PortRange struct {
	Proto    uint8
	From, To uint16
}

func (r PortRange) String() string {
	if r.From == r.To {
		return fmt.Sprintf("%s . %d", protoName(r.Proto), r.From)
	}
	return fmt.Sprintf("%s . %d-%d", protoName(r.Proto), r.From, r.To)
}

// PortSet is a sorted list of disjoint, non-adjacent port ranges.
type PortSet []PortRange

// Contains reports whether (proto, port) is in the set.
func (s PortSet) Contains(proto uint8, port uint16) bool {
	for _, r := range s {
		if r.Proto == proto && r.From <= port && port <= r.To {
			return true
		}
	}
	return false
}

// Key is a canonical text form, used to deduplicate sets.
func (s PortSet) Key() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

func normalizePorts(rs []PortRange) PortSet {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Proto != rs[j].Proto {
			return rs[i].Proto < rs[j].Proto
		}
		return rs[i].From < rs[j].From
	})
	out := PortSet{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.Proto == last.Proto && uint32(r.From) <= uint32(last.To)+1 {
			if r.To > last.To {
				last.To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// namedPort is a port given by name in a policy, resolved per pod.
type namedPort struct {
	Proto uint8
	Name  string
}

// Endpoint is an (address, protocol, port) triple: a named port resolved on a pod.
type Endpoint struct {
	Addr  netip.Addr
	Proto uint8
	Port  uint16
}

func (e Endpoint) String() string {
	return fmt.Sprintf("%s . %s . %d", e.Addr, protoName(e.Proto), e.Port)
}

// EndpointSet is a sorted, duplicate-free list of endpoints of one family.
type EndpointSet []Endpoint

// Contains reports whether the endpoint is in the set.
func (s EndpointSet) Contains(e Endpoint) bool {
	for _, x := range s {
		if x == e {
			return true
		}
	}
	return false
}

// Key is a canonical text form, used to deduplicate sets.
func (s EndpointSet) Key() string {
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func normalizeEndpoints(es []Endpoint) EndpointSet {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Addr != b.Addr {
			return a.Addr.Less(b.Addr)
		}
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		return a.Port < b.Port
	})
	var out EndpointSet
	for i, e := range es {
		if i == 0 || e != es[i-1] {
			out = append(out, e)
		}
	}
	return out
}

// compiledPorts is the ports part of a policy rule.
type compiledPorts struct {
	all     bool    // no ports given: every port and protocol
	numeric PortSet // numeric ports and ranges
	named   []namedPort
}

func compilePorts(ports []networkingv1.NetworkPolicyPort) compiledPorts {
	if len(ports) == 0 {
		return compiledPorts{all: true}
	}
	var c compiledPorts
	var rs []PortRange
	for _, p := range ports {
		proto := protoNumber(p.Protocol)
		switch {
		case p.Port == nil:
			rs = append(rs, PortRange{proto, 0, 65535})
		case p.Port.Type == intstr.String:
			c.named = append(c.named, namedPort{proto, p.Port.StrVal})
		default:
			from := p.Port.IntVal
			to := from
			if p.EndPort != nil && *p.EndPort >= from {
				to = *p.EndPort
			}
			if from < 0 || to > 65535 {
				continue // invalid; the API server rejects it anyway
			}
			rs = append(rs, PortRange{proto, uint16(from), uint16(to)})
		}
	}
	c.numeric = normalizePorts(rs)
	return c
}

// resolveNamedPort finds the port number of a named container port on a pod.
func resolveNamedPort(pod *corev1.Pod, np namedPort) (uint16, bool) {
	for _, ctr := range pod.Spec.Containers {
		for _, cp := range ctr.Ports {
			proto := cp.Protocol
			if cp.Name == np.Name && protoNumber(&proto) == np.Proto && cp.ContainerPort > 0 && cp.ContainerPort <= 65535 {
				return uint16(cp.ContainerPort), true
			}
		}
	}
	return 0, false
}
