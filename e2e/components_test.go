//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/seclab/seclab/internal/cluster"
)

// TestComponents runs the components lab's self-test (which edits the API
// server's manifest and every kubelet's configuration), then breaks the
// API server as a learner may, and proves that reset brings the lab back:
// the cluster's own manifest and kubelet configuration are put back, the
// learner's kept, and the Secrets only the learner's key could read no
// longer block the lab's namespace.
func TestComponents(t *testing.T) {
	defer deleteOwnCluster(t, "components")
	selfTest(t, "components")

	p, err := cluster.MustBuiltin().Get("components")
	if err != nil {
		t.Fatal(err)
	}
	cp := p.ClusterName() + "-control-plane"
	const manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"

	t.Run("reset restores an API server the learner broke", func(t *testing.T) {
		// An unknown flag: the API server exits at once, the API is gone.
		docker(t, "exec", cp, "sed", "-i", `s|^    - kube-apiserver$|&\n    - --seclab-e2e-no-such-flag=1|`, manifest)
		if _, _, code := run(t, "reset"); code != 0 {
			t.Fatalf("reset exit %d", code)
		}
		docker(t, "exec", cp, "cmp", "/var/lib/seclab/kept/kube-apiserver.yaml", manifest)
		if out := docker(t, "exec", cp, "cat", "/var/lib/seclab/yours/kube-apiserver.yaml"); !strings.Contains(out, "--seclab-e2e-no-such-flag=1") {
			t.Errorf("the learner's manifest is not kept in /var/lib/seclab/yours:\n%s", out)
		}
		reports, code := checkJSON(t)
		if code != 1 || reports[0].Step != 1 || reports[0].Passed {
			t.Fatalf("after reset, check should fail on step 1 (exit 1), got exit %d step %d", code, reports[0].Step)
		}
		// The kubelets are open again, and db-credentials is plain text
		// again: the lab starts over, not half-way.
		reports, code = checkJSON(t, "2")
		if code != 1 || !strings.Contains(describe(reports[0]), "anonymous authentication is on") {
			t.Errorf("after reset, step 2 should fail on the open kubelets: exit %d%s", code, describe(reports[0]))
		}
		reports, code = checkJSON(t, "4")
		if code != 1 || !strings.Contains(describe(reports[0]), "db-credentials is still stored in etcd in plain text") {
			t.Errorf("after reset, step 4 should find db-credentials in plain text: exit %d%s", code, describe(reports[0]))
		}
	})
}
