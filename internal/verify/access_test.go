package verify

import (
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// sarReactor answers SubjectAccessReviews with status and records the spec.
func sarReactor(t *testing.T, env *Env, cs interface {
	PrependReactor(string, string, k8stesting.ReactionFunc)
}, status authorizationv1.SubjectAccessReviewStatus) *[]authorizationv1.SubjectAccessReviewSpec {
	var seen []authorizationv1.SubjectAccessReviewSpec
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		seen = append(seen, sar.Spec)
		sar.Status = status
		return true, sar, nil
	})
	return &seen
}

func TestAccessServiceAccountGroups(t *testing.T) {
	env, cs := testEnv()
	seen := sarReactor(t, env, cs, authorizationv1.SubjectAccessReviewStatus{Allowed: false})
	r := quick(t, env, Spec{Access: &AccessSpec{
		ServiceAccount: "n287/app", Verb: "list", Resource: "secrets", Namespace: "n287", Expect: ExpectDenied,
	}})
	wantStatus(t, r, Pass)
	if len(*seen) != 1 {
		t.Fatalf("reviews = %d", len(*seen))
	}
	s := (*seen)[0]
	if s.User != "system:serviceaccount:n287:app" {
		t.Errorf("user = %q", s.User)
	}
	if got := strings.Join(s.Groups, ","); got != "system:serviceaccounts,system:serviceaccounts:n287,system:authenticated" {
		t.Errorf("groups = %s", got)
	}
	ra := s.ResourceAttributes
	if ra == nil || ra.Verb != "list" || ra.Resource != "secrets" || ra.Namespace != "n287" || ra.Group != "" {
		t.Errorf("resource attributes = %+v", ra)
	}
	if r.Found != "denied (no RBAC rule grants it)" {
		t.Errorf("found = %q", r.Found)
	}
}

func TestAccessAllowedWhenDenialExpected(t *testing.T) {
	env, cs := testEnv()
	reason := `RBAC: allowed by ClusterRoleBinding "too-much" of ClusterRole "cluster-admin" to ServiceAccount "app/n287"`
	sarReactor(t, env, cs, authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: reason})
	r := quick(t, env, Spec{Access: &AccessSpec{
		ServiceAccount: "n287/app", Verb: "delete", Resource: "pods", Subresource: "exec", Namespace: "n287", Expect: ExpectDenied,
	}})
	wantStatus(t, r, Fail)
	if r.Found != "allowed ("+reason+")" {
		t.Errorf("found = %q", r.Found)
	}
	if r.Expected != "denied: serviceaccount n287/app may not delete pods/exec in n287" {
		t.Errorf("expected = %q", r.Expected)
	}
}

func TestAccessUser(t *testing.T) {
	env, cs := testEnv()
	seen := sarReactor(t, env, cs, authorizationv1.SubjectAccessReviewStatus{Allowed: false, Reason: "", EvaluationError: "role not found"})
	r := quick(t, env, Spec{Access: &AccessSpec{
		User: "jane", Groups: []string{"devs"}, Verb: "create", Group: "apps", Resource: "deployments", Expect: ExpectAllowed,
	}})
	wantStatus(t, r, Fail)
	if r.Found != "denied (evaluation error: role not found)" {
		t.Errorf("found = %q", r.Found)
	}
	s := (*seen)[0]
	if s.User != "jane" || strings.Join(s.Groups, ",") != "devs,system:authenticated" || s.ResourceAttributes.Group != "apps" {
		t.Errorf("spec = %+v", s)
	}
	if r.Name != "user jane can create deployments.apps cluster-wide" {
		t.Errorf("name = %q", r.Name)
	}
}

// A denial for a ServiceAccount that does not exist says so: the likelier
// mistake is the missing account, not the rule.
func TestAccessDeniedNamesMissingServiceAccount(t *testing.T) {
	spec := Spec{Access: &AccessSpec{ServiceAccount: "n287/app", Verb: "list", Resource: "pods", Namespace: "n287", Expect: ExpectAllowed}}
	env, cs := testEnv()
	sarReactor(t, env, cs, authorizationv1.SubjectAccessReviewStatus{Allowed: false})
	r := quick(t, env, spec)
	wantStatus(t, r, Fail)
	if r.Found != "denied (no RBAC rule grants it) (serviceaccount n287/app does not exist (namespace n287 does not exist))" {
		t.Errorf("found = %q", r.Found)
	}

	env, cs = testEnv(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n287"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "n287", Name: "app"}})
	sarReactor(t, env, cs, authorizationv1.SubjectAccessReviewStatus{Allowed: false})
	r = quick(t, env, spec)
	wantStatus(t, r, Fail)
	if r.Found != "denied (no RBAC rule grants it)" {
		t.Errorf("found with the account present = %q", r.Found)
	}
}
