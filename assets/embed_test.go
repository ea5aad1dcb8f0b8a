package assets

import (
	"os/exec"
	"strings"
	"testing"
)

// The keys Go uses exist, and the shell reads the file to the same values
// (no quoting or expansion that would make them differ).
func TestVersionsAgreeWithTheShell(t *testing.T) {
	for _, k := range []string{"K8S_VERSION", "NODE_IMAGE", "AGENT_IMAGE", "NGINX_IMAGE", "BUSYBOX_IMAGE", "TRUSTED_BUSYBOX_IMAGE", "PROBE_IMAGE"} {
		v := Version(k)
		if v == "" {
			t.Errorf("%s is empty", k)
		}
		out, err := exec.Command("bash", "-c", `. ./versions.env && printf '%s' "$`+k+`"`).Output()
		if err != nil {
			t.Fatalf("sourcing versions.env: %v", err)
		}
		if string(out) != v {
			t.Errorf("%s: Go reads %q, bash reads %q", k, v, out)
		}
	}
	if !strings.Contains(Version("NODE_IMAGE"), Version("K8S_VERSION")) {
		t.Errorf("NODE_IMAGE %s does not carry K8S_VERSION %s", Version("NODE_IMAGE"), Version("K8S_VERSION"))
	}
}

func TestVersionPanicsOnAMissingKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a missing key")
		}
	}()
	Version("NO_SUCH_KEY")
}
