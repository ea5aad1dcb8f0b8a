package verify

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Traffic evidence shared by the connectivity and reachability checks.
//
// "Blocked" must mean that the policy under test blocked the connection, not
// that DNS failed, nothing listened, or the machine was slow. So:
//   - traffic goes to the IP the API gives (ClusterIP or pod IP): no DNS;
//   - before any verdict, the target is proven to answer on that port from
//     its own node, where no NetworkPolicy applies (the agent filters
//     forwarded traffic only; host-to-local-pod traffic never crosses it);
//   - only a timeout in the TCP connect phase counts as blocked, and only
//     when it happens blockedTries times in a row; refused, reset or a
//     slow answer are not evidence of a policy either way;
//   - a source whose own egress a policy restricts proves nothing about
//     the target's ingress (see isolation in netpolicy.go).

// blockedTries is how many consecutive connect timeouts make "blocked".
const blockedTries = 3

// probeScript prints exactly one line "SECLAB <outcome> [detail]" and always
// exits 0, so the outcome is told apart from "could not exec". $1 is the
// host (an IP), $2 the port, $3 the URL. Outcomes:
//
//	http CODE   an HTTP answer
//	connected   the TCP handshake completed (no HTTP answer in time)
//	timeout     the TCP connect phase timed out
//	refused / unreachable / reset
//	ambiguous   timed out, and this tool cannot say in which phase
//	notool      neither curl, bash nor wget in the container
//
// curl -v says whether it connected before timing out ("Connected to");
// bash's /dev/tcp only connects; busybox wget cannot tell, so its
// timeouts are "ambiguous" and never count as blocked.
const probeScript = `h="$1"; p="$2"; u="$3"
if command -v curl >/dev/null 2>&1; then
  e=$(curl -sS -v -o /dev/null -w ' code=%{http_code}' --connect-timeout 2 -m 4 "$u" 2>&1); r=$?
  case $r in
    0) echo "SECLAB http $(printf '%s\n' "$e" | sed -n 's/.* code=\([0-9][0-9][0-9]\).*/\1/p' | tail -n 1)" ;;
    28) case $e in *"Connected to"*) echo "SECLAB connected" ;; *) echo "SECLAB timeout" ;; esac ;;
    7) case $e in *"refused"*) echo "SECLAB refused" ;; *"o route"*|*"nreachable"*) echo "SECLAB unreachable" ;; *) echo "SECLAB other curl: $(printf '%s' "$e" | grep -v '^[*<>{}]' | tr '\n' ' ' | cut -c1-200)" ;; esac ;;
    52) echo "SECLAB connected" ;;
    56) echo "SECLAB reset" ;;
    *) echo "SECLAB other curl exit code $r: $(printf '%s' "$e" | grep -v '^[*<>{}]' | tr '\n' ' ' | cut -c1-200)" ;;
  esac
elif command -v bash >/dev/null 2>&1; then
  e=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>&1); r=$?
  case $r in
    0) echo "SECLAB connected" ;;
    124) echo "SECLAB timeout" ;;
    *) case $e in *"refused"*) echo "SECLAB refused" ;; *"o route"*|*"nreachable"*) echo "SECLAB unreachable" ;; *) echo "SECLAB other bash: $e" ;; esac ;;
  esac
elif command -v wget >/dev/null 2>&1; then
  o=$(timeout 3 wget -S -t 1 -O /dev/null "$u" 2>&1); r=$?
  c=$(printf '%s\n' "$o" | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | tail -n 1)
  if [ -n "$c" ]; then
    echo "SECLAB http $c"
  elif [ $r -eq 124 ] || [ $r -eq 143 ]; then
    echo "SECLAB ambiguous"
  else
    case $o in
      *"timed out"*) echo "SECLAB ambiguous" ;;
      *"refused"*) echo "SECLAB refused" ;;
      *"nreachable"*|*"No route"*) echo "SECLAB unreachable" ;;
      *"reset by peer"*) echo "SECLAB reset" ;;
      *) echo "SECLAB other wget exit code $r: $(printf '%s' "$o" | tr '\n' ' ' | cut -c1-200)" ;;
    esac
  fi
else
  echo "SECLAB notool"
fi
`

