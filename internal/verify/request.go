package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// tokenSeconds is the lifetime asked of a TokenRequest: the API server's
// minimum, far longer than a check polls.
const tokenSeconds = 600

// requestCheck does what `access` only asks about: it sends the request
// with the service account's own credentials, so the verdict is the API
// server's whole chain (authentication, every authorizer) acting on a real
// token, as the workload's stolen token would be used.
type requestCheck struct {
	spec *RequestSpec
	// The token and its client are reused across one Run's attempts.
	token  string
	client rest.Interface
}

func (c *requestCheck) subject() string { return "serviceaccount " + c.spec.As.ServiceAccount }

// user is the name the API server gives the account's tokens.
func (c *requestCheck) user() string {
	ns, name, _ := strings.Cut(c.spec.As.ServiceAccount, "/")
	return "system:serviceaccount:" + ns + ":" + name
}

func (c *requestCheck) groupVersion() schema.GroupVersion {
	gv, _ := schema.ParseGroupVersion(c.spec.Resource.APIVersion) // Validate has checked it
	return gv
}

// action renders "list pods in rbac-lab", "get secrets db in rbac-lab",
// "list nodes cluster-wide", as the access check does.
func (c *requestCheck) action() string {
	r := c.spec.Resource
	res := r.Resource
	if g := c.groupVersion().Group; g != "" {
		res += "." + g
	}
	s := c.spec.Verb + " " + res
	if r.Name != "" {
		s += " " + r.Name
	}
	if r.Namespace != "" {
		return s + " in " + r.Namespace
	}
	return s + " cluster-wide"
}

func (c *requestCheck) describe() string {
	return "a request as " + c.subject() + " to " + c.action() + " is " + c.spec.Expect
}

func (c *requestCheck) expected() string {
	may := " may "
	if c.spec.Expect == ExpectForbidden {
		may = " may not "
	}
	return c.spec.Expect + ": " + c.subject() + may + c.action() + " (a real request with its token)"
}

// path is the request's URL path.
func (c *requestCheck) path() string {
	r, gv := c.spec.Resource, c.groupVersion()
	p := "/apis/" + gv.Group + "/" + gv.Version
	if gv.Group == "" {
		p = "/api/" + gv.Version
	}
	if r.Namespace != "" {
		p += "/namespaces/" + url.PathEscape(r.Namespace)
	}
	p += "/" + url.PathEscape(r.Resource)
	if c.spec.Verb == VerbGet {
		p += "/" + url.PathEscape(r.Name)
	}
	return p
}

// object is the body of a create, in the request's namespace.
func (c *requestCheck) object() map[string]any {
	obj := runtime.DeepCopyJSON(normalize(c.spec.Object).(map[string]any))
	if ns := c.spec.Resource.Namespace; ns != "" {
		md, _ := obj["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
			obj["metadata"] = md
		}
		md["namespace"] = ns
	}
	return obj
}

func (c *requestCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return *r
	}
	if r := need(env.AsToken != nil, "a client for service account tokens"); r != nil {
		return *r
	}
	expected := c.expected()
	if c.client == nil {
		token, res := c.requestToken(ctx, env, expected)
		if res != nil {
			return *res
		}
		client, err := env.AsToken(token)
		if err != nil {
			return final(errorf("could not build a client with %s's token: %v", c.subject(), err))
		}
		c.token, c.client = token, client
	}
	code, err := c.send(ctx)
	return c.judge(code, err, expected)
}

