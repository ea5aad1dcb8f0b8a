package verify

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// apiCall is one request the fake API server received.
type apiCall struct {
	Method, Path, Query, Auth, Impersonate, ContentType string
	Body                                                map[string]any
}

// fakeAPI is an API server that answers every request with reply and
// records it. Its clients come from tokenClients, as in NewEnv.
type fakeAPI struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []apiCall
}

// newFakeAPI serves plain HTTP: a TLS handshake can outlast the short
// deadlines of these tests on a busy machine. newTLSFakeAPI is for the
// one test that needs TLS.
func newFakeAPI(t *testing.T, reply func(apiCall) (int, any)) *fakeAPI {
	return startFakeAPI(t, false, reply)
}

func newTLSFakeAPI(t *testing.T, reply func(apiCall) (int, any)) *fakeAPI {
	return startFakeAPI(t, true, reply)
}

func startFakeAPI(t *testing.T, useTLS bool, reply func(apiCall) (int, any)) *fakeAPI {
	f := &fakeAPI{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := apiCall{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"),
			Impersonate: r.Header.Get("Impersonate-User"), ContentType: r.Header.Get("Content-Type")}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &c.Body); err != nil {
				t.Errorf("body is not JSON: %s", b)
			}
		}
		f.mu.Lock()
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		code, body := reply(c)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}))
	if useTLS {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) Calls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.calls...)
}

// config is what seclab holds for the cluster: admin credentials that a
// token client must not pass on, and the CA it must keep.
func (f *fakeAPI) config() *rest.Config {
	var ca []byte
	if f.srv.TLS != nil {
		ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	}
	return &rest.Config{
		Host:            f.srv.URL,
		QPS:             50, // as NewEnv sets it
		BearerToken:     "admin-token",
		Impersonate:     rest.ImpersonationConfig{UserName: "admin"},
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
	}
}

// status is the body of an API error.
func status(code int, reason metav1.StatusReason, msg string) (int, any) {
	return code, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg}
}

// authzDenial is the authorizer's 403, worded as the API server words it.
func authzDenial(user, verb, resource, ns string) (int, any) {
	return status(http.StatusForbidden, metav1.StatusReasonForbidden, fmt.Sprintf(
		"%s is forbidden: User %q cannot %s resource %q in API group \"\" in the namespace %q", resource, user, verb, resource, ns))
}

// tokenEnv is an Env whose clientset issues tokens for the service
// accounts among objs (NotFound for others), recording each TokenRequest,
// and whose token clients talk to api.
func tokenEnv(api *fakeAPI, objs ...runtime.Object) (*Env, *[]*authenticationv1.TokenRequest) {
	env, cs := testEnv(objs...)
	env.AsToken = tokenClients(api.config())
	env.Interval = 10 * time.Millisecond
	var mu sync.Mutex
	var seen []*authenticationv1.TokenRequest
	cs.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateAction)
		if ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		name := ca.(k8stesting.CreateActionImpl).Name
		if _, err := cs.Tracker().Get(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, ca.GetNamespace(), name); err != nil {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
		}
		tr := ca.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		mu.Lock()
		seen = append(seen, tr)
		n := len(seen)
		mu.Unlock()
		tr.Status.Token = fmt.Sprintf("token-%s-%s-%d", ca.GetNamespace(), name, n)
		return true, tr, nil
	})
	return env, &seen
}

func appAccount() runtime.Object {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "rbac-lab", Name: "app"}}
}

func requestSpec(verb string, res RequestResource, expect string) Spec {
	return Spec{Request: &RequestSpec{As: RequestSubject{ServiceAccount: "rbac-lab/app"}, Verb: verb, Resource: res, Expect: expect}}
}

var labPods = RequestResource{APIVersion: "v1", Resource: "pods", Namespace: "rbac-lab"}