// probeCommand is the argv that runs probeScript against ip:port.
func probeCommand(ip string, port int) []string {
	hp := net.JoinHostPort(ip, strconv.Itoa(port))
	return []string{"sh", "-c", probeScript, "seclab-probe", ip, strconv.Itoa(port), "http://" + hp + "/"}
}

// parseProbe finds the "SECLAB <outcome> [detail]" line.
func parseProbe(stdout string) (outcome, detail string, ok bool) {
	for _, line := range strings.Split(stdout, "\n") {
		rest, found := strings.CutPrefix(strings.TrimSpace(line), "SECLAB ")
		if !found {
			continue
		}
		outcome, detail, _ = strings.Cut(rest, " ")
		return outcome, detail, outcome != ""
	}
	return "", "", false
}

// reach is what traffic from one source to one endpoint showed.
type reach int

const (
	reachUnknown reach = iota // no evidence either way (see why)
	reachAllowed
	reachBlocked
)

// observation is one cell's evidence.
type observation struct {
	state reach
	// seen is what the probe saw, for the learner ("HTTP 200", "connect
	// timed out 3 times in a row").
	seen string
	// why explains reachUnknown, naming what would have to change.
	why string
	// final: waiting will not change the outcome (no tool to probe with).
	final bool
}

// observe sends traffic from container ctr of pod to ep until the outcome
// is evidence: any established connection is "allowed" at once; "blocked"
// needs blockedTries connect timeouts in a row; anything else is unknown.
func observe(ctx context.Context, env *Env, pod *corev1.Pod, ctr string, ep *endpoint) observation {
	where := "pod " + pod.Namespace + "/" + pod.Name
	for try := 1; ; try++ {
		stdout, stderr, _, err := env.Exec.Exec(ctx, pod.Namespace, pod.Name, ctr, probeCommand(ep.ip, ep.port), nil)
		if err != nil {
			if strings.Contains(err.Error(), "executable file not found") || strings.Contains(err.Error(), "no such file") {
				return observation{why: fmt.Sprintf("cannot probe from %s: it has no sh", where), final: true}
			}
			return observation{why: fmt.Sprintf("could not run the probe in %s: %v", where, err)}
		}
		outcome, detail, ok := parseProbe(stdout)
		if !ok {
			return observation{why: fmt.Sprintf("unexpected probe output from %s: %s", where, quote(strings.TrimSpace(stdout+"\n"+stderr), maxOutput))}
		}
		switch outcome {
		case "http":
			return observation{state: reachAllowed, seen: "HTTP " + detail}
		case "connected":
			return observation{state: reachAllowed, seen: "connected"}
		case "timeout":
			if try == blockedTries {
				return observation{state: reachBlocked, seen: fmt.Sprintf("connect timed out %d times in a row", blockedTries)}
			}
			if ctx.Err() != nil {
				return observation{why: "interrupted"}
			}
			continue
		case "refused":
			return observation{why: fmt.Sprintf("%s got connection refused from %s: a refusal is not a policy block (is something listening on port %d?)", where, ep, ep.port)}
		case "unreachable":
			return observation{why: fmt.Sprintf("%s found %s unreachable (no route): a routing problem, not a policy block", where, ep)}
		case "reset":
			return observation{why: fmt.Sprintf("%s had its connection to %s reset: not a policy block", where, ep)}
		case "ambiguous":
			return observation{why: fmt.Sprintf("%s timed out reaching %s, and its only HTTP tool (wget) cannot tell a blocked connect from a slow answer; probe from a pod with curl", where, ep), final: true}
		case "notool":
			return observation{why: fmt.Sprintf("cannot probe from %s: it has neither curl, bash nor wget", where), final: true}
		}
		return observation{why: fmt.Sprintf("the probe from %s failed in an unexpected way: %s", where, clip(strings.TrimSpace(outcome+" "+detail), maxOutput))}
	}
}

// endpoint is where traffic goes: an address from the API, and the ready
// pods behind it.
type endpoint struct {
	desc     string // "service n287/nginx2:80"
	ip       string
	port     int
	backends []backend
}

// backend is one ready pod behind an endpoint, with the port it serves on.
type backend struct {
	pod  *corev1.Pod
	port int
}

func (e *endpoint) String() string { return e.desc }

