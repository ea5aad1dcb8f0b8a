package verify

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// isolation tells which NetworkPolicies isolate pods, so a blocked
// connection can be attributed: to the target's ingress (what ingress
// lessons teach), or possibly to the source's own egress (then the block
// proves nothing about the target). It reads policies per namespace once
// per check attempt.
type isolation struct {
	env  *Env
	byNS map[string][]networkingv1.NetworkPolicy
}

func newIsolation(env *Env) *isolation {
	return &isolation{env: env, byNS: map[string][]networkingv1.NetworkPolicy{}}
}

func (s *isolation) policies(ctx context.Context, ns string) ([]networkingv1.NetworkPolicy, error) {
	if p, ok := s.byNS[ns]; ok {
		return p, nil
	}
	list, err := s.env.Client.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	s.byNS[ns] = list.Items
	return list.Items, nil
}

// isolating returns the names of the policies that select pod for the
// given direction (an isolated pod only gets what some policy allows).
func (s *isolation) isolating(ctx context.Context, pod *corev1.Pod, dir networkingv1.PolicyType) ([]string, error) {
	pols, err := s.policies(ctx, pod.Namespace)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range pols {
		if !hasPolicyType(&p, dir) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			continue // the API server rejects such policies; nothing to enforce
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			names = append(names, p.Namespace+"/"+p.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// hasPolicyType applies the API's defaulting of policyTypes: Ingress always,
// Egress when the policy has egress rules.
func hasPolicyType(p *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress || (t == networkingv1.PolicyTypeEgress && len(p.Spec.Egress) > 0)
	}
	for _, pt := range p.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}
