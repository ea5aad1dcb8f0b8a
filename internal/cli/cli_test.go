package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/verify"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	return runIn(t, context.Background(), args...)
}

// runIn runs seclab with the environment the test set up. Docker points
// nowhere: a command that reaches it fails instead of touching real
// clusters.
func runIn(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/seclab-test-docker.sock")
	var out, errb bytes.Buffer
	code := Main(ctx, append([]string{"seclab"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// withLab gives the test a state directory where the secrets lab is
// started on a cluster that does not exist.
func withLab(t *testing.T) { t.Helper(); withStarted(t, "secrets") }

// withStarted is withLab for lab id.
func withStarted(t *testing.T, id string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	st, err := state.Open(filepath.Join(dir, "seclab"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(s *state.State) error {
		s.StartLab(id, "seclab-default", "kind-seclab-default", time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Bad input on any command: exit 2, nothing on stdout (no help dump), one
// "seclab: ..." line on stderr, and no docker needed to say so.
func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	emptyDir := t.TempDir()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		lab  bool // a lab is started
		args []string
		want string
	}{
		{false, []string{"frobnicate"}, "unknown command 'frobnicate'"},
		{false, []string{"--bogus", "list"}, "flag provided but not defined: -bogus; see: seclab --help"},
		{false, []string{"--labs-dir", "/nonexistent-seclab-labs", "list"}, "labs directory /nonexistent-seclab-labs: does not exist"},
		{false, []string{"--labs-dir", notDir, "start", "secrets"}, "is not a directory"},
		{false, []string{"--labs-dir", emptyDir, "list"}, "no labs found"},
		{false, []string{"--labs-dir", emptyDir, "validate"}, "no labs found"},
		{false, []string{"--labs-dir", notDir, "validate"}, "is not a directory"},
		{false, []string{"--labs-dir", "../../labs/secrets", "validate"}, "point --labs-dir at its parent directory"},
		{false, []string{"list", "x"}, "list takes no arguments"},
		{false, []string{"list", "--bogus"}, "flag provided but not defined: -bogus; see: seclab list --help"},
		{false, []string{"list", "-o", "yaml"}, `unknown output format "yaml"`},
		{false, []string{"status", "x"}, "status takes no arguments"},
		{false, []string{"status", "-o", "yaml"}, "unknown output format"},
		{false, []string{"status", "-o", "json"}, "no lab started"},
		{false, []string{"start"}, "start needs exactly one lab id"},
		{false, []string{"start", "a", "b"}, "start needs exactly one lab id"},
		{false, []string{"start", "no-such-lab"}, `unknown lab "no-such-lab"`},
		{false, []string{"start", "--image"}, "flag needs an argument: -image"},
		{false, []string{"check"}, "no lab started"},
		{false, []string{"check", "1", "2"}, "too many arguments: 1 2"},
		{false, []string{"check", "abc"}, `STEP must be a step number like 2, not "abc"`},
		{false, []string{"check", "0"}, "STEP must be a step number"},
		{false, []string{"check", "--all", "2"}, "either STEP or --all"},
		{false, []string{"check", "-o", "yaml"}, "unknown output format"},
		{false, []string{"check", "--bogus"}, "see: seclab check --help"},
		{false, []string{"hint"}, "no lab started"},
		{false, []string{"hint", "1", "2"}, "too many arguments"},
		{false, []string{"solution", "x"}, "STEP must be a step number"},
		{false, []string{"solution", "--apply=maybe"}, `invalid boolean value "maybe" for -apply`},
		{false, []string{"answer"}, "answer needs exactly one VALUE"},
		{false, []string{"answer", "a", "b"}, "answer needs exactly one VALUE"},
		{false, []string{"answer", "--step", "x", "v"}, `invalid value "x" for flag -step`},
		{false, []string{"answer", "v"}, "no lab started"},
		{false, []string{"reset", "3"}, "reset takes no arguments (did you mean --step 3?)"},
		{false, []string{"reset", "--step", "x"}, `invalid value "x" for flag -step`},
		{false, []string{"reset"}, "no lab started"},
		{false, []string{"down", "x"}, "down takes no arguments"},
		{false, []string{"down", "--all", "x"}, "down takes no arguments"},
		{false, []string{"down"}, "no lab started"},
		{false, []string{"doctor", "x"}, "doctor takes no arguments"},
		{false, []string{"doctor", "-o", "yaml"}, "unknown output format"},
		{false, []string{"validate", "x"}, "validate takes no arguments"},
		{true, []string{"check", "9"}, "lab secrets has steps 1-4, not 9"},
		{true, []string{"hint", "9"}, "lab secrets has steps 1-4, not 9"},
		{true, []string{"solution", "9"}, "lab secrets has steps 1-4, not 9"},
		{true, []string{"answer", "--step", "9", "v"}, "lab secrets has steps 1-4, not 9"},
		{true, []string{"reset", "--step", "9"}, "lab secrets has steps 1-4, not 9"},
		{true, []string{"reset", "--step", "-1"}, "not -1"},
		{true, []string{"start", "secretz"}, `unknown lab "secretz"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if tc.lab {
				withLab(t)
			} else {
				t.Setenv("XDG_STATE_HOME", t.TempDir())
			}
			out, errOut, code := runIn(t, context.Background(), tc.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, ExitUsage, errOut)
			}
			if out != "" {
				t.Errorf("stdout should be empty, got %q", out)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "seclab: ") || !strings.Contains(errOut, tc.want) {
				t.Errorf("want one line 'seclab: ...%s...', got %q", tc.want, errOut)
			}
		})
	}
}

// Every command, including ones added later, rejects arguments it does not
// take with exit 2 before doing anything.
func TestEveryCommandRejectsExtraArguments(t *testing.T) {
	for _, cmd := range NewApp(io.Discard, io.Discard).Commands {
		args := []string{cmd.Name, "x"}
		if cmd.ArgsUsage != "" {
			args = []string{cmd.Name, "1", "2", "3"} // more than any command takes
		}
		t.Setenv("XDG_STATE_HOME", t.TempDir())
		_, errOut, code := runIn(t, context.Background(), args...)
		if code != ExitUsage || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", args, code, errOut)
		}
	}
}

// Ctrl-C cancels the context: exit 130 whatever error the command returned,
// including a check's own exit code and errors that lost the wrapping.
func TestExitStatusInterrupted(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		err  error
		want string
	}{
		{nil, "interrupted"},
		{&ExitError{Code: ExitEnvError}, "interrupted"}, // checkExit after "interrupted before the check could finish" results
		{&ExitError{Code: ExitFailed}, "interrupted"},
		{context.Canceled, "interrupted"},
		{fmt.Errorf("%w: %w", engine.ErrInterrupted, context.Canceled), "check interrupted before it finished; nothing was recorded: context canceled"},
		{errors.New("client rate limiter Wait returned an error: context canceled"), "interrupted (client rate limiter Wait returned an error: context canceled)"},
		{errors.New("failed to create cluster: signal: killed"), "interrupted (failed to create cluster: signal: killed)"},
		{usageErr(errors.New("bad")), "interrupted (bad)"},
	}
	for _, tc := range cases {
		code, msg := exitStatus(cancelled, tc.err)
		if code != ExitInterrupt || msg != tc.want {
			t.Errorf("%v: got %d %q, want %d %q", tc.err, code, msg, ExitInterrupt, tc.want)
		}
	}
	if code, _ := exitStatus(context.Background(), &ExitError{Code: ExitFailed}); code != ExitFailed {
		t.Errorf("not interrupted: exit %d, want %d", code, ExitFailed)
	}
}

// The whole path: a cancelled context reaching the cluster layer exits 130.
func TestInterruptedCheckExits130(t *testing.T) {
	withLab(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, errOut, code := runIn(t, ctx, "check")
	if code != ExitInterrupt || !strings.HasPrefix(errOut, "seclab: interrupted") {
		t.Errorf("exit %d, stderr %q; want 130 and 'seclab: interrupted...'", code, errOut)
	}
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

func TestUnknownLabNamesValidOnes(t *testing.T) {
	_, errOut, _ := runCLI(t, "start", "netpoll")
	_, valid, _ := strings.Cut(errOut, "valid labs: ")
	if !strings.Contains(errOut, `unknown lab "netpoll"`) || !strings.Contains(valid, "netpol") || !strings.Contains(valid, "secrets") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestValidateBrokenLabsDir(t *testing.T) {
	_, errOut, code := runCLI(t, "--labs-dir", "../catalog/testdata/broken", "validate")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	for _, want := range []string{
		"typos/lab.yaml: profil: unknown field",
		"typos/lab.yaml: profile: required", // validated despite the unknown field
		"badchecks/lab.yaml: title: required",
		`types/lab.yaml: minutes: wrong type`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate did not report %q:\n%s", want, errOut)
		}
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

func TestLabTestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"lab", "test"},
		{"lab", "test", "netpol", "--mutants", "some"},
		{"lab", "test", "--mutants", "sample=0", "netpol"},
		{"lab", "test", "netpol", "-o", "yaml"},
		{"lab", "test", "netpol", "secrets"},
		{"lab", "test", "no-such-lab"},
		{"lab", "test", "./no/such/dir"},
	} {
		_, errOut, code := runCLI(t, args...)
		if code != ExitUsage || strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 || !strings.HasPrefix(errOut, "seclab: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line", args, code, errOut, ExitUsage)
		}
	}
	// Flags after LAB|DIR are read too: valid ones get as far as the
	// directory check.
	_, errOut, _ := runCLI(t, "lab", "test", "./no/such/dir", "--mutants", "all", "-o", "json")
	if !strings.Contains(errOut, "./no/such/dir is not a lab directory") {
		t.Errorf("trailing flags: %q", errOut)
	}
}

func TestLabTestInvalidDirIsALabDefect(t *testing.T) {
	_, errOut, code := runCLI(t, "lab", "test", "../catalog/testdata/broken/badchecks", "--mutants", "none")
	if code != ExitFailed || !strings.Contains(errOut, "badchecks/lab.yaml: title: required") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestPrintSelfTest(t *testing.T) {
	fail := func(step int, name string) engine.CheckVerdict {
		return engine.CheckVerdict{Step: step, Name: name, Status: verify.Fail, Expected: "x", Found: "y"}
	}
	r := &engine.SelfTestReport{
		Lab: "netpol", Cluster: "seclab-netpol", Mutants: "all",
		Steps: []engine.StepSelfTest{{
			Step: 1, Title: "Deploy", Fresh: engine.StepRun{NotPassed: []engine.CheckVerdict{fail(1, "nginx1 is up")}}, Solution: &engine.StepRun{Passed: true},
		}, {
			Step: 2, Title: "Deny all ingress traffic to nginx2",
			Fresh: engine.StepRun{NotPassed: []engine.CheckVerdict{fail(2, "deny-all exists"), {Step: 2, Name: "nginx1 blocked", Status: verify.Error}}},
			NearMisses: []engine.Trial{
				{Name: "policy in default", Outcome: engine.Killed, CaughtBy: []engine.CheckVerdict{fail(2, "deny-all exists"), {Step: 2, Name: "probe", Status: verify.Error}}},
			},
			Mutants: []engine.Trial{
				{ID: "02.yaml#NetworkPolicy/deny-all:add-allow-all:spec.ingress", Outcome: engine.Killed, CaughtBy: []engine.CheckVerdict{fail(1, "nginx1 is up")}},
				{ID: "02.yaml#NetworkPolicy/deny-all:drop-field:spec.policyTypes[0]", Name: "spec.policyTypes[0] removed", Outcome: engine.Equivalent, Reason: "the API server stores it exactly as the solution's object"},
				{ID: "02.yaml#NetworkPolicy/deny-all:drop-field:spec.podSelector", Outcome: engine.Rejected, Reason: "spec.podSelector: Required value"},
				{ID: "02.yaml#NetworkPolicy/deny-all:change-label:x", Name: "label app changed", Outcome: engine.Survived},
				{ID: "02.yaml#NetworkPolicy/deny-all:widen-selector:y", Name: "y widened", Outcome: engine.Inconclusive, Reason: `no check failed; errors: "probe" (error)`},
			},
			Solution: &engine.StepRun{Passed: true},
		}},
		Problems: []string{"step 2: mutant 02.yaml#NetworkPolicy/deny-all:change-label:x SURVIVED"},
	}
	var b bytes.Buffer
	if err := printSelfTest(&b, r, true); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"Self-test of lab netpol on cluster seclab-netpol (mutants: all)\n",
		"\nStep 2/2: Deny all ingress traffic to nginx2\n",
		`  ✓ fresh lab fails it: "deny-all exists" (fail), "nginx1 blocked" (error)` + "\n",
		`  ✓ near-miss "policy in default": killed by "deny-all exists"` + "\n",
		`  ✓ mutant 02.yaml#NetworkPolicy/deny-all:add-allow-all:spec.ingress: killed by step 1: "nginx1 is up"` + "\n",
		"  = mutant 02.yaml#NetworkPolicy/deny-all:drop-field:spec.policyTypes[0]: equivalent (the API server stores it exactly as the solution's object)\n",
		"  – mutant 02.yaml#NetworkPolicy/deny-all:drop-field:spec.podSelector: rejected (spec.podSelector: Required value)\n",
		"  ✗ mutant 02.yaml#NetworkPolicy/deny-all:change-label:x: SURVIVED (label app changed): passed every check\n",
		`  ! mutant 02.yaml#NetworkPolicy/deny-all:widen-selector:y: inconclusive (y widened): no check failed; errors: "probe" (error)` + "\n",
		"  ✓ solution passes\n",
		"Self-test FAILED (mutants: 1 killed, 1 survived, 1 rejected, 1 equivalent, 1 inconclusive), 1 problem:\n  - step 2: mutant",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}

	if err := selfTestExit(r); err == nil || err.(*ExitError).Code != ExitFailed {
		t.Errorf("a report with problems exits %v, want %d", err, ExitFailed)
	}
	r.Problems = nil
	if err := selfTestExit(r); err != nil {
		t.Errorf("a held report exits %v", err)
	}
	r.Steps[1].Mutants = nil
	b.Reset()
	_ = printSelfTest(&b, r, true)
	if !strings.Contains(b.String(), "Self-test held: 2 steps (no mutants run).") {
		t.Errorf("held summary:\n%s", b.String())
	}
}

// validate reports the profiles' problems and the labs' at once; a lab
// naming a profile the directory lacks is one of them.
func TestValidateReportsProfilesAndLabsTogether(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("profiles/ok/profile.yaml", "description: fine\n")
	write("profiles/ok/cluster.yaml", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: control-plane}]\n")
	write("profiles/bad/profile.yaml", "description: broken\n")
	write("profiles/bad/cluster.yaml", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n    extraMounts: [{hostPath: nothere.yaml, containerPath: /etc/x}]\n")
	_, errOut, code := runCLI(t, "--profiles-dir", filepath.Join(dir, "profiles"), "--labs-dir", "../catalog/testdata/broken", "validate")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if head := fmt.Sprintf("invalid cluster profiles or labs, %d problem(s):\n  - ", strings.Count(errOut, "\n  - ")); !strings.Contains(errOut, head) {
		t.Errorf("validate should head its report with %q:\n%s", head, errOut)
	}
	for _, want := range []string{
		`profiles/bad/cluster.yaml: nodes[0].extraMounts[0].hostPath: "nothere.yaml" is not in the profile directory`,
		"typos/lab.yaml: profil: unknown field",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate did not report %q:\n%s", want, errOut)
		}
	}

	// With valid profiles, the labs are checked against their names.
	if err := os.RemoveAll(filepath.Join(dir, "profiles", "bad")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "--profiles-dir", filepath.Join(dir, "profiles"), "validate")
	if code != ExitFailed || !strings.Contains(errOut, `netpol/lab.yaml: profile: "netpol" is not a known cluster profile (ok)`) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	_, errOut, code = runCLI(t, "--profiles-dir", filepath.Join(dir, "nothere"), "validate")
	if code != ExitUsage || !strings.Contains(errOut, "does not exist") {
		t.Errorf("missing profiles dir: exit %d, %q", code, errOut)
	}
	out, _, code = runCLI(t, "validate")
	if code != 0 || !strings.Contains(out, "cluster profiles valid: [") || !strings.Contains(out, " default netpol") {
		t.Errorf("built-in: exit %d, %q", code, out)
	}
}
