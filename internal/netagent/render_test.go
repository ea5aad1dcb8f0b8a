package netagent

import (
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

var update = flag.Bool("update", false, "rewrite golden files")

func allCasePolicies() []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for i, tc := range policyCases {
		for _, p := range tc.policies {
			q := p.DeepCopy()
			q.Name = q.Name + "-" + string(rune('a'+i%26))
			out = append(out, q)
		}
	}
	return out
}

// goldenSnapshot is the world of the golden files: dual-stack, named ports,
// port ranges, ipBlock with except, both directions.
func goldenSnapshot(node string) *Snapshot {
	pols := []*networkingv1.NetworkPolicy{
		policy("x", "web", "tier=web", types(ING, EGR),
			ingress(r(nsPodPeer("env=prod", "app=b"), cidrPeer("192.168.0.0/16", "192.168.5.0/24"), port("TCP/http"), port("TCP/8000-9000"), port("UDP/"))),
			egress(r(podPeer("app=c"), port("TCP/5432")), r(port("UDP/53")), r(cidrPeer("10.244.2.0/24"), port("TCP/http")))),
		policy("y", "deny", "", types(ING)),
	}
	return &Snapshot{NodeName: node, Pods: testPods, Namespaces: testNamespaces, Policies: pols,
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:10:244::/56")}}
}

// caseSnapshots: every policy case alone, then all of them at once.
func caseSnapshots(node string) []*Snapshot {
	var out []*Snapshot
	for _, pols := range append(casePolicySets(), allCasePolicies()) {
		out = append(out, &Snapshot{NodeName: node, Pods: testPods, Namespaces: testNamespaces, Policies: pols,
			ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}})
	}
	return out
}

func casePolicySets() [][]*networkingv1.NetworkPolicy {
	var out [][]*networkingv1.NetworkPolicy
	for _, tc := range policyCases {
		out = append(out, tc.policies)
	}
	return out
}

func TestRenderGolden(t *testing.T) {
	for _, node := range []string{"n1", "n2"} {
		rs, warns := Compile(goldenSnapshot(node))
		if len(warns) > 0 {
			t.Fatalf("warnings: %q", warns)
		}
		got := Render(rs)
		path := filepath.Join("testdata", "ruleset-"+node+".nft")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s: rendered ruleset differs from %s (go test -update to accept):\n%s", node, path, got)
		}
	}
}

func TestRenderNoPolicies(t *testing.T) {
	rs, _ := Compile(&Snapshot{NodeName: "n1", Pods: testPods, Namespaces: testNamespaces,
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}})
	out := Render(rs)
	for _, want := range []string{
		"table inet seclab {}\ndelete table inet seclab\ntable inet seclab {\n",
		"ct state established,related accept",
		"ip saddr { 10.244.0.0/16 } ip daddr != { 10.244.0.0/16 } ip daddr != { 224.0.0.0/4, 255.255.255.255 } masquerade",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "jump") || strings.Contains(out, " set ") {
		t.Errorf("no policy must mean no jumps and no sets:\n%s", out)
	}
}

// TestRenderAllCases renders every case (all policies at once, and one case
// at a time).
func TestRenderAllCases(t *testing.T) {
	for _, node := range []string{"n1", "n2"} {
		for _, snap := range caseSnapshots(node) {
			rs, _ := Compile(snap)
			out := Render(rs)
			if strings.Contains(out, "elements = {\n\t\t}") || strings.Contains(out, "@ ") {
				t.Fatalf("empty set rendered:\n%s", out)
			}
			if Render(rs) != out {
				t.Fatal("rendering is not deterministic")
			}
		}
	}
}

// TestNftAcceptsRenderedRulesets has nft parse and validate every rendered
// ruleset (nft -c: nothing is committed) in a throwaway network namespace:
// the golden ones and those of every policy case.
func TestNftAcceptsRenderedRulesets(t *testing.T) {
	requireHost(t, needRoot, "nft", "unshare")
	checked := 0
	for _, node := range []string{"n1", "n2"} {
		for _, snap := range append(caseSnapshots(node), goldenSnapshot(node)) {
			rs, _ := Compile(snap)
			script := Render(rs)
			cmd := exec.Command("unshare", "--net", "nft", "-c", "-f", "-")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("nft -c rejects the ruleset: %v\n%s\n--- script ---\n%s", err, out, script)
			}
			checked++
		}
	}
	t.Logf("nft accepted %d rulesets", checked)
}
