//go:build linux

package netagent

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// TestKernelEnforcement loads the rendered rulesets into a real kernel and
// probes them with real TCP and UDP packets. The test world is rebuilt from
// network namespaces: two "nodes" linked like kind nodes on one L2 network,
// each with a bridge (br_netfilter on) and its pods on veths, routes to the
// other node's pod CIDR. Every policy case's checks between pods and nodes
// (IPv4 and IPv6; not external addresses, SCTP or ICMP) must hold.
// Needs root, ip, nft and br_netfilter (see requireHost); skipped with -short.
func TestKernelEnforcement(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	requireHost(t, needRoot, "ip", "nft", needBrNetfilter)
	topo := newTopology(t)
	defer topo.cleanup()

	probes := 0
	for _, tc := range policyCases {
		t.Run(tc.name, func(t *testing.T) {
			for n, rs := range compileAll(t, tc.policies) {
				topo.nft(t, n, Render(rs))
			}
			for _, c := range tc.checks {
				src, dst, proto, port := parseFlow(t, c.flow)
				sns, dns := topo.nsOf(src), topo.nsOf(dst)
				if sns == "" || dns == "" || (proto != ProtoTCP && proto != ProtoUDP) {
					continue // external addresses, SCTP and ICMP are not probed here
				}
				probes++
				got, err := topo.probe(sns, dns, src, dst, proto, port)
				if err != nil {
					t.Fatalf("%s: %v", c.flow, err)
				}
				if got != c.want {
					t.Errorf("kernel: %s: connected=%v, want %v", c.flow, got, c.want)
				}
			}
		})
	}
	t.Logf("%d real probes", probes)
}

type topology struct {
	prefix string
	ns     map[netip.Addr]string // address -> namespace holding it
	spaces []string
}

func (tp *topology) run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (tp *topology) addNS(t *testing.T, name string) string {
	full := tp.prefix + name
	tp.run(t, "ip", "netns", "add", full)
	tp.spaces = append(tp.spaces, full)
	tp.run(t, "ip", "-n", full, "link", "set", "lo", "up")
	return full
}

func (tp *topology) sysctl(t *testing.T, ns string, kv ...string) {
	for _, k := range kv {
		tp.run(t, "ip", "netns", "exec", ns, "sh", "-c", "echo 1 > /proc/sys/"+k)
	}
}

func (tp *topology) cleanup() {
	for _, s := range tp.spaces {
		exec.Command("ip", "netns", "del", s).Run()
	}
}

