package cli

import (
	"io"
	"os"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// client-go reports a closed exec stream through klog at error level; the
// learner must not see it (without --verbose).
func TestQuietClientGoSilencesErrors(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = stderr }()

	quietClientGo([]string{"seclab", "check"})
	klog.ErrorS(nil, "Unhandled Error", "err", "next reader: use of closed network connection")
	klog.Error("websocket ping failed")
	klog.Flush()
	w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("klog errors reached stderr:\n%s", out)
	}
}
