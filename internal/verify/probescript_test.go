package verify

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests run probeScript itself with /bin/sh, against real curl and
// wget where the machine has them and against stand-ins that print what
// busybox wget prints in cases a test cannot stage (DNS failure, timeout).

// toolbox is a PATH directory with the utilities the script needs plus the
// named HTTP tools (real ones linked, or stand-in scripts).
func toolbox(t *testing.T, real []string, fakes map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range append([]string{"sed", "tail", "tr", "cut", "grep", "timeout", "sleep"}, real...) {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s not installed (the probe script's tests need it: apt-get install curl wget)", tool)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range fakes {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runProbe(t *testing.T, path, hostport string) string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal("no sh")
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	cmd := probeCommand(host, p)
	c := exec.Command(sh, cmd[1:]...)
	c.Env = []string{"PATH=" + path}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed (it must always exit 0): %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// servers: one answering / with 200, one answering only after 6s (slower
// than the probe waits), and a port nothing listens on.
func servers(t *testing.T) (fast, slow, closed string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	release := make(chan struct{})
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(6 * time.Second):
		}
	}))
	t.Cleanup(func() { close(release); slowSrv.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed = l.Addr().String()
	l.Close()
	return strings.TrimPrefix(srv.URL, "http://"), strings.TrimPrefix(slowSrv.URL, "http://"), closed
}

// Real tools, real sockets: an answer, a refusal, and a slow answer, which
// must never read as a blocked connect.
func TestProbeScriptRealTools(t *testing.T) {
	fast, slow, closed := servers(t)
	for _, tc := range []struct {
		tool                 string
		open, refused, slowW string
	}{
		{"curl", "SECLAB http 200", "SECLAB refused", "SECLAB connected"},
		{"bash", "SECLAB connected", "SECLAB refused", "SECLAB connected"},
		{"wget", "SECLAB http 200", "SECLAB refused", "SECLAB ambiguous"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			path := toolbox(t, []string{tc.tool}, nil)
			if got := runProbe(t, path, fast); got != tc.open {
				t.Errorf("open port: %q, want %q", got, tc.open)
			}
			if got := runProbe(t, path, closed); got != tc.refused {
				t.Errorf("closed port: %q, want %q", got, tc.refused)
			}
			if got := runProbe(t, path, slow); got != tc.slowW {
				t.Errorf("slow answer: %q, want %q", got, tc.slowW)
			}
		})
	}
}

// Cases a test cannot stage on loopback (a dropped SYN), through stand-ins
// that print what the real tools print.
func TestProbeScriptStandIns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fakes map[string]string
		want  string
	}{
		{"curl connect timeout (7.88)", map[string]string{"curl": `echo "curl: (28) Failed to connect to 10.96.0.10 port 80 after 2001 ms: Timeout was reached" >&2; printf ' code=000'; exit 28`}, "SECLAB timeout"},
		{"curl connect timeout (older)", map[string]string{"curl": `echo "curl: (28) Connection timed out after 2001 milliseconds" >&2; printf ' code=000'; exit 28`}, "SECLAB timeout"},
		{"curl slow answer", map[string]string{"curl": `echo "* Connected to 10.96.0.10 (10.96.0.10) port 80 (#0)" >&2; echo "curl: (28) Operation timed out after 4001 milliseconds with 0 bytes received" >&2; printf ' code=000'; exit 28`}, "SECLAB connected"},
		{"curl timeout without a connect", map[string]string{"curl": `echo "curl: (28) Operation timed out after 4001 milliseconds with 0 bytes received" >&2; printf ' code=000'; exit 28`}, "SECLAB timeout"},
		{"curl no route", map[string]string{"curl": `echo "* connect to 10.96.0.10 port 80 failed: No route to host" >&2; echo "curl: (7) Failed to connect to 10.96.0.10 port 80 after 3 ms: Couldn't connect to server" >&2; printf ' code=000'; exit 7`}, "SECLAB unreachable"},
		{"curl reset", map[string]string{"curl": `echo "curl: (56) Recv failure: Connection reset by peer" >&2; printf ' code=000'; exit 56`}, "SECLAB reset"},
		{"curl preferred", map[string]string{"curl": "printf ' code=204'", "wget": "exit 99"}, "SECLAB http 204"},
		{"bash connect timeout", map[string]string{"bash": `sleep 10`}, "SECLAB timeout"},
		{"busybox timeout is ambiguous", map[string]string{"wget": `echo "Connecting to 10.96.0.10:80 (10.96.0.10:80)" >&2; echo "wget: download timed out" >&2; exit 1`}, "SECLAB ambiguous"},
		{"wget hangs until timeout(1) kills it", map[string]string{"wget": `sleep 10`}, "SECLAB ambiguous"},
		{"busybox unreachable", map[string]string{"wget": `echo "wget: can't connect to remote host (10.96.0.10): Host is unreachable" >&2; exit 1`}, "SECLAB unreachable"},
		{"busybox http error", map[string]string{"wget": `echo "  HTTP/1.1 403 Forbidden" >&2; echo "wget: server returned error: HTTP/1.1 403 Forbidden" >&2; exit 1`}, "SECLAB http 403"},
		{"unknown failure", map[string]string{"wget": `echo "wget: weird" >&2; exit 5`}, "SECLAB other wget exit code 5: wget: weird"},
		{"no tool", nil, "SECLAB notool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := toolbox(t, nil, tc.fakes)
			if got := runProbe(t, path, "10.96.0.10:80"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