// requestToken asks the TokenRequest API for a short-lived token of the
// account; nothing is stored, so there is nothing to clean up.
func (c *requestCheck) requestToken(ctx context.Context, env *Env, expected string) (string, *Result) {
	ns, name, _ := strings.Cut(c.spec.As.ServiceAccount, "/")
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](tokenSeconds)}}
	got, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, req, metav1.CreateOptions{})
	var r Result
	switch {
	case apierrors.IsNotFound(err):
		// A Fail, as for any object the lab made: the account is what is
		// under test, and only the learner can have removed it.
		r = final(failed(expected, c.subject()+" does not exist"+namespaceHint(ctx, env, ns)+", so nothing can be sent as it (recreate it)"))
	case err != nil:
		r = errorf("could not get a token for %s from the TokenRequest API: %v", c.subject(), err)
	case got.Status.Token == "":
		r = errorf("the TokenRequest API returned no token for %s", c.subject())
	default:
		return got.Status.Token, nil
	}
	return "", &r
}

// send makes the request and returns its HTTP status; err is the API's
// answer for a non-2xx status, or why there was none.
func (c *requestCheck) send(ctx context.Context) (int, error) {
	var req *rest.Request
	switch c.spec.Verb {
	case VerbCreate:
		body, err := json.Marshal(c.object())
		if err != nil {
			return 0, err
		}
		req = c.client.Post().AbsPath(c.path()).Param("dryRun", metav1.DryRunAll).
			SetHeader("Content-Type", runtime.ContentTypeJSON).Body(body)
	case VerbList:
		// One item is enough to be allowed to see them all.
		req = c.client.Get().AbsPath(c.path()).Param("limit", "1")
	default:
		req = c.client.Get().AbsPath(c.path())
	}
	var code int
	err := req.Do(ctx).StatusCode(&code).Error()
	return code, err
}

// judge reads the verdict from the status: 2xx is allowed and the
// authorizer's 403 is forbidden. Anything else cannot tell: a 401 says the
// token was not accepted, a 404 or 422 is about the object, and a 403 from
// admission is not about the account's permissions.
func (c *requestCheck) judge(code int, err error, expected string) Result {
	verdict := func(v, found string) Result {
		if v == c.spec.Expect {
			return passed(expected, found)
		}
		return failed(expected, found)
	}
	if err == nil {
		found := fmt.Sprintf("allowed (HTTP %d)", code)
		if c.spec.Verb == VerbCreate {
			found = fmt.Sprintf("allowed (HTTP %d; a dry run, so nothing was created)", code)
		}
		return verdict(ExpectAllowed, found)
	}
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return errorf("could not send the request as %s to %s: %v", c.subject(), c.action(), err)
	}
	s := st.Status()
	switch {
	case s.Code == http.StatusForbidden && c.byAuthorizer(s.Message):
		return verdict(ExpectForbidden, "forbidden (HTTP 403: "+clip(s.Message, 300)+")")
	case s.Code == http.StatusUnauthorized:
		// The account may have been recreated since (its old tokens die
		// with it): get a new token next time.
		c.client, c.token = nil, ""
		return errorf("the API server did not accept %s's token (HTTP 401: %s), so its permissions could not be tried", c.subject(), clip(s.Message, 200))
	case s.Code == http.StatusForbidden:
		return errorf("HTTP 403 for %s, but not the authorizer's refusal of %s (%s): that says nothing about its permissions", c.action(), c.user(), clip(s.Message, 300))
	}
	return errorf("HTTP %d for the request as %s to %s (%s): that neither allows nor forbids it, so seclab cannot tell (does the lab name an object that exists?)", s.Code, c.subject(), c.action(), clip(s.Message, 300))
}

// byAuthorizer tells the authorizer's 403 ("User "system:serviceaccount:
// ns:app" cannot list resource "secrets" ...") from one sent by admission,
// and proves the request was made as the account.
func (c *requestCheck) byAuthorizer(msg string) bool {
	return strings.Contains(msg, fmt.Sprintf("User %q cannot %s resource %q", c.user(), c.spec.Verb, c.spec.Resource.Resource))
}

