package catalog

import (
	"strings"
	"testing"
	"testing/fstest"
)

// A script runs as sh -c with its lab-relative name as $0 and its args
// after it; a command runs as written.
func TestNodeArgs(t *testing.T) {
	lab := &Lab{files: fstest.MapFS{"s/fix.sh": {Data: []byte("echo $1\n")}}}
	got, err := lab.NodeArgs(NodeCommand{Script: "s/fix.sh", Args: []string{"a", "b"}})
	want := []string{"sh", "-c", "echo $1\n", "s/fix.sh", "a", "b"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("script: %q, %v; want %q", got, err, want)
	}
	if got, _ := lab.NodeArgs(NodeCommand{Command: []string{"true"}}); len(got) != 1 || got[0] != "true" {
		t.Errorf("command: %q", got)
	}
	if _, err := lab.NodeArgs(NodeCommand{Script: "gone.sh"}); err == nil {
		t.Error("a missing script: no error")
	}
}
