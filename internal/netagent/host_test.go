package netagent

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Prerequisites of the tests that use the real kernel, besides commands.
const (
	needRoot        = "root"
	needBrNetfilter = "br_netfilter"
)

// requireHost skips t unless the host has what it needs: needRoot,
// needBrNetfilter or commands. Under CI=true it fails instead: a kernel test
// that CI never runs cannot catch anything.
func requireHost(t *testing.T, needs ...string) {
	t.Helper()
	var missing []string
	for _, n := range needs {
		switch n {
		case needRoot:
			if os.Geteuid() != 0 {
				missing = append(missing, "root")
			}
		case needBrNetfilter:
			if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
				missing = append(missing, "br_netfilter (no /proc/sys/net/bridge)")
			}
		default:
			if _, err := exec.LookPath(n); err != nil {
				missing = append(missing, "the "+n+" command")
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "needs " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (.ci/run installs nftables and iproute2; it must run as root)", msg)
	}
	t.Skipf("%s (under CI=true this fails)", msg)
}
