//go:build e2e

package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/seclab/seclab/internal/cluster"
)

// TestPSSCluster runs the pss-cluster lab's self-test, then shows what its
// checks rest on the way a learner meets it: real creates, not dry runs,
// in a namespace made after the cluster, and a wrong answer that gives
// nothing away.
func TestPSSCluster(t *testing.T) {
	defer deleteOwnCluster(t, "psa-with-cluster-pss")
	selfTest(t, "pss-cluster")

	t.Run("a wrong answer does not give the path away", func(t *testing.T) {
		out, _, code := run(t, "answer", "--step", "1", "/etc/config")
		if code != 1 || !strings.Contains(out, `answer "/etc/config" is not correct`) {
			t.Fatalf("wrong answer: exit %d, output:\n%s", code, out)
		}
		if strings.Contains(out, "cluster-level-pss.yaml") {
			t.Errorf("the step's output names the file the learner must find:\n%s", out)
		}
	})

	t.Run("the cluster's defaults protect a new unlabeled namespace; kube-system is exempt", func(t *testing.T) {
		ctx := context.Background()
		c, warnings := pssClient(t)
		const ns = "seclab-e2e-unlabeled"
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})

		_, err := c.CoreV1().Pods(ns).Create(ctx, sleeper("priv", true), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "baseline:latest": privileged`) {
			t.Errorf("privileged pod in unlabeled %s: err = %v, want Pod Security's baseline denial", ns, err)
		}

		warnings.reset()
		if _, err := c.CoreV1().Pods(ns).Create(ctx, sleeper("plain", false), metav1.CreateOptions{}); err != nil {
			t.Errorf("pod without a securityContext in %s: %v, want admitted", ns, err)
		}
		if w := warnings.get(); len(w) == 0 || !strings.Contains(strings.Join(w, "\n"), `would violate PodSecurity "restricted:latest"`) {
			t.Errorf("pod without a securityContext in %s: warnings %q, want the restricted warning", ns, w)
		}

		warnings.reset()
		const sys = "kube-system"
		if _, err := c.CoreV1().Pods(sys).Create(ctx, sleeper("seclab-e2e-privileged", true), metav1.CreateOptions{}); err != nil {
			t.Fatalf("privileged pod in %s: %v, want admitted (exempt)", sys, err)
		}
		defer c.CoreV1().Pods(sys).Delete(ctx, "seclab-e2e-privileged", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		if w := warnings.get(); len(w) != 0 {
			t.Errorf("privileged pod in %s: warnings %q, want none (exempt)", sys, w)
		}
	})
}

func sleeper(name string, privileged bool) *corev1.Pod {
	ctr := corev1.Container{Name: "app", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "3600"}}
	if privileged {
		ctr.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{ctr}, TerminationGracePeriodSeconds: ptr.To[int64](0)}}
}

// warningLog keeps the API server's warnings.
type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningLog) HandleWarningHeader(code int, _, text string) {
	if code == 299 && text != "" {
		w.mu.Lock()
		w.msgs = append(w.msgs, text)
		w.mu.Unlock()
	}
}

func (w *warningLog) reset() { w.mu.Lock(); w.msgs = nil; w.mu.Unlock() }

func (w *warningLog) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// pssClient is a client of the lab's cluster that records warnings.
func pssClient(t *testing.T) (kubernetes.Interface, *warningLog) {
	t.Helper()
	p, err := cluster.MustBuiltin().Get("psa-with-cluster-pss")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := eng.Clusters.RESTConfig(p.ClusterName())
	if err != nil {
		t.Fatal(err)
	}
	cfg = rest.CopyConfig(cfg)
	w := &warningLog{}
	cfg.WarningHandler = w
	cfg.WarningHandlerWithContext = nil
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}
