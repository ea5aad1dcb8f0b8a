//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/seclab/seclab/internal/cli"
	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

// The faults run on one netpol cluster, in an order where each leaves the
// cluster as the next needs it: a missing kubectl context, a stopped node,
// every node restarted (with swapped addresses), docker stopped and
// restarted, Ctrl-C in start and reset, down keeping progress, and the
// cluster deleted behind seclab's back.
const (
	faultLab     = "netpol"
	faultCluster = "seclab-netpol"
	faultCtx     = "kind-seclab-netpol"
	faultWorker  = "seclab-netpol-worker"
	faultCP      = "seclab-netpol-control-plane"
)

func TestFaults(t *testing.T) {
	mustRun(t, 0, "start", faultLab)

	t.Run("kubeconfig context removed", faultKubeconfig)
	t.Run("node container stopped", faultStoppedNode)
	t.Run("every node restarted", faultNodesRestarted)
	t.Run("docker stopped and restarted", faultDockerRestart)
	t.Run("ctrl-c during start and reset", faultInterrupt)
	t.Run("down keeps progress", faultDownKeepsProgress)
	t.Run("cluster deleted behind seclab's back", faultClusterDeleted)
}

// mustRun runs seclab and fails the test unless it exits with code.
func mustRun(t *testing.T, code int, args ...string) (string, string) {
	t.Helper()
	out, errOut, got := run(t, args...)
	if got != code {
		t.Fatalf("seclab %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), got, code, errOut)
	}
	return out, errOut
}

// wantError runs seclab and wants exit code with a single "seclab: ..."
// line on stderr holding every one of want.
func wantError(t *testing.T, code int, args []string, want ...string) string {
	t.Helper()
	_, errOut, got := run(t, args...)
	last := lastLine(errOut)
	if got != code || !strings.HasPrefix(last, "seclab: ") {
		t.Errorf("seclab %s: exit %d, last stderr line %q; want exit %d and a seclab: line", strings.Join(args, " "), got, last, code)
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Errorf("seclab %s: %q lacks %q", strings.Join(args, " "), last, w)
		}
	}
	return last
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// solveStep applies step n's solution and checks that it passes.
func solveStep(t *testing.T, n int) {
	t.Helper()
	mustRun(t, 0, "solution", "--apply", strconv.Itoa(n))
	reports, code := checkJSON(t, strconv.Itoa(n))
	if code != 0 || len(reports) != 1 || !reports[0].Passed {
		t.Fatalf("step %d after its solution: exit %d%s", n, code, describeAll(reports))
	}
}

func describeAll(reports []engine.StepReport) string {
	var b strings.Builder
	for _, r := range reports {
		b.WriteString(describe(r))
	}
	return b.String()
}

func loadState(t *testing.T) *state.State {
	t.Helper()
	dir, err := state.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func nodeIP(t *testing.T, node string) string {
	t.Helper()
	return docker(t, "inspect", "-f", "{{.NetworkSettings.Networks.kind.IPAddress}}", node)
}

func client(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := eng.Clusters.RESTConfig(faultCluster)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// removeContext deletes the lab's context from the learner's kubeconfig.
func removeContext(t *testing.T) {
	t.Helper()
	path := os.Getenv("KUBECONFIG")
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Contexts[faultCtx] == nil {
		t.Fatalf("%s has no context %s to remove", path, faultCtx)
	}
	delete(cfg.Contexts, faultCtx)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

func hasContext(t *testing.T) bool {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Contexts[faultCtx] != nil
}

const contextBack = "kubectl context " + faultCtx + " was missing; wrote it again"

// 5: seclab checks with its own client config, puts the context back and
// says so once.
func faultKubeconfig(t *testing.T) {
	removeContext(t)
	_, errOut, code := run(t, "check")
	if code != cli.ExitFailed || strings.Count(errOut, contextBack) != 1 {
		t.Errorf("check without the context: exit %d (want 1: step 1 not done), stderr:\n%s", code, errOut)
	}
	if !hasContext(t) {
		t.Error("check did not put the context back")
	}
	if _, errOut := mustRun(t, 0, "status"); strings.Contains(errOut, "was missing") {
		t.Errorf("status with the context in place says: %s", errOut)
	}
	removeContext(t)
	if _, errOut := mustRun(t, 0, "status"); strings.Count(errOut, contextBack) != 1 || !hasContext(t) {
		t.Errorf("status without the context: %s", errOut)
	}
}

// 3: check names the stopped node; reset and start bring it back.
func faultStoppedNode(t *testing.T) {
	solveStep(t, 1)
	docker(t, "stop", faultWorker)
	stopped := "node " + faultWorker + " of cluster " + faultCluster + " is stopped; run: seclab reset (or seclab start netpol)"
	wantError(t, cli.ExitEnvError, []string{"check"}, stopped)
	if out := wantError(t, cli.ExitEnvError, []string{"status"}, stopped); out == "" {
		t.Error("status said nothing")
	}

	_, errOut := mustRun(t, 0, "reset")
	if !strings.Contains(errOut, "starting stopped node container node="+faultWorker) {
		t.Errorf("reset did not say it started the node:\n%s", errOut)
	}
	reports, code := checkJSON(t)
	if code != cli.ExitFailed || reports[0].Step != 1 {
		t.Errorf("after reset: exit %d, step %d; want step 1 to fail (set up from scratch)", code, reports[0].Step)
	}

	docker(t, "stop", faultWorker)
	removeContext(t)
	_, errOut = mustRun(t, 0, "start", faultLab)
	if !strings.Contains(errOut, "starting stopped node container node="+faultWorker) || strings.Count(errOut, contextBack) != 1 {
		t.Errorf("start with a stopped node and no context:\n%s", errOut)
	}
	if strings.Contains(errOut, "creating cluster") {
		t.Errorf("start replaced a cluster it could bring back:\n%s", errOut)
	}
}

// 4: after every node restarts, the addresses may move (here: swapped);
// check fixes the nodes and waits, and the learner's work is still there.
func faultNodesRestarted(t *testing.T) {
	solveStep(t, 1)
	cpWas, wWas := nodeIP(t, faultCP), nodeIP(t, faultWorker)
	docker(t, "stop", faultCP, faultWorker)
	// Which address a restarted container gets is docker's choice (a
	// reboot here swapped them, a plain restart often keeps them), so the
	// swap is made explicit: reconnect each node with the other's address.
	for _, n := range []string{faultCP, faultWorker} {
		docker(t, "network", "disconnect", "kind", n)
	}
	docker(t, "network", "connect", "--ip", wWas, "--alias", faultCP, "kind", faultCP)
	docker(t, "network", "connect", "--ip", cpWas, "--alias", faultWorker, "kind", faultWorker)
	docker(t, "start", faultWorker)
	docker(t, "start", faultCP)
	if nodeIP(t, faultCP) != wWas || nodeIP(t, faultWorker) != cpWas {
		t.Fatalf("addresses did not swap (control plane %s -> %s, worker %s -> %s): this test needs them moved", cpWas, nodeIP(t, faultCP), wWas, nodeIP(t, faultWorker))
	}
	reports, code := checkJSON(t, "1")
	if code != 0 || !reports[0].Passed {
		t.Errorf("step 1 after the restart: exit %d%s", code, describeAll(reports))
	}
	_, errOut, _ := run(t, "status")
	if strings.Contains(errOut, "seclab:") {
		t.Errorf("status after the repair: %s", errOut)
	}
}

// dockerdPidFile is where scripts/airgap/docker.sh records the dockerd it
// starts.
func dockerdPidFile() string {
	cache := os.Getenv("SECLAB_CACHE")
	if cache == "" {
		cache = "/var/cache/seclab"
	}
	return filepath.Join(cache, "log", "dockerd.pid")
}

// stopDockerd stops the dockerd scripts/airgap/docker.sh started, and
// registers starting it again whatever happens.
func stopDockerd(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(dockerdPidFile())
	if err != nil {
		t.Fatalf("this test stops dockerd as scripts/airgap/docker.sh started it; no pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.HasPrefix(string(cmdline), "dockerd\x00") {
		t.Fatalf("pid %d from %s is not a running dockerd (%q, %v)", pid, dockerdPidFile(), cmdline, err)
	}
	t.Cleanup(func() { startDockerd(t) })
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 120; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("dockerd %d did not stop within 60s", pid)
}

// startDockerd starts dockerd the way this machine does; it is a no-op
// when docker answers.
func startDockerd(t *testing.T) {
	out, err := exec.Command("../scripts/airgap/docker.sh").CombinedOutput()
	if err != nil {
		t.Errorf("starting dockerd again: %v\n%s", err, out)
	}
}

// 1 and 4: with docker stopped every command that needs it exits 3 in one
// line and usage errors still exit 2; once dockerd is back (it restarts
// the nodes itself, often with other addresses) check and start recover.
func faultDockerRestart(t *testing.T) {
	solveStep(t, 1)
	before := map[string]string{faultCP: nodeIP(t, faultCP), faultWorker: nodeIP(t, faultWorker)}
	stopDockerd(t)
	for _, args := range [][]string{{"check"}, {"status"}, {"reset"}, {"start", faultLab}, {"down"}, {"solution", "--apply", "2"}, {"answer", "x"}} {
		wantError(t, cli.ExitEnvError, args, "docker is not reachable", "make docker")
	}
	wantError(t, cli.ExitEnvError, []string{"check"}, "docker is not reachable, so cluster "+faultCluster+" cannot be reached")
	wantError(t, cli.ExitUsage, []string{"check", "9"}, "lab netpol has steps 1-3, not 9")
	wantError(t, cli.ExitUsage, []string{"start", "no-such-lab"}, `unknown lab "no-such-lab"`)
	wantError(t, cli.ExitUsage, []string{"reset", "--step", "9"}, "not 9")

	startDockerd(t)
	moved := nodeIP(t, faultCP) != before[faultCP] || nodeIP(t, faultWorker) != before[faultWorker]
	t.Logf("after the dockerd restart: control plane %s (was %s), worker %s (was %s)", nodeIP(t, faultCP), before[faultCP], nodeIP(t, faultWorker), before[faultWorker])
	_, errOut, code := run(t, "check", "1")
	if code != 0 {
		t.Errorf("step 1 after the dockerd restart: exit %d\n%s", code, errOut)
	}
	if moved && !strings.Contains(errOut, "node came back with another address") {
		t.Errorf("the addresses moved but check did not say it fixed them:\n%s", errOut)
	}
	mustRun(t, 0, "start", faultLab)
}

// cancelWriter is stderr that cancels a command once it has written a line
// containing at.
type cancelWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	at     string
	cancel func()
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.at != "" && strings.Contains(w.buf.String(), w.at) {
		w.cancel()
	}
	return n, err
}

// interrupted runs seclab and presses Ctrl-C when stderr shows at (or when
// until returns true, polled in the background).
func interrupted(t *testing.T, at string, until func() bool, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errw := &cancelWriter{at: at, cancel: cancel}
	if until != nil {
		go func() {
			for ctx.Err() == nil {
				if until() {
					cancel()
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	var out bytes.Buffer
	code := cli.Main(ctx, append([]string{"seclab"}, args...), &out, errw)
	t.Logf("$ seclab %s (interrupted) -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errw.buf.String())
	return errw.buf.String(), code
}

// noLeftovers fails if a canary namespace or probe pod is left.
func noLeftovers(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := client(t)
	nss, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		if strings.HasPrefix(ns.Name, "seclab-canary") {
			t.Errorf("canary namespace %s left (%s)", ns.Name, ns.Status.Phase)
		}
	}
	pods, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: verify.ProbeLabel + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		t.Errorf("probe pod %s/%s left", p.Namespace, p.Name)
	}
}

// 6: Ctrl-C in start's canary and in reset's solution apply: exit 130,
// no new run recorded, and the next start or reset cleans up and works.
func faultInterrupt(t *testing.T) {
	before := loadState(t).Lab(faultLab)
	c := client(t)
	_, code := interrupted(t, "", func() bool {
		// in the canary, once it made its namespace
		_, err := c.CoreV1().Namespaces().Get(context.Background(), "seclab-canary-netpol", metav1.GetOptions{})
		return err == nil
	}, "start", faultLab)
	if code != cli.ExitInterrupt {
		t.Errorf("start interrupted in the canary: exit %d, want 130", code)
	}
	after := loadState(t).Lab(faultLab)
	if after.Run != before.Run || after.SetupIncomplete || len(after.History) != len(before.History) {
		t.Errorf("state changed by an interrupted start: before %+v, after %+v", before.Attempt, after.Attempt)
	}
	mustRun(t, 0, "start", faultLab)
	noLeftovers(t)

	solveStep(t, 1)
	before = loadState(t).Lab(faultLab)
	old, err := c.CoreV1().Namespaces().Get(context.Background(), "n287", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, code = interrupted(t, "", func() bool {
		// cancel once reset deleted n287 and began applying step 1's
		// solution again: the namespace is a new one
		ns, err := c.CoreV1().Namespaces().Get(context.Background(), "n287", metav1.GetOptions{})
		return err == nil && ns.UID != old.UID
	}, "reset", "--step", "3")
	if code != cli.ExitInterrupt {
		t.Errorf("reset interrupted in the solutions: exit %d, want 130", code)
	}
	after = loadState(t).Lab(faultLab)
	if after.Run != before.Run || !after.SetupIncomplete {
		t.Errorf("after the interrupted reset: run %q (was %q), setup incomplete %v", after.Run, before.Run, after.SetupIncomplete)
	}
	wantError(t, cli.ExitEnvError, []string{"check"}, "did not finish", "run: seclab reset")
	mustRun(t, 0, "reset")
	reports, code := checkJSON(t)
	if code != cli.ExitFailed || reports[0].Step != 1 {
		t.Errorf("after reset: exit %d step %d; want step 1 to fail", code, reports[0].Step)
	}
	if _, err := c.CoreV1().Namespaces().Get(context.Background(), "n287", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the half-applied solution's namespace n287 survived reset: %v", err)
	}
	noLeftovers(t)
}

// 7: down deletes the cluster only; status and list still show the run,
// and the next start begins a new run that keeps the record.
func faultDownKeepsProgress(t *testing.T) {
	before := statusJSON(t)
	for n := 1; n <= 3; n++ {
		solveStep(t, n)
	}
	out, _ := mustRun(t, 0, "down")
	if !strings.Contains(out, "deleted cluster "+faultCluster) {
		t.Errorf("down: %s", out)
	}
	out, _ = mustRun(t, 0, "status")
	for _, want := range []string{"This run ended: its cluster was deleted by seclab down", "✓ 3.", "seclab start netpol"} {
		if !strings.Contains(out, want) {
			t.Errorf("status after down lacks %q:\n%s", want, out)
		}
	}
	if out, _ := mustRun(t, 0, "list"); !strings.Contains(out, "done (3/3) (cluster gone)") {
		t.Errorf("list after down:\n%s", out)
	}
	wantError(t, cli.ExitEnvError, []string{"check"}, "was deleted by seclab down", "run: seclab start netpol to do the lab again")

	mustRun(t, 0, "start", faultLab)
	v := statusJSON(t)
	// Earlier tests in this process may have completed the lab too: this
	// run's completion is one more.
	if v.Next != 1 || v.FirstCompleted == nil || v.Completions != before.Completions+1 || len(v.History) == 0 || v.History[len(v.History)-1].Passed != 3 {
		t.Errorf("status after a new start: next %d, first completed %v, completions %d (were %d), history %+v",
			v.Next, v.FirstCompleted, v.Completions, before.Completions, v.History)
	}
	if out, _ := mustRun(t, 0, "list"); !strings.Contains(out, "0/3 steps, completed ") {
		t.Errorf("list after a new start:\n%s", out)
	}
}

// labStatus is what the fault tests read of `status -o json`.
type labStatus struct {
	Next           int
	FirstCompleted *time.Time
	Completions    int
	History        []struct{ Passed int }
}

func statusJSON(t *testing.T) labStatus {
	t.Helper()
	out, _ := mustRun(t, 0, "status", "-o", "json")
	var v labStatus
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	return v
}

// 2: the node containers removed outside seclab: check, status and reset
// say so and what to do; start creates the cluster again.
func faultClusterDeleted(t *testing.T) {
	docker(t, "rm", "-f", "-v", faultCP, faultWorker)
	gone := "cluster " + faultCluster + " no longer exists (deleted outside seclab?); run: seclab start netpol to create it again"
	for _, args := range [][]string{{"check"}, {"status"}, {"reset"}} {
		wantError(t, cli.ExitEnvError, args, gone)
	}
	_, errOut := mustRun(t, 0, "start", faultLab)
	if !strings.Contains(errOut, "creating cluster") {
		t.Errorf("start did not create the cluster:\n%s", errOut)
	}
	mustRun(t, cli.ExitFailed, "check")
}