// isBackend reports whether p is one of the pods behind e.
func (e *endpoint) isBackend(p *corev1.Pod) bool {
	for _, b := range e.backends {
		if b.pod.Namespace == p.Namespace && b.pod.Name == p.Name {
			return true
		}
	}
	return false
}

// resolveEndpoint turns a Target into an address. Problems that are the
// learner's (a Service they deleted, a port it does not have, pods stuck on
// their image) are failures; what may settle (endpoints still updating) is
// an Error that polling retries.
func resolveEndpoint(ctx context.Context, env *Env, to Target) (*endpoint, *Result) {
	if to.Selector != "" {
		return selectorEndpoint(ctx, env, to)
	}
	name := to.Namespace + "/" + to.Service
	want := fmt.Sprintf("service %s answers on port %d", name, to.Port)
	svc, err := env.Client.CoreV1().Services(to.Namespace).Get(ctx, to.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r := final(failed(want, "service "+name+" not found"+namespaceHint(ctx, env, to.Namespace)))
		return nil, &r
	}
	if err != nil {
		r := errorf("could not read service %s: %v", name, err)
		return nil, &r
	}
	var sp *corev1.ServicePort
	var ports []string
	for i, p := range svc.Spec.Ports {
		ports = append(ports, strconv.Itoa(int(p.Port)))
		if int(p.Port) == to.Port && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		r := final(failed(want, fmt.Sprintf("service %s has no TCP port %d (its ports: %s)", name, to.Port, strings.Join(ports, ", "))))
		return nil, &r
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		r := final(errorf("service %s is an ExternalName service: no cluster traffic to test", name))
		return nil, &r
	}
	backends, err := serviceBackends(ctx, env, svc, sp)
	if err != nil {
		r := errorf("could not read the endpoints of service %s: %v", name, err)
		return nil, &r
	}
	if len(backends) == 0 {
		why, stuck := whyNoEndpoints(ctx, env, svc)
		r := errorf("service %s has no ready endpoints%s", name, why)
		if stuck {
			r = final(failed(want, "it has no ready endpoints"+why))
		}
		return nil, &r
	}
	ep := &endpoint{desc: fmt.Sprintf("service %s:%d", name, to.Port), ip: svc.Spec.ClusterIP, port: to.Port, backends: backends}
	if ep.ip == "" || ep.ip == corev1.ClusterIPNone {
		// Headless: there is no service address; its pods are the target.
		ep.ip, ep.port = backends[0].pod.Status.PodIP, backends[0].port
	}
	return ep, nil
}

func selectorEndpoint(ctx context.Context, env *Env, to Target) (*endpoint, *Result) {
	list, err := env.Client.CoreV1().Pods(to.Namespace).List(ctx, metav1.ListOptions{LabelSelector: to.Selector})
	if err != nil {
		r := errorf("could not list target pods %s in %s: %v", to.Selector, to.Namespace, err)
		return nil, &r
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	want := fmt.Sprintf("a Ready pod %s in %s answers on port %d", to.Selector, to.Namespace, to.Port)
	for i := range pods {
		if podUsable(&pods[i]) && pods[i].Status.PodIP != "" && pods[i].Labels[ProbeLabel] == "" {
			p := &pods[i]
			return &endpoint{
				desc:     fmt.Sprintf("pod %s/%s:%d", p.Namespace, p.Name, to.Port),
				ip:       p.Status.PodIP,
				port:     to.Port,
				backends: []backend{{pod: p, port: to.Port}},
			}, nil
		}
	}
	if len(pods) == 0 {
		// Not final: right after an apply the Deployment's pods may not
		// exist yet; the deadline turns it into the failure it is.
		r := failed(want, "no pod matches "+to.Selector+" in "+to.Namespace+namespaceHint(ctx, env, to.Namespace))
		return nil, &r
	}
	r := errorf("no Ready target pod matches %s in %s: %s", to.Selector, to.Namespace, podsProblems(pods))
	if allStuck(pods) {
		r = final(failed(want, "none is Ready: "+podsProblems(pods)))
	}
	return nil, &r
}

// serviceBackends lists the ready pods behind svc's port sp, each with the
// container port traffic reaches (targetPort, named ports resolved by the
// EndpointSlice controller).
func serviceBackends(ctx context.Context, env *Env, svc *corev1.Service, sp *corev1.ServicePort) ([]backend, error) {
	sel := labels.Set{discoveryv1.LabelServiceName: svc.Name}.String()
	slices, err := env.Client.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []backend
	for _, s := range slices.Items {
		port := 0
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == sp.Name && p.Port != nil {
				port = int(*p.Port)
			}
		}
		if port == 0 && sp.TargetPort.Type == intstr.Int {
			port = sp.TargetPort.IntValue()
		}
		if port == 0 {
			port = int(sp.Port)
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || seen[ep.TargetRef.Name] {
				continue
			}
			p, err := env.Client.CoreV1().Pods(svc.Namespace).Get(ctx, ep.TargetRef.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue // going away; the slice will catch up
			}
			if err != nil {
				return nil, err
			}
			if !podUsable(p) || p.Status.PodIP == "" {
				continue
			}
			seen[p.Name] = true
			out = append(out, backend{pod: p, port: port})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pod.Name < out[j].pod.Name })
	return out, nil
}

