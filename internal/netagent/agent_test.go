package netagent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestCNIConflist(t *testing.T) {
	b, err := CNIConflist([]netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:10:244:1::/64")}, 1400)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		CNIVersion string `json:"cniVersion"`
		Name       string
		Plugins    []map[string]any
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	if conf.Name != "seclab" || len(conf.Plugins) != 2 {
		t.Fatalf("%s", b)
	}
	br := conf.Plugins[0]
	if br["type"] != "bridge" || br["bridge"] != "seclab0" || br["isGateway"] != true || br["ipMasq"] != false || br["hairpinMode"] != true || br["mtu"] != 1400.0 {
		t.Errorf("bridge: %v", br)
	}
	ipam := br["ipam"].(map[string]any)
	if ipam["type"] != "host-local" {
		t.Errorf("ipam: %v", ipam)
	}
	ranges, _ := json.Marshal(ipam["ranges"])
	if string(ranges) != `[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:10:244:1::/64"}]]` {
		t.Errorf("ranges: %s", ranges)
	}
	routes, _ := json.Marshal(ipam["routes"])
	if string(routes) != `[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]` {
		t.Errorf("routes: %s", routes)
	}
	if pm := conf.Plugins[1]; pm["type"] != "portmap" || pm["capabilities"].(map[string]any)["portMappings"] != true {
		t.Errorf("portmap: %v", pm)
	}
	if _, err := CNIConflist(nil, 0); err == nil {
		t.Error("want an error without podCIDRs")
	}
	b0, _ := CNIConflist([]netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}, 0)
	if strings.Contains(string(b0), "mtu") {
		t.Error("mtu 0 must be omitted")
	}
}

