package engine

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/verify"
)

//go:embed canary/networkpolicy.yaml
var netpolCanaryYAML []byte

// canary is a before/after experiment: with objects in place the before
// check must pass; after applying policy the after check must pass.
type canary struct {
	Objects []map[string]any `json:"objects"`
	Policy  map[string]any   `json:"policy"`
	Before  verify.Spec      `json:"before"`
	After   verify.Spec      `json:"after"`
}

// ErrPolicyNotEnforced is returned when the CNI ignores NetworkPolicy.
type ErrPolicyNotEnforced struct{ Found string }

func (e *ErrPolicyNotEnforced) Error() string {
	return "this cluster's CNI does not enforce NetworkPolicy (a deny-all policy left traffic flowing: " + e.Found +
		"); the netpol lab needs the seclab node image (make images) — kindnet's policy mode needs nfqueue, which this kernel lacks"
}

func (e *Engine) runPreflight(ctx context.Context, env *verify.Env, name string) error {
	switch name {
	case "networkpolicy":
		return e.netpolCanary(ctx, env)
	}
	return fmt.Errorf("unknown preflight %q (known: %v)", name, catalog.Preflights)
}

func (e *Engine) netpolCanary(ctx context.Context, env *verify.Env) error {
	var c canary
	if err := yaml.UnmarshalStrict(netpolCanaryYAML, &c); err != nil {
		return fmt.Errorf("canary definition: %w", err)
	}
	var objs []*unstructured.Unstructured
	for _, o := range c.Objects {
		objs = append(objs, &unstructured.Unstructured{Object: o})
	}
	policy := &unstructured.Unstructured{Object: c.Policy}
	e.Log.Info("checking that the CNI enforces NetworkPolicy")
	start := time.Now()
	ns := objs[0]
	// Whatever happens, leave no canary behind (a fresh context: ctx may be
	// cancelled already).
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := deleteObjects(cctx, env, []*unstructured.Unstructured{ns}); err != nil {
			e.Log.Warn("could not delete the canary namespace", "err", err)
		}
	}()
	if err := deleteObjects(ctx, env, []*unstructured.Unstructured{ns}); err != nil {
		return err
	}
	if err := applyObjects(ctx, env, objs); err != nil {
		return fmt.Errorf("NetworkPolicy canary: %w", err)
	}
	if r := verify.Run(ctx, env, c.Before); r.Status != verify.Pass {
		return fmt.Errorf("NetworkPolicy canary: pod networking does not work before any policy: %s (expected %s, found %s)", r.Name, r.Expected, r.Found)
	}
	if err := applyObjects(ctx, env, []*unstructured.Unstructured{policy}); err != nil {
		return fmt.Errorf("NetworkPolicy canary: %w", err)
	}
	r := verify.Run(ctx, env, c.After)
	switch r.Status {
	case verify.Pass:
		e.Log.Info("NetworkPolicy is enforced", "took", time.Since(start).Round(100*time.Millisecond))
		return nil
	case verify.Fail:
		return &ErrPolicyNotEnforced{Found: r.Found}
	default:
		return fmt.Errorf("NetworkPolicy canary could not tell: %s", r.Found)
	}
}
