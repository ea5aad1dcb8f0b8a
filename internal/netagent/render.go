package netagent

import (
	"fmt"
	"net/netip"
	"strings"
)

// TableName is the nftables table the agent owns (family inet).
const TableName = "seclab"

func (f Family) nfKeyword() string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

func (f Family) addrType() string {
	if f == IPv6 {
		return "ipv6_addr"
	}
	return "ipv4_addr"
}

type nftSet struct {
	name, typ string
	interval  bool
	elems     []string
}

// renderer collects named sets, deduplicated by type and content.
type renderer struct {
	sets   []nftSet
	byKey  map[string]string
	counts map[string]int
}

func (r *renderer) set(prefix, typ string, interval bool, elems []string) string {
	key := typ + "|" + strings.Join(elems, ",")
	if n, ok := r.byKey[key]; ok {
		return n
	}
	name := fmt.Sprintf("%s-%d", prefix, r.counts[prefix])
	r.counts[prefix]++
	r.byKey[key] = name
	r.sets = append(r.sets, nftSet{name: name, typ: typ, interval: interval, elems: elems})
	return name
}

func ipElems(s IPSet) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.String()
	}
	return out
}

func addrsOf(f Family, as []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		if familyOf(a) == f {
			out = append(out, a)
		}
	}
	return out
}

func (r *renderer) matchExpr(m *Match, verdict string) string {
	ip := m.Family.nfKeyword()
	var parts []string
	if m.Src != nil {
		parts = append(parts, fmt.Sprintf("%s saddr @%s", ip, r.set(fmt.Sprintf("addrs%d", m.Family), m.Family.addrType(), true, ipElems(*m.Src))))
	}
	if m.Dst != nil {
		parts = append(parts, fmt.Sprintf("%s daddr @%s", ip, r.set(fmt.Sprintf("addrs%d", m.Family), m.Family.addrType(), true, ipElems(*m.Dst))))
	}
	if m.Ports != nil {
		elems := make([]string, len(*m.Ports))
		for i, p := range *m.Ports {
			elems[i] = p.String()
		}
		parts = append(parts, "meta l4proto . th dport @"+r.set("ports", "inet_proto . inet_service", true, elems))
	}
	if m.Endpoints != nil {
		elems := make([]string, len(*m.Endpoints))
		for i, e := range *m.Endpoints {
			elems[i] = e.String()
		}
		typ := m.Family.addrType() + " . inet_proto . inet_service"
		parts = append(parts, fmt.Sprintf("%s daddr . meta l4proto . th dport @%s", ip, r.set(fmt.Sprintf("named%d", m.Family), typ, false, elems)))
	}
	if len(parts) == 0 {
		// cannot happen for compiled rulesets: a match always has the
		// isolated pods' addresses on one side; keep it family-scoped anyway
		parts = append(parts, "meta nfproto "+map[Family]string{IPv4: "ipv4", IPv6: "ipv6"}[m.Family])
	}
	return fmt.Sprintf("%s %s comment %q", strings.Join(parts, " "), verdict, m.Comment)
}

// Render returns an nftables script (for `nft -f -`) that atomically replaces
// table inet seclab with the ruleset. Output is deterministic.
func Render(rs *Ruleset) string {
	r := &renderer{byKey: map[string]string{}, counts: map[string]int{}}
	var fwd, ing, egr, nat []string

	fwd = append(fwd,
		"type filter hook forward priority filter; policy accept;",
		"ct state established,related accept",
		// IPv6 neighbour discovery is bridged between pods like ARP
		"icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept",
	)
	for _, f := range Families {
		ip, typ := f.nfKeyword(), f.addrType()
		if lb := addrsOf(f, rs.Loopback); len(lb) > 0 {
			elems := make([]string, len(lb))
			for i, a := range lb {
				elems[i] = a.String() + " . " + a.String()
			}
			r.sets = append(r.sets, nftSet{name: fmt.Sprintf("loopback%d", f), typ: typ + " . " + typ, elems: elems})
			fwd = append(fwd, fmt.Sprintf("%s saddr . %s daddr @loopback%d accept", ip, ip, f))
		}
	}
	for _, f := range Families {
		if as := addrsOf(f, rs.EgressIsolated); len(as) > 0 {
			r.sets = append(r.sets, nftSet{name: fmt.Sprintf("egress-isolated%d", f), typ: f.addrType(), elems: addrStrings(as)})
			fwd = append(fwd, fmt.Sprintf("%s saddr @egress-isolated%d jump egress", f.nfKeyword(), f))
		}
	}
	for _, f := range Families {
		if as := addrsOf(f, rs.IngressIsolated); len(as) > 0 {
			r.sets = append(r.sets, nftSet{name: fmt.Sprintf("ingress-isolated%d", f), typ: f.addrType(), elems: addrStrings(as)})
			fwd = append(fwd, fmt.Sprintf("%s daddr @ingress-isolated%d jump ingress", f.nfKeyword(), f))
		}
	}
	// egress rules return to the forward chain (ingress is checked next);
	// ingress rules accept
	for i := range rs.Egress {
		egr = append(egr, r.matchExpr(&rs.Egress[i], "return"))
	}
	egr = append(egr, `counter drop comment "egress not allowed by any policy"`)
	for i := range rs.Ingress {
		ing = append(ing, r.matchExpr(&rs.Ingress[i], "accept"))
	}
	ing = append(ing, `counter drop comment "ingress not allowed by any policy"`)

	nat = append(nat, "type nat hook postrouting priority srcnat; policy accept;")
	for _, f := range Families {
		var cidrs []string
		for _, p := range rs.ClusterCIDRs {
			if familyOf(p.Addr()) == f {
				cidrs = append(cidrs, p.Masked().String())
			}
		}
		if len(cidrs) == 0 {
			continue
		}
		set := "{ " + strings.Join(cidrs, ", ") + " }"
		ip := f.nfKeyword()
		multicast := "224.0.0.0/4, 255.255.255.255"
		if f == IPv6 {
			multicast = "ff00::/8"
		}
		nat = append(nat, fmt.Sprintf("%s saddr %s %s daddr != %s %s daddr != { %s } masquerade comment \"pod traffic leaving the cluster pod network\"",
			ip, set, ip, set, ip, multicast))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# generated by seclab-net\ntable inet %s {}\ndelete table inet %s\ntable inet %s {\n", TableName, TableName, TableName)
	for _, s := range r.sets {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", s.name, s.typ)
		if s.interval {
			b.WriteString("\t\tflags interval\n")
		}
		writeElems(&b, s.elems)
		b.WriteString("\t}\n")
	}
	writeChain(&b, "forward", fwd)
	writeChain(&b, "egress", egr)
	writeChain(&b, "ingress", ing)
	writeChain(&b, "postrouting", nat)
	b.WriteString("}\n")
	return b.String()
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func writeElems(b *strings.Builder, elems []string) {
	const perLine = 4
	if len(elems) == 0 {
		return
	}
	b.WriteString("\t\telements = {")
	for i, e := range elems {
		if i%perLine == 0 {
			b.WriteString("\n\t\t\t")
		} else {
			b.WriteString(" ")
		}
		b.WriteString(e)
		if i < len(elems)-1 {
			b.WriteString(",")
		}
	}
	b.WriteString("\n\t\t}\n")
}

func writeChain(b *strings.Builder, name string, rules []string) {
	fmt.Fprintf(b, "\tchain %s {\n", name)
	for _, r := range rules {
		fmt.Fprintf(b, "\t\t%s\n", r)
	}
	b.WriteString("\t}\n")
}