// A list goes out with the account's token and nothing of seclab's own
// credentials (over TLS, trusting the cluster's CA), to the namespaced
// collection, and a 200 is "allowed".
func TestRequestListAllowed(t *testing.T) {
	api := newTLSFakeAPI(t, func(apiCall) (int, any) {
		return http.StatusOK, map[string]any{"kind": "PodList", "apiVersion": "v1", "items": []any{}}
	})
	env, tokens := tokenEnv(api, appAccount())
	s := requestSpec(VerbList, labPods, ExpectAllowed)
	s.Timeout = "30s" // a pass returns at once; the handshake may be slow
	r := quick(t, env, s)
	wantStatus(t, r, Pass)
	if r.Found != "allowed (HTTP 200)" {
		t.Errorf("found = %q", r.Found)
	}
	if r.Name != "a request as serviceaccount rbac-lab/app to list pods in rbac-lab is allowed" {
		t.Errorf("name = %q", r.Name)
	}
	if len(*tokens) != 1 || (*tokens)[0].Spec.ExpirationSeconds == nil || *(*tokens)[0].Spec.ExpirationSeconds != 600 {
		t.Fatalf("token requests = %+v", *tokens)
	}
	calls := api.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls = %+v", calls)
	}
	c := calls[0]
	if c.Method != http.MethodGet || c.Path != "/api/v1/namespaces/rbac-lab/pods" || c.Query != "limit=1" {
		t.Errorf("request = %s %s?%s", c.Method, c.Path, c.Query)
	}
	if c.Auth != "Bearer token-rbac-lab-app-1" || c.Impersonate != "" {
		t.Errorf("authorization = %q, impersonate = %q; want only the account's token", c.Auth, c.Impersonate)
	}
}

func TestRequestForbiddenByAuthorizer(t *testing.T) {
	api := newFakeAPI(t, func(apiCall) (int, any) {
		return authzDenial("system:serviceaccount:rbac-lab:app", "get", "secrets", "rbac-lab")
	})
	env, _ := tokenEnv(api, appAccount())
	secret := RequestResource{APIVersion: "v1", Resource: "secrets", Namespace: "rbac-lab", Name: "db"}

	r := quick(t, env, requestSpec(VerbGet, secret, ExpectForbidden))
	wantStatus(t, r, Pass)
	if got := api.Calls()[0].Path; got != "/api/v1/namespaces/rbac-lab/secrets/db" {
		t.Errorf("path = %s", got)
	}
	wantContains(t, "found", r.Found, `forbidden (HTTP 403: secrets is forbidden: User "system:serviceaccount:rbac-lab:app" cannot get resource "secrets"`)

	r = quick(t, env, requestSpec(VerbGet, secret, ExpectAllowed))
	wantStatus(t, r, Fail)
	if r.Expected != "allowed: serviceaccount rbac-lab/app may get secrets db in rbac-lab (a real request with its token)" {
		t.Errorf("expected = %q", r.Expected)
	}
	wantContains(t, "found", r.Found, "forbidden (HTTP 403: ")
}

// The failure a learner sees when the account still may do too much.
func TestRequestAllowedWhenForbiddenExpected(t *testing.T) {
	api := newFakeAPI(t, func(apiCall) (int, any) {
		return http.StatusOK, map[string]any{"kind": "SecretList", "apiVersion": "v1", "items": []any{}}
	})
	env, tokens := tokenEnv(api, appAccount())
	r := quick(t, env, requestSpec(VerbList, RequestResource{APIVersion: "v1", Resource: "secrets", Namespace: "rbac-lab"}, ExpectForbidden))
	wantStatus(t, r, Fail)
	if r.Expected != "forbidden: serviceaccount rbac-lab/app may not list secrets in rbac-lab (a real request with its token)" {
		t.Errorf("expected = %q", r.Expected)
	}
	if r.Found != "allowed (HTTP 200)" {
		t.Errorf("found = %q", r.Found)
	}
	// Polled until the deadline on one token.
	if r.Attempts < 2 || len(*tokens) != 1 {
		t.Errorf("attempts = %d, token requests = %d; want several attempts on one token", r.Attempts, len(*tokens))
	}
}

// A create is a dry run of the lab's object in the request's namespace.
func TestRequestCreateIsDryRun(t *testing.T) {
	api := newFakeAPI(t, func(c apiCall) (int, any) { return http.StatusCreated, c.Body })
	env, _ := tokenEnv(api, appAccount())
	s := requestSpec(VerbCreate, labPods, ExpectForbidden)
	s.Request.Object = map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "probe"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox:1.36"}}}}
	r := quick(t, env, s)
	wantStatus(t, r, Fail)
	if r.Found != "allowed (HTTP 201; a dry run, so nothing was created)" {
		t.Errorf("found = %q", r.Found)
	}
	c := api.Calls()[0]
	if c.Method != http.MethodPost || c.Path != "/api/v1/namespaces/rbac-lab/pods" || c.Query != "dryRun=All" || c.ContentType != "application/json" {
		t.Errorf("request = %s %s?%s (%s)", c.Method, c.Path, c.Query, c.ContentType)
	}
	md, _ := c.Body["metadata"].(map[string]any)
	if md["name"] != "probe" || md["namespace"] != "rbac-lab" || c.Body["kind"] != "Pod" {
		t.Errorf("body = %v", c.Body)
	}
}

