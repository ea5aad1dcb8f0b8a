package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
	"github.com/seclab/seclab/labs"
)

// fakeClusters is a cluster layer with no docker: clusters in running
// serve; a cluster with stopped nodes is listed in stopped as well.
type fakeClusters struct {
	running map[string]bool
	stopped map[string][]string // cluster -> its stopped nodes
	deleted []string
	nodes   verify.NodeRunner
	// nodeNames, when set, are every cluster's nodes (what waitReady
	// waits for); startedAt their containers' start.
	nodeNames []string
	startedAt time.Time
	calls     []string
	startErr  error
	readdress []string // what Readdress reports once
	// kubeconfigProblem is what EnsureKubeConfig reports once (it then
	// "writes" the context); kubeconfigErr fails it.
	kubeconfigProblem string
	kubeconfigErr     error
	hashes            map[string]string // cluster.Info.Hash by name (List)
	apparmor          bool              // KernelFeatures' answer
	kernelErr         error             // what KernelFeatures fails with once
	kernelAsked       int               // how often KernelFeatures was called
	digests           map[string]string // ImageDigest's answers by image
}

func (f *fakeClusters) info(name string) cluster.Info {
	i := cluster.Info{Name: name, Profile: strings.TrimPrefix(name, "seclab-"), Context: "kind-" + name, Running: len(f.stopped[name]) == 0,
		NodeNames: f.nodeNames, Stopped: f.stopped[name], StartedAt: map[string]time.Time{}}
	for _, n := range f.nodeNames {
		i.StartedAt[n] = f.startedAt
	}
	return i
}

func (f *fakeClusters) Find(_ context.Context, p *cluster.Profile, _ string) (cluster.Info, bool, error) {
	for _, name := range []string{"seclab-" + p.Name, "seclab-default", "seclab-netpol"} {
		if f.running[name] {
			return f.info(name), true, nil
		}
	}
	return cluster.Info{}, false, nil
}
func (f *fakeClusters) Create(_ context.Context, p *cluster.Profile, _ string) (cluster.Info, error) {
	f.calls = append(f.calls, "create "+p.ClusterName())
	f.running[p.ClusterName()] = true
	delete(f.stopped, p.ClusterName())
	return cluster.Info{Name: p.ClusterName(), Profile: p.Name, Context: "kind-" + p.ClusterName(), Running: true}, nil
}
func (f *fakeClusters) Get(_ context.Context, name string) (cluster.Info, error) {
	if !f.running[name] {
		return cluster.Info{}, &cluster.NotFoundError{Cluster: name}
	}
	if s := f.stopped[name]; len(s) > 0 {
		return f.info(name), &cluster.StoppedError{Cluster: name, Nodes: s}
	}
	return f.info(name), nil
}
func (f *fakeClusters) List(context.Context) ([]cluster.Info, error) {
	var out []cluster.Info
	for n := range f.running {
		out = append(out, cluster.Info{Name: n, Profile: strings.TrimPrefix(n, "seclab-"), Hash: f.hashes[n]})
	}
	return out, nil
}
func (f *fakeClusters) Delete(_ context.Context, name string) error {
	delete(f.running, name)
	f.deleted = append(f.deleted, name)
	return nil
}
func (f *fakeClusters) LoadImages(context.Context, string, []string) ([]cluster.LoadResult, error) {
	return nil, nil
}
func (f *fakeClusters) ImageDigest(_ context.Context, name, image string) (string, error) {
	f.calls = append(f.calls, "digest of "+image+" on "+name)
	if d, ok := f.digests[image]; ok {
		return d, nil
	}
	return "", errors.New("image " + image + " is not on the nodes of " + name)
}
func (f *fakeClusters) StartNodes(_ context.Context, name string) (cluster.Info, error) {
	f.calls = append(f.calls, "start nodes of "+name)
	if f.startErr != nil {
		return cluster.Info{}, f.startErr
	}
	delete(f.stopped, name)
	return f.info(name), nil
}
func (f *fakeClusters) KernelFeatures(context.Context) (map[string]bool, error) {
	f.kernelAsked++
	if err := f.kernelErr; err != nil {
		f.kernelErr = nil
		return nil, err
	}
	return map[string]bool{"apparmor": f.apparmor, "seccomp": true, "selinux": false}, nil
}
func (f *fakeClusters) Readdress(_ context.Context, name string) ([]string, error) {
	out := f.readdress
	f.readdress = nil
	return out, nil
}
func (f *fakeClusters) EnsureKubeConfig(string) (string, error) {
	msg := f.kubeconfigProblem
	f.kubeconfigProblem = ""
	return msg, f.kubeconfigErr
}
func (f *fakeClusters) RESTConfig(string) (*rest.Config, error) { return &rest.Config{}, nil }
func (f *fakeClusters) NodeRunner(string) verify.NodeRunner     { return f.nodes }