func newTopology(t *testing.T) *topology {
	tp := &topology{prefix: fmt.Sprintf("snt%d-", os.Getpid()), ns: map[netip.Addr]string{}}
	ok := false
	defer func() {
		if !ok {
			tp.cleanup()
		}
	}()
	nodeNS := map[string]string{}
	gw := map[string][2]string{"n1": {"10.244.1.1", "fd00:10:244:1::1"}, "n2": {"10.244.2.1", "fd00:10:244:2::1"}}
	for _, n := range []string{"n1", "n2"} {
		s := tp.addNS(t, n)
		nodeNS[n] = s
		tp.ns[nodeIPs[n]] = s
		tp.sysctl(t, s, "net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding",
			"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables")
		tp.run(t, "ip", "-n", s, "link", "add", "br0", "type", "bridge")
		tp.run(t, "ip", "-n", s, "addr", "add", gw[n][0]+"/24", "dev", "br0")
		tp.run(t, "ip", "-n", s, "addr", "add", gw[n][1]+"/64", "dev", "br0", "nodad")
		tp.run(t, "ip", "-n", s, "link", "set", "br0", "up")
	}
	// the "docker network" between the nodes
	tp.run(t, "ip", "-n", nodeNS["n1"], "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", nodeNS["n2"])
	tp.run(t, "ip", "-n", nodeNS["n1"], "addr", "add", nodeIPs["n1"].String()+"/24", "dev", "eth0")
	tp.run(t, "ip", "-n", nodeNS["n2"], "addr", "add", nodeIPs["n2"].String()+"/24", "dev", "eth0")
	for _, n := range []string{"n1", "n2"} {
		tp.run(t, "ip", "-n", nodeNS[n], "link", "set", "eth0", "up")
	}
	tp.run(t, "ip", "-n", nodeNS["n1"], "route", "add", "10.244.2.0/24", "via", nodeIPs["n2"].String())
	tp.run(t, "ip", "-n", nodeNS["n2"], "route", "add", "10.244.1.0/24", "via", nodeIPs["n1"].String())

	for i, p := range testPods {
		ips := PodIPs(p)
		if len(ips) == 0 {
			continue
		}
		n := p.Spec.NodeName
		s := tp.addNS(t, fmt.Sprintf("p%d", i))
		veth := fmt.Sprintf("v%d", i)
		tp.run(t, "ip", "-n", nodeNS[n], "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", s)
		tp.run(t, "ip", "-n", nodeNS[n], "link", "set", veth, "master", "br0", "up")
		tp.run(t, "ip", "-n", s, "link", "set", "eth0", "up")
		for _, a := range ips {
			if a.Is4() {
				tp.run(t, "ip", "-n", s, "addr", "add", a.String()+"/24", "dev", "eth0")
				tp.run(t, "ip", "-n", s, "route", "add", "default", "via", gw[n][0])
			} else {
				tp.run(t, "ip", "-n", s, "addr", "add", a.String()+"/64", "dev", "eth0", "nodad")
				tp.run(t, "ip", "-n", s, "-6", "route", "add", "default", "via", gw[n][1])
			}
			tp.ns[a] = s
		}
	}
	ok = true
	return tp
}

func (tp *topology) nsOf(a netip.Addr) string { return tp.ns[a] }

func (tp *topology) nft(t *testing.T, node, script string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", tp.prefix+node, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft on %s: %v\n%s", node, err, out)
	}
}

// inNS runs f with the calling goroutine's thread in network namespace ns;
// sockets created by f stay in that namespace.
func inNS(ns string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer netns.Set(orig)
	return f()
}

const probeTimeout = 300 * time.Millisecond