func TestWriteFileIfChanged(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "10-x.conflist")
	for i, tc := range []struct {
		data    string
		changed bool
	}{{"a", true}, {"a", false}, {"b", true}} {
		changed, err := WriteFileIfChanged(p, []byte(tc.data))
		if err != nil || changed != tc.changed {
			t.Fatalf("step %d: changed=%v err=%v", i, changed, err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != tc.data {
			t.Fatalf("step %d: content %q", i, got)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func node(name, ip string, cidrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDRs: cidrs}}
	if len(cidrs) > 0 {
		n.Spec.PodCIDR = cidrs[0]
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	return n
}

func TestDesiredRoutes(t *testing.T) {
	nodes := []*corev1.Node{
		node("cp", "172.18.0.2", "10.244.0.0/24"),
		node("w1", "172.18.0.3", "10.244.1.0/24"),
		node("w2", "172.18.0.4"),                                        // no podCIDR yet
		node("w3", "172.18.0.5", "10.244.3.0/24", "fd00:10:244:3::/64"), // no IPv6 InternalIP
	}
	got := DesiredRoutes("w1", nodes)
	want := []Route{
		{netip.MustParsePrefix("10.244.0.0/24"), netip.MustParseAddr("172.18.0.2")},
		{netip.MustParsePrefix("10.244.3.0/24"), netip.MustParseAddr("172.18.0.5")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("route %d: got %v want %v", i, got[i], want[i])
		}
	}
	if r := DesiredRoutes("cp", nodes[:1]); len(r) != 0 {
		t.Errorf("single node: %v", r)
	}
}

func TestParseCIDRList(t *testing.T) {
	got, err := ParseCIDRList(" 10.244.0.0/16, fd00:10:244::/56 ,")
	if err != nil || len(got) != 2 || got[1].String() != "fd00:10:244::/56" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := ParseCIDRList("10.244.0.0"); err == nil {
		t.Error("want error")
	}
	if got, _ := ParseCIDRList(""); len(got) != 0 {
		t.Error("empty")
	}
}

// fakeHost records what the agent does to the node.
type fakeHost struct {
	mu      sync.Mutex
	scripts []string
	routes  []Route
}

func (h *fakeHost) ApplyRuleset(s string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scripts = append(h.scripts, s)
	return nil
}

func (h *fakeHost) SyncRoutes(r []Route) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := len(r) != len(h.routes)
	h.routes = r
	return changed, nil
}

func (h *fakeHost) UplinkMTU() int                { return 1500 }
func (h *fakeHost) EnableForwarding(bool) []error { return nil }
func (h *fakeHost) state() (int, string, []Route) {
	h.mu.Lock()
	defer h.mu.Unlock()
	last := ""
	if len(h.scripts) > 0 {
		last = h.scripts[len(h.scripts)-1]
	}
	return len(h.scripts), last, h.routes
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
	return 0
}

// TestAgentEndToEnd runs the agent against a fake API server: CNI config,
// routes, and a new ruleset within a second of each change, debounced.
func TestAgentEndToEnd(t *testing.T) {
	client := fake.NewClientset(
		node("n1", "172.18.0.2"), node("n2", "172.18.0.3", "10.244.2.0/24"),
		testNamespaces[0], testNamespaces[1],
		testPods[0], testPods[1], testPods[3],
	)
	host := &fakeHost{}
	conf := filepath.Join(t.TempDir(), "10-seclab.conflist")
	a := New(client, Config{NodeName: "n1", CNIConfPath: conf, Host: host,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	waitFor(t, "first ruleset", 5*time.Second, func() bool { n, _, _ := host.state(); return n >= 1 })
	if _, err := os.Stat(conf); err == nil {
		t.Fatal("CNI config written before the node has a podCIDR")
	}
	_, script, routes := host.state()
	if strings.Contains(script, "jump") {
		t.Errorf("no policy yet, but:\n%s", script)
	}
	if len(routes) != 1 || routes[0].Dst.String() != "10.244.2.0/24" || routes[0].Via.String() != "172.18.0.3" {
		t.Errorf("routes: %v", routes)
	}
	// without POD_SUBNET the masquerade boundary is the union of the podCIDRs
	if !strings.Contains(script, "ip saddr { 10.244.2.0/24 }") {
		t.Errorf("masquerade boundary:\n%s", script)
	}

	// the controller manager allocates n1's podCIDR
	n1, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	n1.Spec.PodCIDR, n1.Spec.PodCIDRs = "10.244.1.0/24", []string{"10.244.1.0/24"}
	if _, err := client.CoreV1().Nodes().Update(ctx, n1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "CNI config", 2*time.Second, func() bool {
		b, err := os.ReadFile(conf)
		return err == nil && strings.Contains(string(b), `"subnet": "10.244.1.0/24"`)
	})

	// a default-deny policy in x isolates x/a (on n1) within a second
	before, _, _ := host.state()
	if _, err := client.NetworkingV1().NetworkPolicies("x").Create(ctx, policy("x", "deny", "", types(ING)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "policy applied", 2*time.Second, func() bool {
		_, s, _ := host.state()
		return strings.Contains(s, "ip daddr @ingress-isolated4 jump ingress") && strings.Contains(s, "10.244.1.10")
	})
	if took > time.Second {
		t.Errorf("policy took %v to apply", took)
	}

	// a burst of changes is debounced into few applies
	after, _, _ := host.state()
	if after-before != 1 {
		t.Errorf("%d applies for one change", after-before)
	}
	for i := 0; i < 20; i++ {
		p := policy("x", "p"+string(rune('a'+i)), "app=a", types(ING), ingress(r(port("TCP/"+string(rune('0'+i%10))+"0"))))
		if _, err := client.NetworkingV1().NetworkPolicies("x").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "burst applied", 3*time.Second, func() bool {
		_, s, _ := host.state()
		return strings.Contains(s, "x/pt ingress 0")
	})
	final, _, _ := host.state()
	if final-after > 4 {
		t.Errorf("%d applies for a burst of 20 changes", final-after)
	}

	// an unrelated pod status change does not re-apply the same ruleset
	time.Sleep(300 * time.Millisecond)
	n0, _, _ := host.state()
	p, _ := client.CoreV1().Pods("y").Get(ctx, "a", metav1.GetOptions{})
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	if _, err := client.CoreV1().Pods("y").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if n, _, _ := host.state(); n != n0 {
		t.Errorf("unchanged ruleset re-applied (%d -> %d)", n0, n)
	}
}
