package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/state"
)

// A cluster that does not come back is most likely the learner's edit of
// a node file when the lab has them edit node files: reset, which puts
// them back, is the way out; elsewhere start brings the cluster back.
func TestNotReadyClusterSuggestsResetWhereNodeFilesAreEdited(t *testing.T) {
	notReady := fmt.Errorf("cluster c %w after 3m0s: the API server is not serving yet", errNotReady)
	edits := Active{Lab: &catalog.Lab{ID: "components", NodeRestore: []catalog.NodeCommand{{Script: "r.sh"}}}, Progress: &state.Progress{Attempt: state.Attempt{Cluster: "c"}}}
	if got := clusterError(edits, notReady).Error(); !strings.Contains(got, "run: seclab reset to put back the cluster's own node files") {
		t.Errorf("lab with node restore: %s", got)
	}
	plain := Active{Lab: &catalog.Lab{ID: "netpol"}, Progress: &state.Progress{Attempt: state.Attempt{Cluster: "c"}}}
	if got := clusterError(plain, notReady).Error(); !strings.Contains(got, "run: seclab start netpol to bring the cluster back") {
		t.Errorf("lab without: %s", got)
	}
}
