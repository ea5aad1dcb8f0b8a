package strictyaml

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/go-multierror"
)

// The list names the count in its heading and puts each error on its own
// line, in order.
func TestProblemList(t *testing.T) {
	format := ProblemList(func(n int) string { return fmt.Sprintf("invalid things, %d problem(s)", n) })
	err := multierror.Append(nil, errors.New("a.yaml: x: unknown field"), errors.New("b.yaml: y: required"))
	err.ErrorFormat = format
	want := "invalid things, 2 problem(s):\n  - a.yaml: x: unknown field\n  - b.yaml: y: required"
	if got := err.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := format([]error{errors.New("only")}); got != "invalid things, 1 problem(s):\n  - only" {
		t.Errorf("one error: %q", got)
	}
}
