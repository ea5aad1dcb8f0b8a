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

// attributeBlock turns an observed block that was expected into a verdict:
// a pass only when the policy direction under test can have caused it.
func attributeBlock(ctx context.Context, env *Env, iso *isolation, src *corev1.Pod, ep *endpoint, dir networkingv1.PolicyType, seen string) Result {
	expected := ExpectBlocked + " by " + strings.ToLower(string(dir)) + " policy"
	ingress, err := iso.isolating(ctx, ep.backends[0].pod, networkingv1.PolicyTypeIngress)
	if err != nil {
		return errorf("could not list NetworkPolicies in %s: %v", ep.backends[0].pod.Namespace, err)
	}
	egress, err := iso.isolating(ctx, src, networkingv1.PolicyTypeEgress)
	if err != nil {
		return errorf("could not list NetworkPolicies in %s: %v", src.Namespace, err)
	}
	target := "pod " + ep.backends[0].pod.Namespace + "/" + ep.backends[0].pod.Name
	source := "pod " + src.Namespace + "/" + src.Name
	under, other := ingress, egress
	underWho, otherWho := target, source
	otherDir := "egress"
	if dir == networkingv1.PolicyTypeEgress {
		under, other = egress, ingress
		underWho, otherWho = source, target
		otherDir = "ingress"
	}
	switch {
	case len(under) == 0:
		found := fmt.Sprintf("%s, but no NetworkPolicy selects %s for %s", seen, underWho, strings.ToLower(string(dir)))
		if len(other) > 0 {
			found += fmt.Sprintf("; the %s policy %s on %s blocked it instead", otherDir, strings.Join(other, ", "), otherWho)
		}
		return failed(expected, found)
	case len(other) > 0:
		return errorf("%s, but %s is also restricted by %s policy %s, so the block proves nothing about %s's %s: probe from a source no %s policy selects",
			seen, otherWho, otherDir, strings.Join(other, ", "), underWho, strings.ToLower(string(dir)), otherDir)
	}
	return passed(expected, fmt.Sprintf("%s (%s isolated by %s)", seen, underWho, strings.Join(under, ", ")))
}