// tokenClients is Env.AsToken for the API server cfg points at: the client
// keeps the address and CA and drops every credential but the token.
func tokenClients(cfg *rest.Config) func(token string) (rest.Interface, error) {
	return func(token string) (rest.Interface, error) {
		c := rest.AnonymousClientConfig(cfg)
		c.BearerToken = token
		// One request per attempt needs no client-side limit; a limiter
		// would refuse the last attempt before its deadline with an error
		// of its own, hiding what the attempt before it found.
		c.RateLimiter, c.QPS = nil, -1
		c.APIPath = ""
		c.ContentType = runtime.ContentTypeJSON
		c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
		return rest.UnversionedRESTClientFor(c)
	}
}

// validate returns every problem in r, with paths under "request".
func (r *RequestSpec) validate() []string {
	var errs []string
	bad := func(path, format string, a ...any) {
		errs = append(errs, "request."+path+": "+fmt.Sprintf(format, a...))
	}
	if sa := r.As.ServiceAccount; sa == "" {
		bad("as.serviceAccount", "required (namespace/name)")
	} else if ns, name, ok := strings.Cut(sa, "/"); !ok || validation.IsDNS1123Label(ns) != nil || validation.IsDNS1123Subdomain(name) != nil {
		bad("as.serviceAccount", "want namespace/name, got %q", sa)
	}
	res := r.Resource
	if res.APIVersion == "" {
		bad("resource.apiVersion", "required (v1, apps/v1, ...)")
	} else if gv, err := schema.ParseGroupVersion(res.APIVersion); err != nil || gv.Version == "" {
		bad("resource.apiVersion", "%q is not an API version like v1 or apps/v1", res.APIVersion)
	}
	if res.Resource == "" {
		bad("resource.resource", "required (the plural name in the URL: pods, secrets, deployments)")
	} else if validation.IsDNS1123Label(res.Resource) != nil {
		bad("resource.resource", "want the plural name in the URL (pods, secrets, deployments), got %q", res.Resource)
	}
	if res.Namespace != "" {
		if e := validation.IsDNS1123Label(res.Namespace); e != nil {
			bad("resource.namespace", "%q: %s", res.Namespace, strings.Join(e, "; "))
		}
	}
	if res.Name != "" {
		if e := validation.IsDNS1123Subdomain(res.Name); e != nil {
			bad("resource.name", "%q: %s", res.Name, strings.Join(e, "; "))
		}
	}
	switch r.Verb {
	case VerbGet:
		if res.Name == "" {
			bad("resource.name", "required for get (use list for the collection)")
		}
	case VerbList:
		if res.Name != "" {
			bad("resource.name", "list asks for the whole collection; name one object with get")
		}
	case VerbCreate:
		if res.Name != "" {
			bad("resource.name", "create names its object in object.metadata")
		}
		r.validateObject(bad)
	default:
		bad("verb", "%q is not one of %s, %s, %s", r.Verb, VerbGet, VerbList, VerbCreate)
	}
	if r.Verb != VerbCreate && r.Object != nil {
		bad("object", "only create sends an object")
	}
	if r.Expect != ExpectAllowed && r.Expect != ExpectForbidden {
		bad("expect", "%q is not one of %s, %s", r.Expect, ExpectAllowed, ExpectForbidden)
	}
	return errs
}

func (r *RequestSpec) validateObject(bad func(path, format string, a ...any)) {
	if len(r.Object) == 0 {
		bad("object", "required for create (the manifest to send, with dry-run)")
		return
	}
	obj, _ := normalize(r.Object).(map[string]any)
	if v, _ := obj["apiVersion"].(string); v != r.Resource.APIVersion {
		bad("object.apiVersion", "want %q, as resource.apiVersion, got %q", r.Resource.APIVersion, v)
	}
	if v, _ := obj["kind"].(string); v == "" {
		bad("object.kind", "required")
	}
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	generate, _ := md["generateName"].(string)
	if name == "" && generate == "" {
		bad("object.metadata", "set name or generateName")
	}
	if ns, _ := md["namespace"].(string); ns != "" && ns != r.Resource.Namespace {
		bad("object.metadata.namespace", "%q differs from resource.namespace %q; leave it out", ns, r.Resource.Namespace)
	}
}