func TestRequestPaths(t *testing.T) {
	for _, tc := range []struct {
		res  RequestResource
		verb string
		path string
		name string
	}{
		{RequestResource{APIVersion: "v1", Resource: "nodes"}, VerbList, "/api/v1/nodes", "list nodes cluster-wide"},
		{RequestResource{APIVersion: "v1", Resource: "pods"}, VerbList, "/api/v1/pods", "list pods cluster-wide"},
		{RequestResource{APIVersion: "apps/v1", Resource: "deployments", Namespace: "web", Name: "api"}, VerbGet, "/apis/apps/v1/namespaces/web/deployments/api", "get deployments.apps api in web"},
	} {
		api := newFakeAPI(t, func(apiCall) (int, any) { return http.StatusOK, map[string]any{} })
		env, _ := tokenEnv(api, appAccount())
		r := quick(t, env, requestSpec(tc.verb, tc.res, ExpectAllowed))
		wantStatus(t, r, Pass)
		if got := api.Calls()[0].Path; got != tc.path {
			t.Errorf("%s: path = %s, want %s", tc.name, got, tc.path)
		}
		wantContains(t, "name", r.Name, " to "+tc.name+" is allowed")
	}
}

// What cannot tell allowed from forbidden is an error, never a verdict.
func TestRequestCannotTell(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func() (int, any)
		want  string
	}{
		{"admission's 403", func() (int, any) {
			return status(http.StatusForbidden, metav1.StatusReasonForbidden, `pods "probe" is forbidden: violates PodSecurity "restricted:latest": privileged`)
		}, "not the authorizer's refusal of system:serviceaccount:rbac-lab:app"},
		{"another account's 403", func() (int, any) {
			return authzDenial("system:serviceaccount:rbac-lab:other", "list", "pods", "rbac-lab")
		}, "not the authorizer's refusal"},
		{"a missing object", func() (int, any) {
			return status(http.StatusNotFound, metav1.StatusReasonNotFound, `pods "web" not found`)
		}, "HTTP 404 for the request as serviceaccount rbac-lab/app to list pods in rbac-lab"},
		{"a token not accepted", func() (int, any) {
			return status(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
		}, "did not accept serviceaccount rbac-lab/app's token (HTTP 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(apiCall) (int, any) { return tc.reply() })
			env, _ := tokenEnv(api, appAccount())
			for _, expect := range []string{ExpectAllowed, ExpectForbidden} {
				r := quick(t, env, requestSpec(VerbList, labPods, expect))
				wantStatus(t, r, Error)
				wantContains(t, "found", r.Found, tc.want)
			}
		})
	}
}

// A rejected token is dropped: the account may have been recreated, which
// invalidates its old tokens.
func TestRequestNewTokenAfter401(t *testing.T) {
	api := newFakeAPI(t, func(c apiCall) (int, any) {
		if c.Auth == "Bearer token-rbac-lab-app-1" {
			return status(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
		}
		return http.StatusOK, map[string]any{}
	})
	env, tokens := tokenEnv(api, appAccount())
	r := quick(t, env, requestSpec(VerbList, labPods, ExpectAllowed))
	wantStatus(t, r, Pass)
	if len(*tokens) != 2 {
		t.Errorf("token requests = %d, want 2", len(*tokens))
	}
}

func TestRequestUnreachable(t *testing.T) {
	api := newFakeAPI(t, func(apiCall) (int, any) { return http.StatusOK, map[string]any{} })
	env, _ := tokenEnv(api, appAccount())
	api.srv.Close()
	r := quick(t, env, requestSpec(VerbList, labPods, ExpectForbidden))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "could not send the request as serviceaccount rbac-lab/app to list pods in rbac-lab")
}

// Without the account there is no token to try: a failure that says so.
func TestRequestMissingServiceAccount(t *testing.T) {
	api := newFakeAPI(t, func(apiCall) (int, any) { return http.StatusOK, map[string]any{} })
	env, _ := tokenEnv(api)
	r := quick(t, env, requestSpec(VerbList, labPods, ExpectForbidden))
	wantStatus(t, r, Fail)
	if r.Found != "serviceaccount rbac-lab/app does not exist (namespace rbac-lab does not exist), so nothing can be sent as it (recreate it)" {
		t.Errorf("found = %q", r.Found)
	}
	if len(api.Calls()) != 0 {
		t.Errorf("sent %d requests without a token", len(api.Calls()))
	}
}

