package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// maxCapture bounds the output kept from one exec: checks look at the first
// few hundred bytes, and a learner's `cat` of a huge file must not eat
// memory.
const maxCapture = 1 << 20

// remoteExecer is the real Execer: the pods/exec subresource, like kubectl
// exec, over WebSocket (the default since Kubernetes 1.30) with a fallback
// to SPDY for older API servers or proxies that cannot upgrade.
type remoteExecer struct {
	cfg    *rest.Config
	client kubernetes.Interface
}

// NewExecer returns an Execer that runs commands through the API server.
func NewExecer(cfg *rest.Config, client kubernetes.Interface) Execer {
	return &remoteExecer{cfg: cfg, client: client}
}

func (e *remoteExecer) Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader) (string, string, int, error) {
	req := e.client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   cmd,
			Stdin:     stdin != nil,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)

	ws, err := remotecommand.NewWebSocketExecutor(e.cfg, "GET", req.URL().String())
	if err != nil {
		return "", "", 0, fmt.Errorf("websocket executor: %w", err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.cfg, "POST", req.URL())
	if err != nil {
		return "", "", 0, fmt.Errorf("spdy executor: %w", err)
	}
	// Same fallback rule as kubectl exec.
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", "", 0, err
	}

	stdout := &capped{max: maxCapture}
	stderr := &capped{max: maxCapture}
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	// A non-zero exit status is an outcome, not a failure to run.
	var exit utilexec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return stdout.String(), stderr.String(), exit.ExitStatus(), nil
	}
	if err != nil {
		return stdout.String(), stderr.String(), 0, err
	}
	return stdout.String(), stderr.String(), 0, nil
}

// capped is a buffer that silently drops what exceeds max.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}
