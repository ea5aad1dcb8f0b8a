// Package netagent is seclab's CNI and NetworkPolicy agent. On every node it
// writes the CNI configuration (bridge + host-local from the node's
// podCIDR), routes other nodes' pod CIDRs via their InternalIPs, and
// enforces networking.k8s.io/v1 NetworkPolicy with an nftables table
// (inet seclab) that it replaces atomically whenever pods, namespaces,
// policies or nodes change.
package netagent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	netlisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// Host is what the agent changes on its node.
type Host interface {
	ApplyRuleset(script string) error
	SyncRoutes(routes []Route) (changed bool, err error)
	UplinkMTU() int
	EnableForwarding(ipv6 bool) []error
}

// Config configures an Agent.
type Config struct {
	NodeName string
	// ClusterCIDRs: the cluster's pod subnets. Empty: the union of the
	// nodes' podCIDRs.
	ClusterCIDRs []netip.Prefix
	CNIConfPath  string        // e.g. /etc/cni/net.d/10-seclab.conflist
	Debounce     time.Duration // quiet time before a sync (default 150ms)
	MaxDelay     time.Duration // longest a change waits for a sync (default 500ms)
	Resync       time.Duration // periodic full re-apply (default 5m)
	Host         Host
	Log          *slog.Logger
}

// Agent keeps one node's CNI config, routes and ruleset in sync.
type Agent struct {
	cfg    Config
	client kubernetes.Interface
	kick   chan struct{}

	pods     corelisters.PodLister
	nss      corelisters.NamespaceLister
	nodes    corelisters.NodeLister
	policies netlisters.NetworkPolicyLister

	lastRuleset string
	forwarding  bool
	lastWarn    string
	noCIDRSaid  bool
}

// New returns an agent; Run starts it.
func New(client kubernetes.Interface, cfg Config) *Agent {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 150 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 500 * time.Millisecond
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Agent{cfg: cfg, client: client, kick: make(chan struct{}, 1)}
}

func (a *Agent) trigger() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Run watches the cluster and syncs until ctx is done. The nftables table
// and the CNI config are left in place on exit: pods keep their network and
// policies stay enforced until the next agent takes over.
func (a *Agent) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0, informers.WithTransform(trimObject))
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { a.trigger() },
		UpdateFunc: func(any, any) { a.trigger() },
		DeleteFunc: func(any) { a.trigger() },
	}
	podInf := factory.Core().V1().Pods()
	nsInf := factory.Core().V1().Namespaces()
	nodeInf := factory.Core().V1().Nodes()
	polInf := factory.Networking().V1().NetworkPolicies()
	for _, inf := range []cache.SharedIndexInformer{podInf.Informer(), nsInf.Informer(), nodeInf.Informer(), polInf.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	a.pods, a.nss, a.nodes, a.policies = podInf.Lister(), nsInf.Lister(), nodeInf.Lister(), polInf.Lister()

	factory.Start(ctx.Done())
	defer factory.Shutdown()
	a.cfg.Log.Info("waiting for informer caches", "node", a.cfg.NodeName)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache of %v did not sync", typ)
		}
	}
	a.cfg.Log.Info("caches synced; enforcing")

	resync := time.NewTicker(a.cfg.Resync)
	defer resync.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	force := true
	for {
		if err := a.sync(force); err != nil {
			a.cfg.Log.Error("sync failed; retrying in 1s", "err", err)
			retry.Reset(time.Second)
		}
		force = false
		select {
		case <-ctx.Done():
			a.cfg.Log.Info("stopping; ruleset and CNI config stay in place")
			return nil
		case <-a.kick:
		case <-retry.C:
		case <-resync.C:
			force = true
		}
		if !a.debounce(ctx) {
			a.cfg.Log.Info("stopping; ruleset and CNI config stay in place")
			return nil
		}
	}
}

// debounce waits until no change came for Debounce, or MaxDelay passed.
func (a *Agent) debounce(ctx context.Context) bool {
	deadline := time.Now().Add(a.cfg.MaxDelay)
	t := time.NewTimer(a.cfg.Debounce)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-a.kick:
			wait := min(a.cfg.Debounce, time.Until(deadline))
			if wait <= 0 {
				return true
			}
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(wait)
		}
	}
}

