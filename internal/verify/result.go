package verify

import (
	"context"
	"github.com/seclab/seclab/assets"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Status is the outcome of one check.
type Status string

const (
	// Pass: the cluster is in the taught state.
	Pass Status = "pass"
	// Fail: it is not yet; Expected/Found say how it differs. The learner's job.
	Fail Status = "fail"
	// Error: seclab could not tell (API unreachable, pod missing, timeout).
	// Never reported as a pass.
	Error Status = "error"
)

// Result is what one check found.
type Result struct {
	Name     string        `json:"name"`
	Kind     string        `json:"kind"`
	Status   Status        `json:"status"`
	Expected string        `json:"expected,omitempty"`
	Found    string        `json:"found,omitempty"`
	Elapsed  time.Duration `json:"elapsedNs"`
	// Attempts is how many tries Run made (0 when the check never ran,
	// e.g. because the spec is invalid).
	Attempts int `json:"attempts,omitempty"`

	// final marks an attempt whose outcome cannot change by waiting (no
	// node runner configured, the learner's answer is simply wrong): Run
	// stops polling. Never visible outside the package.
	final bool
}

// Execer runs a command in a container of a pod. A non-zero exit code is not
// an error: err is for "could not run it".
type Execer interface {
	Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader) (stdout, stderr string, exitCode int, err error)
}

// Admitter creates obj with server-side dry-run (DryRun=All) and returns the
// warnings admission sent; a denial comes back as err.
type Admitter interface {
	DryRunCreate(ctx context.Context, obj *unstructured.Unstructured) (warnings []string, err error)
}

// NodeRunner runs a command on each cluster node of a role ("" for all)
// and returns output per node name.
type NodeRunner interface {
	RunOnNodes(ctx context.Context, role string, cmd []string) ([]NodeOutput, error)
	// RunOnNode runs cmd on the one node named node.
	RunOnNode(ctx context.Context, node string, cmd []string) (NodeOutput, error)
}

// NodeOutput is one node's answer to a NodeRunner command.
type NodeOutput struct {
	Node     string
	Stdout   string
	Stderr   string
	ExitCode int
}

// Env is everything checks may touch. Fields a check kind does not need may
// be nil; a check that needs a nil field returns an Error result.
type Env struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	Exec    Execer
	Admit   Admitter
	Nodes   NodeRunner
	// AsToken returns a client that authenticates with token alone (the
	// request check's service account token), to the same API server.
	AsToken func(token string) (rest.Interface, error)
	// Answer is what the learner submitted for the step ("" if nothing).
	Answer string
	// ProbeImage runs temporary probe pods (must have wget or curl and sh).
	ProbeImage string
	// Interval between attempts while polling (default 1s).
	Interval time.Duration
	// AdmissionLag is how long admission may answer by an older
	// configuration than the API holds (default DefaultAdmissionLag).
	AdmissionLag time.Duration
}

// DefaultAdmissionLag: the API server recompiles admission policies once a
// second, after its informer has seen the change.
const DefaultAdmissionLag = 2 * time.Second

func (e *Env) admissionLag() time.Duration {
	if e.AdmissionLag > 0 {
		return e.AdmissionLag
	}
	return DefaultAdmissionLag
}

// DefaultProbeImage runs probe pods when Env.ProbeImage is empty. It must be
// preloaded in the cluster: there is no registry to pull from.
var DefaultProbeImage = assets.Version("PROBE_IMAGE")

// DefaultInterval is the pause between attempts when Env.Interval is zero.
const DefaultInterval = time.Second

func (e *Env) interval() time.Duration {
	if e.Interval > 0 {
		return e.Interval
	}
	return DefaultInterval
}

func (e *Env) probeImage() string {
	if e.ProbeImage != "" {
		return e.ProbeImage
	}
	return DefaultProbeImage
}
