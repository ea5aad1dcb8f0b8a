package verify

import (
	"context"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// secretCheck compares a Secret's decoded data with the lab. Values are only
// ever shown for keys the lab declares: anything else in the Secret might be
// a real credential, so only its key name is printed.
type secretCheck struct {
	spec *SecretSpec
}

func (c *secretCheck) ref() string {
	return "Secret " + namespaceOr(c.spec.Namespace) + "/" + c.spec.Name
}

func (c *secretCheck) describe() string {
	var parts []string
	if c.spec.Type != "" {
		parts = append(parts, "is of type "+c.spec.Type)
	}
	if len(c.spec.Data) > 0 {
		what := "has " + strings.Join(secretKeys(c.spec.Data), ", ")
		if c.spec.OnlyKeys {
			what += " (only)"
		}
		parts = append(parts, what)
	}
	return c.ref() + " " + strings.Join(parts, " and ")
}

func (c *secretCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return *r
	}
	ns := namespaceOr(c.spec.Namespace)
	var want []string
	if c.spec.Type != "" {
		want = append(want, "type = "+strconv.Quote(c.spec.Type))
	}
	for _, k := range secretKeys(c.spec.Data) {
		want = append(want, "key "+strconv.Quote(k)+" = "+quote(c.spec.Data[k], maxValue))
	}
	if c.spec.OnlyKeys {
		want = append(want, "no other keys")
	}
	expected := strings.Join(want, "\n")

	sec, err := env.Client.CoreV1().Secrets(ns).Get(ctx, c.spec.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return failed(c.ref()+" exists", "not found"+namespaceHint(ctx, env, ns))
	}
	if err != nil {
		return errorf("could not read %s: %v", c.ref(), err)
	}

	var got []string
	if c.spec.Type != "" && string(sec.Type) != c.spec.Type {
		got = append(got, "type = "+strconv.Quote(string(sec.Type)))
	}
	present := make([]string, 0, len(sec.Data))
	for k := range sec.Data {
		present = append(present, k)
	}
	sort.Strings(present)
	for _, k := range secretKeys(c.spec.Data) {
		v, ok := sec.Data[k]
		switch {
		case !ok:
			keys := "none"
			if len(present) > 0 {
				keys = strings.Join(present, ", ")
			}
			got = append(got, "key "+strconv.Quote(k)+" missing; keys present: "+keys)
		case string(v) != c.spec.Data[k]:
			got = append(got, "key "+strconv.Quote(k)+" = "+quote(string(v), maxValue))
		}
	}
	if c.spec.OnlyKeys {
		var extra []string
		for _, k := range present {
			if _, ok := c.spec.Data[k]; !ok {
				extra = append(extra, k) // the name only, never the value
			}
		}
		if len(extra) > 0 {
			got = append(got, "extra keys: "+strings.Join(extra, ", "))
		}
	}
	if len(got) > 0 {
		return failed(expected, strings.Join(got, "\n"))
	}
	return passed(expected, "it matches")
}

func secretKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
