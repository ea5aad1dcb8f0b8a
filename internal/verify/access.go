package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// accessCheck asks the API server's authorizer (SubjectAccessReview), the
// same question `kubectl auth can-i --as` asks, so RBAC is judged by the
// real evaluator rather than by reading Roles back.
type accessCheck struct {
	spec *AccessSpec
}

func (c *accessCheck) subject() string {
	if c.spec.ServiceAccount != "" {
		return "serviceaccount " + c.spec.ServiceAccount
	}
	return "user " + c.spec.User
}

// action renders "list secrets in n287", "get pods/exec web in n287".
func (c *accessCheck) action() string {
	a := c.spec
	res := a.Resource
	if a.Group != "" {
		res += "." + a.Group
	}
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	s := a.Verb + " " + res
	if a.Name != "" {
		s += " " + a.Name
	}
	if a.Namespace != "" {
		s += " in " + a.Namespace
	} else {
		s += " cluster-wide"
	}
	return s
}

func (c *accessCheck) describe() string {
	can := "can"
	if c.spec.Expect == ExpectDenied {
		can = "cannot"
	}
	return c.subject() + " " + can + " " + c.action()
}

// review builds the SubjectAccessReview. A service account carries the
// groups the API server gives its tokens; a user gets system:authenticated
// like `kubectl --as` impersonation does, so bindings to all authenticated
// users count for both.
func (c *accessCheck) review() *authorizationv1.SubjectAccessReview {
	a := c.spec
	user, groups := a.User, slices.Clone(a.Groups)
	if a.ServiceAccount != "" {
		ns, name, _ := strings.Cut(a.ServiceAccount, "/")
		user = "system:serviceaccount:" + ns + ":" + name
		groups = append(groups, "system:serviceaccounts", "system:serviceaccounts:"+ns)
	}
	if user != "system:anonymous" && !slices.Contains(groups, "system:authenticated") {
		groups = append(groups, "system:authenticated")
	}
	return &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace:   a.Namespace,
				Verb:        a.Verb,
				Group:       a.Group,
				Resource:    a.Resource,
				Subresource: a.Subresource,
				Name:        a.Name,
			},
		},
	}
}

func (c *accessCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return *r
	}
	got, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, c.review(), metav1.CreateOptions{})
	if err != nil {
		return errorf("could not ask the API server whether %s may %s: %v", c.subject(), c.action(), err)
	}
	st := got.Status
	verdict := "denied"
	if st.Allowed {
		verdict = "allowed"
	}
	why := st.Reason
	if st.EvaluationError != "" {
		if why != "" {
			why += "; "
		}
		why += "evaluation error: " + st.EvaluationError
	}
	if why == "" && !st.Allowed {
		why = "no RBAC rule grants it"
	}
	found := verdict
	if why != "" {
		found = fmt.Sprintf("%s (%s)", verdict, why)
	}
	expected := c.spec.Expect + ": " + c.subject() + " may " + c.action()
	if c.spec.Expect == ExpectDenied {
		expected = c.spec.Expect + ": " + c.subject() + " may not " + c.action()
	}
	if verdict == c.spec.Expect {
		return passed(expected, found)
	}
	// The authorizer judges a name, not an account: a ServiceAccount the
	// learner never created is simply denied, a Fail like any other, so
	// say why (a missing account is a likelier mistake than a bad rule).
	if !st.Allowed {
		found += c.missingServiceAccount(ctx, env)
	}
	return failed(expected, found)
}

// missingServiceAccount is a hint for a denial: " (serviceaccount ns/name
// does not exist)" when it does not, else "".
func (c *accessCheck) missingServiceAccount(ctx context.Context, env *Env) string {
	if c.spec.ServiceAccount == "" {
		return ""
	}
	ns, name, _ := strings.Cut(c.spec.ServiceAccount, "/")
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return " (serviceaccount " + c.spec.ServiceAccount + " does not exist" + namespaceHint(ctx, env, ns) + ")"
	}
	return ""
}