func (a *Agent) sync(force bool) error {
	var errs []string
	nodes, err := a.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	if err := a.syncNode(nodes); err != nil {
		errs = append(errs, err.Error())
	}
	if err := a.syncRuleset(nodes, force); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// clusterCIDRs is the configured pod subnet, or else all nodes' podCIDRs.
func (a *Agent) clusterCIDRs(nodes []*corev1.Node) []netip.Prefix {
	if len(a.cfg.ClusterCIDRs) > 0 {
		return a.cfg.ClusterCIDRs
	}
	var out []netip.Prefix
	for _, n := range nodes {
		out = append(out, NodePodCIDRs(n)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// syncNode writes the CNI config and the routes to other nodes.
func (a *Agent) syncNode(nodes []*corev1.Node) error {
	var errs []string
	self, err := a.nodes.Get(a.cfg.NodeName)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("node %s not found", a.cfg.NodeName)
	case err != nil:
		return err
	}
	cidrs := NodePodCIDRs(self)
	if !a.forwarding {
		ipv6 := false
		for _, p := range append(cidrs, a.cfg.ClusterCIDRs...) {
			ipv6 = ipv6 || p.Addr().Is6()
		}
		for _, e := range a.cfg.Host.EnableForwarding(ipv6) {
			a.cfg.Log.Warn("sysctl", "err", e)
		}
		a.forwarding = true
	}
	if len(cidrs) == 0 {
		if !a.noCIDRSaid {
			a.cfg.Log.Info("node has no podCIDR yet; CNI config not written", "node", a.cfg.NodeName)
			a.noCIDRSaid = true
		}
	} else {
		conf, err := CNIConflist(cidrs, a.cfg.Host.UplinkMTU())
		if err != nil {
			return err
		}
		changed, err := WriteFileIfChanged(a.cfg.CNIConfPath, conf)
		if err != nil {
			errs = append(errs, fmt.Sprintf("write %s: %v", a.cfg.CNIConfPath, err))
		} else if changed {
			a.cfg.Log.Info("wrote CNI config", "path", a.cfg.CNIConfPath, "podCIDRs", cidrs)
		}
	}
	routes := DesiredRoutes(a.cfg.NodeName, nodes)
	changed, err := a.cfg.Host.SyncRoutes(routes)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if changed {
		parts := make([]string, len(routes))
		for i, r := range routes {
			parts[i] = r.Dst.String() + " via " + r.Via.String()
		}
		a.cfg.Log.Info("routes to other nodes' pods updated", "routes", strings.Join(parts, ", "))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (a *Agent) syncRuleset(nodes []*corev1.Node, force bool) error {
	pods, err := a.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	nss, err := a.nss.List(labels.Everything())
	if err != nil {
		return err
	}
	pols, err := a.policies.List(labels.Everything())
	if err != nil {
		return err
	}
	rs, warns := Compile(&Snapshot{NodeName: a.cfg.NodeName, Pods: pods, Namespaces: nss, Policies: pols, ClusterCIDRs: a.clusterCIDRs(nodes)})
	if w := strings.Join(warns, "\n"); w != a.lastWarn {
		for _, x := range warns {
			a.cfg.Log.Warn("policy", "warning", x)
		}
		a.lastWarn = w
	}
	script := Render(rs)
	if script == a.lastRuleset && !force {
		return nil
	}
	start := time.Now()
	if err := a.cfg.Host.ApplyRuleset(script); err != nil {
		a.lastRuleset = ""
		return err
	}
	if script != a.lastRuleset {
		a.cfg.Log.Info("ruleset applied", "policies", len(pols), "ingressIsolated", len(rs.IngressIsolated),
			"egressIsolated", len(rs.EgressIsolated), "ingressRules", len(rs.Ingress), "egressRules", len(rs.Egress),
			"took", time.Since(start).Round(time.Millisecond))
	}
	a.lastRuleset = script
	return nil
}

// trimObject drops what the agent never reads, to keep the caches small.
func trimObject(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		p := &corev1.Pod{ObjectMeta: o.ObjectMeta}
		p.ManagedFields, p.Annotations, p.OwnerReferences = nil, nil, nil
		p.Spec.NodeName, p.Spec.HostNetwork = o.Spec.NodeName, o.Spec.HostNetwork
		for _, c := range o.Spec.Containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
		p.Status.Phase, p.Status.PodIP, p.Status.PodIPs = o.Status.Phase, o.Status.PodIP, o.Status.PodIPs
		return p, nil
	case *corev1.Node:
		n := &corev1.Node{ObjectMeta: o.ObjectMeta, Spec: corev1.NodeSpec{PodCIDR: o.Spec.PodCIDR, PodCIDRs: o.Spec.PodCIDRs}}
		n.ManagedFields, n.Annotations = nil, nil
		n.Status.Addresses = o.Status.Addresses
		return n, nil
	case *corev1.Namespace:
		n := &corev1.Namespace{ObjectMeta: o.ObjectMeta}
		n.ManagedFields, n.Annotations = nil, nil
		return n, nil
	case *networkingv1.NetworkPolicy:
		o.ManagedFields, o.Annotations = nil, nil
		return o, nil
	}
	return obj, nil
}
