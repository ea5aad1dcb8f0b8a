package verify

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// connectivityCheck sends real HTTP traffic from inside a pod, because that
// is the only honest test of a NetworkPolicy: reading the policy back would
// pass a policy that selects the wrong pods.
type connectivityCheck struct {
	spec *ConnectivitySpec
	from podSource // keeps the probe pod across attempts
}

func (c *connectivityCheck) describe() string {
	to := c.spec.To
	var target string
	if to.Service != "" {
		target = fmt.Sprintf("service %s:%d", to.Service, to.Port)
	} else {
		target = fmt.Sprintf("pods %s:%d", to.Selector, to.Port)
	}
	if to.Namespace != c.spec.From.Namespace {
		target = strings.Replace(target, " ", " "+to.Namespace+"/", 1)
	}
	return fmt.Sprintf("%s → %s is %s", c.from.String(), target, c.spec.Expect)
}

func (c *connectivityCheck) cleanup(env *Env) { c.from.cleanup(env) }

// probeScript prints exactly one line "SECLAB <outcome>" and always exits 0,
// so the outcome is told apart from "could not exec". It uses curl when the
// pod has it, else wget (busybox or GNU). wget runs without -q because GNU
// wget's -q hides the very error text that tells DNS failure from a blocked
// connection; busybox and GNU wget both print response headers with -S, so
// any HTTP status (404 included) is found there. The deadline comes from
// timeout(1) (GNU exits 124, busybox 143), not wget -T: Debian's static
// busybox wget crashes with -T. $1 is the URL.
const probeScript = `u="$1"
if command -v curl >/dev/null 2>&1; then
  c=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 -m 4 "$u"); r=$?
  case $r in
    0) echo "SECLAB http $c" ;;
    6) echo "SECLAB dns" ;;
    7) echo "SECLAB connect" ;;
    28) echo "SECLAB timeout 2" ;;
    56) echo "SECLAB reset" ;;
    *) echo "SECLAB other curl exit code $r" ;;
  esac
elif command -v wget >/dev/null 2>&1; then
  o=$(timeout 3 wget -S -t 1 -O /dev/null "$u" 2>&1); r=$?
  c=$(printf '%s\n' "$o" | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | tail -n 1)
  if [ -n "$c" ]; then
    echo "SECLAB http $c"
  elif [ $r -eq 124 ] || [ $r -eq 143 ]; then
    echo "SECLAB timeout 3"
  else
    case $o in
      *"bad address"*|*"resolve host"*|*"Name or service not known"*|*"name resolution"*|*"Name does not resolve"*) echo "SECLAB dns" ;;
      *"timed out"*) echo "SECLAB timeout 3" ;;
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

// probeCommand is the argv that runs probeScript against url.
func probeCommand(url string) []string {
	return []string{"sh", "-c", probeScript, "seclab-probe", url}
}

// blockedOutcomes are the script outcomes that mean the connection did not
// get through. DNS failure is not among them: it says nothing about the
// policy between the two pods.
var blockedOutcomes = map[string]string{
	"timeout":     "connection timed out after %ss",
	"connect":     "connection failed (refused or unreachable)",
	"refused":     "connection refused",
	"unreachable": "host unreachable",
	"reset":       "connection reset",
}

func (c *connectivityCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return *r
	}
	if r := need(env.Exec != nil, "a pod exec client"); r != nil {
		return *r
	}
	// The target first: if it is not up, "blocked" would be a lie.
	url, host, res := c.target(ctx, env)
	if res != nil {
		return *res
	}
	pod, ctr, res := c.from.resolve(ctx, env)
	if res != nil {
		return *res
	}
	where := "pod " + pod.Namespace + "/" + pod.Name
	stdout, stderr, _, err := env.Exec.Exec(ctx, pod.Namespace, pod.Name, ctr, probeCommand(url), nil)
	if err != nil {
		if strings.Contains(err.Error(), "executable file not found") || strings.Contains(err.Error(), "no such file") {
			return final(errorf("cannot probe from %s: it has no sh (use a probe pod instead): %v", where, err))
		}
		return errorf("could not run the probe in %s: %v", where, err)
	}
	outcome, detail, ok := parseProbe(stdout)
	if !ok {
		return errorf("unexpected probe output from %s: %s", where, quote(strings.TrimSpace(stdout+"\n"+stderr), maxOutput))
	}
	expected := c.spec.Expect
	switch outcome {
	case "http":
		found := "HTTP " + detail + " (connection allowed)"
		if c.spec.Expect == ExpectAllowed {
			return passed(expected, found)
		}
		return failed(expected, found)
	case "dns":
		return errorf("DNS lookup of %s failed in %s, so the connection was never tried; if an egress NetworkPolicy selects this pod, it must also allow DNS (port 53 to kube-dns in kube-system)", host, where)
	case "notool":
		return final(errorf("cannot probe from %s: it has neither curl nor wget (use a probe pod instead)", where))
	}
	if f, ok := blockedOutcomes[outcome]; ok {
		found := f
		if strings.Contains(f, "%s") {
			found = fmt.Sprintf(f, detail)
		}
		if c.spec.Expect == ExpectBlocked {
			return passed(expected, found)
		}
		return failed(expected, found)
	}
	return errorf("the probe from %s failed in an unexpected way: %s", where, clip(strings.TrimSpace(outcome+" "+detail), maxOutput))
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

// target resolves where traffic goes and makes sure something is there to
// answer: a Service with ready endpoints or a Ready pod. Otherwise the
// check is an Error (never a "blocked" pass), saying what is missing.
func (c *connectivityCheck) target(ctx context.Context, env *Env) (url, host string, res *Result) {
	to := c.spec.To
	if to.Selector != "" {
		list, err := env.Client.CoreV1().Pods(to.Namespace).List(ctx, metav1.ListOptions{LabelSelector: to.Selector})
		if err != nil {
			r := errorf("could not list target pods %s in %s: %v", to.Selector, to.Namespace, err)
			return "", "", &r
		}
		pods := list.Items
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		for i := range pods {
			if podUsable(&pods[i]) && pods[i].Status.PodIP != "" {
				host = pods[i].Status.PodIP
				return "http://" + net.JoinHostPort(host, strconv.Itoa(to.Port)) + "/", host, nil
			}
		}
		if len(pods) == 0 {
			r := errorf("no target pod matches %s in %s%s", to.Selector, to.Namespace, namespaceHint(ctx, env, to.Namespace))
			return "", "", &r
		}
		r := errorf("no Ready target pod matches %s in %s: %s", to.Selector, to.Namespace, podsProblems(pods))
		return "", "", &r
	}

	name := to.Namespace + "/" + to.Service
	svc, err := env.Client.CoreV1().Services(to.Namespace).Get(ctx, to.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r := final(errorf("service %s not found%s", name, namespaceHint(ctx, env, to.Namespace)))
		return "", "", &r
	}
	if err != nil {
		r := errorf("could not read service %s: %v", name, err)
		return "", "", &r
	}
	var ports []string
	hasPort := false
	for _, p := range svc.Spec.Ports {
		hasPort = hasPort || int(p.Port) == to.Port
		ports = append(ports, strconv.Itoa(int(p.Port)))
	}
	if !hasPort {
		r := final(errorf("service %s has no port %d (its ports: %s)", name, to.Port, strings.Join(ports, ", ")))
		return "", "", &r
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		ready, err := readyEndpoints(ctx, env, svc)
		if err != nil {
			r := errorf("could not read the endpoints of service %s: %v", name, err)
			return "", "", &r
		}
		if ready == 0 {
			why, stuck := c.whyNoEndpoints(ctx, env, svc)
			r := errorf("service %s has no ready endpoints%s", name, why)
			if stuck {
				r = final(r)
			}
			return "", "", &r
		}
	}
	host = fmt.Sprintf("%s.%s.svc.cluster.local", to.Service, to.Namespace)
	return fmt.Sprintf("http://%s:%d/", host, to.Port), host, nil
}

// readyEndpoints counts the ready endpoints in the service's EndpointSlices.
// A nil Ready condition means ready (see the EndpointConditions docs).
func readyEndpoints(ctx context.Context, env *Env, svc *corev1.Service) (int, error) {
	sel := labels.Set{discoveryv1.LabelServiceName: svc.Name}.String()
	slices, err := env.Client.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n, nil
}

// whyNoEndpoints looks behind an empty service: usually its selector
// matches no pod, or the pods it matches are not Ready. stuck reports that
// every pod is stuck in a state that waiting will not fix.
func (c *connectivityCheck) whyNoEndpoints(ctx context.Context, env *Env, svc *corev1.Service) (why string, stuck bool) {
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