// whyNoEndpoints looks behind an empty service: usually its selector
// matches no pod, or the pods it matches are not Ready. stuck reports that
// every pod is stuck in a state that waiting will not fix.
func whyNoEndpoints(ctx context.Context, env *Env, svc *corev1.Service) (why string, stuck bool) {
	if len(svc.Spec.Selector) == 0 {
		return " (it has no selector)", false
	}
	sel := labels.Set(svc.Spec.Selector).String()
	list, err := env.Client.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", false
	}
	if len(list.Items) == 0 {
		return " (its selector " + sel + " matches no pod)", false
	}
	var notReady []corev1.Pod
	for _, p := range list.Items {
		if !podUsable(&p) {
			notReady = append(notReady, p)
		}
	}
	if len(notReady) == 0 {
		return " (its pods are Ready; the endpoints may still be updating)", false
	}
	sort.Slice(notReady, func(i, j int) bool { return notReady[i].Name < notReady[j].Name })
	return ": " + podsProblems(notReady), allStuck(notReady)
}

// baseline proves that ep answers at all: from the node of each backend,
// straight to the pod's IP and port, a path no NetworkPolicy filters.
// Every backend, because traffic to a ClusterIP may land on any of them.
// Without it, a target that simply does not answer would look "blocked".
// A refusal there is the learner's (nothing listens where the Service sends
// traffic); anything else means seclab cannot tell.
func baseline(ctx context.Context, env *Env, ep *endpoint) *Result {
	if r := need(env.Nodes != nil, "a node runner (for the baseline probe)"); r != nil {
		return r
	}
	results := make([]*Result, len(ep.backends))
	var wg sync.WaitGroup
	for i, b := range ep.backends {
		wg.Go(func() { results[i] = baselineOne(ctx, env, ep, b) })
	}
	wg.Wait()
	// A failure (the learner's) outranks "could not tell".
	var first *Result
	for _, r := range results {
		if r != nil && r.Status == Fail {
			return r
		}
		if r != nil && first == nil {
			first = r
		}
	}
	return first
}

func baselineOne(ctx context.Context, env *Env, ep *endpoint, b backend) *Result {
	node := b.pod.Spec.NodeName
	want := fmt.Sprintf("%s answers (probed from node %s, where no policy applies)", ep, node)
	out, err := env.Nodes.RunOnNode(ctx, node, probeCommand(b.pod.Status.PodIP, b.port))
	if err != nil {
		r := errorf("could not run the baseline probe on node %s: %v", node, err)
		return &r
	}
	outcome, detail, ok := parseProbe(out.Stdout)
	switch {
	case !ok:
		r := errorf("unexpected baseline probe output on node %s: %s", node, quote(strings.TrimSpace(out.Stdout+"\n"+out.Stderr), maxOutput))
		return &r
	case outcome == "http" || outcome == "connected":
		return nil
	case outcome == "refused":
		r := final(failed(want, fmt.Sprintf("pod %s/%s refused connections on port %d: nothing listens there", b.pod.Namespace, b.pod.Name, b.port)))
		return &r
	}
	r := errorf("%s does not answer even from its own node %s (pod %s/%s port %d: %s)", ep, node, b.pod.Namespace, b.pod.Name, b.port, strings.TrimSpace(outcome+" "+detail))
	return &r
}
