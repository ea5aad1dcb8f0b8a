package netagent

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// check is one expectation: "x/a > y/b tcp/80" allowed or not.
type check struct {
	flow string
	want bool
}

func allow(flow string) check { return check{flow, true} }
func deny(flow string) check  { return check{flow, false} }

var protoNums = map[string]uint8{"tcp": ProtoTCP, "udp": ProtoUDP, "sctp": ProtoSCTP, "icmp": 1}

func parseFlow(t *testing.T, flow string) (src, dst netip.Addr, proto uint8, port uint16) {
	t.Helper()
	f := strings.Fields(flow)
	if len(f) != 4 || f[1] != ">" {
		t.Fatalf("bad flow %q", flow)
	}
	pr, ps, _ := strings.Cut(f[3], "/")
	pn, err := strconv.Atoi(ps)
	if err != nil && pr != "icmp" {
		t.Fatalf("bad port in %q", flow)
	}
	return addrOf(f[0]), addrOf(f[2]), protoNums[pr], uint16(pn)
}

// nodeWithIP and podNode tell which node's forward hook a packet crosses.
func nodeWithIP(a netip.Addr) string {
	for n, ip := range nodeIPs {
		if ip == a {
			return n
		}
	}
	return ""
}

func podNode(pods []*corev1.Pod, a netip.Addr) string {
	for _, p := range pods {
		for _, ip := range PodIPs(p) {
			if ip == a {
				return p.Spec.NodeName
			}
		}
	}
	return ""
}

// compiledAllowed evaluates the compiled per-node rulesets the way the
// kernel applies them: a connection crosses the forward hook of the node of
// each pod-network end, except that traffic between a pod and its own node
// goes through input/output and is never filtered.
func compiledAllowed(pods []*corev1.Pod, rulesets map[string]*Ruleset, src, dst netip.Addr, proto uint8, port uint16) bool {
	sn, dn := podNode(pods, src), podNode(pods, dst)
	if (sn != "" && nodeWithIP(dst) == sn) || (dn != "" && nodeWithIP(src) == dn) {
		return true
	}
	pkt := Packet{Src: src, Dst: dst, Proto: proto, Port: port}
	for _, n := range []string{sn, dn} {
		if n != "" && !rulesets[n].Allows(pkt) {
			return false
		}
		if sn == dn {
			break
		}
	}
	return true
}

// refAllowedNode adds the node rule to the reference semantics: traffic
// between a pod and the node it runs on is always allowed.
func refAllowedNode(w *refWorld, src, dst netip.Addr, proto uint8, port uint16) bool {
	if sp := w.podAt(src); sp != nil && nodeIPs[sp.Spec.NodeName] == dst {
		return true
	}
	if dp := w.podAt(dst); dp != nil && nodeIPs[dp.Spec.NodeName] == src {
		return true
	}
	return w.allowed(src, dst, proto, port)
}

func compileAll(t *testing.T, pols []*networkingv1.NetworkPolicy) map[string]*Ruleset {
	t.Helper()
	out := map[string]*Ruleset{}
	for n := range nodeIPs {
		rs, warns := Compile(&Snapshot{NodeName: n, Pods: testPods, Namespaces: testNamespaces, Policies: pols,
			ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}})
		for _, w := range warns {
			t.Logf("warning: %s", w)
		}
		out[n] = rs
	}
	return out
}

type policyCase struct {
	name     string
	policies []*networkingv1.NetworkPolicy
	checks   []check
}