func TestRequestNeedsTokenClients(t *testing.T) {
	env, _ := testEnv(appAccount())
	r := quick(t, env, requestSpec(VerbList, labPods, ExpectAllowed))
	wantStatus(t, r, Error)
	wantContains(t, "found", r.Found, "a client for service account tokens is missing")
}

func TestRequestValidate(t *testing.T) {
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"generateName": "p-"}}
	ok := []RequestSpec{
		{As: RequestSubject{"a/b"}, Verb: VerbList, Resource: RequestResource{APIVersion: "v1", Resource: "nodes"}, Expect: ExpectForbidden},
		{As: RequestSubject{"a/b"}, Verb: VerbGet, Resource: RequestResource{APIVersion: "apps/v1", Resource: "deployments", Namespace: "a", Name: "web"}, Expect: ExpectAllowed},
		{As: RequestSubject{"a/b"}, Verb: VerbCreate, Resource: RequestResource{APIVersion: "v1", Resource: "pods", Namespace: "a"}, Object: pod, Expect: ExpectAllowed},
	}
	for _, r := range ok {
		if errs := (Spec{Request: &r}).Validate(); len(errs) > 0 {
			t.Errorf("%+v: %v", r, errs)
		}
	}
	for _, tc := range []struct {
		spec RequestSpec
		want []string
	}{
		{RequestSpec{}, []string{
			"request.as.serviceAccount: required", "request.resource.apiVersion: required", "request.resource.resource: required",
			`request.verb: "" is not one of get, list, create`, `request.expect: "" is not one of allowed, forbidden`}},
		{RequestSpec{As: RequestSubject{"app"}, Verb: "delete", Resource: RequestResource{APIVersion: "apps/", Resource: "Pods/exec"}, Expect: "denied"}, []string{
			`request.as.serviceAccount: want namespace/name, got "app"`, `request.resource.apiVersion: "apps/" is not an API version`,
			`request.resource.resource: want the plural name in the URL (pods, secrets, deployments), got "Pods/exec"`,
			`request.verb: "delete" is not one of`, `request.expect: "denied" is not one of allowed, forbidden`}},
		{RequestSpec{As: RequestSubject{"a/b"}, Verb: VerbGet, Resource: RequestResource{APIVersion: "v1", Resource: "pods", Namespace: "a/b"}, Object: pod, Expect: ExpectAllowed}, []string{
			"request.resource.name: required for get", `request.resource.namespace: "a/b"`, "request.object: only create sends an object"}},
		{RequestSpec{As: RequestSubject{"a/b"}, Verb: VerbList, Resource: RequestResource{APIVersion: "v1", Resource: "pods", Name: "x"}, Expect: ExpectAllowed}, []string{
			"request.resource.name: list asks for the whole collection"}},
		{RequestSpec{As: RequestSubject{"a/b"}, Verb: VerbCreate, Resource: RequestResource{APIVersion: "v1", Resource: "pods", Namespace: "a", Name: "x"}, Expect: ExpectAllowed}, []string{
			"request.resource.name: create names its object in object.metadata", "request.object: required for create"}},
		{RequestSpec{As: RequestSubject{"a/b"}, Verb: VerbCreate, Resource: RequestResource{APIVersion: "v1", Resource: "pods", Namespace: "a"},
			Object: map[string]any{"apiVersion": "apps/v1", "metadata": map[string]any{"namespace": "b"}}, Expect: ExpectAllowed}, []string{
			`request.object.apiVersion: want "v1", as resource.apiVersion, got "apps/v1"`, "request.object.kind: required",
			"request.object.metadata: set name or generateName", `request.object.metadata.namespace: "b" differs from resource.namespace "a"`}},
	} {
		errs := Spec{Request: &tc.spec}.Validate()
		got := strings.Join(errs, "\n")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v:\n%s\n  want a problem containing %q", tc.spec, got, w)
			}
		}
		if len(errs) != len(tc.want) {
			t.Errorf("%+v: %d problems, want %d:\n%s", tc.spec, len(errs), len(tc.want), got)
		}
	}
}
