package verify

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
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

func (c *connectivityCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return *r
	}
	if r := need(env.Exec != nil, "a pod exec client"); r != nil {
		return *r
	}
	// The target first: if it does not answer at all, "blocked" would be a lie.
	ep, res := resolveEndpoint(ctx, env, c.spec.To)
	if res != nil {
		return *res
	}
	if res := baseline(ctx, env, ep); res != nil {
		return *res
	}
	pod, ctr, res := c.from.resolve(ctx, env)
	if res != nil {
		return *res
	}
	obs := observe(ctx, env, pod, ctr, ep)
	expected := c.spec.Expect
	if expected == ExpectBlocked {
		expected = blockedBy(c.spec.direction())
	}
	switch obs.state {
	case reachAllowed:
		found := obs.seen + " (connection allowed)"
		if c.spec.Expect == ExpectAllowed {
			return passed(expected, found)
		}
		return failed(expected, found)
	case reachBlocked:
		if c.spec.Expect == ExpectAllowed {
			return failed(expected, obs.seen)
		}
		return attributeBlock(ctx, env, newIsolation(env), pod, ep, c.spec.direction(), obs.seen)
	}
	r := errorf("%s", obs.why)
	if obs.final {
		r = final(r)
	}
	return r
}

// blockedBy is what an expected block must be: one the policy caused.
func blockedBy(dir networkingv1.PolicyType) string {
	return ExpectBlocked + " by " + strings.ToLower(string(dir)) + " policy"
}

// attributeBlock turns an observed block that was expected into a verdict:
// a pass only when the policy direction under test can have caused it.
func attributeBlock(ctx context.Context, env *Env, iso *isolation, src *corev1.Pod, ep *endpoint, dir networkingv1.PolicyType, seen string) Result {
	expected := blockedBy(dir)
	// Traffic to a Service may have gone to any of its pods: the target
	// is isolated only when every one is, and restricted when any is.
	var isolatedBy []string
	var isolatedPod, openPod *corev1.Pod
	for _, b := range ep.backends {
		names, err := iso.isolating(ctx, b.pod, networkingv1.PolicyTypeIngress)
		if err != nil {
			return errorf("could not list NetworkPolicies in %s: %v", b.pod.Namespace, err)
		}
		switch {
		case len(names) == 0 && openPod == nil:
			openPod = b.pod
		case len(names) > 0 && isolatedPod == nil:
			isolatedPod, isolatedBy = b.pod, names
		}
	}
	egress, err := iso.isolating(ctx, src, networkingv1.PolicyTypeEgress)
	if err != nil {
		return errorf("could not list NetworkPolicies in %s: %v", src.Namespace, err)
	}
	podName := func(p *corev1.Pod) string {
		if p == nil {
			return "" // only named when it has policies
		}
		return "pod " + p.Namespace + "/" + p.Name
	}
	source := podName(src)
	under, underWho := isolatedBy, podName(isolatedPod)
	if openPod != nil {
		under, underWho = nil, podName(openPod)
	}
	other, otherWho, otherDir := egress, source, "egress"
	if dir == networkingv1.PolicyTypeEgress {
		under, underWho = egress, source
		other, otherWho, otherDir = isolatedBy, podName(isolatedPod), "ingress"
	}
	switch {
	case len(under) == 0:
		found := fmt.Sprintf("%s, but no NetworkPolicy selects %s for %s", seen, underWho, strings.ToLower(string(dir)))
		if len(other) > 0 {
			found += fmt.Sprintf("; the %s policy %s on %s blocked it instead", otherDir, strings.Join(other, ", "), otherWho)
		}
		return failed(expected, found)
	case len(other) > 0:
		hint := "probe from a source no egress policy selects"
		if dir == networkingv1.PolicyTypeEgress {
			hint = "probe a target no ingress policy selects"
		}
		return errorf("%s, but %s is also restricted by %s policy %s, so the block proves nothing about %s's %s: %s",
			seen, otherWho, otherDir, strings.Join(other, ", "), underWho, strings.ToLower(string(dir)), hint)
	}
	return passed(expected, fmt.Sprintf("%s (%s isolated by %s)", seen, underWho, strings.Join(under, ", ")))
}