var policyCases = []policyCase{
	{
		name: "no policy: everything allowed",
		checks: []check{
			allow("x/a > y/b tcp/80"), allow("y/b > x/a udp/53"), allow("ext > x/c tcp/1"), allow("x/a > ext sctp/9"),
			allow("x/a6 > y/a6 tcp/80"),
		},
	},
	{
		name:     "default deny ingress",
		policies: []*networkingv1.NetworkPolicy{policy("x", "deny", "", types(ING))},
		checks: []check{
			deny("y/a > x/a tcp/80"), deny("x/b > x/a tcp/80"), deny("x/a > x/c tcp/81"), deny("y/b > x/b udp/80"),
			deny("ext > x/a tcp/80"), deny("n2 > x/a tcp/80"), deny("y/a > x/a icmp/0"), deny("y/a6 > x/a6 tcp/80"),
			allow("x/a > y/a tcp/80"), allow("x/a > ext tcp/443"), allow("y/a > y/b tcp/80"), // egress unaffected, y unaffected
			allow("x/a > x/a tcp/80"),                            // a pod can always reach itself
			allow("n1 > x/a tcp/80"), allow("n2 > x/b tcp/8080"), // from the pod's own node (kubelet probes)
		},
	},
	{
		name:     "default deny egress",
		policies: []*networkingv1.NetworkPolicy{policy("x", "deny", "", types(EGR))},
		checks: []check{
			deny("x/a > y/a tcp/80"), deny("x/a > x/b tcp/8080"), deny("x/b > ext udp/53"), deny("x/a6 > ext6 tcp/80"),
			deny("x/a > n2 tcp/6443"),
			allow("y/a > x/a tcp/80"), allow("ext > x/b tcp/1"), allow("x/a > n1 tcp/10250"),
		},
	},
	{
		name: "allow all ingress and egress rules",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "all", "", types(ING, EGR), ingress(r()), egress(r())),
		},
		checks: []check{allow("y/a > x/a tcp/80"), allow("x/a > ext udp/1"), allow("ext > x/b sctp/5"), allow("x/a6 > ext6 tcp/1")},
	},
	{
		name: "no policyTypes: ingress implied; egress only with egress rules",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "ing-only", "app=a", ingress(r(podPeer("app=b")))),
			policy("y", "both", "app=a", egress(r(podPeer("app=b")))),
		},
		checks: []check{
			allow("x/b > x/a tcp/80"), deny("x/c > x/a tcp/80"), allow("x/a > ext tcp/80"), // x/a not egress isolated
			allow("y/a > y/b tcp/1"), deny("y/a > x/b tcp/8080"), deny("y/a > ext tcp/80"), // y/a egress isolated
			deny("y/b > y/a tcp/80"), deny("x/a > y/a tcp/80"), // and ingress isolated with no ingress rules
		},
	},
	{
		name:     "podSelector peer: same namespace only",
		policies: []*networkingv1.NetworkPolicy{policy("x", "from-b", "app=a", types(ING), ingress(r(podPeer("app=b"))))},
		checks: []check{
			allow("x/b > x/a tcp/80"), allow("x/b > x/a udp/5000"), deny("y/b > x/a tcp/80"), deny("z/b > x/a tcp/80"),
			deny("x/c > x/a tcp/80"), allow("y/b > x/c tcp/5432"), // x/c not selected
		},
	},
	{
		name:     "namespaceSelector peer",
		policies: []*networkingv1.NetworkPolicy{policy("x", "from-red", "app=a", types(ING), ingress(r(nsPeer("team=red"))))},
		checks: []check{
			allow("z/a > x/a tcp/80"), allow("z/b > x/a tcp/80"), allow("x/b > x/a tcp/80"), allow("x/c > x/a tcp/81"),
			deny("y/a > x/a tcp/80"), deny("y/b > x/a tcp/80"), deny("ext > x/a tcp/80"), deny("y/a6 > x/a6 tcp/80"),
		},
	},
	{
		name: "namespaceSelector and podSelector in one peer (AND) vs two peers (OR)",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "and", "app=a", types(ING), ingress(r(nsPodPeer("env=prod", "app=b")))),
			policy("y", "or", "app=a", types(ING), ingress(r(nsPeer("env=prod"), podPeer("app=b")))),
		},
		checks: []check{
			allow("z/b > x/a tcp/80"), deny("z/a > x/a tcp/80"), deny("x/b > x/a tcp/80"), deny("y/b > x/a tcp/80"),
			allow("z/b > y/a tcp/80"), allow("z/a > y/a tcp/80"), allow("y/b > y/a tcp/80"), deny("x/b > y/a tcp/80"),
		},
	},
	{
		name: "empty namespaceSelector selects every namespace",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "any-ns-b", "app=a", types(ING), ingress(r(nsPodPeer("", "app=b")))),
		},
		checks: []check{allow("y/b > x/a tcp/80"), allow("z/b > x/a tcp/80"), allow("x/b > x/a tcp/80"), deny("y/a > x/a tcp/80"), deny("ext > x/a tcp/80")},
	},
	{
		name: "ipBlock with except, ingress and egress",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "cidr-in", "app=a", types(ING), ingress(r(cidrPeer("10.244.2.0/24", "10.244.2.20/32")))),
			policy("x", "cidr-out", "app=a", types(EGR), egress(r(cidrPeer("192.168.0.0/16", "192.168.5.0/24"), cidrPeer("10.244.2.16/28")))),
		},
		checks: []check{
			allow("x/b > x/a tcp/80"), allow("z/a > x/a tcp/80"), deny("y/b > x/a tcp/80"), deny("z/b > x/a tcp/80"), deny("ext > x/a tcp/80"),
			allow("x/a > ext2 tcp/80"), deny("x/a > ext tcp/80"), allow("x/a > y/b udp/80"), allow("x/a > z/a tcp/8081"),
			deny("x/a > x/b tcp/8080"), deny("x/a6 > ext6 tcp/80"), deny("x/a6 > y/a6 tcp/80"),
		},
	},
	{
		name: "pod selector overrides an ipBlock except (union of peers)",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "p", "app=a", types(ING), ingress(r(cidrPeer("10.244.0.0/16", "10.244.2.0/24"), nsPodPeer("", "app=b")))),
		},
		checks: []check{allow("y/b > x/a tcp/80"), allow("x/b > x/a tcp/80"), allow("y/a > x/a tcp/80"), deny("z/a > x/a tcp/80")},
	},
	{
		name: "IPv6 ipBlock",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "v6", "app=a", types(ING, EGR), ingress(r(cidrPeer("fd00:10:244:1::/64"))), egress(r(cidrPeer("2001:db8::/32")))),
		},
		checks: []check{
			allow("y/a6 > x/a6 tcp/80"), deny("y/a > x/a tcp/80"), allow("x/a6 > ext6 udp/53"), deny("x/a > ext udp/53"),
		},
	},
	{
		name:     "numeric ports",
		policies: []*networkingv1.NetworkPolicy{policy("x", "p80", "app=a", types(ING), ingress(r(port("TCP/80"), port("UDP/53"))))},
		checks: []check{
			allow("y/a > x/a tcp/80"), deny("y/a > x/a tcp/81"), deny("y/a > x/a udp/80"), allow("ext > x/a udp/53"),
			deny("ext > x/a tcp/53"), deny("ext > x/a sctp/80"), deny("y/a > x/a icmp/0"), allow("y/a6 > x/a6 tcp/80"),
		},
	},
	{
		name:     "protocol defaults to TCP",
		policies: []*networkingv1.NetworkPolicy{policy("x", "p", "app=a", types(ING), ingress(r(port("80"))))},
		checks:   []check{allow("y/a > x/a tcp/80"), deny("y/a > x/a udp/80")},
	},
	{
		name:     "port range (endPort)",
		policies: []*networkingv1.NetworkPolicy{policy("x", "range", "app=a", types(ING), ingress(r(podPeer("app=b"), port("TCP/8000-9000"))))},
		checks: []check{
			allow("x/b > x/a tcp/8000"), allow("x/b > x/a tcp/8500"), allow("x/b > x/a tcp/9000"),
			deny("x/b > x/a tcp/7999"), deny("x/b > x/a tcp/9001"), deny("x/b > x/a udp/8500"), deny("y/b > x/a tcp/8500"),
		},
	},
	{
		name:     "protocol without port: every port of that protocol",
		policies: []*networkingv1.NetworkPolicy{policy("x", "udp", "app=a", types(ING), ingress(r(port("UDP/"))))},
		checks:   []check{allow("y/a > x/a udp/1"), allow("y/a > x/a udp/65535"), deny("y/a > x/a tcp/80"), deny("y/a > x/a sctp/80")},
	},
	{
		name:     "SCTP is not TCP",
		policies: []*networkingv1.NetworkPolicy{policy("x", "sctp", "", types(ING), ingress(r(port("SCTP/80"), port("SCTP/sig"))))},
		checks: []check{
			allow("y/a > x/a sctp/80"), deny("y/a > x/a tcp/80"), allow("y/a > x/c sctp/7777"), deny("y/a > x/c tcp/7777"),
		},
	},
	{
		name: "named ports resolve per destination pod (ingress)",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "named", "tier=web", types(ING), ingress(r(port("TCP/http"), port("UDP/dns")))),
			policy("x", "db", "tier=db", types(ING), ingress(r(podPeer("app=a"), port("TCP/http")))),
		},
		checks: []check{
			allow("y/a > x/a tcp/80"), deny("y/a > x/a tcp/8080"), allow("y/a > x/b tcp/8080"), deny("y/a > x/b tcp/80"),
			allow("ext > x/a udp/53"), deny("ext > x/a tcp/53"), deny("ext > x/b udp/53"), deny("y/a > x/a tcp/9090"),
			allow("x/a > x/c tcp/81"), deny("x/a > x/c tcp/80"), deny("x/b > x/c tcp/81"),
			allow("y/a6 > x/a6 tcp/80"),
		},
	},
	{
		name: "named ports resolve per destination pod (egress)",
		policies: []*networkingv1.NetworkPolicy{
			policy("y", "named-out", "", types(EGR), egress(r(port("TCP/http")))),
			policy("z", "named-out-cidr", "app=b", types(EGR), egress(r(cidrPeer("10.244.2.0/24"), port("TCP/http")))),
		},
		checks: []check{
			allow("y/a > x/a tcp/80"), allow("y/a > x/b tcp/8080"), deny("y/a > x/b tcp/80"), allow("y/a > z/a tcp/8081"),
			deny("y/a > y/b udp/80"), deny("y/a > ext tcp/80"), allow("y/a6 > x/a6 tcp/80"),
			allow("y/a > n1 tcp/22"), // its own node is always reachable
			// the host-network pod x/host on n1 has a port named http, but is not a pod-network pod
			deny("y/b > n1 tcp/80"), allow("y/b > x/a tcp/80"), deny("y/b > x/a tcp/81"),
			allow("z/b > x/b tcp/8080"), allow("z/b > z/a tcp/8081"), deny("z/b > x/a tcp/80"), deny("z/b > x/c tcp/81"),
		},
	},
	{
		name: "multiple policies are additive",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "from-b", "app=a", types(ING), ingress(r(podPeer("app=b")))),
			policy("x", "metrics", "app=a", types(ING), ingress(r(port("TCP/9090")))),
			policy("x", "deny-all", "", types(ING)),
		},
		checks: []check{
			allow("x/b > x/a tcp/80"), allow("y/a > x/a tcp/9090"), deny("y/a > x/a tcp/80"), allow("ext > x/a tcp/9090"),
			deny("x/a > x/b tcp/8080"),
		},
	},
	{
		name: "egress deny on the client wins over ingress allow on the server (cross-node and same node)",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "no-egress", "app=a", types(EGR)),
			policy("y", "ingress-from-x", "", types(ING), ingress(r(nsPeer("team=red")))),
		},
		checks: []check{
			deny("x/a > y/a tcp/80"), deny("x/a > y/b tcp/80"), allow("x/c > y/a tcp/80"), allow("x/b > y/b tcp/80"),
			allow("z/a > y/a tcp/80"), deny("y/b > y/a tcp/80"), allow("y/a > x/c tcp/80"),
		},
	},
	{
		name: "ingress and egress in one policy, cross-node",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "both", "app=b", types(ING, EGR), ingress(r(nsPeer("team=blue"), port("TCP/8080"))), egress(r(nsPeer("env=prod")))),
		},
		checks: []check{
			allow("y/a > x/b tcp/8080"), deny("y/a > x/b tcp/80"), deny("x/a > x/b tcp/8080"),
			allow("x/b > z/b tcp/1"), deny("x/b > y/b tcp/80"), deny("x/b > ext tcp/80"), allow("x/b > n2 tcp/22"),
		},
	},
	{
		name: "host-network pods are neither subject to policy nor matched by selectors",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "all", "", types(ING, EGR), ingress(r(podPeer("app=a"))), egress(r(podPeer("app=a")))),
		},
		checks: []check{
			// x/host (172.18.0.2 = n1) is not isolated and not "app=a"
			allow("n1 > y/b tcp/80"), allow("y/b > n1 tcp/80"),
			deny("n1 > x/b tcp/8080"), // n1 is not x/b's node and not a pod: blocked like any address
			allow("x/a > x/a tcp/80"), deny("x/c > x/a tcp/80"),
			deny("x/b > n1 tcp/80"), // x/b (on n2) may only reach app=a pods
		},
	},
	{
		name: "terminated pods are ignored",
		policies: []*networkingv1.NetworkPolicy{
			policy("x", "a-only", "app=b", types(ING), ingress(r(podPeer("app=a")))),
		},
		checks: []check{allow("x/a > x/b tcp/8080"), deny("x/c > x/b tcp/8080")},
	},
}