// probe opens a server at dst:port in dns and connects to it from src in sns.
func (tp *topology) probe(sns, dns string, src, dst netip.Addr, proto uint8, port uint16) (bool, error) {
	addr := net.JoinHostPort(dst.String(), fmt.Sprint(port))
	local := net.JoinHostPort(src.String(), "0")
	if proto == ProtoTCP {
		var l net.Listener
		if err := inNS(dns, func() (err error) { l, err = net.Listen("tcp", addr); return }); err != nil {
			return false, err
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		connected := false
		err := inNS(sns, func() error {
			la, _ := net.ResolveTCPAddr("tcp", local)
			d := net.Dialer{Timeout: probeTimeout, LocalAddr: la}
			c, err := d.Dial("tcp", addr)
			if err == nil {
				connected = true
				c.Close()
			}
			return nil
		})
		return connected, err
	}
	var pc net.PacketConn
	if err := inNS(dns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return }); err != nil {
		return false, err
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	connected := false
	err := inNS(sns, func() error {
		la, _ := net.ResolveUDPAddr("udp", local)
		c, err := net.DialUDP("udp", la, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(probeTimeout))
		if _, err := c.Write([]byte("ping")); err != nil {
			return nil
		}
		buf := make([]byte, 64)
		if n, err := c.Read(buf); err == nil && string(buf[:n]) == "ping" {
			connected = true
		}
		return nil
	})
	return connected, err
}

// TestLinuxHost exercises the real Host in a throwaway network namespace:
// routes (added, replaced, stale ones removed, foreign ones untouched), the
// uplink MTU, sysctls and an atomic ruleset replace.
func TestLinuxHost(t *testing.T) {
	requireHost(t, needRoot, "ip")
	tp := &topology{prefix: fmt.Sprintf("snh%d-", os.Getpid())}
	defer tp.cleanup()
	s := tp.addNS(t, "node")
	tp.run(t, "ip", "-n", s, "link", "add", "eth0", "mtu", "1400", "type", "veth", "peer", "name", "peer0", "mtu", "1400")
	tp.run(t, "ip", "-n", s, "link", "set", "peer0", "up")
	tp.run(t, "ip", "-n", s, "addr", "add", "172.18.0.2/24", "dev", "eth0")
	tp.run(t, "ip", "-n", s, "link", "set", "eth0", "up")
	tp.run(t, "ip", "-n", s, "route", "add", "default", "via", "172.18.0.1")
	tp.run(t, "ip", "-n", s, "route", "add", "10.99.0.0/16", "via", "172.18.0.9") // not ours

	h := &LinuxHost{}
	routes := func() string {
		out, _ := exec.Command("ip", "-n", s, "route", "show").CombinedOutput()
		return string(out)
	}
	sync := func(rs ...Route) bool {
		var changed bool
		if err := inNS(s, func() (err error) { changed, err = h.SyncRoutes(rs); return }); err != nil {
			t.Fatal(err)
		}
		return changed
	}
	r := func(dst, via string) Route { return Route{netip.MustParsePrefix(dst), netip.MustParseAddr(via)} }

	if !sync(r("10.244.2.0/24", "172.18.0.3"), r("10.244.3.0/24", "172.18.0.4")) {
		t.Error("first sync reports no change")
	}
	got := routes()
	for _, want := range []string{"10.244.2.0/24 via 172.18.0.3 dev eth0 proto 115", "10.244.3.0/24 via 172.18.0.4 dev eth0 proto 115"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if sync(r("10.244.2.0/24", "172.18.0.3"), r("10.244.3.0/24", "172.18.0.4")) {
		t.Error("unchanged routes reported as changed")
	}
	if !sync(r("10.244.2.0/24", "172.18.0.5")) {
		t.Error("no change reported")
	}
	got = routes()
	if !strings.Contains(got, "10.244.2.0/24 via 172.18.0.5 dev eth0 proto 115") || strings.Contains(got, "10.244.3.0/24") ||
		!strings.Contains(got, "10.99.0.0/16 via 172.18.0.9") {
		t.Errorf("after the second sync:\n%s", got)
	}

	var mtu int
	inNS(s, func() error { mtu = h.UplinkMTU(); return nil })
	if mtu != 1400 {
		t.Errorf("uplink MTU %d, want 1400", mtu)
	}

	var errs []error
	inNS(s, func() error { errs = h.EnableForwarding(false); return nil })
	if len(errs) > 0 {
		t.Errorf("sysctls: %v", errs)
	}
	out, _ := exec.Command("ip", "netns", "exec", s, "cat", "/proc/sys/net/ipv4/ip_forward").Output()
	if strings.TrimSpace(string(out)) != "1" {
		t.Errorf("ip_forward = %q", out)
	}

	t.Run("ruleset", func(t *testing.T) {
		requireHost(t, "nft")
		rs, _ := Compile(&Snapshot{NodeName: "n1", Pods: testPods, Namespaces: testNamespaces,
			Policies: policyCases[1].policies, ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}})
		for i := 0; i < 2; i++ { // the second apply replaces the table
			if err := inNS(s, func() error { return h.ApplyRuleset(Render(rs)) }); err != nil {
				t.Fatal(err)
			}
		}
		list, _ := exec.Command("ip", "netns", "exec", s, "nft", "list", "tables").Output()
		if strings.TrimSpace(string(list)) != "table inet seclab" {
			t.Errorf("tables: %q", list)
		}
		if err := inNS(s, func() error { return h.ApplyRuleset("table inet seclab { chain c { bogus } }") }); err == nil ||
			!strings.Contains(err.Error(), "nft -f -") {
			t.Errorf("bad script: err = %v", err)
		}
	})
}
