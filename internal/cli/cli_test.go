package cli

import (
	"bytes"
	"context"
	"encoding/json"
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