func TestPolicyCases(t *testing.T) {
	for _, tc := range policyCases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.checks) == 0 {
				t.Fatal("case without checks")
			}
			ref := &refWorld{pods: testPods, namespaces: testNamespaces, policies: tc.policies}
			rulesets := compileAll(t, tc.policies)
			for _, c := range tc.checks {
				src, dst, proto, port := parseFlow(t, c.flow)
				if got := refAllowedNode(ref, src, dst, proto, port); got != c.want {
					t.Errorf("reference: %s: allowed=%v, want %v", c.flow, got, c.want)
				}
				if got := compiledAllowed(testPods, rulesets, src, dst, proto, port); got != c.want {
					t.Errorf("compiled: %s: allowed=%v, want %v", c.flow, got, c.want)
				}
			}
		})
	}
}

// TestCompiledMatchesReference compares the compiled rulesets with the
// reference semantics on every (source, destination, protocol, port)
// combination of the test world, for every case.
func TestCompiledMatchesReference(t *testing.T) {
	var addrs []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	for _, p := range testPods {
		for _, ip := range p.Status.PodIPs {
			add(netip.MustParseAddr(ip.IP))
		}
	}
	for _, a := range []netip.Addr{external, external2, externalV6, nodeIPs["n1"], nodeIPs["n2"]} {
		add(a)
	}
	ports := []uint16{0, 1, 53, 79, 80, 81, 5432, 7777, 7999, 8000, 8080, 8081, 8500, 9000, 9001, 9090, 65535}
	total := 0
	for _, tc := range policyCases {
		ref := &refWorld{pods: testPods, namespaces: testNamespaces, policies: tc.policies}
		rulesets := compileAll(t, tc.policies)
		for _, s := range addrs {
			for _, d := range addrs {
				if s.Is4() != d.Is4() {
					continue
				}
				for _, proto := range []uint8{ProtoTCP, ProtoUDP, ProtoSCTP, 1} {
					for _, port := range ports {
						total++
						want := refAllowedNode(ref, s, d, proto, port)
						if got := compiledAllowed(testPods, rulesets, s, d, proto, port); got != want {
							t.Errorf("%s: %s > %s %s/%d: compiled allows=%v, reference=%v", tc.name, s, d, protoName(proto), port, got, want)
						}
					}
				}
			}
		}
	}
	t.Logf("%d flows compared", total)
}