// testCatalog loads the labs of fsys against the built-in profiles.
func testCatalog(t *testing.T, fsys fs.FS) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(fsys, catalog.ValidateOptions{Profiles: cluster.MustBuiltin().Names()})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// newCatalogEngine runs the labs of fsys on clusters with a fresh store;
// every check environment is a copy of env.
func newCatalogEngine(t *testing.T, fsys fs.FS, clusters Clusters, env verify.Env) *Engine {
	t.Helper()
	cat := testCatalog(t, fsys)
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{
		Catalog: cat, Clusters: clusters, Store: store,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewEnv: func(*rest.Config) (*verify.Env, error) {
			env := env
			return &env, nil
		},
	}
}

// newTestEngine has the secrets lab active on a fake cluster backed by a
// fake clientset.
func newTestEngine(t *testing.T) (*Engine, *fake.Clientset, *fakeClusters) {
	t.Helper()
	client := fake.NewSimpleClientset()
	fc := &fakeClusters{running: map[string]bool{"seclab-default": true}}
	e := newCatalogEngine(t, labs.FS, fc, verify.Env{Client: client, Interval: 10 * time.Millisecond})
	err := e.Store.Update(func(s *state.State) error {
		s.StartLab("secrets", "seclab-default", "kind-seclab-default", time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, client, fc
}

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestCheckRecordsProgressAndAdvances(t *testing.T) {
	e, client, _ := newTestEngine(t)
	ctx := context.Background()
	opts := CheckOptions{Timeout: 50 * time.Millisecond}

	reports, err := e.Check(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if reports[0].Step != 1 || reports[0].Passed {
		t.Fatalf("fresh lab: step %d passed=%v", reports[0].Step, reports[0].Passed)
	}
	if f := reports[0].Results[0].Found; !strings.Contains(f, "not found") {
		t.Errorf("missing secret reported as %q", f)
	}

	_, _ = client.CoreV1().Secrets("default").Create(ctx, secret("my-secret-from-file", map[string]string{"mysecret": "mysupersecretpassword\n"}), metav1.CreateOptions{})
	reports, err = e.Check(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reports[0].Passed {
		t.Fatalf("step 1 with the right secret failed: %+v", reports[0].Results)
	}
	act, _ := e.Current()
	if got := act.Progress.NextStep(act.Lab.NumSteps()); got != 2 {
		t.Errorf("after passing step 1, next step = %d, want 2", got)
	}

	// A later step may undo what step 1 checked; re-checking step 1 then
	// fails but does not rewind the learner's progress.
	_ = client.CoreV1().Secrets("default").Delete(ctx, "my-secret-from-file", metav1.DeleteOptions{})
	reports, err = e.Check(ctx, CheckOptions{Step: 1, Timeout: 50 * time.Millisecond})
	if err != nil || reports[0].Passed {
		t.Fatalf("re-check of step 1 without its secret: passed=%v err=%v", reports[0].Passed, err)
	}
	act, _ = e.Current()
	if _, ok := act.Progress.Passed[1]; !ok {
		t.Errorf("step 1's pass was forgotten by a re-check")
	}
}

func TestAnswerStepUsesStoredAnswer(t *testing.T) {
	e, client, _ := newTestEngine(t)
	ctx := context.Background()
	// Step 4 also re-runs the kept checks of steps 1-3: their secrets.
	for name, data := range map[string]map[string]string{
		"my-secret-from-file":     {"mysecret": "mysupersecretpassword\n"},
		"my-secret-from-literals": {"username": "admin", "password": "mysupersecretpassword"},
		"my-secret-from-env":      {"password": "mysupersecretpassword"},
	} {
		_, _ = client.CoreV1().Secrets("default").Create(ctx, secret(name, data), metav1.CreateOptions{})
	}
	opts := CheckOptions{Step: 4, Timeout: 50 * time.Millisecond}

	if _, err := e.Answer(4, "bXlzdXBlcnNlY3JldHBhc3N3b3Jk"); err != nil {
		t.Fatal(err)
	}
	reports, _ := e.Check(ctx, opts)
	if reports[0].Passed {
		t.Fatal("base64 text accepted as the decoded password")
	}
	if _, err := e.Answer(4, "mysupersecretpassword"); err != nil {
		t.Fatal(err)
	}
	reports, _ = e.Check(ctx, opts)
	if !reports[0].Passed {
		t.Fatalf("right answer rejected: %+v", reports[0].Results)
	}

	// Undoing step 1 fails step 4, naming the kept check.
	_ = client.CoreV1().Secrets("default").Delete(ctx, "my-secret-from-file", metav1.DeleteOptions{})
	reports, _ = e.Check(ctx, opts)
	if reports[0].Passed {
		t.Fatal("step 4 passed with step 1's secret deleted")
	}
	found := false
	for _, r := range reports[0].Results {
		if strings.Contains(r.Name, "(kept from step 1)") && r.Status == verify.Fail {
			found = true
		}
	}
	if !found {
		t.Errorf("no failed check kept from step 1: %+v", reports[0].Results)
	}

	// check --all on the finished lab passes once the state is restored.
	_, _ = client.CoreV1().Secrets("default").Create(ctx, secret("my-secret-from-file", map[string]string{"mysecret": "mysupersecretpassword\n"}), metav1.CreateOptions{})
	for n := 1; n <= 3; n++ {
		if _, err := e.Answer(n, ""); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.Check(ctx, CheckOptions{All: true, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if !r.Passed {
			t.Errorf("check --all on a finished lab: step %d failed: %+v", r.Step, r.Results)
		}
	}
}

func TestStepOutOfRange(t *testing.T) {
	e, _, _ := newTestEngine(t)
	_, err := e.Check(context.Background(), CheckOptions{Step: 9})
	var sr *StepRangeError
	if !errors.As(err, &sr) || !strings.Contains(err.Error(), "steps 1-4, not 9") {
		t.Errorf("got %v", err)
	}
}

func TestNoLab(t *testing.T) {
	e, _, _ := newTestEngine(t)
	_ = e.Store.Update(func(s *state.State) error { s.Current = ""; return nil })
	if _, err := e.Check(context.Background(), CheckOptions{}); !errors.Is(err, ErrNoLab) {
		t.Errorf("got %v", err)
	}
}

func TestCleanLabRemovesLeftoverProbePods(t *testing.T) {
	e, client, _ := newTestEngine(t)
	ctx := context.Background()
	mk := func(ns, name string, labels map[string]string) {
		_, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	mk("default", "seclab-probe-a", map[string]string{verify.ProbeLabel: "true"})
	mk("n287", "seclab-probe-b", map[string]string{verify.ProbeLabel: "true", "app": "nginx1"})
	mk("n287", "learners-pod", map[string]string{"app": "nginx1"})
	env := &verify.Env{Client: client}
	if err := e.cleanLab(ctx, env, &catalog.Lab{}); err != nil {
		t.Fatal(err)
	}
	left, _ := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if len(left.Items) != 1 || left.Items[0].Name != "learners-pod" {
		t.Errorf("want only learners-pod left, got %d pods: %+v", len(left.Items), left.Items)
	}
}

// A Ctrl-C during `check --all` records nothing, not even a step that had
// fully passed before the interruption.
func TestCheckInterruptedRecordsNothing(t *testing.T) {
	e, client, _ := newTestEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _ = client.CoreV1().Secrets("default").Create(ctx, secret("my-secret-from-file", map[string]string{"mysecret": "mysupersecretpassword\n"}), metav1.CreateOptions{})
	client.PrependReactor("get", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "my-secret-from-literals" {
			cancel() // the learner presses Ctrl-C while step 2 is being checked
		}
		return false, nil, nil
	})

	reports, err := e.Check(ctx, CheckOptions{All: true, Timeout: time.Minute})
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("want an interruption error wrapping context.Canceled, got %v", err)
	}
	if len(reports) == 0 || reports[0].Step != 1 || !reports[0].Passed {
		t.Fatalf("step 1 should have passed before the interruption: %+v", reports)
	}
	act, _ := e.Current()
	if len(act.Progress.Passed) != 0 || !act.Progress.LastCheck.IsZero() {
		t.Errorf("an interrupted check recorded progress: passed %v, last check %v", act.Progress.Passed, act.Progress.LastCheck)
	}
}

// resetEnv is a second process's view of the same cluster: enough API for
// Reset of the secrets lab (delete what it owns, list probe pods).
func resetEnv() *verify.Env {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	return &verify.Env{Client: fake.NewSimpleClientset(), Dynamic: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), Mapper: mapper}
}

// `seclab reset` in another terminal while `seclab check` runs: the check
// saw the cluster before the reset, so its pass must not be recorded
// against the lab's fresh start.
func TestCheckDuringResetRecordsNothing(t *testing.T) {
	e, client, fc := newTestEngine(t)
	ctx := context.Background()
	other := &Engine{Catalog: e.Catalog, Clusters: fc, Store: e.Store, Log: e.Log,
		NewEnv: func(*rest.Config) (*verify.Env, error) { return resetEnv(), nil }}
	before, _ := e.Current()

	resets := 0
	client.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if resets == 0 {
			resets++
			if _, err := other.Reset(ctx, 0); err != nil {
				t.Errorf("reset: %v", err)
			}
		}
		return true, secret("my-secret-from-file", map[string]string{"mysecret": "mysupersecretpassword\n"}), nil
	})

	reports, err := e.Check(ctx, CheckOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !reports[0].Passed {
		t.Fatalf("the check itself should pass: %+v", reports[0].Results)
	}
	after, _ := e.Current()
	if after.Progress.Run == before.Progress.Run {
		t.Fatal("reset did not begin a new run")
	}
	if len(after.Progress.Passed) != 0 {
		t.Errorf("a pass seen before the reset was recorded after it: %v", after.Progress.Passed)
	}

	// Without a reset in between the same check is recorded.
	if _, err := e.Check(ctx, CheckOptions{Step: 1, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if act, _ := e.Current(); len(act.Progress.Passed) != 1 {
		t.Errorf("an undisturbed pass was not recorded: %v", act.Progress.Passed)
	}
}

// Before a cluster is created, start says which one it replaces (same
// name, other content) and which it starts beside.
func TestExplainNewClusterSaysWhatItReplacesOrStartsBeside(t *testing.T) {
	e, _, fc := newTestEngine(t)
	var logs bytes.Buffer
	e.Log = slog.New(slog.NewTextHandler(&logs, nil))
	p, err := cluster.MustBuiltin().Get("default")
	if err != nil {
		t.Fatal(err)
	}
	fc.running["seclab-psa"] = true
	fc.hashes = map[string]string{"seclab-default": "0123abcd", "seclab-psa": "4567"}
	if err := e.explainNewCluster(context.Background(), p, "img:1"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"replacing cluster seclab-default: it was made from another version of profile default or another node image (profile hash 0123abcd, now " + p.Hash("img:1") + ")",
		"starting seclab-default beside seclab-psa (profile psa)",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("missing %q in:\n%s", want, logs.String())
		}
	}
}
