package verify

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests run probeScript itself with /bin/sh, against real curl and
// wget where the machine has them and against stand-ins that print what
// busybox wget prints in cases a test cannot stage (DNS failure, timeout).

// toolbox is a PATH directory with the utilities the script needs plus the
// named HTTP tools (real ones linked, or stand-in scripts).
func toolbox(t *testing.T, real []string, fakes map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range append([]string{"sed", "tail", "tr", "cut", "timeout", "sleep"}, real...) {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not installed", tool)
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

func runProbe(t *testing.T, path, url string) string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := probeCommand(url)
	c := exec.Command(sh, cmd[1:]...)
	c.Env = []string{"PATH=" + path}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed (it must always exit 0): %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// server answers / with 200 and anything else with 404; closed is a port
// nothing listens on.
func server(t *testing.T) (url, closed string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed = "http://" + l.Addr().String() + "/"
	l.Close()
	return srv.URL + "/", closed
}

func TestProbeScriptRealTools(t *testing.T) {
	url, closed := server(t)
	for _, tool := range []string{"curl", "wget"} {
		t.Run(tool, func(t *testing.T) {
			path := toolbox(t, []string{tool}, nil)
			if got := runProbe(t, path, url); got != "SECLAB http 200" {
				t.Errorf("open: %q", got)
			}
			// Any HTTP answer means the connection got through.
			if got := runProbe(t, path, url+"missing"); got != "SECLAB http 404" {
				t.Errorf("404: %q", got)
			}
			got := runProbe(t, path, closed)
			if got != "SECLAB connect" && got != "SECLAB refused" {
				t.Errorf("closed port: %q", got)
			}
			if o, _, _ := parseProbe(got); blockedOutcomes[o] == "" {
				t.Errorf("%q is not a blocked outcome", o)
			}
		})
	}
}

func TestProbeScriptStandIns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fakes map[string]string
		want  string
	}{
		{"curl dns", map[string]string{"curl": "printf 000; exit 6"}, "SECLAB dns"},
		{"curl timeout", map[string]string{"curl": "printf 000; exit 28"}, "SECLAB timeout 2"},
		{"curl prefers curl", map[string]string{"curl": "printf 204", "wget": "exit 99"}, "SECLAB http 204"},
		{"busybox dns", map[string]string{"wget": `echo "wget: bad address 'nginx2.n287.svc.cluster.local'" >&2; exit 1`}, "SECLAB dns"},
		{"busybox timeout", map[string]string{"wget": `echo "Connecting to nginx2 (10.96.0.10:80)" >&2; echo "wget: download timed out" >&2; exit 1`}, "SECLAB timeout 3"},
		{"wget hangs until timeout(1) kills it", map[string]string{"wget": `sleep 10`}, "SECLAB timeout 3"},
		{"busybox refused", map[string]string{"wget": `echo "wget: can't connect to remote host (10.96.0.10): Connection refused" >&2; exit 1`}, "SECLAB refused"},
		{"busybox unreachable", map[string]string{"wget": `echo "wget: can't connect to remote host (10.96.0.10): Host is unreachable" >&2; exit 1`}, "SECLAB unreachable"},
		{"busybox http error", map[string]string{"wget": `echo "  HTTP/1.1 403 Forbidden" >&2; echo "wget: server returned error: HTTP/1.1 403 Forbidden" >&2; exit 1`}, "SECLAB http 403"},
		{"gnu dns", map[string]string{"wget": `echo "wget: unable to resolve host address 'x'" >&2; exit 4`}, "SECLAB dns"},
		{"unknown failure", map[string]string{"wget": `echo "wget: weird" >&2; exit 5`}, "SECLAB other wget exit code 5: wget: weird"},
		{"no tool", nil, "SECLAB notool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := toolbox(t, nil, tc.fakes)
			if got := runProbe(t, path, "http://nginx2.n287.svc.cluster.local:80/"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