func TestPolicyTypes(t *testing.T) {
	for _, tc := range []struct {
		p        *networkingv1.NetworkPolicy
		ing, egr bool
	}{
		{policy("x", "a", ""), true, false},
		{policy("x", "a", "", egress(r())), true, true},
		{policy("x", "a", "", types(EGR)), false, true},
		{policy("x", "a", "", types(EGR, ING)), true, true},
		{policy("x", "a", "", types(ING), egress(r())), true, false},
	} {
		ing, egr := PolicyTypes(tc.p)
		if ing != tc.ing || egr != tc.egr {
			t.Errorf("%+v: got ingress=%v egress=%v", tc.p.Spec, ing, egr)
		}
	}
}

func TestCompileIsolationSets(t *testing.T) {
	rs := compileAll(t, []*networkingv1.NetworkPolicy{
		policy("x", "deny", "", types(ING)),
		policy("y", "out", "app=a", types(EGR)),
	})
	n1, n2 := rs["n1"], rs["n2"]
	got := fmt.Sprint(n1.IngressIsolated, n1.EgressIsolated, n2.IngressIsolated, n2.EgressIsolated)
	// n1: x/a (v4+v6), x/c; egress y/a. n2: x/b. Host and terminated pods never.
	want := "[10.244.1.10 10.244.1.11 fd00:10:244:1::10] [10.244.1.20 fd00:10:244:1::20] [10.244.2.10] []"
	if got != want {
		t.Errorf("isolation sets:\n got %s\nwant %s", got, want)
	}
	if len(n1.Loopback) != 5 {
		t.Errorf("loopback: %v", n1.Loopback)
	}
}

func TestInvalidPolicyPartsAreWarnedAndMatchNothing(t *testing.T) {
	bad := policy("x", "bad", "app=a", types(ING), ingress(r(cidrPeer("not-a-cidr")), r(networkingv1.NetworkPolicyPeer{})))
	rs, warns := Compile(&Snapshot{NodeName: "n1", Pods: testPods, Namespaces: testNamespaces, Policies: []*networkingv1.NetworkPolicy{bad}})
	if len(warns) != 2 {
		t.Errorf("warnings: %q", warns)
	}
	if rs.Allows(Packet{Src: addrOf("y/a"), Dst: addrOf("x/a"), Proto: ProtoTCP, Port: 80}) {
		t.Error("invalid peers must not allow traffic; the policy still isolates x/a")
	}
}
