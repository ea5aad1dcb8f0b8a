package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/verify"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"seclab"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func TestListText(t *testing.T) {
	out, _, code := runCLI(t, "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"ID", "KCSA DOMAIN", "PROFILE", "netpol", "Isolate pods with NetworkPolicy", "secrets", "not started"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
}

func TestListJSON(t *testing.T) {
	out, _, code := runCLI(t, "list", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var rows []labRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	found := false
	for _, r := range rows {
		if r.ID == "netpol" {
			found = true
			if r.Profile != "netpol" || r.Steps != 3 || r.Minutes <= 0 {
				t.Errorf("netpol row: %+v", r)
			}
		}
	}
	if !found {
		t.Errorf("netpol not listed: %s", out)
	}
}

func TestBadInputIsOneLineAndExit2(t *testing.T) {
	cases := [][]string{
		{"start", "no-such-lab"},
		{"start"},
		{"check"},        // no lab started
		{"check", "abc"}, // not a step number
		{"list", "-o", "yaml"},
		{"hint"},
		{"frobnicate"},
	}
	for _, args := range cases {
		_, errOut, code := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitUsage, errOut)
		}
		if args[0] == "frobnicate" {
			continue // urfave prints its own help for unknown commands
		}
		if lines := strings.Count(strings.TrimRight(errOut, "\n"), "\n") + 1; lines != 1 || !strings.HasPrefix(errOut, "seclab: ") {
			t.Errorf("%v: want one 'seclab: ...' line, got %q", args, errOut)
		}
	}
}

func TestUnknownLabNamesValidOnes(t *testing.T) {
	_, errOut, _ := runCLI(t, "start", "netpoll")
	if !strings.Contains(errOut, `unknown lab "netpoll"`) || !strings.Contains(errOut, "netpol, secrets") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestValidateBrokenLabsDir(t *testing.T) {
	_, errOut, code := runCLI(t, "--labs-dir", "../catalog/testdata/broken", "validate")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if !strings.Contains(errOut, "typos/lab.yaml: profil: unknown field") || !strings.Contains(errOut, "badchecks/lab.yaml: title: required") {
		t.Errorf("validate did not report every problem:\n%s", errOut)
	}
}

func TestStatusWithoutLab(t *testing.T) {
	out, _, code := runCLI(t, "status")
	if code != 0 || !strings.Contains(out, "No lab started") {
		t.Errorf("exit %d, out %q", code, out)
	}
}

func TestPrintResultShowsExpectedAndFound(t *testing.T) {
	var b bytes.Buffer
	printResult(&b, verify.Result{Name: "nginx1 can no longer reach nginx2", Status: verify.Fail, Expected: "blocked", Found: "HTTP 200 (connection allowed)"})
	printResult(&b, verify.Result{Name: "deployment ready", Status: verify.Pass})
	printResult(&b, verify.Result{Name: "probe", Status: verify.Error, Found: "no Running pod matches app=nginx1 in n287\npod x: ErrImagePull"})
	got := b.String()
	for _, want := range []string{
		"  ✗ nginx1 can no longer reach nginx2\n      expected: blocked\n      found:    HTTP 200 (connection allowed)\n",
		"  ✓ deployment ready\n",
		"  ! probe\n      could not check: no Running pod matches app=nginx1 in n287\n                       pod x: ErrImagePull\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestCheckExitCodes(t *testing.T) {
	rep := func(st ...verify.Status) []engine.StepReport {
		r := engine.StepReport{}
		for _, s := range st {
			r.Results = append(r.Results, verify.Result{Status: s, Elapsed: time.Second})
		}
		return []engine.StepReport{r}
	}
	code := func(err error) int {
		if err == nil {
			return 0
		}
		return err.(*ExitError).Code
	}
	if c := code(checkExit(rep(verify.Pass, verify.Pass))); c != 0 {
		t.Errorf("all pass: %d", c)
	}
	if c := code(checkExit(rep(verify.Pass, verify.Fail, verify.Error))); c != ExitFailed {
		t.Errorf("a failure: %d", c)
	}
	if c := code(checkExit(rep(verify.Pass, verify.Error))); c != ExitEnvError {
		t.Errorf("only errors: %d", c)
	}
}

func report(step int, st ...verify.Status) engine.StepReport {
	r := engine.StepReport{Lab: "secrets", Step: step, Of: 4, Title: "Create a Secret", Passed: true}
	for i, s := range st {
		r.Results = append(r.Results, verify.Result{Name: fmt.Sprintf("check %d", i+1), Status: s, Expected: "e", Found: "f"})
		if s != verify.Pass {
			r.Passed = false
		}
	}
	return r
}

// The summary counts failures (the learner's to fix) apart from checks
// seclab could not run.
func TestPrintReportsSummary(t *testing.T) {
	var b bytes.Buffer
	reports := []engine.StepReport{
		report(2, verify.Pass, verify.Fail, verify.Error, verify.Pass),
		report(3, verify.Error, verify.Pass),
		report(4, verify.Pass, verify.Pass),
		report(1, verify.Fail),
	}
	if err := printReports(&b, nil, reports, false); err != nil {
		t.Fatal(err)
	}
	want := `Step 2/4: Create a Secret
  ✓ check 1
  ✗ check 2
      expected: e
      found:    f
  ! check 3
      could not check: f
  ✓ check 4
Step 2 not done yet: 1 failed, 1 could not be checked, 2 passed (of 4). Stuck? seclab hint 2

Step 3/4: Create a Secret
  ! check 1
      could not check: f
  ✓ check 2
Step 3 could not be verified: 1 could not be checked, 1 passed (of 2); see the errors above, then run seclab check again.

Step 4/4: Create a Secret
  ✓ check 1
  ✓ check 2
Step 4 passed (2/2 checks).

Step 1/4: Create a Secret
  ✗ check 1
      expected: e
      found:    f
Step 1 not done yet: 1 failed (of 1). Stuck? seclab hint 1
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestStepReportJSONHasCounts(t *testing.T) {
	data, err := json.Marshal(report(2, verify.Pass, verify.Fail, verify.Error, verify.Error))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Step    int             `json:"step"`
		Passed  bool            `json:"passed"`
		Results []verify.Result `json:"results"`
		Counts  map[string]int  `json:"counts"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Step != 2 || got.Passed || len(got.Results) != 4 {
		t.Errorf("report fields lost: %s", data)
	}
	if got.Counts["passed"] != 1 || got.Counts["failed"] != 1 || got.Counts["errors"] != 2 || len(got.Counts) != 3 {
		t.Errorf("counts = %v in %s", got.Counts, data)
	}
}
